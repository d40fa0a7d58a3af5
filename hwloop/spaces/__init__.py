"""Search spaces: families of architectures sampled through Optuna trials."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hwloop import HwloopError
from hwloop.experiment import is_experiment_path
from hwloop.spaces._base import SearchSpace
from hwloop.spaces._block import BlockSpace
from hwloop.spaces._cnn import BraggCNNSpace, PtychoCNNSpace, ptycho_cnn
from hwloop.spaces._deepsets import DeepSetsSpace
from hwloop.spaces._mlp import MLPSpace

__all__ = [
    "BlockSpace",
    "BraggCNNSpace",
    "DeepSetsSpace",
    "PtychoCNNSpace",
    "MLPSpace",
    "SearchSpace",
    "SPACES",
    "default_space",
    "get_space",
    "register_space",
    "SPACE_HELP",
    "ptycho_cnn",
]

# the spaces of each task (the first is the task's default), their help and how each is built
# from the task's size option: filled by register_space, the built-ins at the end of this file
SPACES: dict[str, tuple[str, ...]] = {}
SPACE_HELP: dict[tuple[str, str], str] = {}
_BUILDERS: dict[tuple[str, str], Callable[[int | None], SearchSpace]] = {}


def register_space(
    task: str, name: str, help: str, build: Callable[[int | None], SearchSpace]
) -> None:
    """Make ``get_space(task, name, size)`` return ``build(size)``; the first space registered
    for a task is its default. ``help`` is the line ``hwloop search --help`` shows."""
    if (task, name) not in _BUILDERS:
        SPACES[task] = (*SPACES.get(task, ()), name)
    SPACE_HELP[(task, name)] = help
    _BUILDERS[(task, name)] = build


JETS_INPUT = (8, 3)  # hwloop.tasks.jets: 8 constituents x (pT, eta_rel, phi_rel), 5 classes
PTYCHO_SIZE = 64  # hwloop.tasks.ptycho's default map size


def _experiment_space(path: str, name: str | None, loaded: Any = None) -> SearchSpace:
    """The space an experiment file describes (its ``space`` section, on its data's shape)."""
    from hwloop.spaces._sections import space_from_section
    from hwloop.tasks.file import FileTask

    task = loaded if isinstance(loaded, FileTask) else FileTask(path)
    kind = task.experiment.space.kind
    if name and name != kind:
        raise HwloopError(f"--space {name!r}: experiment {path} searches the {kind!r} space")
    return space_from_section(task.path, task.input_shape, task.output_size, task.experiment.space)


def default_space(task: str) -> str:
    if task not in SPACES:
        raise HwloopError(f"no search space for task {task!r} (tasks: {', '.join(SPACES)})")
    return SPACES[task][0]


def get_space(
    task: str, name: str | None = None, size: int | None = None, loaded: Any = None
) -> SearchSpace:
    """The space ``name`` of ``task`` (default: the task's first); ``size`` is ptycho's map
    size (default 64). ``task`` may be an experiment file: its ``space`` section (``loaded``:
    its task, already made, so that the data is not read twice)."""
    if is_experiment_path(task):
        return _experiment_space(task, name, loaded)
    name = name or default_space(task)
    if name not in SPACES[task]:
        raise HwloopError(
            f"unknown space {name!r} for task {task!r}; known: {', '.join(SPACES[task])}"
        )
    return _BUILDERS[(task, name)](size)


def _ptycho_cnn(size: int | None) -> SearchSpace:
    s = size or PTYCHO_SIZE
    levels = min(3, (s & -s).bit_length() - 1)  # 2x2 pools must divide the map
    if levels < 1:
        raise HwloopError(f"ptycho cnn space: map size {s} is odd, it needs an even size")
    return PtychoCNNSpace("ptycho", (1, s, s), 2 * s * s, max_levels=levels)


def _ptycho_mlp(size: int | None) -> SearchSpace:
    s = size or PTYCHO_SIZE
    units = (64, 128, 256, 512)
    return MLPSpace("ptycho", (1, s, s), 2 * s * s, units=units, max_hidden=3, train=True)


BRAGG_INPUT = (1, 11, 11)
register_space(
    "bragg",
    "block",
    "NAC's hierarchical conv / attention blocks + MLP head",
    lambda size: BlockSpace("bragg", BRAGG_INPUT, 2),
)
register_space(
    "bragg",
    "mlp",
    "mlpBragg: hidden layers, units per layer; batch size, lr, epochs",
    lambda size: MLPSpace("bragg", BRAGG_INPUT, 2, train=True),
)
register_space(
    "bragg",
    "cnn",
    "cnnBragg: conv layers, filters per layer; batch size, lr, epochs",
    lambda size: BraggCNNSpace("bragg", BRAGG_INPUT, 2),
)
register_space(
    "jets",
    "deepsets",
    "Deep Sets (phi, aggregation, rho; seed Table 8)",
    lambda size: DeepSetsSpace("jets", JETS_INPUT, 5),
)
register_space(
    "jets",
    "mlp",
    "an MLP over the flattened constituents",
    lambda size: MLPSpace("jets", JETS_INPUT, 5),
)
register_space(
    "ptycho",
    "cnn",
    "cnnPtycho: filters, encoder layers, the decoders' upsampling levels; batch size, lr, epochs",
    _ptycho_cnn,
)
register_space(
    "ptycho",
    "mlp",
    "mlpPtycho: hidden layers, units per layer; batch size, lr, epochs",
    _ptycho_mlp,
)
