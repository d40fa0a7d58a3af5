"""``hwloop tune``: TPE over one arch's training hyperparameters, bad trials median-pruned.

Each trial trains the arch from the same initial weights (the run's seed) with a sampled
learning rate, schedule (cosine or constant), weight decay, batch size, optimiser and epoch
budget, reporting the validation metric after every epoch; Optuna's median pruner stops a trial
whose intermediate value is worse than the median of earlier trials at the same epoch. The
study lives in ``OUT/tune.db`` (SQLite): a re-run resumes it. The best config is written to
``OUT/<arch>.train.json`` beside a copy of the arch (``OUT/<arch>.json``), and beside the arch
file itself when one was given, where ``hwloop compress`` finds it.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from hwloop import HwloopError
from hwloop.archs import build_model
from hwloop.local._common import (
    TRAIN_SUFFIX,
    config_to_json,
    local_task,
    resolve_local_arch,
    write_json,
    write_table,
)
from hwloop.runtime import check, graceful_sigint, hide_optuna_interrupt_tracebacks
from hwloop.search import session_seed
from hwloop.training import OPTIMIZERS, TrainConfig, train

log = logging.getLogger(__name__)
BATCH_SIZES = (32, 64, 128, 256, 512)
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass(frozen=True)
class TuneConfig:
    arch: str
    task: str = ""  # "": the arch's task (else bragg)
    trials: int = 100
    epochs: int = 20  # the largest epoch budget a trial may sample
    limit: int | None = 8000
    seed: int = 0
    out: Path = Path("hwloop-tune")
    startup: int = 5  # trials before the pruner may stop any
    warmup_epochs: int = 2  # epochs every trial runs before it can be pruned

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise HwloopError(f"--trials must be at least 1, got {self.trials}")
        if self.epochs < 1:
            raise HwloopError(f"--epochs must be at least 1, got {self.epochs}")


@dataclass(frozen=True)
class TuneResult:
    study_name: str
    storage: str
    n_complete: int
    n_pruned: int
    n_failed: int
    best_value: float
    best_config: TrainConfig
    default_value: float | None  # trial 0 runs hwloop's default config, for comparison
    files: tuple[Path, ...]
    metric_name: str


def sample_config(trial: Any, max_epochs: int, seed: int) -> TrainConfig:
    """A training config from ``trial`` (an Optuna trial, or a FixedTrial replaying one)."""
    lo = max(1, max_epochs // 4)
    return TrainConfig(
        epochs=trial.suggest_int("epochs", lo, max_epochs) if max_epochs > lo else max_epochs,
        batch_size=trial.suggest_categorical("batch_size", BATCH_SIZES),
        lr=trial.suggest_float("lr", 1e-4, 3e-2, log=True),
        weight_decay=trial.suggest_float("weight_decay", 1e-7, 1e-2, log=True),
        optimizer=trial.suggest_categorical("optimizer", OPTIMIZERS),
        cosine=trial.suggest_categorical("schedule", ("cosine", "constant")) == "cosine",
        seed=seed,
    )


def _default_params(max_epochs: int) -> dict[str, Any]:
    d = TrainConfig()
    lo = max(1, max_epochs // 4)
    params: dict[str, Any] = {
        "batch_size": d.batch_size,
        "lr": d.lr,
        "weight_decay": 1e-7,
        "optimizer": d.optimizer,
        "schedule": "cosine",
    }
    if max_epochs > lo:
        params["epochs"] = max_epochs
    return params


def run_tune(cfg: TuneConfig, progress: bool = True) -> TuneResult:
    spec, arch_path = resolve_local_arch(cfg.arch)
    task_name, task = local_task(spec, cfg.task)
    cfg = replace(cfg, task=task_name)
    cfg.out.mkdir(parents=True, exist_ok=True)
    storage = f"sqlite:///{(cfg.out / 'tune.db').as_posix()}"
    name = f"tune-{spec.name}-{cfg.task}"
    sampler = optuna.samplers.TPESampler(seed=cfg.seed, n_startup_trials=10)
    pruner = optuna.pruners.MedianPruner(
        n_startup_trials=cfg.startup, n_warmup_steps=cfg.warmup_epochs
    )
    study = optuna.create_study(
        study_name=name, storage=storage, sampler=sampler, pruner=pruner, load_if_exists=True
    )
    # a resumed tuning continues the sampler's sequence instead of replaying its first trials
    study.sampler = optuna.samplers.TPESampler(
        seed=session_seed(cfg.seed, study), n_startup_trials=10
    )
    attrs = {"arch_digest": spec.digest, "epochs": cfg.epochs, "limit": cfg.limit}
    attrs["seed"] = cfg.seed
    for key, value in attrs.items():
        old = study.user_attrs.get(key)
        if old is not None and old != value:
            raise HwloopError(
                f"{cfg.out / 'tune.db'} holds study {name!r} tuned with {key}={old!r}, not "
                f"{value!r}: use another --out"
            )
        study.set_user_attr(key, value)

    def finished() -> int:
        return len(study.get_trials(deepcopy=False, states=_FINISHED))

    if not study.trials:
        study.enqueue_trial(_default_params(cfg.epochs))  # the default config as a baseline
    remaining = cfg.trials - finished()
    if remaining > 0:
        data = task.load(limit=cfg.limit, seed=cfg.seed, progress=progress)
        model = build_model(spec)

        def objective(trial: optuna.Trial) -> float:
            tc = sample_config(trial, cfg.epochs, cfg.seed)

            def report(epoch: int, value: float) -> None:
                if math.isfinite(value):
                    trial.report(value, epoch)
                    if trial.should_prune():
                        raise optuna.TrialPruned()

            result = train(model, task, data, tc, on_epoch=report)
            if not math.isfinite(result.val_metric):
                raise optuna.TrialPruned()  # diverged: as bad as it gets, not an error
            trial.set_user_attr("test_metric", result.test_metric)
            trial.set_user_attr("epochs_run", result.epochs_run)
            return result.val_metric

        from hwloop.runtime import progress_bar

        hide_optuna_interrupt_tracebacks()  # a Ctrl-C'd trial is not an error to log
        with progress_bar(cfg.trials, "tune", progress) as advance:
            advance(finished())

            def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
                check()
                value = f" {trial.value:.4f}" if trial.value is not None else ""
                advance(1, description=f"tune: #{trial.number} {trial.state.name.lower()}{value}")

            with graceful_sigint(), warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                study.optimize(
                    objective,
                    n_trials=remaining,
                    callbacks=[callback, optuna.study.MaxTrialsCallback(cfg.trials, _FINISHED)],
                    gc_after_trial=True,
                )
                check()
    return _report(cfg, study, spec, arch_path, task.metric_name, storage)


def _report(
    cfg: TuneConfig, study: optuna.Study, spec: Any, arch_path: Path | None, metric: str, url: str
) -> TuneResult:
    from hwloop.local._plots import plot_history

    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete:
        raise HwloopError(f"no tuning trial of {spec.name} completed; see {cfg.out / 'tune.db'}")
    best = min(complete, key=lambda t: float(t.value))  # type: ignore[arg-type]
    best_cfg = sample_config(optuna.trial.FixedTrial(best.params), cfg.epochs, cfg.seed)
    rows = []
    history = []
    for t in trials:
        last = max(t.intermediate_values.items(), default=(None, None))
        value = t.value if t.value is not None else last[1]
        rows.append(
            {
                "trial": t.number,
                "state": t.state.name,
                f"val_{metric}": value,
                f"test_{metric}": t.user_attrs.get("test_metric"),
                "epochs_run": t.user_attrs.get("epochs_run", len(t.intermediate_values)),
                **t.params,
            }
        )
        if value is not None and t.state in _FINISHED:
            history.append((t.number, float(value), t.state.name))
    columns = ["trial", "state", f"val_{metric}", f"test_{metric}", "epochs_run"]
    columns += ["lr", "schedule", "weight_decay", "batch_size", "optimizer", "epochs"]
    out = cfg.out
    files = [out / "tune.csv", out / "tune.json", out / "tune_history.png"]
    write_table(files[0], rows, columns)
    default = next((t for t in trials if t.number == 0 and t.state == TrialState.COMPLETE), None)
    best_doc = {
        "format": "hwloop.train/1",
        "arch": spec.name,
        "task": cfg.task,
        "metric": metric,
        "val_metric": best.value,
        "test_metric": best.user_attrs.get("test_metric"),
        "trial": best.number,
        "default_val_metric": default.value if default else None,
        "config": config_to_json(best_cfg),
    }
    write_json(files[1], {"study": study.study_name, "best": best_doc, "trials": rows})
    plot_history(history, metric, files[2])
    spec.save(out / f"{spec.name}.json")
    files += [out / f"{spec.name}.json", out / f"{spec.name}{TRAIN_SUFFIX}"]
    write_json(files[-1], best_doc)
    if arch_path is not None:
        beside = arch_path.with_name(arch_path.stem + TRAIN_SUFFIX)
        if beside.resolve() != files[-1].resolve():
            try:
                write_json(beside, best_doc)
                files.append(beside)
            except OSError as exc:
                log.warning("cannot write %s beside the arch: %s", beside, exc.strerror)
    states = [t.state for t in trials]
    return TuneResult(
        study.study_name,
        url,
        states.count(TrialState.COMPLETE),
        states.count(TrialState.PRUNED),
        states.count(TrialState.FAIL),
        float(best.value),  # type: ignore[arg-type]
        best_cfg,
        float(default.value) if default and default.value is not None else None,
        tuple(files),
        metric,
    )
