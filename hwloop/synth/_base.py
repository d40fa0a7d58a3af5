"""The ``Synthesizer`` interface and the cached runner."""

from __future__ import annotations

import abc
import importlib
import inspect
import logging
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from hwloop.synth._design import Design
from hwloop.synth._flows import get_flow, registered_flows
from synth_cache import CacheBackend, CacheEntry, Status, SynthResult, design_key

log = logging.getLogger(__name__)


class Synthesizer(abc.ABC):
    """Turns a :class:`Design` into real resource and latency numbers.

    Contract (``tests/hwloop_tests/synth_tests`` runs it for every implementation):
    - ``flow`` names the flow (``open``, ``vivado``); ``tool_version()`` is part of the cache key;
    - ``available()`` is None when the tools are installed, else a one-line reason;
    - ``unsupported(design)`` is None or a one-line reason (e.g. a layer the flow cannot express);
    - ``run(design, workdir, timeout_s)`` writes its files under ``workdir`` and returns one
      :class:`SynthResult` per kind it measures. Tool failures and time-outs are results
      (``status="failed"`` / ``"timeout"`` with ``error``), not exceptions; a design the flow
      cannot express gives ``status="unsupported"``.
    """

    flow: str
    tool: str  # the program whose numbers the results are (e.g. yosys, vivado)

    @abc.abstractmethod
    def tool_version(self) -> str: ...

    @abc.abstractmethod
    def available(self) -> str | None: ...

    @abc.abstractmethod
    def unsupported(self, design: Design) -> str | None: ...

    @abc.abstractmethod
    def run(self, design: Design, workdir: Path, timeout_s: float) -> tuple[SynthResult, ...]: ...

    @property
    def default_strategy(self) -> str:
        """The strategy this flow synthesises with unless told otherwise (its registration)."""
        return get_flow(self.flow).default_strategy

    def _status_result(self, design: Design, status: Status, error: str) -> SynthResult:
        return SynthResult(
            self.flow,
            self.tool,
            self.tool_version(),
            "post_synthesis",
            status=status,
            part=design.hw.part,
            clock_target_ns=design.hw.clock_period_ns,
            error=error,
        )


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def raise_if_interrupted(returncode: int, tool: str) -> None:
    """A tool stopped by Ctrl-C / SIGTERM / SIGHUP (a negative return code) was interrupted, not
    failed: raise KeyboardInterrupt so that nothing is stored and a re-run synthesises it.
    (SIGKILL stays a failure: it is how the kernel ends a tool that ran out of memory.)"""
    if returncode < 0 and -returncode in _STOP_SIGNALS:
        raise KeyboardInterrupt(f"{tool} was stopped by {signal.Signals(-returncode).name}")


@dataclass(frozen=True)
class Outcome:
    entry: CacheEntry
    cached: bool


def _limit(entry: CacheEntry) -> float:
    """The time limit a stored timeout ran under (older runs: their wall time, about it)."""
    r = entry.results[0]
    limit = r.extra.get("timeout_s") if r.extra else None
    return float(limit if limit is not None else (r.wall_s or 0.0)) * 1.001  # rounding


def synthesize(
    design: Design,
    synth: Synthesizer,
    cache: CacheBackend,
    timeout_s: float = 1800.0,
    retry_failed: bool = False,
    source: str = "",
    work_root: str | Path | None = None,
) -> Outcome:
    """Synthesize ``design`` unless the cache holds it; store the result and the run's files.

    The run works in a fresh temporary directory (under ``work_root`` if given: a caller whose
    workers may be killed removes that root itself), removed when the run ends."""
    canonical = design.canonical()
    key = design_key(canonical, synth.flow, synth.tool_version())
    old = cache.get(key)
    reason = synth.unsupported(design)
    # "unsupported" is a verdict on the flow, not a measurement: once the flow learns the layer
    # (same tool version, e.g. attention in the open flow), the stored verdict is stale
    stale = old is not None and old.status == "unsupported" and reason is None
    # a timeout is a fact about the limit, not the design: a longer limit tries again
    stale = stale or (old is not None and old.status == "timeout" and _limit(old) < timeout_s)
    if old is not None and (old.status == "ok" or not retry_failed) and not stale:
        return Outcome(old, cached=True)
    t0 = time.perf_counter()
    if reason is not None:
        results: tuple[SynthResult, ...] = (synth._status_result(design, "unsupported", reason),)
        workdir = None
    else:
        workdir = Path(tempfile.mkdtemp(prefix=f"hwloop-{synth.flow}-{key[:8]}-", dir=work_root))
        try:
            results = synth.run(design, workdir, timeout_s)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
    wall = time.perf_counter() - t0
    results = tuple(r if r.wall_s is not None else r.with_(wall_s=round(wall, 3)) for r in results)
    results = tuple(
        r.with_(extra={**r.extra, "timeout_s": timeout_s}) if r.status == "timeout" else r
        for r in results
    )
    if workdir is not None:
        files = [f for f in sorted(workdir.rglob("*")) if f.is_file()]
        cache.add_artifacts(key, files, root=workdir)
        shutil.rmtree(workdir, ignore_errors=True)
    entry = CacheEntry(key, canonical, results, source=source or f"hwloop {synth.flow}")
    cache.put(entry, replace=old is not None)
    stored = cache.get(key)
    return Outcome(stored or entry, cached=False)


def check_flow(flow: str, strategy: str | None = None) -> None:
    """One line naming an unknown flow or strategy (:class:`~hwloop.HwloopError`)."""
    from hwloop import HwloopError
    from hwloop.synth._design import STRATEGIES

    get_flow(flow)
    if strategy is not None and strategy not in STRATEGIES:
        raise HwloopError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")


def default_strategy(flow: str, strategy: str | None = None) -> str:
    """``strategy`` if one was asked for, else ``flow``'s default."""
    flows = registered_flows()
    return strategy or (flows[flow].default_strategy if flow in flows else "latency")


def get_synthesizer(flow: str, jobs: int = 1) -> Synthesizer:
    """The synthesizer of ``flow`` (``open``: da4ml + yosys, its pieces on ``jobs`` threads;
    ``vivado``: hls4ml + Vitis HLS + Vivado where installed)."""
    module, _, cls = get_flow(flow).synthesizer.partition(":")
    factory = getattr(importlib.import_module(module), cls)
    takes_jobs = "jobs" in inspect.signature(factory).parameters
    synth: Synthesizer = factory(jobs=jobs) if takes_jobs else factory()
    return synth
