"""``hwloop search``: the global architecture search."""

from __future__ import annotations

from pathlib import Path

import click
from rich import box
from rich.table import Table

from hwloop.cli._common import console, err_console, si
from hwloop.search import SearchConfig, run_search
from hwloop.spaces import SPACES

_SPACES_HELP = "; ".join(f"{t}: {', '.join(s)}" for t, s in SPACES.items())


@click.command("search")
@click.option("--task", default="bragg", show_default=True, help=f"Task: {', '.join(SPACES)}.")
@click.option(
    "--target", default="vu13p", show_default=True, help="FPGA target (see 'hwloop targets')."
)
@click.option(
    "--space",
    default="block",
    show_default=True,
    help=f"Search space of the task ({_SPACES_HELP}).",
)
@click.option(
    "--trials",
    "-n",
    type=int,
    default=40,
    show_default=True,
    help="Finished trials the study should hold; a re-run resumes and runs the rest.",
)
@click.option(
    "--epochs",
    type=int,
    default=5,
    show_default=True,
    help="Training epochs per candidate (early stopping may end sooner).",
)
@click.option(
    "--limit",
    type=int,
    default=8000,
    show_default=True,
    help="Number of Bragg peaks used (0: all 69,347).",
)
@click.option(
    "--population", type=int, default=20, show_default=True, help="NSGA-II population size."
)
@click.option(
    "--bits",
    type=int,
    default=32,
    show_default=True,
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
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("hwloop-out"),
    show_default=True,
    help="Output directory: pareto.json, pareto.csv, pareto.png (and the default study).",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of data split, sampler and training.",
)
@click.option(
    "--enqueue-baselines",
    is_flag=True,
    help="Start with the published archs that the space can express.",
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
) -> None:
    """Multi-objective architecture search (NSGA-II) minimising (validation metric, BOPs).

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
        progress.stop()
    table = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title=f"Pareto front of {result.study_name}: {result.metric_name} vs BOPs "
        f"({result.n_complete} complete, {result.n_failed} failed)",
    )
    for col in ("trial", "val", "test", "BOPs", "parameters", "arch"):
        table.add_column(col, justify="right" if col != "arch" else "left", no_wrap=True)
    for m in result.front:
        table.add_row(
            str(m.trial),
            f"{m.metric:.4f}",
            f"{m.test_metric:.4f}",
            si(m.bops),
            f"{m.parameters:,}",
            m.arch_digest,
        )
    console.print(table)
    console.print(f"wrote {', '.join(str(f) for f in result.files)}")
    console.print(f"study: {result.storage} (name {result.study_name!r})")
