"""The search space an experiment file's ``space`` section describes, checked against the
task's input shape (a space that cannot take it is refused naming ``space.kind``)."""

from __future__ import annotations

from typing import Any

import optuna

from hwloop import HwloopError
from hwloop.spaces._base import SearchSpace
from hwloop.spaces._block import BlockSpace
from hwloop.spaces._cnn import BraggCNNSpace
from hwloop.spaces._deepsets import DeepSetsSpace
from hwloop.spaces._mlp import MLPSpace

# what each kind needs of one sample's shape, and why
_RANK = {
    "cnn": (3, "(channels, height, width) images"),
    "block": (3, "(channels, height, width) images"),
    "deepsets": (2, "(elements, features) sets"),
}
_PROBES = 16  # random architectures sampled to check that every part of the space fits


def space_from_section(
    task: str, input_shape: tuple[int, ...], output_size: int, section: Any
) -> SearchSpace:
    """The space of ``section`` (an experiment's ``space``) for inputs of ``input_shape``."""
    kind = section.kind
    shape = tuple(input_shape)
    if kind in _RANK:
        rank, what = _RANK[kind]
        if len(shape) != rank:
            raise HwloopError(
                f"space.kind: {kind!r} takes {what}, the data's samples have shape "
                f"{list(shape)} (set data.shape, or use kind = 'mlp')"
            )
        if rank == 3 and (shape[1] != shape[2] or shape[1] < 5):
            raise HwloopError(
                f"space.kind: {kind!r} takes square images of at least 5x5, the data's are "
                f"{shape[1]}x{shape[2]}"
            )
    space: SearchSpace
    if kind == "mlp":
        space = MLPSpace(
            task, shape, output_size, tuple(section.units), section.max_hidden, section.train
        )
    elif kind == "cnn":
        space = BraggCNNSpace(
            task, shape, output_size, tuple(section.filters), section.max_conv, tuple(section.dense)
        )
    elif kind == "deepsets":
        space = DeepSetsSpace(
            task, shape, output_size, tuple(section.widths), tuple(section.bottlenecks)
        )
    else:
        space = BlockSpace(task, shape, output_size, tuple(section.channels), tuple(section.widths))
    _probe(space, kind)
    return space


def _probe(space: SearchSpace, kind: str) -> None:
    """Sample a few architectures: a part of the space that cannot take the shape fails here,
    before any trial does."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(_PROBES):
        trial = study.ask()
        try:
            space.sample(trial)
        except (HwloopError, ValueError) as exc:
            raise HwloopError(
                f"space: a {kind} architecture does not fit the data: {exc}"
            ) from None
        study.tell(trial, 0.0)
