"""The ``SearchSpace`` interface."""

from __future__ import annotations

import abc
from typing import Any

import optuna

from hwloop.archs import ArchSpec


class SearchSpace(abc.ABC):
    """A family of architectures for one task, sampled only through ``trial.suggest_*``.

    Contract:
    - ``sample(trial)`` calls only ``trial.suggest_*`` and is deterministic given the answers, so
      ``sample(optuna.trial.FixedTrial(trial.params))`` rebuilds the exact same :class:`ArchSpec`;
    - every spec it returns is valid (shapes fit) and ends in ``output_size`` values;
    - ``params_for(spec)`` inverts ``sample``: the params that rebuild ``spec`` (same digest), or
      ``None`` with ``reason(spec)`` saying why the spec lies outside the space;
    - ``sample_training(trial, max_epochs)`` samples the training hyperparameters the space owns
      (``batch_size``, ``lr``, ``epochs`` <= ``max_epochs``; the seed's DeepHyper spaces do) as
      overrides of the search's own settings, or ``{}`` (the default) for a space that samples
      only architectures. Its params never collide with ``sample``'s.
    """

    name: str
    task: str
    samples_training: bool = False

    @abc.abstractmethod
    def sample(self, trial: optuna.trial.BaseTrial) -> ArchSpec: ...

    def params_for(self, spec: ArchSpec) -> dict[str, Any] | None:
        """By default: read the params off the spec (``_params``, which may raise ValueError,
        IndexError or AttributeError where the spec does not fit) and keep them only if they
        rebuild the same digest."""
        try:
            params = self._params(spec)
            same = self.rebuild(params).digest == spec.digest
        except (ValueError, IndexError, AttributeError, StopIteration):
            return None
        return params if same else None

    def _params(self, spec: ArchSpec) -> dict[str, Any]:
        raise NotImplementedError

    def reason(self, spec: ArchSpec) -> str:
        return "not expressible in this space"

    def sample_training(self, trial: optuna.trial.BaseTrial, max_epochs: int) -> dict[str, Any]:
        return sample_training(trial, max_epochs) if self.samples_training else {}

    def rebuild(self, params: dict[str, Any]) -> ArchSpec:
        return self.sample(optuna.trial.FixedTrial(params))


def opt_choice(value: str) -> Any:
    """A categorical choice as a spec value: ``"none"`` -> None."""
    return None if value == "none" else value


def choice_name(value: str | None) -> str:
    """A spec value as its categorical choice: None -> ``"none"``."""
    return "none" if value is None else value


# The seed's DeepHyper spaces sample batch size, learning rate and epochs (up to 1000 epochs on
# A100 nodes); here the epochs are capped by the search's --epochs (docs/xray.md).
BATCH_SIZES = (16, 32, 64, 128, 256)
LR_RANGE = (1e-4, 1e-2)


def sample_training(trial: optuna.trial.BaseTrial, max_epochs: int) -> dict[str, Any]:
    """``batch_size`` (one of BATCH_SIZES), ``lr`` (log-uniform in LR_RANGE) and ``epochs``
    (1..max_epochs) as TrainConfig overrides."""
    return {
        "batch_size": trial.suggest_categorical("train_batch_size", BATCH_SIZES),
        "lr": trial.suggest_float("train_lr", *LR_RANGE, log=True),
        "epochs": trial.suggest_int("train_epochs", 1, max(1, max_epochs)),
    }
