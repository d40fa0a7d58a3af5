"""The reported front of a hardware search: real synthesis numbers where the cache has them,
else the latest surrogate's (re-scored) predictions; feasibility re-checked on those numbers."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import optuna
from optuna.trial import TrialState

from fpga_targets import Target
from hwloop.search._config import FrontMember, SearchConfig
from hwloop.search._hardware import real_outcome, within_limits
from hwloop.search._loop import latest_rescore
from hwloop.search._objectives import dominates, front_member, raw_values
from hwloop.search._record import TrialRecord
from synth_cache import CacheBackend


def hardware_front(
    study: optuna.Study, cfg: SearchConfig, target: Target, cache: CacheBackend
) -> tuple[FrontMember, ...]:
    """Non-dominated feasible trials over ``cfg.objectives``, each valued by its real result
    (``FrontMember.hw['real']``, ``hw['source'] == 'real'``) or its latest prediction."""
    names = list(cfg.objectives)
    rescored = latest_rescore(study)
    rows: list[tuple[list[float], FrontMember]] = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        scored = TrialRecord.from_trial(t).hw
        hw = dict(rescored.get(str(t.number)) or (scored.to_json() if scored else {}))
        if not hw:
            continue
        values = raw_values(t, names)
        real = real_outcome(cache, hw.get("key"), target.clock_period_ns)
        feasible = hw.get("unsupported") is None
        if real is not None and real.get("status") != "ok":
            feasible = False  # failed, timed out or unsupported when synthesised for real
        elif real is not None:
            values.update(_hw_values(real, names))
            hw.update(source="real", real=real)
        else:
            values.update(_hw_values(_predicted(hw), names))
            hw["source"] = "predicted"
        numbers = real if real else _predicted(hw)
        feasible = feasible and within_limits(numbers, target, cfg.max_util, cfg.max_latency_ns)
        if not feasible:
            continue
        rows.append(
            (
                [values[n] for n in names],
                front_member(t, values, hw),
            )
        )
    front = [m for v, m in rows if not any(dominates(w, v) for w, _ in rows)]
    # NSGA-II samples an architecture again now and then; seeded training makes it the same
    # design (same key): report it once, under its first trial, naming the repeats
    first: dict[str, FrontMember] = {}
    repeats: dict[str, list[int]] = {}
    for m in sorted(front, key=lambda m: m.trial):
        key = str(m.hw.get("key") or m.trial)
        if key in first:
            repeats[key].append(m.trial)
        else:
            first[key], repeats[key] = m, []
    members = [
        replace(m, hw={**m.hw, "repeated_in_trials": repeats[key]}) for key, m in first.items()
    ]
    return tuple(sorted(members, key=lambda m: (m.bops, m.trial)))


def _predicted(hw: dict[str, Any]) -> dict[str, float]:
    out = {m: float(v[1]) for m, v in (hw.get("predicted") or {}).items()}
    out["latency_ns"] = float(hw.get("latency_ns", math.nan))
    return out


def _hw_values(numbers: dict[str, Any], names: list[str]) -> dict[str, float]:
    out = {}
    for n in names:
        if n == "latency" and "latency_ns" in numbers:
            out[n] = float(numbers["latency_ns"])
        elif n in ("lut", "dsp") and n in numbers:
            out[n] = float(numbers[n])
    return out
