"""``hwloop run``: an experiment file's global search, local search (QAT x pruning) of the best
front members, and real synthesis of the chosen models, resumable stage by stage.

The output folder holds the experiment it belongs to (``experiment.toml``, with absolute data
paths: the stages after the search, and ``--task OUT/experiment.toml`` in other commands, read
it from there). A folder holding a different experiment (name, data, task or space) is refused
unless ``force``; then the old study and experiment file are kept beside, renamed.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fpga_targets import get_target
from hwloop import HwloopError
from hwloop.experiment import Experiment, dump_experiment, identity
from hwloop.local import CompressConfig, CompressResult, run_compress
from hwloop.pipeline._result import RunResult, Synthesised
from hwloop.pipeline._summary import summary_markdown
from hwloop.runtime import atomic_path, progress_bar
from hwloop.search import (
    FrontMember,
    SearchConfig,
    load_existing_study,
    needs_of,
    run_search,
)
from hwloop.synth import check_flow, default_strategy

log = logging.getLogger(__name__)
EXPERIMENT_FILE = "experiment.toml"
IDENTITY_FILE = "experiment.identity.json"


def claim_output(exp: Experiment, out: Path, force: bool = False) -> Path:
    """Make ``out`` this experiment's folder (write its experiment file there); refused where
    it holds another experiment's study, unless ``force``. Returns the written file."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HwloopError(f"output folder {out}: {exc.strerror or exc}") from None
    mine = identity(exp)
    ident = out / IDENTITY_FILE
    if ident.is_file():
        try:
            theirs = json.loads(ident.read_text())
        except (OSError, json.JSONDecodeError):
            theirs = None
        if theirs != mine:
            differ = (
                [k for k in mine if theirs.get(k) != mine[k]] if isinstance(theirs, dict) else []
            )
            if not force:
                name = theirs.get("name") if isinstance(theirs, dict) else "?"
                raise HwloopError(
                    f"{out} holds the study of experiment {name!r} (different "
                    f"{', '.join(differ) or 'identity'}); choose another --out, or --force to "
                    "start afresh there (the old study is kept, renamed)"
                )
            _set_aside(out)
    elif (out / "study.db").exists() and not force:
        raise HwloopError(
            f"{out} holds a study that is not an experiment's (study.db); choose another --out, "
            "or --force to start afresh there (the old study is kept, renamed)"
        )
    elif (out / "study.db").exists():
        _set_aside(out)
    path = out / EXPERIMENT_FILE
    with atomic_path(path) as tmp:
        tmp.write_text(
            f"# the experiment this folder holds (written by hwloop run from {exp.source})\n"
            + dump_experiment(exp)
        )
    with atomic_path(ident) as tmp:
        tmp.write_text(json.dumps(mine, indent=2, sort_keys=True) + "\n")
    return path


def _set_aside(out: Path) -> None:
    """Keep the old experiment's study, files and local search beside, under names no later
    --force reuses (its compress checkpoints would otherwise be resumed as the new one's)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    n = 0
    while any(out.glob(f"previous-{stamp}{'-' + str(n) if n else ''}-*")):
        n += 1
    prefix = f"previous-{stamp}{'-' + str(n) if n else ''}"
    for name in ("study.db", EXPERIMENT_FILE, IDENTITY_FILE, "local", "artifacts"):
        if (out / name).exists():
            (out / name).rename(out / f"{prefix}-{name}")
            log.warning("kept %s as %s-%s", name, prefix, name)


def _write_scaling(task: str, out: Path) -> None:
    """``scaling.json``: the normalisation a deployed model needs in front of (and, for
    standardised targets, behind) it, from the training split."""
    from hwloop.tasks.file import FileTask

    doc = FileTask(task).scaling()
    with atomic_path(out / "scaling.json") as tmp:
        tmp.write_text(json.dumps(doc) + "\n")


def search_config(exp: Experiment, task: str, out: Path) -> SearchConfig:
    h, s = exp.hardware, exp.search
    return SearchConfig(
        task=task,
        target=h.target,
        space=exp.space.kind,
        trials=s.trials,
        epochs=s.epochs,
        limit=s.limit,
        population=s.population,
        bits=h.bits,
        storage=s.storage,
        study=exp.name,
        out=out,
        seed=s.seed,
        batch_size=s.batch_size,
        lr=s.lr,
        objectives=tuple(s.objectives),
        sampler=s.sampler,
        flow=h.flow,
        hw_bits=h.bits,
        strategy=h.strategy,
        max_util=h.max_util,
        max_latency_ns=h.max_latency_ns,
        reuse_factor=h.reuse_factor,
        cache=exp.output.cache,
        synth_timeout=exp.output.synth_timeout,
    )


def best_members(front: tuple[FrontMember, ...], n: int) -> list[FrontMember]:
    """The ``n`` front members with the lowest validation metric (ties: fewer BOPs)."""
    return sorted(front, key=lambda m: (m.metric, m.bops, m.trial))[:n]


def run_experiment(
    exp: Experiment,
    out: Path | None = None,
    force: bool = False,
    on_trial: Callable[[int, int], None] | None = None,
    on_start: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Run (or resume) every stage of ``exp`` into ``out`` (default: ``output.dir``)."""
    out = Path(out or exp.output.dir)
    get_target(exp.hardware.target)
    needs_of(exp.search.objectives)  # an unknown objective: one line, before anything is written
    check_flow(exp.hardware.flow, exp.hardware.strategy)
    task = str(claim_output(exp, out, force).resolve())
    _write_scaling(task, out)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    cfg = search_config(exp, task, out)
    result = run_search(cfg, on_trial=on_trial, on_start=on_start)
    seconds["search"] = time.perf_counter() - t0
    chosen = best_members(result.front, exp.local.points)
    local: list[tuple[int, CompressResult]] = []
    synthesised: list[Synthesised] = []
    t0 = time.perf_counter()
    if exp.local.iterations > 0:
        for i, m in enumerate(chosen):
            r = run_compress(compress_config(exp, task, out, m, synth=i < exp.output.synthesize))
            local.append((m.trial, r))
            s = r.notes.get("synthesis")
            if s and r.chosen is not None:
                synthesised.append(Synthesised(m.trial, r.chosen.label, s))
        seconds["local"] = time.perf_counter() - t0
    elif exp.output.synthesize:
        for m in chosen[: exp.output.synthesize]:
            synthesised.append(Synthesised(m.trial, "search", synthesize_member(cfg, m.trial)))
        seconds["synthesis"] = time.perf_counter() - t0
    run = RunResult(out, exp, result, tuple(local), tuple(synthesised), seconds=seconds)
    files = (*result.files, write_summary(run))
    return RunResult(out, exp, result, tuple(local), tuple(synthesised), files, seconds)


def train_config(exp: Experiment, m: FrontMember, folder: Path) -> Path:
    """The training settings the search trained ``m`` with (its sampled ones where the space
    samples them), written where ``compress`` reads them: its float reference then trains as
    the search's model did, not on compress's generic defaults."""
    doc = {
        "epochs": exp.search.epochs,
        "batch_size": exp.search.batch_size,
        "lr": exp.search.lr,
        "patience": 3,
        **{k: v for k, v in (m.extra.get("train") or {}).items()},
    }
    path = folder / f"trial-{m.trial}.train.json"
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
    return path


def compress_config(
    exp: Experiment, task: str, out: Path, m: FrontMember, synth: bool
) -> CompressConfig:
    h, loc = exp.hardware, exp.local
    return CompressConfig(
        arch=f"{out / 'pareto.json'}:{m.trial}",
        task=task,
        bits=tuple(loc.bits),
        iterations=loc.iterations,
        prune_fraction=loc.prune_fraction,
        epochs=loc.epochs,
        limit=exp.search.limit,
        seed=exp.search.seed,
        target=h.target,
        flow=h.flow,
        strategy=default_strategy(h.flow, h.strategy),
        tolerance=loc.tolerance,
        out=out / "local" / f"trial-{m.trial}",
        train_config=train_config(exp, m, out / "local"),
        hls4ml=loc.emulate,
        synthesize=synth,
        synth_timeout=exp.output.synth_timeout,
        cache=exp.output.cache,
    )


def synthesize_member(cfg: SearchConfig, trial: int) -> dict[str, Any]:
    """Synthesise a front member's trained model (at the search's fixed-point width) for real,
    through the cache; the result as ``hwloop compress --synthesize`` reports one."""
    import shutil
    import tempfile

    from hwloop.search import load_trial_model, real_values, weights_store
    from hwloop.synth import HardwareConfig, design_from_model, get_synthesizer, synthesize
    from synth_cache import SqlCache, default_cache_url

    study = load_existing_study(cfg.study_name, cfg.storage_url)
    model = load_trial_model(study.trials[trial], weights_store(cfg))
    target = get_target(cfg.target)
    strategy = default_strategy(cfg.flow, cfg.strategy)
    design = design_from_model(
        model,
        HardwareConfig.uniform(target.part, cfg.hw_bits, target.clock_period_ns, strategy=strategy),
    )
    synth = get_synthesizer(cfg.flow)
    reason = synth.available()
    if reason:
        raise HwloopError(f"output.synthesize needs the {cfg.flow} flow: {reason}")
    cache = SqlCache(cfg.cache or default_cache_url())
    root = Path(tempfile.mkdtemp(prefix="hwloop-run-synth-"))
    try:
        with progress_bar(None, f"{cfg.flow} synthesis of trial {trial}"):
            outcome = synthesize(
                design, synth, cache, cfg.synth_timeout, source="hwloop run", work_root=root
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
        cache.close()
    result = outcome.entry.results[0]
    doc: dict[str, Any] = {"flow": cfg.flow, "status": result.status, "key": outcome.entry.key}
    if result.status == "ok":
        doc.update(real_values(result, target.clock_period_ns))
    else:
        doc["error"] = result.error
    return doc


def write_summary(run: RunResult) -> Path:
    """``summary.md``: the experiment, the front, the local points and the real syntheses."""
    path = run.out / "summary.md"
    with atomic_path(path) as tmp:
        tmp.write_text(summary_markdown(run))
    return path
