"""Tasks: what a searched model learns. ``get_task(name)`` returns a built-in or registered task,
or the task of an experiment file (``get_task("path/to/experiment.toml")``). A built-in task is a
subpackage with a ``task.py`` holding its ``Task`` subclass, which declares its search spaces,
report columns and options (docs/extending.md)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from hwloop import HwloopError
from hwloop.experiment import is_experiment_path
from hwloop.tasks._base import SpaceChoice, Split, Task, TaskData

__all__ = [
    "SpaceChoice",
    "Split",
    "Task",
    "TaskData",
    "get_task",
    "register_task",
    "task_class",
    "task_label",
    "TASKS",
]


def _builtin() -> dict[str, str | Callable[..., Task]]:
    """The built-in tasks: every subpackage of this one with a ``task`` module (but ``file``,
    the experiment file's), by the package's name, imported on first use (each task pulls in
    its own dependencies). A new task is its package; nothing else lists it."""
    root = Path(__file__).parent
    return {
        d.name: f"{__name__}.{d.name}.task"
        for d in sorted(root.iterdir())
        if d.is_dir() and d.name != "file" and (d / "task.py").is_file()
    }


_REGISTRY: dict[str, str | Callable[..., Task]] = _builtin()
TASKS = tuple(_REGISTRY)  # the built-in ones


def register_task(name: str, factory: str | Callable[..., Task]) -> None:
    """Make ``get_task(name)`` build ``factory(**options)`` (a callable, ``"module:Class"``, or
    a module holding a Task subclass named ``name``)."""
    _REGISTRY[name] = factory


def _resolve(name: str, factory: str | Callable[..., Task]) -> Callable[..., Task]:
    if not isinstance(factory, str):
        return factory
    module, _, cls = factory.partition(":")
    mod = importlib.import_module(module)
    if cls:
        return getattr(mod, cls)
    for value in vars(mod).values():
        if (
            isinstance(value, type)
            and issubclass(value, Task)
            and getattr(value, "name", "") == name
        ):
            return value
    raise HwloopError(f"task module {module} defines no Task named {name!r}")


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
    return _resolve(name, factory)(**options)


def task_class(name: str) -> type[Task] | None:
    """The class of task ``name`` (an experiment file's: ``FileTask``), for what it declares
    (``options``, ``no_hardware``, ``report_columns``) without loading data; None when unknown
    or registered as a plain callable."""
    if is_experiment_path(name):
        from hwloop.tasks.file import FileTask

        return FileTask
    factory = _REGISTRY.get(name)
    if factory is None:
        return None
    made = _resolve(name, factory)
    return made if isinstance(made, type) and issubclass(made, Task) else None


def task_label(name: str) -> str:
    """A short name for studies and titles: an experiment file's stem, else the task name."""
    return Path(name).stem if is_experiment_path(name) else name
