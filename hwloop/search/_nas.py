"""The global architecture search: an Optuna study (NSGA-II by default; TPE, GP, random) over the
validation metric, BOPs and the other objectives asked for, or their Chebyshev scalarisation."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import socket
import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from fpga_targets import get_target
from hwloop import HwloopError
from hwloop.archs import build_model, builtin_archs, integer_bits_for
from hwloop.bops import compute_bops
from hwloop.runtime import check, graceful_sigint, hide_optuna_interrupt_tracebacks, pid_alive
from hwloop.search._config import FrontMember, SearchConfig, SearchResult
from hwloop.search._front import hardware_front
from hwloop.search._hardware import HardwareScorer, hardware_scorer
from hwloop.search._loop import SynthesisLoop, latest_loop_model
from hwloop.search._objectives import (
    check_measurable,
    front_member,
    has_sample_errors,
    make_sampler,
    measure,
    raw_front_trials,
    scalarised,
    split_report,
)
from hwloop.search._record import TrialRecord
from hwloop.search._report import write_front
from hwloop.search._weights import save_weights, weights_store
from hwloop.search.objectives import get_objective
from hwloop.spaces import SearchSpace, get_space
from hwloop.synth import get_synthesizer
from hwloop.tasks import Task, TaskData, get_task
from hwloop.training import TrainConfig, train
from synth_cache import SqlCache, default_cache_url, retry_schema_race

log = logging.getLogger(__name__)

WORKER = f"{socket.gethostname()}:{os.getpid()}"  # which process ran a trial (shared studies)

# a trial counts as finished when it produced a result; failed (or interrupted) trials are redone
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def _rdb_storage(url: str) -> RDBStorage:
    """Optuna's RDB storage; a schema-creation race with another worker is retried."""

    def create() -> RDBStorage:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return RDBStorage(
                url,
                heartbeat_interval=60,
                grace_period=180,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
            )

    return retry_schema_race(create)


def fail_dead_trials(study: optuna.Study) -> list[int]:
    """RUNNING trials whose worker is provably gone (this host, a dead PID) are failed now and
    their parameters queued again, instead of waiting for the heartbeat's grace period (180 s)
    to pass during some later run; trials of other hosts are left to the heartbeat. Returns
    the failed trials' numbers."""
    host = socket.gethostname()
    failed = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner, _, pid = TrialRecord.from_trial(t).worker.rpartition(":")
        if owner != host or not pid.isdigit() or int(pid) == os.getpid() or pid_alive(int(pid)):
            continue
        study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        study.enqueue_trial(t.params, user_attrs={"retry_of": t.number})
        log.info("trial %d: its worker %s is gone; failed and queued again", t.number, pid)
        failed.append(t.number)
    return failed


def session_seed(seed: int, study: optuna.Study) -> int:
    """The sampler's seed for this process: ``seed`` itself on a study with no trials yet (a
    fresh run is reproducible), else a hash of the seed, the trials the study holds and this
    worker, so a resumed run continues the sequence instead of replaying the first trials'
    parameters, and two workers joining one study draw apart. (Two workers that open the same
    empty study at the same moment share the seed: start the second once the first has a
    trial.)"""
    n = len(study.get_trials(deepcopy=False))
    if n == 0:
        return seed
    digest = hashlib.sha256(f"{seed}:{n}:{WORKER}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def _storage_error(url: str, exc: Exception) -> HwloopError | None:
    """A user's storage URL that cannot be used, as one line (None: not such an error)."""
    if isinstance(exc, ValueError | ImportError | optuna.exceptions.OptunaError):
        return HwloopError(f"cannot open storage {url}: {exc}")
    if type(exc).__module__.startswith("sqlalchemy"):
        return HwloopError(f"cannot open storage {url}: {str(exc).splitlines()[0]}")
    return None


def load_existing_study(name: str, url: str) -> optuna.Study:
    """An existing study (``hwloop calibrate --study``): a bad URL, an unreachable database or
    an unknown name is one line."""
    if "://" not in url:
        raise HwloopError(f"storage {url!r} is not a URL: give sqlite:///PATH or an RDB URL")
    try:
        return optuna.load_study(study_name=name, storage=url)
    except KeyError:
        raise HwloopError(f"no study {name!r} in {url}") from None
    except Exception as exc:
        err = _storage_error(url, exc)
        if err is None:
            raise
        raise err from None


def _study_attrs(cfg: SearchConfig) -> dict[str, Any]:
    """The settings a study's results depend on: a resume must match them."""
    attrs: dict[str, Any] = {
        "task": cfg.task,
        "space": cfg.space,
        "target": cfg.target,
        "bits": cfg.bits,
        "epochs": cfg.epochs,
        "limit": cfg.limit,
        "seed": cfg.seed,
        "batch_size": cfg.batch_size,
        "lr": cfg.lr,
    }
    if cfg.objectives != ("metric", "bops"):
        attrs["objectives"] = list(cfg.objectives)
    attrs["sampler"] = cfg.sampler
    if cfg.scalarize:
        attrs.update(scalarize=cfg.scalarize, weights=list(cfg.weights))
    if cfg.size:
        attrs["size"] = cfg.size
    if cfg.measured:
        attrs.update(latency_backend=cfg.latency_backend, measure_repeats=cfg.measure_repeats)
    if cfg.hardware:
        attrs.update(
            flow=cfg.flow,
            hw_bits=cfg.hw_bits,
            strategy=cfg.strategy,
            max_util=cfg.max_util,
            max_latency_ns=cfg.max_latency_ns,
        )
    return attrs


def _conflict(study: optuna.Study, cfg: SearchConfig) -> str | None:
    """Why ``study`` cannot take this run's results (None: it can)."""
    names = _metric_names(cfg)
    if len(study.directions) != len(names):
        return (
            f"study {cfg.study_name!r} exists with {len(study.directions)} objectives, not "
            f"{','.join(names)}: use another --study name"
        )
    if study.metric_names is not None and list(study.metric_names) != names:
        # the same number of objectives, other ones: trial 3 would store LUT where 0-2 stored
        # BOPs, and the front would compare unlike things
        return (
            f"study {cfg.study_name!r} was created with objectives "
            f"{','.join(study.metric_names)}, not {','.join(names)}; results with different "
            "objectives are not comparable: use another --study name or --out"
        )
    for key, value in _study_attrs(cfg).items():
        old = study.user_attrs.get(key)
        if old is not None and old != value:
            return (
                f"study {cfg.study_name!r} was created with {key}={old!r}, not {value!r}; "
                "results with different settings are not comparable: use another --study name"
            )
    return None


def open_study(cfg: SearchConfig) -> optuna.Study:
    """Create or resume the study; stale RUNNING trials of a dead worker are retried. A study
    created with other settings is refused, unless it holds no finished or running trial (a
    first run that failed): then it is created again with these."""
    if cfg.storage_url.startswith("sqlite:///"):
        cfg.out.mkdir(parents=True, exist_ok=True)
    try:
        storage: Any = cfg.storage_url
        if "://" in cfg.storage_url and not cfg.storage_url.startswith(("journal", "inmemory")):
            storage = _rdb_storage(cfg.storage_url)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = make_sampler(cfg)

        def create() -> optuna.Study:
            return optuna.create_study(
                study_name=cfg.study_name,
                storage=storage,
                sampler=sampler,
                directions=["minimize"] * len(_metric_names(cfg)),
                load_if_exists=True,
            )

        study = create()
        fail_dead_trials(study)
        problem = _conflict(study, cfg)
        live = (TrialState.COMPLETE, TrialState.RUNNING)
        if problem and not study.get_trials(deepcopy=False, states=live):
            log.info("study %r holds no finished trial: created again", cfg.study_name)
            optuna.delete_study(study_name=cfg.study_name, storage=storage)
            study, problem = create(), None
    except (ValueError, ImportError, optuna.exceptions.OptunaError) as exc:
        raise HwloopError(
            f"cannot open study {cfg.study_name!r} at {cfg.storage_url}: {exc}"
        ) from None
    except Exception as exc:  # sqlalchemy errors: bad URL, unreachable server, ...
        err = _storage_error(cfg.storage_url, exc)
        if err is None:
            raise
        raise err from None
    if problem:
        raise HwloopError(problem)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.sampler = make_sampler(replace(cfg, seed=session_seed(cfg.seed, study)))
        study.set_metric_names(_metric_names(cfg))
    for key, value in _study_attrs(cfg).items():
        study.set_user_attr(key, value)
    return study


def _metric_names(cfg: SearchConfig) -> list[str]:
    """The study's value names: the objectives, or the one scalarised value."""
    return [cfg.scalarize] if cfg.scalarize else list(cfg.objectives)


def enqueue_baselines(study: optuna.Study, space: SearchSpace, task: str) -> list[str]:
    """Queue the built-in archs of ``task`` that the space can express (once per study); a
    fully convolutional built-in (ptychonn) is taken at the space's input size."""
    done = {TrialRecord.from_trial(t).baseline for t in study.get_trials(deepcopy=False)}
    queued = []
    for name, spec in builtin_archs().items():
        if spec.task != task or name in done:
            continue
        shape = getattr(space, "input_shape", spec.input_shape)
        if tuple(shape) != spec.input_shape:
            try:
                spec = spec.with_input_shape(tuple(shape))
            except HwloopError:
                pass
        params = space.params_for(spec)
        if params is None:
            log.warning("not enqueued: %s", space.reason(spec))
            continue
        study.enqueue_trial(params, user_attrs={"baseline": name}, skip_if_exists=True)
        queued.append(name)
    return queued


def make_objective(
    cfg: SearchConfig,
    task: Task,
    space: SearchSpace,
    data: TaskData,
    scorer: HardwareScorer | None = None,
    artifacts: Any = None,
) -> Callable[[optuna.Trial], tuple[float, ...] | float]:
    base_cfg = TrainConfig(
        epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, seed=cfg.seed, patience=3
    )
    percentiles = has_sample_errors(task)
    extra_report = type(task).report is not Task.report

    def objective(trial: optuna.Trial) -> tuple[float, ...] | float:
        TrialRecord(worker=WORKER).write(trial)  # first: a resume can tell a dead worker's trial
        spec = space.sample(trial)
        overrides = space.sample_training(trial, cfg.epochs)
        train_cfg = replace(base_cfg, **overrides) if overrides else base_cfg
        bops = compute_bops(spec, bits=cfg.bits)
        model = build_model(spec)
        result = train(model, task, data, train_cfg)
        first = TrialRecord(
            arch=spec.to_json(),
            arch_digest=spec.digest,
            parameters=bops.parameters,
            bops=bops.total,
            val_metric=result.val_metric,
            test_metric=result.test_metric,
            train_seconds=round(result.seconds, 2),
            epochs_run=result.epochs_run,
            train=overrides or {},
        )
        first.write(trial)
        if not math.isfinite(result.val_metric):
            raise optuna.TrialPruned("training diverged")  # recorded as PRUNED, not on the front
        rec = first
        if percentiles or extra_report:  # p75 always beside p95; ptycho: amp and phase MAE
            rec = replace(rec, val_report=split_report(model, task, data.val))
            if len(data.test):
                rec = replace(rec, test_report=split_report(model, task, data.test))
        if cfg.measured:  # median and spread of every measured quantity
            rec = replace(rec, measure=measure(model.eval(), cfg, data.val, data.train))
        if scorer is not None:
            _follow_loop(trial.study, scorer)
            score = scorer.score_designs([scorer.design(model.eval())])[0]
            rec = replace(rec, hw=score)
            for name, value in score.constraints.items():
                trial.set_constraint(name, value)  # Optuna 5: feasible when all <= 0
            if artifacts is not None:  # the loop synthesises front members from these weights
                save_weights(trial, model, artifacts)
        outcome = rec.outcome()
        raw = {name: float(get_objective(name).value(outcome)) for name in cfg.objectives}
        replace(rec, objectives=raw).write(trial, previous=first)  # the front reads these
        if cfg.scalarize:
            return scalarised(trial.study, cfg, raw)
        return tuple(raw[name] for name in cfg.objectives)

    return objective


def _follow_loop(study: optuna.Study, scorer: HardwareScorer) -> None:
    """Workers sharing a study score with the loop's latest refit, whichever worker made it
    (when its folder is readable here: the same --out, or a shared file system)."""
    latest = latest_loop_model(study)
    if latest is not None and latest != scorer.model_dir and (latest / "metadata.json").is_file():
        log.info("scoring with the loop's refitted surrogate %s", latest)
        scorer.swap(latest)


def pareto_front(study: optuna.Study, cfg: SearchConfig | None = None) -> tuple[FrontMember, ...]:
    """The feasible non-dominated trials over the raw objectives (a scalarised study too),
    ordered by BOPs."""
    names = list(cfg.objectives) if cfg else list(study.metric_names or ["metric", "bops"])
    members = []
    for t, values in raw_front_trials(study, names):
        members.append(
            front_member(t, values, hw.to_json() if (hw := TrialRecord.from_trial(t).hw) else {}),
        )
    return tuple(sorted(members, key=lambda m: (m.bops, m.trial)))


def run_search(
    cfg: SearchConfig,
    on_trial: Callable[[int, int], None] | None = None,
    on_start: Callable[[int, int], None] | None = None,
) -> SearchResult:
    """Run (or resume) the study until it holds ``cfg.trials`` finished trials; write the front.

    ``on_start(done, total)`` is called once before optimising; ``on_trial(done, total)`` after
    every finished trial of this process.
    """
    target = get_target(cfg.target)  # validates the target name before any work
    task = get_task(cfg.task, **({"size": cfg.size} if cfg.size else {}))
    space = get_space(cfg.task, cfg.space, size=cfg.size, loaded=task)
    check_measurable(cfg, task)
    if cfg.hardware and cfg.synth_every:  # the loop's real synthesis: refuse before any trial
        reason = get_synthesizer(cfg.flow).available()
        if reason:
            raise HwloopError(f"--synth-every needs the {cfg.flow} flow: {reason}")
    study = open_study(cfg)
    if cfg.enqueue_baselines:
        queued = enqueue_baselines(study, space, cfg.task)
        if queued:
            log.info("enqueued baselines: %s", ", ".join(queued))

    def finished() -> int:
        return len(study.get_trials(deepcopy=False, states=_FINISHED))

    loop: SynthesisLoop | None = None

    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        check()  # stop between trials, too
        if loop is not None:
            loop.on_trial(finished())
        if on_trial:
            on_trial(finished(), cfg.trials)

    remaining = cfg.trials - finished()
    objective = None
    cache_url = cfg.cache or default_cache_url()
    if remaining > 0:  # load (or render) the data before any progress bar starts
        data = task.load(limit=cfg.limit, seed=cfg.seed, progress=True)
        if not len(data.train) or not len(data.val):  # before any trial fails on it
            raise HwloopError(
                f"--limit {cfg.limit} leaves {len(data.train)} training and {len(data.val)} "
                "validation samples: raise --limit"
            )
        if len(data.val):  # the model-free line the plots and the report draw
            what, value = task.reference(data)
            study.set_user_attr("reference", {"what": what, "value": value})
        # inputs sized to the data (scaled jet pT reaches ~15): real designs must not overflow
        integer = max(1, integer_bits_for(float(np.abs(data.train.x).max(initial=0.0))))
        scorer = hardware_scorer(cfg, target, space, integer) if cfg.hardware else None
        artifacts = weights_store(cfg) if scorer is not None else None
        objective = make_objective(cfg, task, space, data, scorer, artifacts)
        if scorer is not None and cfg.synth_every:
            loop = SynthesisLoop(cfg, study, scorer, artifacts, target, cache_url, cfg.executor)
    if on_start:
        on_start(finished(), cfg.trials)
    if objective is not None:
        hide_optuna_interrupt_tracebacks()
        try:
            with graceful_sigint():
                study.optimize(
                    objective,
                    n_trials=remaining,
                    callbacks=[
                        callback,
                        optuna.study.MaxTrialsCallback(cfg.trials, states=_FINISHED),
                    ],
                    catch=(RuntimeError,),
                    gc_after_trial=True,
                )
                check()  # a Ctrl-C that arrived after the last batch of the last trial
        except BaseException:
            if loop is not None:
                loop.close(wait=False)  # finished syntheses are in the cache already
            raise
        if loop is not None:
            loop.close(wait=True)  # the running round's results belong in the report
    states = [t.state for t in study.get_trials(deepcopy=False)]
    if cfg.hardware:
        front = hardware_front(study, cfg, target, SqlCache(cache_url))
    else:
        front = pareto_front(study, cfg)
    files = write_front(cfg, study, front, task.metric_name)
    (cfg.out / "search.json").write_text(
        json.dumps(
            {
                "study": cfg.study_name,
                "storage": cfg.storage_url,
                "task": cfg.task,
                "target": cfg.target,
                "space": cfg.space,
                "epochs": cfg.epochs,
                "limit": cfg.limit,
                "bits": cfg.bits,
            },
            indent=2,
        )
        + "\n"
    )
    return SearchResult(
        study_name=cfg.study_name,
        storage=cfg.storage_url,
        n_complete=states.count(TrialState.COMPLETE),
        n_failed=states.count(TrialState.FAIL) + states.count(TrialState.PRUNED),
        front=front,
        metric_name=task.metric_name,
        files=files,
    )
