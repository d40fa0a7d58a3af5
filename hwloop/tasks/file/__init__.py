"""Tasks from experiment files: the user's own data (``--task path/to/experiment.toml``)."""

from __future__ import annotations

from hwloop.tasks.file._data import Arrays, Scaling, random_split, read_arrays, window
from hwloop.tasks.file.task import FileTask

__all__ = ["Arrays", "FileTask", "Scaling", "random_split", "read_arrays", "window"]
