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
      ``None`` with ``reason(spec)`` saying why the spec lies outside the space.
    """

    name: str
    task: str

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

    def rebuild(self, params: dict[str, Any]) -> ArchSpec:
        return self.sample(optuna.trial.FixedTrial(params))


def opt_choice(value: str) -> Any:
    """A categorical choice as a spec value: ``"none"`` -> None."""
    return None if value == "none" else value


def choice_name(value: str | None) -> str:
    """A spec value as its categorical choice: None -> ``"none"``."""
    return "none" if value is None else value
