"""hwloop's side of the surrogates: training sets from the synthesis cache, evaluation held out
by architecture. The models themselves live in the ``surrogates`` package."""

from __future__ import annotations

from hwloop.surrogate._data import TrainingSet, arch_group, target_capacities, training_set
from hwloop.surrogate._eval import Evaluation, evaluate

__all__ = [
    "Evaluation",
    "TrainingSet",
    "arch_group",
    "evaluate",
    "target_capacities",
    "training_set",
]
