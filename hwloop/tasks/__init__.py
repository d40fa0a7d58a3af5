"""Tasks: what a searched model learns. ``get_task(name)`` returns a registered task."""

from __future__ import annotations

from hwloop import HwloopError
from hwloop.tasks._base import Split, Task, TaskData

__all__ = ["Split", "Task", "TaskData", "get_task", "TASKS"]

TASKS = ("bragg", "jets", "ptycho")


def get_task(name: str, **options: object) -> Task:
    if name == "bragg":
        from hwloop.tasks.bragg import BraggTask

        return BraggTask(**options)  # type: ignore[arg-type]
    if name == "jets":
        from hwloop.tasks.jets import JetsTask

        return JetsTask(**options)  # type: ignore[arg-type]
    if name == "ptycho":
        from hwloop.tasks.ptycho import PtychoTask

        return PtychoTask(**options)  # type: ignore[arg-type]
    raise HwloopError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}")
