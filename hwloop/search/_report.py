"""Writing the Pareto front: JSON, CSV and a PNG plot."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from hwloop.runtime import atomic_path
from hwloop.search._config import FrontMember, SearchConfig
from hwloop.search._plots import draw_reference, save_figure, write_hardware_report
from hwloop.search._record import TrialRecord
from hwloop.search.objectives import all_objectives


def write_front(
    cfg: SearchConfig, study: optuna.Study, front: tuple[FrontMember, ...], metric_name: str
) -> tuple[Path, ...]:
    out = cfg.out
    out.mkdir(parents=True, exist_ok=True)
    doc = {
        "study": cfg.study_name,
        "task": cfg.task,
        "target": cfg.target,
        "metric": metric_name,
        "bops_bits": cfg.bits,
        "front": [asdict(m) for m in front],
    }
    paths = [out / "pareto.json", out / "pareto.csv", out / "pareto.png"]
    with atomic_path(paths[0]) as tmp:
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
    rows = [
        {
            "trial": m.trial,
            metric_name: m.metric,
            "bops": m.bops,
            "parameters": m.parameters,
            f"test_{metric_name}": m.test_metric,
            **_edge_values(m),
            **(_hw_columns(m) if cfg.hardware else {}),
            "arch_digest": m.arch_digest,
            "params": json.dumps(m.params, sort_keys=True),
        }
        for m in front
    ]
    fields = [
        "trial",
        metric_name,
        "bops",
        "parameters",
        f"test_{metric_name}",
        *_edge_columns(),
        *(HW_COLUMNS if cfg.hardware else ()),
        "arch_digest",
        "params",
    ]
    with atomic_path(paths[1]) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows(rows)
    _plot(study, front, metric_name, paths[2])
    if cfg.hardware:
        paths += write_hardware_report(cfg, study, front, metric_name)
    return tuple(paths)


def _edge_columns() -> tuple[str, ...]:
    """The objectives' own columns (registry order), then the sampled training settings and the
    test split's report."""
    return (*(c for o in all_objectives() for c in o.report_columns), "train", "test_report")


def _edge_values(m: FrontMember) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for o in all_objectives():
        out.update(o.report(m))
    out["train"] = json.dumps(m.extra["train"], sort_keys=True) if "train" in m.extra else ""
    out["test_report"] = (
        json.dumps(m.extra["test_report"], sort_keys=True) if "test_report" in m.extra else ""
    )
    return out


_HW_METRICS = ("lut", "ff", "dsp", "bram_18k", "latency_ns")
HW_COLUMNS = (
    "source",
    *(f"{m}_{k}" for m in _HW_METRICS for k in ("pred", "low80", "high80", "real")),
    "reuse_factors",
)


def _hw_columns(m: FrontMember) -> dict[str, Any]:
    """Predicted (median and 80 % interval) and real numbers of a front member."""
    pred = m.hw.get("predicted") or {}
    real = m.hw.get("real") or {}
    clock = (m.hw.get("latency_ns") or math.nan) / max(pred.get("latency", [1, 1, 1])[1], 1e-9)
    out: dict[str, Any] = {"source": m.hw.get("source", "predicted")}
    reuse = m.hw.get("reuse_factors") or {}
    out["reuse_factors"] = json.dumps(reuse, sort_keys=True) if reuse else ""
    for metric in _HW_METRICS:
        if metric == "latency_ns":
            lo, mid, hi = (v * clock for v in pred.get("latency", (math.nan,) * 3))
        else:
            lo, mid, hi = pred.get(metric, (math.nan,) * 3)
        out.update(
            {
                f"{metric}_pred": mid,
                f"{metric}_low80": lo,
                f"{metric}_high80": hi,
                f"{metric}_real": real.get(metric, ""),
            }
        )
    return out


def _plot(
    study: optuna.Study, front: tuple[FrontMember, ...], metric_name: str, path: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = (
        TrialRecord.from_trial(t)
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    )
    done = [r for r in records if not (math.isnan(r.bops) or math.isnan(r.val_metric))]
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    ax.scatter(
        [r.bops for r in done],
        [r.val_metric for r in done],
        s=14,
        c="0.7",
        label=f"trials ({len(done)})",
    )
    if front:
        ax.step([m.bops for m in front], [m.metric for m in front], where="post", c="C3", lw=1)
        ax.scatter(
            [m.bops for m in front],
            [m.metric for m in front],
            s=28,
            c="C3",
            label=f"Pareto front ({len(front)})",
            zorder=3,
        )
    for r in done:
        if r.baseline:
            ax.annotate(r.baseline, (r.bops, r.val_metric), fontsize=7)
    draw_reference(ax, study)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"BOPs ({study.user_attrs.get('bits', 32)}-bit)")
    ax.set_ylabel(f"validation {metric_name}")
    ax.set_title(f"{study.study_name}")
    save_figure(fig, ax, path)
