"""``hwloop calibrate``: batches of real synthesis that fill the cache for a target and flow."""

from __future__ import annotations

import logging
import math
import os
import shutil
import signal
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import optuna
from joblib import Parallel, delayed

from hwloop import HwloopError
from hwloop.archs import ArchSpec
from hwloop.bops import compute_bops
from hwloop.runtime import pid_alive
from hwloop.spaces import SearchSpace
from hwloop.synth._base import Synthesizer, synthesize
from hwloop.synth._design import HardwareConfig
from hwloop.synth._from_model import design_from_model, random_design
from synth_cache import SqlCache

log = logging.getLogger(__name__)
SPARSITIES = (0.0, 0.25, 0.5, 0.75)


@dataclass(frozen=True)
class CalibrationItem:
    """One design to synthesise: an architecture at a bit width and sparsity (seeded random
    weights), or with ``weights`` (a safetensors file beside an imported spec) its trained ones."""

    arch: ArchSpec
    bits: int
    sparsity: float
    seed: int = 0
    weights: str | None = None


@dataclass
class CalibrationSummary:
    counts: Counter[str] = field(default_factory=Counter)
    cached: int = 0
    seconds: list[float] = field(default_factory=list)

    @property
    def mean_seconds(self) -> float:
        return float(np.mean(self.seconds)) if self.seconds else math.nan


def sample_space(
    space: SearchSpace,
    n: int,
    bits: Sequence[int],
    sparsities: Sequence[float] = SPARSITIES,
    seed: int = 0,
    oversample: int = 4,
    max_bops: float | None = None,
    min_bops: float | None = None,
) -> list[CalibrationItem]:
    """``n`` designs stratified over size (BOPs quantiles of ``oversample*n`` random archs),
    with bit widths and sparsities balanced across them (shuffled round robin). With
    ``max_bops``, only architectures whose BOPs at the smallest bit width and largest sparsity
    stay within it are drawn, and items above it at their own bits and sparsity are dropped.
    ``min_bops`` is the lower bound the same way (at the largest bit width and no sparsity for
    the architecture, at their own for the items): large-design calibration."""
    if n < 1:
        raise HwloopError(f"--n must be at least 1, got {n}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    low, sparse = min(bits), max(sparsities)
    if max_bops is not None and min_bops is not None and min_bops > max_bops:
        raise HwloopError(f"--min-bops {min_bops:g} is above --max-bops {max_bops:g}")

    def small(spec: ArchSpec) -> bool:
        return max_bops is None or compute_bops(spec, low, sparse).total <= max_bops

    def large(spec: ArchSpec) -> bool:
        return min_bops is None or compute_bops(spec, max(bits), min(sparsities)).total >= min_bops

    # draw until oversample*n architectures qualify (a BOPs cap rejects most of a big space)
    pool: dict[str, ArchSpec] = {}
    bounded = max_bops is not None or min_bops is not None
    for _ in range(oversample * n * (50 if bounded else 1)):
        trial = study.ask()
        spec = space.sample(trial)
        study.tell(trial, 0.0)
        if small(spec) and large(spec):
            pool.setdefault(spec.digest, spec)
        if len(pool) >= oversample * n:
            break
    if not pool:
        bounds = " and ".join(
            f"{op} {v:g}" for op, v in ((">=", min_bops), ("<=", max_bops)) if v is not None
        )
        raise HwloopError(f"no architecture of the {space.name} space has BOPs {bounds}")
    n = min(n, len(pool))
    ranked = sorted(pool.values(), key=lambda s: compute_bops(s).total)
    rng = np.random.default_rng(seed)
    edges = np.linspace(0, len(ranked), n + 1).astype(int)
    picks = [
        ranked[rng.integers(lo, max(lo + 1, hi))]
        for lo, hi in zip(edges[:-1], edges[1:], strict=True)
    ]
    combos = [(b, s) for b in bits for s in sparsities]
    order = rng.permutation(n)
    lo, hi = min_bops or 0.0, math.inf if max_bops is None else max_bops
    items = []
    for i in range(n):
        # the balanced combination first; with BOPs bounds, the next one in the rotation that
        # keeps this architecture inside them (an architecture none keeps is dropped)
        for j in range(len(combos) if bounded else 1):
            b, sp = combos[(int(order[i]) + j) % len(combos)]
            if not bounded or lo <= compute_bops(picks[i], b, sp).total <= hi:
                name = f"{space.name}-{picks[i].digest[:8]}"
                items.append(CalibrationItem(picks[i].with_name(name), b, sp, seed=seed + i))
                break
    return items


ROOT_PREFIX = "hwloop-calibrate-"
_watched: int | None = None  # the parent this worker process watches


def reap_dead_runs(tmp: str | Path | None = None) -> list[Path]:
    """Remove the work folders of calibrations whose process is gone (killed before its own
    cleanup ran): ``hwloop-calibrate-<pid>-*`` in the temp folder. Returns what was removed."""
    gone = []
    for d in Path(tmp or tempfile.gettempdir()).glob(f"{ROOT_PREFIX}*-*"):
        pid = d.name.removeprefix(ROOT_PREFIX).split("-", 1)[0]
        if d.is_dir() and pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(d, ignore_errors=True)
            gone.append(d)
    return gone


def _die_with(parent: int) -> None:
    """A joblib (loky) worker outlives a parent killed with SIGKILL and goes on synthesising
    into the cache; a thread in each worker ends it, and the yosys runs it started, once the
    parent is gone (re-parented workers see another parent pid)."""
    global _watched
    if os.getpid() == parent or _watched == parent:
        return
    _watched = parent

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        me = os.getpid()
        for f in Path(f"/proc/{me}/task").glob("*/children"):
            for child in f.read_text().split():
                try:
                    os.kill(int(child), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        os._exit(1)

    threading.Thread(target=watch, name="hwloop-parent-watch", daemon=True).start()


def _run_one(
    item: CalibrationItem,
    synth: Synthesizer,
    cache_url: str,
    part: str,
    clock_ns: float,
    timeout_s: float,
    retry_failed: bool,
    strategy: str,
    work_root: str | None = None,
    parent: int | None = None,
) -> tuple[str, bool, float]:
    if parent is not None:
        _die_with(parent)
    cache = SqlCache(cache_url)
    try:
        hw = HardwareConfig.uniform(part, item.bits, clock_ns, strategy=strategy)
        if item.weights is not None:
            from hwloop.archs import load_trained

            design = design_from_model(load_trained(item.arch, Path(item.weights)), hw)
        else:
            design = random_design(item.arch, hw, seed=item.seed, sparsity=item.sparsity)
        t0 = time.perf_counter()
        out = synthesize(
            design,
            synth,
            cache,
            timeout_s=timeout_s,
            retry_failed=retry_failed,
            source=f"hwloop calibrate {item.arch.name}",
            work_root=work_root,
        )
        return out.entry.status, out.cached, time.perf_counter() - t0
    finally:
        cache.close()


def run_calibration(
    items: Sequence[CalibrationItem],
    synth: Synthesizer,
    cache_url: str,
    part: str,
    clock_ns: float = 5.0,
    jobs: int = 1,
    timeout_s: float = 600.0,
    retry_failed: bool = False,
    on_done: Callable[[str, bool], None] | None = None,
    strategy: str = "distributed_arithmetic",
) -> CalibrationSummary:
    """Synthesise every item not yet cached; each result is stored as soon as it finishes, so an
    interrupted batch resumes where it stopped."""
    reason = synth.available()
    if reason:
        raise HwloopError(f"the {synth.flow} flow is not available here: {reason}")
    summary = CalibrationSummary()
    # parallel workers are killed on Ctrl-C before they can clean up: their runs work under one
    # root that this process removes whatever happens
    # (named by this process, so the next run can remove it if this one is killed before)
    for gone in reap_dead_runs():
        log.info("removed %s, left by a killed calibration", gone)
    root = tempfile.mkdtemp(prefix=f"{ROOT_PREFIX}{os.getpid()}-")
    args = (synth, cache_url, part, clock_ns, timeout_s, retry_failed, strategy, root, os.getpid())
    try:
        runner = Parallel(n_jobs=jobs, return_as="generator_unordered")
        for status, cached, seconds in runner(delayed(_run_one)(it, *args) for it in items):
            summary.counts[status] += 1
            if cached:
                summary.cached += 1
            elif status != "unsupported":
                summary.seconds.append(seconds)
            if on_done:
                on_done(status, cached)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return summary
