"""The task's own objectives: the validation metric, and the 95th percentile of the per-sample
error (p75 is always reported beside it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hwloop.search.objectives import Objective, TrialOutcome, register

if TYPE_CHECKING:
    from hwloop.search._config import FrontMember


def _metric(o: TrialOutcome) -> float:
    return o.val_metric


def _p95(o: TrialOutcome) -> float:
    return float(o.val_report["p95"])


def _percentiles(m: FrontMember) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for split in ("val", "test"):
        for k, v in m.extra.get(f"{split}_percentiles", {}).items():
            out[f"{split}_{k}"] = v
    return out


def _cells(m: FrontMember) -> dict[str, str]:
    p = m.extra.get("val_percentiles")
    if not p:
        return {}
    return {k: f"{p.get(k, float('nan')):.4f}" for k in ("p75", "p95")}


register(Objective("metric", "the task's validation metric", _metric, rank=0))
register(
    Objective(
        "p95",
        "95th percentile of the per-sample error (p75 is always reported)",
        _p95,
        rank=30,
        needs=frozenset({"sample_errors"}),
        report_columns=("val_p75", "val_p95", "test_p75", "test_p95"),
        report=_percentiles,
        cells=_cells,
    )
)
