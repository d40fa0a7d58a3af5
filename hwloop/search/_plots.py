"""Plots and the Markdown report of a hardware search (front in (metric, LUT) and (metric,
latency), the surrogate's error per loop round)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from hwloop.runtime import atomic_path
from hwloop.search._config import FrontMember, SearchConfig
from hwloop.search._loop import loop_rounds, val_metric
from hwloop.search._record import TrialRecord


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, ax: Any, path: Path, legend: bool = True) -> Path:
    """Grid, legend, layout; written whole (a kill leaves the old file) and closed."""
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    _pyplot().close(fig)
    return path


def draw_reference(ax: Any, study: optuna.Study) -> None:
    """The task's model-free reference (``Task.reference``) as a dashed line: a front that
    barely beats it is barely learning."""
    ref = study.user_attrs.get("reference")
    if ref:
        ax.axhline(
            ref["value"], ls="--", lw=1, c="0.35", label=f"{ref['what']} ({ref['value']:.3g})"
        )


def _predicted(rec: TrialRecord, what: str) -> float:
    hw = rec.hw
    if hw is None:
        return math.nan
    if what == "latency":
        return hw.latency_ns
    return hw.predicted.get(what, (math.nan,) * 3)[1]


def _front_plot(
    study: optuna.Study,
    front: tuple[FrontMember, ...],
    metric_name: str,
    what: str,
    path: Path,
) -> Path:
    plt = _pyplot()
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    records = {t.number: TrialRecord.from_trial(t) for t in complete}  # each trial read once
    done = [t for t in complete if records[t.number].hw is not None]
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    names = list(study.metric_names or ["metric"])
    feasible = [t for t in done if all(v <= 0 for v in (t.constraints or {}).values())]
    infeasible = [t for t in done if t not in feasible]
    for group, marker, label in ((feasible, "o", "feasible"), (infeasible, "x", "infeasible")):
        if group:
            ax.scatter(
                [_predicted(records[t.number], what) for t in group],
                [val_metric(t, names) for t in group],
                s=12,
                c="0.7",
                marker=marker,
                label=f"trials, {label}, predicted ({len(group)})",
            )
    key = "latency_ns" if what == "latency" else what
    for source, marker, color in (("predicted", "o", "C0"), ("real", "D", "C3")):
        members = [m for m in front if m.hw.get("source", "predicted") == source]
        if not members:
            continue
        xs = [
            float((m.hw.get("real") or {}).get(key, math.nan))
            if source == "real"
            else _member_pred(m, what)
            for m in members
        ]
        ax.scatter(
            xs,
            [m.metric for m in members],
            s=34,
            marker=marker,
            c=color,
            zorder=3,
            label=f"front, {source} ({len(members)})",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    for t in done:  # the built-in baselines (--enqueue-baselines), by name
        if baseline := records[t.number].baseline:
            xy = (_predicted(records[t.number], what), val_metric(t, names))
            ax.annotate(baseline, xy, fontsize=7)
    draw_reference(ax, study)
    ax.set_xlabel("LUT" if what == "lut" else "latency (ns)")
    ax.set_ylabel(f"validation {metric_name}")
    ax.set_title(study.study_name)
    return save_figure(fig, ax, path)


def _member_pred(m: FrontMember, what: str) -> float:
    if what == "latency":
        return float(m.hw.get("latency_ns", math.nan))
    return float((m.hw.get("predicted") or {}).get(what, (math.nan,) * 3)[1])


def _error_plot(rounds: list[dict[str, Any]], path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for metric in ("lut", "ff", "dsp", "latency"):
        pts = [(r["round"], r["smape"][metric]) for r in rounds if metric in r.get("smape", {})]
        if pts:
            ax.plot(*zip(*pts, strict=True), marker="o", label=metric)
    ax.set_xlabel("loop round")
    ax.xaxis.get_major_locator().set_params(integer=True)  # rounds are whole numbers
    ax.set_ylabel("SMAPE of the predictions (%)")
    ax.set_title("surrogate error on the newly synthesised designs")
    return save_figure(fig, ax, path, legend=bool(rounds))


def _reference_line(study: optuna.Study) -> list[str]:
    ref = study.user_attrs.get("reference")
    if not ref:
        return []
    return [
        f"Reference without a model: {ref['what']} scores {ref['value']:.4g} on the validation "
        "split (the dashed line in the plots); the front has to beat it to be learning.",
        "",
    ]


def write_hardware_report(
    cfg: SearchConfig, study: optuna.Study, front: tuple[FrontMember, ...], metric_name: str
) -> list[Path]:
    out = cfg.out
    rounds = loop_rounds(study)
    paths = [
        _front_plot(study, front, metric_name, "lut", out / "front-lut.png"),
        _front_plot(study, front, metric_name, "latency", out / "front-latency.png"),
        _error_plot(rounds, out / "loop-error.png"),
    ]
    lines = [
        f"# hwloop search `{study.study_name}`",
        "",
        f"Task {cfg.task} ({cfg.space} space), target {cfg.target}, {cfg.flow} flow at "
        f"{cfg.hw_bits} bits; objectives {', '.join(cfg.objectives)}; constraints: "
        f"max utilisation {cfg.max_util if cfg.max_util is not None else '-'}, max latency "
        f"{cfg.max_latency_ns if cfg.max_latency_ns is not None else '-'} ns.",
        "",
        *_reference_line(study),
        f"Feasible Pareto front: {len(front)} members, "
        f"{sum(m.hw.get('source') == 'real' for m in front)} with real synthesis numbers "
        "(marked `real`; the others are the latest surrogate's predictions).",
        "",
        "| trial | " + metric_name + " | BOPs | LUT | DSP | latency ns | source | same design in |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in front:
        nums = m.hw.get("real") if m.hw.get("source") == "real" else None
        lut = nums["lut"] if nums else _member_pred(m, "lut")
        dsp = nums["dsp"] if nums else _member_pred(m, "dsp")
        lat = nums.get("latency_ns", math.nan) if nums else _member_pred(m, "latency")
        lines.append(
            f"| {m.trial} | {m.metric:.4g} | {m.bops:.3g} | {lut:,.0f} | {dsp:,.0f} | "
            f"{lat:,.1f} | {m.hw.get('source', 'predicted')} | "
            f"{', '.join(map(str, m.hw.get('repeated_in_trials') or [])) or '-'} |"
        )
    lines += [
        "",
        "![front, metric vs LUT](front-lut.png)",
        "",
        "![front, metric vs latency](front-latency.png)",
        "",
        "## Loop rounds",
        "",
    ]
    if rounds:
        lines += [
            "| round | at trials | real results | LUT SMAPE % | FF | DSP | latency | seconds |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in rounds:
            e = r.get("smape", {})
            cells = [f"{e[k]:.1f}" if k in e else "-" for k in ("lut", "ff", "dsp", "latency")]
            lines.append(
                f"| {r['round']} | {r['at_trials']} | {r['n_ok']}/{len(r['designs'])} | "
                + " | ".join(cells)
                + f" | {r['seconds']} |"
            )
        lines += ["", "![surrogate error per round](loop-error.png)"]
    else:
        lines.append("No real synthesis rounds (`--synth-every N` turns them on).")
    report = out / "report.md"
    with atomic_path(report) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return [*paths, report]
