"""Search spaces: families of architectures sampled through Optuna trials."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hwloop import HwloopError
from hwloop.experiment import is_experiment_path
from hwloop.spaces._base import SearchSpace
from hwloop.spaces._block import BlockSpace
from hwloop.spaces._cnn import BraggCNNSpace, PtychoCNNSpace, ptycho_cnn
from hwloop.spaces._deepsets import DeepSetsSpace
from hwloop.spaces._mlp import MLPSpace
from hwloop.tasks import TASKS, SpaceChoice, Task, get_task, task_class

__all__ = [
    "BlockSpace",
    "BraggCNNSpace",
    "DeepSetsSpace",
    "PtychoCNNSpace",
    "MLPSpace",
    "SearchSpace",
    "default_space",
    "get_space",
    "KINDS",
    "space_names",
    "task_spaces",
    "ptycho_cnn",
]

# a space family (``SpaceChoice.kind``) -> how it is built on a task's input and output
Builder = Callable[[str, tuple[int, ...], int, Mapping[str, Any]], SearchSpace]


def _ptycho_cnn(task: str, shape: tuple[int, ...], out: int, o: Mapping[str, Any]) -> SearchSpace:
    s = shape[-1]
    levels = min(3, (s & -s).bit_length() - 1)  # 2x2 pools must divide the map
    if levels < 1:
        raise HwloopError(f"ptycho cnn space: map size {s} is odd, it needs an even size")
    return PtychoCNNSpace(task, shape, out, max_levels=levels)


KINDS: dict[str, Builder] = {
    "block": lambda task, shape, out, o: BlockSpace(task, shape, out),
    "mlp": lambda task, shape, out, o: MLPSpace(task, shape, out, **o),
    "bragg-cnn": lambda task, shape, out, o: BraggCNNSpace(task, shape, out),
    "deepsets": lambda task, shape, out, o: DeepSetsSpace(task, shape, out),
    "ptycho-cnn": _ptycho_cnn,
}


def task_spaces(task: str) -> tuple[SpaceChoice, ...]:
    """The spaces task ``task`` declares (``Task.spaces``), its default first."""
    cls = task_class(task)
    if cls is None or not cls.spaces:
        raise HwloopError(f"no search space for task {task!r} (tasks: {', '.join(TASKS)})")
    return cls.spaces


def space_names(task: str) -> tuple[str, ...]:
    return tuple(c.name for c in task_spaces(task))


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
    return task_spaces(task)[0].name


def get_space(
    task: str, name: str | None = None, size: int | None = None, loaded: Any = None
) -> SearchSpace:
    """The space ``name`` of ``task`` (default: the task's first), built on the task's input
    shape and output size; ``size`` is ptycho's map size (default 64). ``task`` may be an
    experiment file: its ``space`` section. ``loaded``: the task, already made (so that an
    experiment's data is not read twice)."""
    if is_experiment_path(task):
        return _experiment_space(task, name, loaded)
    choices = task_spaces(task)
    name = name or choices[0].name
    choice = next((c for c in choices if c.name == name), None)
    if choice is None:
        raise HwloopError(
            f"unknown space {name!r} for task {task!r}; known: {', '.join(space_names(task))}"
        )
    made = loaded if isinstance(loaded, Task) and loaded.name == task else None
    made = made or get_task(task, **({"size": size} if size else {}))
    shape = tuple(int(d) for d in made.input_shape)
    return KINDS[choice.kind](task, shape, int(made.output_size), choice.options)
