"""``hwloop search``: the global architecture search."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich import box
from rich.table import Table

from hwloop.cli._common import (
    config_option,
    console,
    err_console,
    limit_option,
    positive_seconds,
    si,
    writable_dir,
)
from hwloop.search import (
    SAMPLERS,
    SCALARIZATIONS,
    SearchConfig,
    objectives_help,
    parse_objectives,
    run_search,
)
from hwloop.search.objectives import all_objectives
from hwloop.spaces import task_spaces
from hwloop.synth import FLOWS, STRATEGIES
from hwloop.tasks import TASKS, task_class


class _SearchCommand(click.Command):
    """``hwloop search``, whose help ends with every task's spaces: read off the tasks'
    declarations only when the help is shown (each task imports its own dependencies)."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        lines = [f"  {t} {c.name}: {c.help}" for t in TASKS for c in task_spaces(t)]
        head = "\b\nSearch spaces (--space; the first of each task is its default):\n"
        self.epilog = head + "\n".join(lines)
        super().format_epilog(ctx, formatter)


def _weights(text: str | None) -> tuple[float, ...]:
    if not text:
        return ()
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise click.BadParameter(f"expected numbers separated by commas, got {text!r}") from None


def _hw_cells(hw: dict[str, Any]) -> tuple[str, ...]:
    """LUT, DSP, latency (ns) and source of a front member: real numbers where it was
    synthesised, else the surrogate's medians."""
    if hw.get("source") == "real" and hw.get("real"):
        real = hw["real"]
        lut, dsp, ns = real.get("lut"), real.get("dsp"), real.get("latency_ns")
    else:
        pred = hw.get("predicted", {})
        lut = pred["lut"][1] if "lut" in pred else None
        dsp = pred["dsp"][1] if "dsp" in pred else None
        ns = hw.get("latency_ns")
    return (
        si(lut) if lut is not None else "-",
        f"{dsp:.0f}" if dsp is not None else "-",
        f"{ns:.0f}" if ns is not None else "-",
        str(hw.get("source", "predicted")),
    )


@click.command("search", cls=_SearchCommand)
@click.option(
    "--task",
    default="bragg",
    show_default=True,
    help=f"Task: {', '.join(TASKS)}, or an experiment file (.toml; its data, task and space).",
)
@config_option(
    SearchConfig,
    "target",
    help="FPGA target (see 'hwloop targets').",
)
@click.option(
    "--space",
    default="",
    help="Search space of the task, default its first (each task's spaces are listed below).",
)
@config_option(
    SearchConfig,
    "trials",
    "-n",
    help="Finished trials the study should hold; a re-run resumes and runs the rest.",
)
@config_option(
    SearchConfig,
    "epochs",
    help="Training epochs per candidate (early stopping may end sooner).",
)
@limit_option
@config_option(
    SearchConfig,
    "population",
    help="NSGA-II population size.",
)
@config_option(
    SearchConfig,
    "bits",
    help="Bit width at which the BOPs objective is counted.",
)
@click.option(
    "--storage",
    default=None,
    help="Optuna storage URL (default: "
    "sqlite:///OUT/study.db); an RDB URL lets several workers share one study.",
)
@click.option("--study", default=None, help="Study name (default: TASK-SPACE-TARGET).")
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path),
    default=Path("hwloop-out"),
    callback=writable_dir,
    show_default=True,
    help="Output directory: pareto.json, pareto.csv, pareto.png (and the default study).",
)
@config_option(
    SearchConfig,
    "seed",
    help="Seed of data split, sampler and training.",
)
@click.option(
    "--enqueue-baselines",
    is_flag=True,
    help="Start with the published archs that the space can express.",
)
@click.option(
    "--objectives",
    default="metric,bops",
    show_default=True,
    help=objectives_help(),
)
@config_option(
    SearchConfig,
    "sampler",
    help="Optuna sampler (all multi-objective; with --scalarize they optimise one value).",
    type=click.Choice(SAMPLERS),
)
@click.option(
    "--scalarize",
    type=click.Choice(SCALARIZATIONS),
    default=None,
    help="Optimise one weighted Chebyshev value of the objectives (needs --weights); the front "
    "in --out is still computed from the raw objectives.",
)
@click.option(
    "--weights",
    default=None,
    metavar="W1,W2,...",
    help="One positive weight per objective for --scalarize, e.g. 0.5,0.3,0.2.",
)
@config_option(
    SearchConfig,
    "size",
    help="ptycho: the size of the diffraction pattern and of the maps [default: 64].",
    type=int,
)
@config_option(
    SearchConfig,
    "latency_backend",
    help="Where latency_ms / energy_mj are measured: torch (eager, CPU), ort-int8 (ONNX "
    "Runtime, static INT8), torch-cuda / ort-int8-cuda on an NVIDIA GPU.",
)
@config_option(
    SearchConfig,
    "measure_repeats",
    help="Timed runs per measurement (after warm-up); median and spread are recorded.",
)
@config_option(
    SearchConfig,
    "flow",
    help="Synthesis flow whose results the hardware objectives predict.",
    type=click.Choice(FLOWS),
)
@config_option(
    SearchConfig,
    "hw_bits",
    help="Fixed-point width of the hardware design of each candidate (weights, activations).",
)
@click.option(
    "--strategy",
    type=click.Choice(STRATEGIES),
    default=None,
    help="hls4ml strategy of the designs [default: distributed_arithmetic for open, latency "
    "for vivado].",
)
@config_option(
    SearchConfig,
    "reuse_factor",
    help="hls4ml reuse factors of the vivado flow's designs: every layer's (4), per layer "
    "(fc0=2,stem=1; rounded to what hls4ml realises, as hls4ml does) or auto (per design, the "
    "cheapest factors meeting --max-latency-ns: N-TORC's ILP). The front reports them.",
)
@config_option(
    SearchConfig,
    "max_util",
    help="Feasible only if no resource (LUT, FF, DSP, BRAM) exceeds this fraction of the target.",
    type=float,
)
@config_option(
    SearchConfig,
    "max_latency_ns",
    help="Feasible only if the predicted latency is at most this many ns.",
    type=float,
)
@click.option(
    "--surrogate",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Surrogate model directory [default: your `hwloop surrogate fit` model for the flow "
    "and target, else the shipped default].",
)
@click.option(
    "--cache",
    "cache_url",
    default=None,
    metavar="URL",
    help="Synthesis cache for real runs (as in `hwloop calibrate`).",
)
@config_option(
    SearchConfig,
    "synth_every",
    help="Every N finished trials, synthesise part of the feasible front for real (in the "
    "background), refit the surrogate and re-score the front; 0: never.",
)
@config_option(
    SearchConfig,
    "synth_batch",
    help="Designs per round: the front's extremes, then its most uncertain predictions.",
)
@config_option(
    SearchConfig,
    "synth_timeout",
    help="Seconds per real synthesis; slower designs count as infeasible.",
    callback=positive_seconds,
)
@click.option(
    "--artifacts",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where candidates' trained weights are kept for real synthesis [default: OUT/artifacts]; "
    "workers sharing a study and its loop need one shared folder.",
)
@config_option(
    SearchConfig,
    "bootstrap",
    help="Designs of the space synthesised first when no surrogate exists for --flow and --target.",
)
@click.option(
    "--executor",
    default=None,
    metavar="dask://HOST:PORT",
    help="Send the loop's syntheses to a Dask cluster (pip install 'hwloop[dask]').",
)
def search(
    task: str,
    target: str,
    space: str,
    trials: int,
    epochs: int,
    limit: int,
    population: int,
    bits: int,
    storage: str | None,
    study: str | None,
    out: Path,
    seed: int,
    enqueue_baselines: bool,
    objectives: str,
    sampler: str,
    scalarize: str | None,
    weights: str | None,
    size: int | None,
    latency_backend: str,
    measure_repeats: int,
    flow: str,
    hw_bits: int,
    strategy: str | None,
    max_util: float | None,
    max_latency_ns: float | None,
    reuse_factor: str,
    surrogate: Path | None,
    cache_url: str | None,
    synth_every: int,
    synth_batch: int,
    synth_timeout: float,
    artifacts: Path | None,
    bootstrap: int,
    executor: str | None,
) -> None:
    """Multi-objective architecture search (NSGA-II by default) minimising the validation
    metric, BOPs and, with hardware objectives, the predicted LUT / DSP / latency of each
    candidate's design on --target, or its size, error percentile and measured latency / energy;
    --max-util and --max-latency-ns make candidates infeasible (never on the front).

    Re-running the same command resumes the study stored in --storage.
    """
    cfg = SearchConfig(
        task=task,
        target=target,
        space=space,
        trials=trials,
        epochs=epochs,
        limit=limit or None,
        population=population,
        bits=bits,
        storage=storage,
        study=study,
        out=out,
        seed=seed,
        enqueue_baselines=enqueue_baselines,
        objectives=parse_objectives(objectives),
        sampler=sampler,
        scalarize=scalarize,
        weights=_weights(weights),
        size=size,
        latency_backend=latency_backend,
        measure_repeats=measure_repeats,
        flow=flow,
        hw_bits=hw_bits,
        strategy=strategy,
        max_util=max_util,
        max_latency_ns=max_latency_ns,
        reuse_factor=reuse_factor,
        surrogate=surrogate,
        cache=cache_url,
        synth_every=synth_every,
        synth_batch=synth_batch,
        synth_timeout=synth_timeout,
        executor=executor,
        artifacts=artifacts,
        bootstrap=bootstrap,
    )
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )

    progress = Progress(
        TextColumn("[bold]trials"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
    )
    bar: dict[str, TaskID] = {}

    def on_start(done: int, total: int) -> None:
        if done:
            err_console.print(f"resuming study {cfg.study_name!r}: {done}/{total} trials done")
        bar["id"] = progress.add_task("trials", total=total, completed=min(done, total))
        progress.start()

    def on_trial(done: int, total: int) -> None:
        progress.update(bar["id"], completed=min(done, total))

    try:
        result = run_search(cfg, on_trial=on_trial, on_start=on_start)
    finally:
        if bar:  # a display never started would still leave a blank line before the error
            progress.stop()
    table = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title=f"Pareto front of {result.study_name}: {result.metric_name} vs "
        f"{', '.join(o for o in cfg.objectives if o != 'metric') or 'nothing else'} "
        f"({result.n_complete} complete, {result.n_failed} failed)",
    )
    hw_cols = ("LUT", "DSP", "latency ns", "source") if cfg.hardware else ()
    task_cls = task_class(cfg.task)
    parts = task_cls.report_columns if task_cls is not None else ()  # the task's own (test split)
    part_cols = tuple(header for header, _ in parts)
    # each objective's own cells (percentiles, measurements), shown where any member has them
    own = [{k: v for o in all_objectives() for k, v in o.cells(m).items()} for m in result.front]
    own_cols = tuple(dict.fromkeys(k for cells in own for k in cells))
    cols = ("trial", "val", "test", *part_cols, "BOPs", "parameters", *own_cols, *hw_cols)
    for col in (*cols, "arch"):
        table.add_column(col, justify="right" if col != "arch" else "left", no_wrap=True)
    for m, cells in zip(result.front, own, strict=True):
        hw = _hw_cells(m.hw) if cfg.hardware else ()
        rep = m.extra.get("test_report", {})
        partcells = tuple(f"{rep.get(k, float('nan')):.4f}" for _, k in parts)
        table.add_row(
            str(m.trial),
            f"{m.metric:.4f}",
            f"{m.test_metric:.4f}",
            *partcells,
            si(m.bops),
            f"{m.parameters:,}",
            *(cells.get(c, "nan") for c in own_cols),
            *hw,
            m.arch_digest,
        )
    if result.front:
        console.print(table)
    else:
        console.print(
            f"no feasible candidate yet among {result.n_complete} complete trials "
            "(constraints: --max-util, --max-latency-ns, layers the flow can express)"
        )
    console.print(f"wrote {', '.join(str(f) for f in result.files)}")
    console.print(f"study: {result.storage} (name {result.study_name!r})")
