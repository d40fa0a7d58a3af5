"""``hwloop tune``: TPE over one arch's training hyperparameters."""

from __future__ import annotations

from pathlib import Path

import click

from hwloop.cli._common import config_option, console, limit_option, writable_dir
from hwloop.local import TuneConfig, config_to_json, run_tune
from hwloop.tasks import TASKS


@click.command("tune")
@click.argument("arch")
@click.option(
    "--task",
    default="",
    help=f"Task: {', '.join(TASKS)} or an experiment file (.toml) [default: the arch's own, "
    "else bragg].",
)
@config_option(
    TuneConfig,
    "trials",
    "-n",
    help="Finished trials (complete or pruned) the study should hold; a re-run resumes.",
)
@config_option(
    TuneConfig,
    "epochs",
    help="Largest epoch budget a trial samples (early stopping may end sooner).",
)
@limit_option
@config_option(
    TuneConfig,
    "seed",
    help="Seed of split and training.",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path),
    default=Path("hwloop-tune"),
    callback=writable_dir,
    show_default=True,
    help="Output directory: tune.db (the study), tune.csv, tune.json, tune_history.png, "
    "ARCH.json and its best config ARCH.train.json.",
)
def tune(arch: str, task: str, trials: int, epochs: int, limit: int, seed: int, out: Path) -> None:
    """Tune the training hyperparameters of ARCH (a built-in name, an arch .json file, or
    OUT/pareto.json:TRIAL from a search): learning rate, schedule, weight decay, batch size,
    optimiser and epochs, by TPE with median pruning of bad trials.

    The best config is saved as ARCH.train.json in --out (and beside an arch file), where
    `hwloop compress` picks it up.
    """
    cfg = TuneConfig(
        arch=arch, task=task, trials=trials, epochs=epochs, limit=limit or None, seed=seed, out=out
    )
    r = run_tune(cfg)
    console.print(
        f"{r.n_complete} complete, {r.n_pruned} pruned, {r.n_failed} failed trials in "
        f"{r.study_name!r}"
    )
    base = f" (default config: {r.default_value:.4f})" if r.default_value is not None else ""
    console.print(f"best validation {r.metric_name}: {r.best_value:.4f}{base}")
    console.print(
        "best config: " + ", ".join(f"{k}={v}" for k, v in config_to_json(r.best_config).items())
    )
    console.print(f"wrote {', '.join(str(f) for f in r.files)}")
