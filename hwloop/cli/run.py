"""``hwloop init`` and ``hwloop run``: your own data, from one experiment file."""

from __future__ import annotations

from pathlib import Path

import click
from rich import box
from rich.table import Table

from hwloop import HwloopError
from hwloop.cli._common import console, err_console, si, writable_dir, writable_file


@click.command("init")
@click.argument(
    "experiment", type=click.Path(dir_okay=False, path_type=Path), callback=writable_file
)
@click.option(
    "--data",
    "data_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The data file: .npz, .npy (inputs; --y names the targets' .npy), .h5 or .parquet.",
)
@click.option("--x", "x_key", default=None, help="Key (column) of the inputs [default: guessed].")
@click.option(
    "--y", "y_key", default=None, help="Key (column) of the targets, or the targets' .npy file."
)
@click.option("--name", default=None, help="Experiment name [default: the file's stem].")
@click.option("--force", is_flag=True, help="Overwrite an existing experiment file.")
def init(
    experiment: Path,
    data_file: Path,
    x_key: str | None,
    y_key: str | None,
    name: str | None,
    force: bool,
) -> None:
    """Write a commented experiment file inferred from a data file: shapes, classification or
    regression (and the number of classes), a space that fits the input's rank, and sizes that
    finish in minutes on a laptop."""
    from hwloop.pipeline import experiment_name, experiment_text, infer

    if experiment.suffix.lower() != ".toml":
        raise HwloopError(f"{experiment}: init writes a .toml experiment file")
    if experiment.exists() and not force:
        raise HwloopError(f"{experiment} exists; pass --force to overwrite it")
    name = experiment_name(name or experiment.stem)
    inf = infer(data_file, x_key, y_key)
    text = experiment_text(name, data_file, inf, experiment.parent)
    experiment.parent.mkdir(parents=True, exist_ok=True)
    experiment.write_text(text)
    what = (
        f"classification, {inf.classes} classes"
        if inf.kind == "classification"
        else f"regression, {inf.outputs} output(s)"
    )
    console.print(
        f"wrote {experiment}: {inf.n} samples of {list(inf.sample_shape)}, {what}, "
        f"{inf.space} space, split {inf.split}"
    )
    console.print(f"next: hwloop run {experiment}")


@click.command("run")
@click.argument("experiment", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="Override a key of the file (repeatable), e.g. --set search.trials=40 --set "
    "local.iterations=0 (no local search) --set output.synthesize=0 (no real synthesis).",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    callback=writable_dir,
    help="Output folder [default: the file's output.dir, from the current directory].",
)
@click.option(
    "--force",
    is_flag=True,
    help="Run in an output folder that holds another experiment's study (it is kept, renamed).",
)
def run(experiment: Path, sets: tuple[str, ...], out: Path | None, force: bool) -> None:
    """Run an experiment file: global search, then local search (QAT x pruning) of the best
    front members, then real synthesis of the chosen models; one progress display. Re-running
    resumes every stage. Writes pareto.json / .csv / .png and summary.md into the output
    folder."""
    from hwloop.experiment import load_experiment
    from hwloop.pipeline import claim_output, run_experiment
    from hwloop.runtime import shared_display
    from hwloop.tasks.file import FileTask

    exp = load_experiment(experiment, sets)
    task = FileTask(exp)  # reads and checks the data before any folder is touched
    folder = out or exp.output.dir
    claim_output(exp, folder, force)  # refused here, before the display starts
    err_console.print(
        f"{exp.name}: {len(task.arrays.x)} samples of {list(task.input_shape)} -> "
        f"{task.output_size} {'classes' if task.kind == 'classification' else 'values'}; "
        f"{exp.space.kind} space; {exp.search.trials} trials, local "
        f"{'off' if not exp.local.iterations else f'{exp.local.iterations} iterations'}, "
        f"synthesis {'off' if not exp.output.synthesize else exp.output.synthesize}; into {folder}"
    )
    with shared_display() as display:
        bar = display.add_task("search trials", total=exp.search.trials)

        def on_start(done: int, total: int) -> None:
            display.update(bar, completed=min(done, total), total=total)

        def on_trial(done: int, total: int) -> None:
            display.update(bar, completed=min(done, total))

        result = run_experiment(exp, folder, force, on_trial=on_trial, on_start=on_start)
    s = result.search
    table = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        title=f"{exp.name}: front of {s.n_complete} trials ({s.metric_name}, validation)",
    )
    for col in ("trial", "val", "test", "BOPs", "LUT", "latency ns"):
        table.add_column(col, justify="right")
    for m in s.front:
        pred = m.hw.get("predicted") or {}
        lut = pred.get("lut")
        ns = m.hw.get("latency_ns")
        table.add_row(
            str(m.trial),
            f"{m.metric:.4f}",
            f"{m.test_metric:.4f}",
            si(m.bops),
            si(lut[1]) if lut else "-",
            f"{ns:.0f}" if ns is not None else "-",
        )
    console.print(table)
    for trial, r in result.local:
        c = r.chosen
        console.print(
            f"trial {trial}: chosen {c.label} ({c.sparsity:.0%} sparse), val {c.val_metric:.4f}"
            if c is not None
            else f"trial {trial}: no compressed model within the tolerance"
        )
    for syn in result.synthesised:
        doc = syn.result
        nums = ", ".join(f"{k.upper()} {doc[k]:,.0f}" for k in ("lut", "ff", "dsp") if k in doc)
        lat = f", {doc['latency_ns']:,.1f} ns" if "latency_ns" in doc else ""
        ok = doc.get("status") == "ok"
        console.print(
            f"real {doc.get('flow')} synthesis of trial {syn.trial} ({syn.model}): "
            f"{doc.get('status')}" + (f": {nums}{lat}" if ok else f": {doc.get('error', '')}")
        )
    console.print(f"wrote {', '.join(str(f) for f in result.files)}")
