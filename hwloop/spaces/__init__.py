"""Search spaces: families of architectures sampled through Optuna trials."""

from __future__ import annotations

from hwloop import HwloopError
from hwloop.spaces._base import SearchSpace
from hwloop.spaces._block import BlockSpace
from hwloop.spaces._mlp import MLPSpace

__all__ = ["BlockSpace", "MLPSpace", "SearchSpace", "get_space", "SPACES"]

SPACES: dict[str, tuple[str, ...]] = {"bragg": ("block", "mlp")}


def get_space(task: str, name: str = "block") -> SearchSpace:
    if task not in SPACES:
        raise HwloopError(f"no search space for task {task!r}")
    if name not in SPACES[task]:
        raise HwloopError(
            f"unknown space {name!r} for task {task!r}; known: {', '.join(SPACES[task])}"
        )
    if task == "bragg" and name == "mlp":
        return MLPSpace(task, (1, 11, 11), 2)
    if task == "bragg":
        return BlockSpace(task, (1, 11, 11), 2)
    raise HwloopError(f"no search space for task {task!r}")  # pragma: no cover
