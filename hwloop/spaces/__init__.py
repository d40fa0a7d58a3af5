"""Search spaces: families of architectures sampled through Optuna trials."""

from __future__ import annotations

from hwloop import HwloopError
from hwloop.spaces._base import SearchSpace
from hwloop.spaces._block import BlockSpace
from hwloop.spaces._deepsets import DeepSetsSpace
from hwloop.spaces._mlp import MLPSpace

__all__ = [
    "BlockSpace",
    "DeepSetsSpace",
    "MLPSpace",
    "SearchSpace",
    "SPACES",
    "default_space",
    "get_space",
]

# the spaces of each task; the first is the task's default
SPACES: dict[str, tuple[str, ...]] = {"bragg": ("block", "mlp"), "jets": ("deepsets", "mlp")}
JETS_INPUT = (8, 3)  # hwloop.tasks.jets: 8 constituents x (pT, eta_rel, phi_rel), 5 classes


def default_space(task: str) -> str:
    if task not in SPACES:
        raise HwloopError(f"no search space for task {task!r} (tasks: {', '.join(SPACES)})")
    return SPACES[task][0]


def get_space(task: str, name: str | None = None) -> SearchSpace:
    name = name or default_space(task)
    if name not in SPACES[task]:
        raise HwloopError(
            f"unknown space {name!r} for task {task!r}; known: {', '.join(SPACES[task])}"
        )
    if task == "bragg" and name == "mlp":
        return MLPSpace(task, (1, 11, 11), 2)
    if task == "bragg":
        return BlockSpace(task, (1, 11, 11), 2)
    if task == "jets" and name == "mlp":
        return MLPSpace(task, JETS_INPUT, 5)
    if task == "jets":
        return DeepSetsSpace(task, JETS_INPUT, 5)
    raise HwloopError(f"no search space for task {task!r}")  # pragma: no cover
