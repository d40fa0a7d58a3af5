"""``hwloop calibrate``: run batches of real synthesis into the cache."""

from __future__ import annotations

import os

import click
from rich import box
from rich.table import Table

from fpga_targets import get_target
from hwloop import HwloopError
from hwloop.archs import ArchSpec, resolve_arch
from hwloop.cli._common import console, jobs_option, positive_seconds
from hwloop.runtime import progress_bar
from hwloop.search import TrialRecord, load_existing_study
from hwloop.spaces import get_space
from hwloop.synth import (
    FLOWS,
    SPARSITIES,
    STRATEGIES,
    CalibrationItem,
    Synthesizer,
    default_strategy,
    get_synthesizer,
    run_calibration,
    sample_space,
)
from synth_cache import default_cache_url


def _floats(text: str, what: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise HwloopError(f"{what} must be comma-separated numbers, got {text!r}") from None


def _study_archs(name: str, storage: str) -> list[ArchSpec]:
    study = load_existing_study(name, storage)
    records = [TrialRecord.from_trial(t) for t in study.best_trials]
    archs = [
        ArchSpec.from_json(dict(r.arch)).with_name(f"{name}-t{r.number}") for r in records if r.arch
    ]
    if not archs:
        raise HwloopError(f"study {name!r} has no front members with arch specs")
    return archs


def _synthesizer(flow: str, jobs: int) -> Synthesizer:
    # the open flow synthesises a design's pieces in parallel: share the cores between runs
    return get_synthesizer(flow, jobs=max(1, (os.cpu_count() or 1) // jobs))


@click.command("calibrate")
@click.option(
    "--space",
    default=None,
    metavar="TASK[:SPACE]",
    help="Sample designs from a search space: 'bragg' (its block space), 'bragg:mlp', 'jets' "
    "(Deep Sets) or 'jets:mlp'.",
)
@click.option(
    "--n",
    "n",
    type=int,
    default=50,
    show_default=True,
    help="Designs sampled from --space (stratified over size, bits and sparsity).",
)
@click.option("--study", default=None, help="Synthesise the Pareto front of this study ...")
@click.option("--storage", default=None, help="... stored here (Optuna storage URL).")
@click.option("--arch", "arch_files", multiple=True, help="Arch spec file or built-in; repeatable.")
@click.option("--target", default="vu13p", show_default=True, help="FPGA target.")
@click.option("--flow", type=click.Choice(FLOWS), default="open", show_default=True)
@click.option("--bits", default="4,6,8", show_default=True, help="Bit widths (comma-separated).")
@click.option(
    "--sparsity",
    default=",".join(map(str, SPARSITIES)),
    show_default=True,
    help="Weight sparsities (comma-separated, each in [0, 1)).",
)
@click.option(
    "--strategy",
    type=click.Choice(STRATEGIES),
    default=None,
    help="hls4ml strategy; the open flow's 'latency' puts weights on DSP multipliers, its "
    "'distributed_arithmetic' is multiplierless. [default: distributed_arithmetic for open, "
    "latency for vivado]",
)
@click.option(
    "--max-bops",
    type=float,
    default=None,
    help="Skip sampled designs above this many bit operations (at their bits and sparsity).",
)
@click.option(
    "--min-bops",
    type=float,
    default=None,
    help="Skip sampled designs below this many bit operations (large-design calibration).",
)
@jobs_option(1, "Parallel runs.")
@click.option(
    "--timeout",
    type=float,
    default=600.0,
    show_default=True,
    callback=positive_seconds,
    help="Seconds per synthesis run; slower runs are stored as timeouts.",
)
@click.option("--cache", "cache_url", default=None, metavar="URL", help="Synthesis cache URL.")
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling and weight seed.")
@click.option("--retry-failed", is_flag=True, help="Run failed / timed-out designs again.")
def calibrate(
    space: str | None,
    n: int,
    study: str | None,
    storage: str | None,
    arch_files: tuple[str, ...],
    target: str,
    flow: str,
    bits: str,
    sparsity: str,
    strategy: str | None,
    max_bops: float | None,
    min_bops: float | None,
    jobs: int,
    timeout: float,
    cache_url: str | None,
    seed: int,
    retry_failed: bool,
) -> None:
    """Synthesise batches of designs for a target and flow into the cache.

    Resumable: designs already in the cache are skipped (failed ones too, unless
    --retry-failed); Ctrl-C keeps every finished run.
    """
    tgt = get_target(target)
    bit_list = [int(b) for b in _floats(bits, "--bits")]
    sparsities = _floats(sparsity, "--sparsity")
    if any(not 0 <= s < 1 for s in sparsities):
        raise HwloopError(f"--sparsity values must be in [0, 1), got {sparsity!r}")
    if not bit_list or any(not 2 <= b <= 32 for b in bit_list):
        raise HwloopError(
            f"--bits must be integers in 2..32 (the fixed-point widths the synthesis flows "
            f"take), got {bits!r}"
        )
    if jobs < 1:
        raise HwloopError(f"--jobs must be at least 1, got {jobs}")
    strategy = default_strategy(flow, strategy)
    items: list[CalibrationItem] = []
    if space:
        task, _, name = space.partition(":")
        sp = get_space(task, name or None)
        items += sample_space(
            sp, n, bit_list, sparsities, seed, max_bops=max_bops, min_bops=min_bops
        )
    from hwloop.archs import trained_weights

    archs = []
    for a in arch_files:
        w = trained_weights(a)
        if w is None:
            archs.append(resolve_arch(a))
        else:  # an imported model: its trained weights, at each bit width (no sparsities)
            console.print(f"{a}: the trained weights in {w} (--sparsity does not apply)")
            items += [CalibrationItem(resolve_arch(a), b, 0.0, seed, str(w)) for b in bit_list]
    if study:
        if not storage:
            raise HwloopError("--study needs --storage (the study's Optuna storage URL)")
        archs += _study_archs(study, storage)
    items += [CalibrationItem(a, b, s, seed) for a in archs for b in bit_list for s in sparsities]
    if not items:
        raise HwloopError("nothing to synthesise: give --space, --arch or --study")
    synth = _synthesizer(flow, jobs)
    reason = synth.available()
    if reason:
        raise HwloopError(f"the {flow} flow is not available here: {reason}")
    url = cache_url or default_cache_url()
    console.print(
        f"calibrating {len(items)} designs with the {flow} flow for {tgt.name} "
        f"({tgt.part}, {tgt.clock_period_ns:g} ns, {strategy}) into {url}"
    )
    with progress_bar(len(items), "synthesis runs") as advance:
        summary = run_calibration(
            items,
            synth,
            url,
            tgt.part,
            tgt.clock_period_ns,
            jobs,
            timeout,
            retry_failed,
            on_done=lambda status, cached: advance(1, description=f"last: {status}"),
            strategy=strategy,
        )
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title="calibration")
    for col in ("ok", "failed", "timeout", "unsupported", "from cache", "mean s / run"):
        table.add_column(col, justify="right")
    c = summary.counts
    table.add_row(
        str(c["ok"]),
        str(c["failed"]),
        str(c["timeout"]),
        str(c["unsupported"]),
        str(summary.cached),
        f"{summary.mean_seconds:.1f}",
    )
    console.print(table)
