"""``summary.md`` of a run: what was searched, the front, the compressed models and what real
synthesis said about them, beside the predictions."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hwloop.pipeline._result import RunResult


def _num(v: Any, fmt: str = ",.0f") -> str:
    if v is None or v == "" or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return format(v, fmt)


def _pred(hw: dict[str, Any], metric: str) -> Any:
    p = (hw.get("predicted") or {}).get(metric)
    return p[1] if p else None


def summary_markdown(run: RunResult) -> str:
    exp, res = run.experiment, run.search
    h = exp.hardware
    lines = [
        f"# {exp.name}",
        "",
        *([exp.description, ""] if exp.description else []),
        f"- data: `{exp.resolve(exp.data.path)}`, {exp.task.kind}"
        + (f" with {exp.task.classes} classes" if exp.task.classes else "")
        + f"; metric `{res.metric_name}` on the validation split (lower is better)",
        f"- space: {exp.space.kind}; hardware: {h.target}, {h.flow} flow, {h.bits}-bit designs"
        + (f", at most {h.max_util:.0%} of every resource" if h.max_util else "")
        + (f", at most {h.max_latency_ns:g} ns" if h.max_latency_ns else ""),
        f"- search: {res.n_complete} complete trials, {res.n_failed} failed or pruned; study "
        f"`{res.study_name}` in `{res.storage}`",
        "- stage times: "
        + (", ".join(f"{k} {v:.0f} s" for k, v in run.seconds.items()) or "none ran"),
        "",
        "## Pareto front",
        "",
        "Hardware numbers are the surrogate's medians (real where the loop synthesised them).",
        "",
        "| trial | val | test | BOPs | LUT | DSP | latency ns | source |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for m in res.front:
        real = m.hw.get("real") or {}
        src = m.hw.get("source", "predicted")
        lut = real.get("lut") if src == "real" else _pred(m.hw, "lut")
        dsp = real.get("dsp") if src == "real" else _pred(m.hw, "dsp")
        ns = real.get("latency_ns") if src == "real" else m.hw.get("latency_ns")
        lines.append(
            f"| {m.trial} | {m.metric:.4g} | {m.test_metric:.4g} | {_num(m.bops)} | {_num(lut)} "
            f"| {_num(dsp)} | {_num(ns, ',.1f')} | {src if m.hw else '-'} |"
        )
    if not res.front:
        lines.append("| - | no feasible candidate | | | | | | |")
    if run.local:
        lines += [
            "",
            "## Local search (quantisation-aware training x pruning)",
            "",
            "| trial | chosen | bits | sparsity | val | test | float val | LUT pred | "
            "latency ns pred |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for trial, r in run.local:
            c = r.chosen
            if c is None:
                lines.append(
                    f"| {trial} | none within tolerance | | | | | "
                    f"{r.reference.val_metric:.4g} | | |"
                )
                continue
            lut = c.predicted.get("lut")
            lines.append(
                f"| {trial} | {c.label} | {c.bits} | {c.sparsity:.0%} | {c.val_metric:.4g} | "
                f"{c.test_metric:.4g} | {r.reference.val_metric:.4g} | "
                f"{_num(lut[1] if lut else None)} | {_num(c.latency_ns, ',.1f')} |"
            )
    if run.synthesised:
        lines += [
            "",
            "## Real synthesis",
            "",
            "| trial | model | status | LUT | FF | DSP | latency ns | cache key |",
            "|---:|---|---|---:|---:|---:|---:|---|",
        ]
        for s in run.synthesised:
            doc = s.result
            lines.append(
                f"| {s.trial} | {s.model} | {doc.get('status')} | {_num(doc.get('lut'))} | "
                f"{_num(doc.get('ff'))} | {_num(doc.get('dsp'))} | "
                f"{_num(doc.get('latency_ns'), ',.1f')} | {str(doc.get('key', ''))[:12]} |"
            )
    lines += [
        "",
        "## Files",
        "",
        *(f"- `{f}`" for f in res.files),
        *(f"- `{r.chosen_dir}` (trial {t}'s chosen model)" for t, r in run.local if r.chosen_dir),
        f"- `{run.out / 'experiment.toml'}` (the experiment as run; "
        f"`--task {run.out / 'experiment.toml'}` in search, tune, compress, predict)",
    ]
    return "\n".join(lines) + "\n"
