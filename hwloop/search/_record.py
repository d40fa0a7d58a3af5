"""A search trial, typed: what its user attributes hold, written and read in one place.

Optuna stores a trial's outcome as JSON user attributes; :class:`TrialRecord` is their typed
form. The search writes them through :meth:`TrialRecord.to_attrs`, and the front, the loop, the
plots, the report and the CLI read them through :meth:`TrialRecord.from_trial`, so no reader
spells an attribute's name or re-parses the hardware score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import optuna

from hwloop.search._hardware import HardwareScore
from hwloop.search._weights import WEIGHTS_ATTR
from hwloop.search.objectives import TrialOutcome
from synth_cache import CacheBackend, SynthResult


@dataclass(frozen=True)
class TrialRecord:
    """A trial's architecture, training result, reports, measurement, hardware score, raw
    objective values and (:meth:`with_real`) the real synthesis result of its very design.
    Empty / NaN / None where the search did not compute it."""

    number: int = -1
    worker: str = ""  # host:pid of the process that ran it (a resume tells dead ones)
    arch: Mapping[str, Any] = field(default_factory=dict)  # ArchSpec.to_json()
    arch_digest: str = ""
    parameters: int = 0
    bops: float = math.nan
    val_metric: float = math.nan
    test_metric: float = math.nan
    train_seconds: float = math.nan
    epochs_run: int = 0
    train: Mapping[str, Any] = field(default_factory=dict)  # training settings the space sampled
    val_report: Mapping[str, float] = field(default_factory=dict)
    test_report: Mapping[str, float] = field(default_factory=dict)
    measure: Mapping[str, Any] | None = None  # hwloop.measure's JSON
    hw: HardwareScore | None = None
    objectives: Mapping[str, float] = field(default_factory=dict)  # raw values, by name
    baseline: str = ""  # the built-in arch it was enqueued as
    weights_artifact: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)  # the sampler's (not stored here)
    # the cache's post-synthesis result of this very design (:meth:`with_real`; not stored here)
    real: SynthResult | None = None

    def to_attrs(self) -> dict[str, Any]:
        """The user attributes this record sets (the ones it has), JSON-ready."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("number", "params", "real"):
                continue
            value = getattr(self, f.name)
            if value is None or value == "" or value == {} or _is_nan(value):
                continue
            if f.name == "epochs_run" and value == 0:
                continue
            name = WEIGHTS_ATTR if f.name == "weights_artifact" else f.name
            out[name] = value.to_json() if isinstance(value, HardwareScore) else _plain(value)
        return out

    def write(self, trial: optuna.Trial, previous: TrialRecord | None = None) -> None:
        """Set the trial's user attributes from this record; with ``previous``, only those that
        changed since it was written (each is a storage write)."""
        old = previous.to_attrs() if previous is not None else {}
        for name, value in self.to_attrs().items():
            if name not in old or old[name] != value:
                trial.set_user_attr(name, value)

    @classmethod
    def from_trial(cls, t: optuna.trial.FrozenTrial) -> TrialRecord:
        a = t.user_attrs
        hw = a.get("hw")
        return cls(
            number=t.number,
            worker=str(a.get("worker", "")),
            arch=dict(a.get("arch") or {}),
            arch_digest=str(a.get("arch_digest", "")),
            parameters=int(a.get("parameters", 0)),
            bops=float(a.get("bops", math.nan)),
            val_metric=float(a.get("val_metric", math.nan)),
            test_metric=float(a.get("test_metric", math.nan)),
            train_seconds=float(a.get("train_seconds", math.nan)),
            epochs_run=int(a.get("epochs_run", 0)),
            train=dict(a.get("train") or {}),
            val_report=dict(a.get("val_report") or {}),
            test_report=dict(a.get("test_report") or {}),
            measure=a.get("measure"),
            hw=HardwareScore.from_json(hw) if isinstance(hw, dict) and hw else None,
            objectives={k: float(v) for k, v in (a.get("objectives") or {}).items()},
            baseline=str(a.get("baseline") or ""),
            weights_artifact=str(a.get(WEIGHTS_ATTR) or ""),
            params=dict(t.params),
        )

    def with_real(self, cache: CacheBackend) -> TrialRecord:
        """This record with ``real``: the cache's post-synthesis result of its design, if any."""
        entry = cache.get(self.hw.key) if self.hw is not None and self.hw.key else None
        return replace(self, real=entry.result("post_synthesis") if entry is not None else None)

    def outcome(self) -> TrialOutcome:
        """What the objectives read (hwloop.search.objectives)."""
        return TrialOutcome(
            self.val_metric, self.bops, self.parameters, self.val_report, self.measure, self.hw
        )


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _plain(value: Any) -> Any:
    return dict(value) if isinstance(value, Mapping) else value
