"""``hwloop surrogate``: fit resource surrogates from the cache and evaluate them."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.table import Table

from fpga_targets import get_target
from hwloop.cli._common import console, writable_dir
from hwloop.prediction import (
    LEVELS,
    DocumentSet,
    Evaluation,
    PieceScores,
    PieceSet,
    SplitScores,
    by_arch,
    by_size,
    default_model_dir,
    document_set,
    evaluate,
    fit_and_save,
    load_data,
    piece_set,
    training_set,
)
from hwloop.prediction import layered_evaluations as _layered_evaluations
from surrogates import (
    METRICS,
    LayeredSurrogate,
    PieceSurrogate,
    ResourceSurrogate,
    load_surrogate,
)
from synth_cache import KINDS, SqlCache


def _fmt(v: float | None, spread: float | None = None) -> str:
    if v is None or math.isnan(v):
        return "-"
    if spread is None or math.isnan(spread):
        return f"{v:.3f}"
    return f"{v:.3f} ± {spread:.3f}"


def _print_eval(ev: Evaluation, title: str) -> None:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title=title)
    for col in ("metric", "R²", "SMAPE %", "MAPE %", "coverage 80%"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for m, s in ev.scores.items():
        cells = (_fmt(s[k], s.get(f"{k}_std")) for k in ("r2", "smape", "mape", "coverage80"))
        table.add_row(m, *cells)
    console.print(table)
    console.print(
        f"per split: {ev.n_test} designs of {ev.n_test_archs} architectures held out, trained on "
        f"{ev.n_train}; mean ± std over {ev.n_seeds} split seed(s)"
    )
    curve = Table(box=box.SIMPLE_HEAD, pad_edge=False, title="learning curve (SMAPE %)")
    curve.add_column("train records", justify="right")
    metrics = [m for m in METRICS if m in ev.scores]
    for m in metrics:
        curve.add_column(m, justify="right")
    for n, s in ev.curve:
        curve.add_row(str(n), *(_fmt(s.get(m, math.nan)) for m in metrics))
    console.print(curve)


def _print_split(ev: SplitScores, title: str) -> None:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title=title)
    for col in ("metric", "R²", "SMAPE %", "cov80", "baseline R²", "baseline SMAPE %"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for m, s in ev.layered.items():
        b = ev.baseline.get(m, {})
        table.add_row(
            m,
            _fmt(s["r2"]),
            _fmt(s["smape"]),
            _fmt(s["coverage80"]),
            _fmt(b.get("r2")),
            _fmt(b.get("smape")),
        )
    console.print(table)
    console.print(
        f"trained on {ev.n_train} records, tested on {ev.n_test} the layer models cover "
        f"(baseline: plain XGBoost on whole-design features, {ev.n_baseline_test} test records)"
    )
    for source, scores in ev.by_source.items():
        lut = scores.get("lut", {})
        console.print(f"  {source}: LUT R² {_fmt(lut.get('r2'))}, SMAPE {_fmt(lut.get('smape'))} %")


def _print_pieces(ev: PieceScores) -> None:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title=f"held out {ev.split}")
    for col in ("metric", "R²", "SMAPE %", "cov80", "whole-design R²", "whole-design SMAPE %"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for m, s in ev.piece.items():
        w = ev.whole.get(m, {})
        table.add_row(
            m, _fmt(s["r2"]), _fmt(s["smape"]), _fmt(s["coverage80"]), _fmt(w.get("r2")),
            _fmt(w.get("smape")),
        )  # fmt: skip
    console.print(table)
    console.print(
        f"piece-level model trained on {ev.n_train} designs, tested on {ev.n_test} "
        "(whole-design: the plain XGBoost model on the same split)"
    )
    for fam, sc in ev.by_family.items():
        console.print(f"  {fam}: {sc['n']:.0f} designs, LUT SMAPE {_fmt(sc['smape'])} %")
    if ev.n_unseen:
        console.print(ev.unseen_line())
    console.print(
        "with da4ml's trace of the real weights (the middle fidelity): "
        + ", ".join(f"{m} SMAPE {_fmt(sc['smape'])} %" for m, sc in ev.traced.items())
    )


def piece_evaluations(cache_url: str | None, seed: int = 0) -> list[PieceScores]:
    """The open flow's piece-level surrogate held out by architecture and by size."""
    ds = piece_set(SqlCache(cache_url))
    return [by_arch(ds, seed=seed), by_size(ds)]


def layered_evaluations(cache_url: str | None, kind: str, seeds: int) -> list[SplitScores]:
    """The vivado flow's layer-level surrogate held out by architecture and by source."""
    return _layered_evaluations(document_set(SqlCache(cache_url), "vivado", kind), seeds)


@click.group("surrogate")
def surrogate() -> None:
    """Resource surrogates (XGBoost) trained on the synthesis cache."""


_cache = click.option("--cache", "cache_url", default=None, metavar="URL", help="Cache URL.")
_kind = click.option(
    "--kind", type=click.Choice(KINDS), default="post_synthesis", show_default=True
)
_seeds = click.option(
    "--seeds",
    type=click.IntRange(1, 20),
    default=3,
    show_default=True,
    help="Held-out splits (architecture-disjoint) averaged in the evaluation.",
)
_level = click.option(
    "--level",
    type=click.Choice(LEVELS),
    default="piece",
    show_default=True,
    help="open flow: learn the pieces the flow synthesises (composed per design), or whole "
    "designs.",
)


@surrogate.command("fit")
@_cache
@click.option("--flow", default="open", show_default=True, help="Results of this flow.")
@_kind
@click.option("--target", default=None, help="Only results on this target's part (and its name).")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    callback=writable_dir,
    help="Model directory.",
)
@click.option("--no-eval", is_flag=True, help="Skip the held-out evaluation stored with the model.")
@_seeds
@_level
def fit(
    cache_url: str | None,
    flow: str,
    kind: str,
    target: str | None,
    out: Path | None,
    no_eval: bool,
    seeds: int,
    level: str,
) -> None:
    """Train one model per metric on every successful FLOW/KIND result in the cache (the
    vivado flow: one model per hls4ml layer kind, composed per network; the open flow: one model
    of the pieces it synthesises, composed per design, unless --level design)."""
    tgt = get_target(target) if target else None
    data = load_data(SqlCache(cache_url), flow, kind, level, tgt.part if tgt else None)
    if isinstance(data, PieceSet):
        console.print(f"{len(data)} open-flow runs with piece tables")
    elif isinstance(data, DocumentSet):
        console.print(f"{len(data)} {flow} {kind} records")
    else:
        console.print(
            f"{len(data)} {flow} {kind} results of {len(set(data.groups))} architectures"
            + (f" (skipped: {dict(data.skipped)})" if data.skipped else "")
        )
    dest = out or default_model_dir(flow, tgt.name if tgt else None, kind)
    extra = {"target": tgt.name if tgt else None}
    fitted = fit_and_save(data, dest, flow, kind, 0 if no_eval else seeds, extra)
    for ev in fitted.evaluations:
        if isinstance(ev, PieceScores):
            _print_pieces(ev)
        elif isinstance(ev, SplitScores):
            _print_split(ev, f"held out by {ev.split} ({flow}, {kind})")
        else:
            _print_eval(ev, f"held-out evaluation ({flow}, {kind})")
    model = fitted.model
    if isinstance(model, PieceSurrogate):
        what = f"the piece model ({sum(model.kinds_.values())} pieces of {len(model.kinds_)} kinds)"
    elif isinstance(model, LayeredSurrogate):
        what = f"layer models ({', '.join(sorted(model.kinds_))})"
    else:
        what = f"{', '.join(sorted(model.boosters_))} models"
    console.print(f"saved {what} to {fitted.path}")


@surrogate.command("eval")
@_cache
@click.option(
    "--model",
    "model_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="A fitted model directory: evaluate its settings (flow, kind, parameters).",
)
@click.option("--flow", default="open", show_default=True)
@_kind
@_seeds
@click.option("--json", "as_json", is_flag=True, help="One JSON object keyed by metric.")
@_level
def eval_(
    cache_url: str | None,
    model_dir: Path | None,
    flow: str,
    kind: str,
    seeds: int,
    as_json: bool,
    level: str,
) -> None:
    """R², SMAPE, MAPE and 80 % interval coverage per metric on architectures held out of
    training (all variants of an architecture on one side), with a learning curve; the open
    flow's piece model also held out by size (trained below the median LUT, tested above)."""
    params: dict[str, Any] = {}
    part = None
    found = load_surrogate(model_dir) if model_dir is not None else None
    if isinstance(found, (LayeredSurrogate, PieceSurrogate)):
        flow, kind = found.flow, found.kind
    if flow == "open" and (
        isinstance(found, PieceSurrogate) or (found is None and level == "piece")
    ):
        evp = piece_evaluations(cache_url)
        if as_json:
            click.echo(json.dumps([ev_p.to_json() for ev_p in evp], indent=1))
        for ev_p in [] if as_json else evp:
            _print_pieces(ev_p)
        return
    if flow == "vivado":
        evs = layered_evaluations(cache_url, kind, seeds)
        if as_json:
            click.echo(json.dumps([split.to_json() for split in evs], indent=1))
        for split in [] if as_json else evs:
            _print_split(split, f"held out by {split.split} ({flow}, {kind})")
        return
    if model_dir is not None:
        model = ResourceSurrogate.load(model_dir)
        params = {k: v for k, v in model.get_params().items() if k not in ("flow", "kind")}
        flow, kind = model.flow, model.kind
        if model.metadata_.get("target"):
            part = get_target(model.metadata_["target"]).part
    ev = evaluate(training_set(SqlCache(cache_url), flow, kind, part), params, seeds=range(seeds))
    if as_json:
        click.echo(json.dumps(ev.to_json(), indent=1))
    else:
        _print_eval(ev, f"held-out evaluation ({flow}, {kind})")
