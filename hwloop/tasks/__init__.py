"""Tasks: what a searched model learns. ``get_task(name)`` returns a registered task, or the
task of an experiment file (``get_task("path/to/experiment.toml")``)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from hwloop import HwloopError
from hwloop.experiment import is_experiment_path
from hwloop.tasks._base import Split, Task, TaskData

__all__ = [
    "Split",
    "Task",
    "TaskData",
    "get_task",
    "register_task",
    "task_class",
    "task_label",
    "TASKS",
]

# name -> "module:Class", imported on first use (each task pulls its own dependencies)
_REGISTRY: dict[str, str | Callable[..., Task]] = {
    "bragg": "hwloop.tasks.bragg:BraggTask",
    "jets": "hwloop.tasks.jets:JetsTask",
    "ptycho": "hwloop.tasks.ptycho:PtychoTask",
}
TASKS = tuple(_REGISTRY)  # the built-in ones


def register_task(name: str, factory: str | Callable[..., Task]) -> None:
    """Make ``get_task(name)`` build ``factory(**options)`` (a callable, or ``"module:Class"``)."""
    _REGISTRY[name] = factory


def _experiment_task(path: str, **options: object) -> Task:
    from hwloop.tasks.file import FileTask

    return FileTask(path, **options)  # type: ignore[arg-type]


def get_task(name: str, **options: object) -> Task:
    """The task ``name`` (built-in or registered), or the task of experiment file ``name``."""
    factory = _REGISTRY.get(name)
    if factory is None and is_experiment_path(name):
        return _experiment_task(name, **options)
    if factory is None:
        raise HwloopError(
            f"unknown task {name!r}; known tasks: {', '.join(_REGISTRY)}, or an experiment "
            "file (.toml)"
        )
    if isinstance(factory, str):
        module, _, cls = factory.partition(":")
        factory = getattr(importlib.import_module(module), cls)
    return factory(**options)


def task_class(name: str) -> type[Task] | None:
    """The class of task ``name`` (an experiment file's: ``FileTask``), for what it declares
    (``options``, ``no_hardware``, ``report_columns``) without loading data; None when unknown
    or registered as a plain callable."""
    if is_experiment_path(name):
        from hwloop.tasks.file import FileTask

        return FileTask
    factory = _REGISTRY.get(name)
    if isinstance(factory, str):
        module, _, cls = factory.partition(":")
        factory = getattr(importlib.import_module(module), cls)
    return factory if isinstance(factory, type) and issubclass(factory, Task) else None


def task_label(name: str) -> str:
    """A short name for studies and titles: an experiment file's stem, else the task name."""
    return Path(name).stem if is_experiment_path(name) else name
