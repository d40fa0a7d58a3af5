"""Objectives measured on this machine at batch 32 (--latency-backend; hwloop.measure): latency
and, from a hardware counter only, energy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hwloop.search.objectives import Objective, TrialOutcome, register

if TYPE_CHECKING:
    from hwloop.search._config import FrontMember


def _latency(o: TrialOutcome) -> float:
    assert o.measure is not None  # needs "measure"
    return float(o.measure["median_ms"])


def _energy(o: TrialOutcome) -> float:
    assert o.measure is not None and o.measure.get("energy_mj") is not None  # needs "energy"
    return float(o.measure["energy_mj"])


def _latency_report(m: FrontMember) -> dict[str, Any]:
    meas = m.extra.get("measure") or {}
    if not meas:
        return {}
    return {
        "latency_ms": meas.get("median_ms", ""),
        "latency_p10_ms": meas.get("p10_ms", ""),
        "latency_p90_ms": meas.get("p90_ms", ""),
        "measured_on": f"{meas['backend']} on {meas.get('device', '?')}",
    }


def _energy_report(m: FrontMember) -> dict[str, Any]:
    meas = m.extra.get("measure") or {}
    return {k: meas[k] for k in ("energy_mj", "energy_spread_mj") if meas.get(k) is not None}


def _latency_cells(m: FrontMember) -> dict[str, str]:
    meas = m.extra.get("measure")
    if not meas:
        return {}
    nan = float("nan")
    return {
        "ms/batch32": f"{meas.get('median_ms', nan):.3f}",
        "spread": f"{meas.get('p10_ms', nan):.3f}-{meas.get('p90_ms', nan):.3f}",
    }


def _energy_cells(m: FrontMember) -> dict[str, str]:
    meas = m.extra.get("measure") or {}
    if meas.get("energy_mj") is None:
        return {}
    return {"mJ/batch32": f"{meas['energy_mj']:.2f}"}


register(
    Objective(
        "latency_ms",
        "latency measured at batch 32 on this machine (--latency-backend)",
        _latency,
        rank=40,
        needs=frozenset({"measure"}),
        report_columns=("latency_ms", "latency_p10_ms", "latency_p90_ms", "measured_on"),
        report=_latency_report,
        cells=_latency_cells,
    )
)
register(
    Objective(
        "energy_mj",
        "energy at batch 32, only from a hardware counter",
        _energy,
        rank=50,
        needs=frozenset({"measure", "energy"}),
        report_columns=("energy_mj", "energy_spread_mj"),
        report=_energy_report,
        cells=_energy_cells,
    )
)
