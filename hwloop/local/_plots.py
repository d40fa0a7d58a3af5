"""Plots of the local search: compress fronts (metric vs BOPs / LUT) and tuning history."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwloop.runtime import atomic_path

if TYPE_CHECKING:
    from hwloop.local._state import CompressPoint


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")


def plot_compress(
    points: Sequence[CompressPoint],
    ref: CompressPoint,
    metric: str,
    out: Path,
    unit: str = "",
    tolerance: float | None = None,
) -> list[Path]:
    """metric_vs_bops.png and (with predictions) metric_vs_lut.png: one line per bit width
    through its pruning iterations, the float reference dashed."""
    plt = _pyplot()
    label = f"validation {metric}" + (f" ({unit})" if unit else "")
    files = []
    axes = [("bops", "BOPs", "metric_vs_bops.png")]
    if any("lut" in p.predicted for p in points):
        axes.append(("lut", "predicted LUT (median)", "metric_vs_lut.png"))
    for key, xlabel, name in axes:
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        for bits in sorted({p.bits for p in points}):
            row = sorted((p for p in points if p.bits == bits), key=lambda p: p.iteration)
            xs = [p.bops if key == "bops" else p.predicted.get("lut", [0, 0, 0])[1] for p in row]
            ax.plot(xs, [p.val_metric for p in row], "o-", ms=3, label=f"{bits} bits")
            last = row[-1]
            ax.annotate(f"{last.sparsity:.0%}", (xs[-1], last.val_metric), fontsize=7)
        ax.axhline(ref.val_metric, color="k", ls="--", lw=1, label="float, dense")
        if tolerance is not None:
            ax.axhline(ref.val_metric * (1 + tolerance), color="k", ls=":", lw=1, label="tolerance")
        values = [p.val_metric for p in points if p.val_metric > 0] + [ref.val_metric]
        if max(values) > 10 * min(values):
            ax.set_yscale("log")
        ax.set_xscale("log")
        ax.set_xlabel(xlabel + " (pruning iterations →, sparsity of the last annotated)")
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        _save(fig, out / name)
        plt.close(fig)
        files.append(out / name)
    return files


def plot_history(values: Sequence[tuple[int, float, str]], metric: str, path: Path) -> Path:
    """Validation metric of every tuning trial (pruned ones hollow) and the best so far."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    done = [(n, v) for n, v, s in values if s == "COMPLETE"]
    pruned = [(n, v) for n, v, s in values if s == "PRUNED"]
    if done:
        ax.plot(*zip(*done, strict=True), "o", ms=4, label="complete")
        best, run = float("inf"), []
        for n, v in done:
            best = min(best, v)
            run.append((n, best))
        ax.step(*zip(*run, strict=True), where="post", color="k", lw=1, label="best so far")
    if pruned:
        ax.plot(*zip(*pruned, strict=True), "o", ms=4, mfc="none", label="pruned (last value)")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"validation {metric}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, path)
    plt.close(fig)
    return path
