"""hwloop as Model Context Protocol tools (``hwloop mcp``): an agent can write an experiment file
from a data file, start runs in the background and follow them, and ask for predictions, archs,
targets and cached synthesis results.

Nothing an agent sends runs as shell or as Python: files are read as data (TOML, ``.npz`` without
pickles, arch JSON), a run is hwloop's own ``run`` command started with an argument list (its
paths made absolute, so no argument can pass for an option), a working folder and a time limit,
and the cache is only read.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwloop import HwloopError, __version__

RUN_RECORD = "agent-run.json"
MAX_HOURS = 24.0


@dataclass
class _Run:
    handle: str
    experiment: str
    out: Path
    log: Path
    started: float
    deadline: float
    proc: subprocess.Popen[bytes]
    killed: bool = False


@dataclass
class Runs:
    """The runs this server started, by handle."""

    workdir: Path
    runs: dict[str, _Run] = field(default_factory=dict)

    def start(
        self, experiment: str, sets: list[str], out: str | None, force: bool, max_hours: float
    ) -> dict[str, Any]:
        from hwloop.experiment import load_experiment
        from hwloop.tasks.file import FileTask

        if not 0 < max_hours <= 24 * 7:
            raise HwloopError(f"max_hours must be in (0, 168], got {max_hours}")
        path = (self.workdir / experiment).resolve()
        exp = load_experiment(path, sets)  # every mistake before anything starts
        FileTask(exp)  # and the data's
        folder = (self.workdir / (out or exp.output.dir)).resolve()
        from hwloop.pipeline import claim_output

        claim_output(exp, folder, force)  # refused now, not in the background
        handle = f"run-{uuid.uuid4().hex[:10]}"
        log = folder / f"{handle}.log"
        args = [sys.executable, "-m", "hwloop.cli.main", "run", str(path), "--out", str(folder)]
        for s in sets:
            args += ["--set", s]
        with log.open("wb") as f:
            proc = subprocess.Popen(  # noqa: S603 - an argument list of hwloop's own command
                args,
                cwd=self.workdir,
                stdout=f,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        now = time.time()
        run = _Run(handle, str(path), folder, log, now, now + 3600 * max_hours, proc)
        self.runs[handle] = run
        timer = threading.Timer(3600 * max_hours, self._expire, args=(run,))
        timer.daemon = True
        timer.start()
        (folder / RUN_RECORD).write_text(
            json.dumps(
                {"handle": handle, "experiment": str(path), "pid": proc.pid, "log": str(log)}
            )
        )
        return {"handle": handle, "out": str(folder), "log": str(log), "pid": proc.pid}

    def status(self, handle: str) -> dict[str, Any]:
        run = self.runs.get(handle)
        if run is None:
            raise HwloopError(f"no run with handle {handle!r} (known: {', '.join(self.runs)})")
        if run.proc.poll() is None and time.time() > run.deadline:
            self._expire(run)
        code = run.proc.poll()
        state = (
            "running"
            if code is None
            else "timed out"
            if run.killed
            else "finished"
            if code == 0
            else "failed"
        )
        doc: dict[str, Any] = {
            "handle": handle,
            "state": state,
            "returncode": code,
            "elapsed_s": round(time.time() - run.started, 1),
            "out": str(run.out),
            **progress(run.out),
        }
        doc["log_tail"] = _tail(run.log)
        return doc

    @staticmethod
    def _expire(run: _Run) -> None:
        """The run's time limit (max_hours): stop it and everything it started (its session)."""
        if run.proc.poll() is not None:
            return
        run.killed = True
        try:
            os.killpg(run.proc.pid, signal.SIGTERM)
            run.proc.wait(timeout=60)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.proc.pid, signal.SIGKILL)

    def stop_all(self) -> None:
        for run in self.runs.values():
            if run.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(run.proc.pid, signal.SIGTERM)


def _tail(path: Path, lines: int = 8) -> list[str]:
    try:
        text = path.read_bytes()[-8000:].decode(errors="replace")
    except OSError:
        return []
    # progress bars redraw with carriage returns: keep what each line ended as
    return [ln.rsplit("\r", 1)[-1] for ln in text.splitlines() if ln.strip()][-lines:]


def progress(out: Path) -> dict[str, Any]:
    """A run folder's stage, trials and current front, read without writing anything."""
    doc: dict[str, Any] = {"stage": "starting"}
    study = out / "study.db"
    if study.is_file():
        doc["stage"] = "search"
        try:
            with sqlite3.connect(f"file:{study}?mode=ro", uri=True) as db:
                rows = db.execute("select state, count(*) from trials group by state").fetchall()
            doc["trials"] = {str(s).lower(): int(n) for s, n in rows}
        except sqlite3.Error:
            pass
    if (out / "local").is_dir():
        doc["stage"] = "local search"
    if (out / "summary.md").is_file():
        doc["stage"] = "done"
    pareto = out / "pareto.json"
    if pareto.is_file():
        try:
            front = json.loads(pareto.read_text()).get("front", [])
        except (OSError, json.JSONDecodeError):
            front = []
        doc["front"] = [_member(m) for m in front]
    return doc


def _member(m: dict[str, Any]) -> dict[str, Any]:
    pred = (m.get("hw") or {}).get("predicted") or {}
    return {
        "trial": m.get("trial"),
        "val_metric": m.get("metric"),
        "test_metric": m.get("test_metric"),
        "bops": m.get("bops"),
        "lut": (pred.get("lut") or [None, None])[1],
        "latency_ns": (m.get("hw") or {}).get("latency_ns"),
        "source": (m.get("hw") or {}).get("source"),
    }


def cache_query(
    url: str | None, flow: str | None, status: str | None, key: str | None, limit: int
) -> dict[str, Any]:
    """Runs of the synthesis cache (read only: a missing SQLite cache is not created)."""
    from synth_cache import SqlCache, default_cache_url

    if not 1 <= limit <= 1000:
        raise HwloopError(f"limit must be in 1..1000, got {limit}")
    url = url or default_cache_url()
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return {"cache": url, "runs": []}
    store = SqlCache(url)
    try:
        if key:
            keys = store.find(key)[:limit]
            entries = [e for e in (store.get(k) for k in keys) if e is not None]
        else:
            entries = []
            for e in store.entries(flow=flow, status=status):
                entries.append(e)
                if len(entries) >= limit:
                    break
        runs = [
            {
                "key": e.key,
                "source": e.source,
                "status": e.status,
                "results": [r.to_json() for r in e.results],
                **({"design": e.design} if key else {}),
            }
            for e in entries
        ]
    finally:
        store.close()
    return {"cache": url, "runs": runs}


def _answers_user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A tool whose user errors (bad input, missing file: one line, exit 2 on the command line)
    reach the agent as that line, not as the SDK's generic crash message."""
    from mcp.server.mcpserver.exceptions import ToolError

    from hwloop.cli.main import _user_error

    @functools.wraps(fn)
    def tool(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if _user_error(exc):
                raise ToolError(str(exc)) from None
            raise

    return tool


def build_server(workdir: Path) -> Any:
    """The MCP server (``mcp.server.mcpserver.MCPServer``) with hwloop's tools; relative paths
    the agent gives are read from ``workdir``."""
    from mcp.server.mcpserver import MCPServer

    runs = Runs(workdir.resolve())
    server = MCPServer(
        name="hwloop",
        version=__version__,
        instructions=(
            "Hardware-aware neural-architecture search for FPGAs. Typical use: init (a data file "
            "-> an experiment file), run (background; returns a handle), status (progress and the "
            "current front), predict (resources of an arch on a target)."
        ),
    )

    @server.tool()
    @_answers_user_errors
    def init(
        data: str,
        experiment: str | None = None,
        x: str | None = None,
        y: str | None = None,
        name: str | None = None,
        overwrite: bool = False,
    ) -> dict[str, Any]:
        """Write an experiment file inferred from a data file (.npz, .npy, .h5, .parquet):
        shapes, classification or regression, a space that fits, laptop-sized budgets. Returns
        its TOML text; with ``experiment`` (a .toml path) also writes it there."""
        from hwloop.pipeline import experiment_name, experiment_text, infer

        data_path = (runs.workdir / data).resolve()
        inf = infer(data_path, x, y)
        target = (runs.workdir / experiment).resolve() if experiment else None
        label = experiment_name(name or (target.stem if target else data_path.stem))
        where = target.parent if target else data_path.parent
        text = experiment_text(label, data_path, inf, where)
        if target is not None:
            if target.suffix != ".toml":
                raise HwloopError(f"{target}: init writes a .toml experiment file")
            if target.exists() and not overwrite:
                raise HwloopError(f"{target} exists; pass overwrite to replace it")
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
            except OSError as exc:
                raise HwloopError(f"cannot write {target}: {exc.strerror or exc}") from None
        return {
            "path": str(target) if target else None,
            "experiment": text,
            "samples": inf.n,
            "sample_shape": list(inf.sample_shape),
            "kind": inf.kind,
            "classes": inf.classes,
            "space": inf.space,
        }

    @server.tool()
    @_answers_user_errors
    def run(
        experiment: str,
        sets: list[str] | None = None,
        out: str | None = None,
        force: bool = False,
        max_hours: float = MAX_HOURS,
    ) -> dict[str, Any]:
        """Start `hwloop run EXPERIMENT` in the background (global search, local search, real
        synthesis); ``sets`` are section.key=value overrides. The file and its data are
        checked first. Returns a handle for ``status``; the run is stopped after
        ``max_hours``."""
        return runs.start(experiment, list(sets or []), out, force, max_hours)

    @server.tool()
    @_answers_user_errors
    def status(handle: str) -> dict[str, Any]:
        """A run's state (running, finished, failed, timed out), stage, trials by state, its
        current front (validation / test metric, BOPs, predicted LUT and latency) and the end
        of its log."""
        return runs.status(handle)

    @server.tool()
    @_answers_user_errors
    def predict(
        arch: str,
        target: str = "vu13p",
        flow: str = "open",
        bits: int = 8,
        sparsity: float = 0.0,
        reuse_factor: str = "1",
        strategy: str | None = None,
    ) -> dict[str, Any]:
        """Predicted LUT / FF / DSP / BRAM / latency (median and 80 % interval), utilisation and
        fit of ARCH (a built-in name, an arch .json with its trained weights beside it, an
        .onnx / QONNX file, or OUT/pareto.json:TRIAL) on a target; says which weights."""
        from hwloop.api import predict as api_predict

        if arch.lower().endswith((".json", ".onnx")) or ".json:" in arch:
            head, sep, tail = arch.partition(".json:")
            arch = str((runs.workdir / (head + (".json" if sep else ""))).resolve()) + (
                ":" + tail if sep else ""
            )
        pred = api_predict(
            arch,
            target=target,
            flow=flow,
            bits=bits,
            sparsity=sparsity,
            reuse_factor=reuse_factor,
            strategy=strategy,
        )
        return dict(pred.to_json())

    @server.tool()
    @_answers_user_errors
    def arch_list() -> list[dict[str, Any]]:
        """The built-in architectures: name, task, parameters, BOPs at 32 bits, digest."""
        from hwloop.archs import builtin_archs
        from hwloop.bops import compute_bops

        out = []
        for n, spec in builtin_archs().items():
            rep = compute_bops(spec)
            out.append(
                {
                    "name": n,
                    "task": spec.task,
                    "parameters": rep.parameters,
                    "bops": rep.total,
                    "digest": spec.digest,
                }
            )
        return out

    @server.tool()
    @_answers_user_errors
    def arch_show(name: str) -> dict[str, Any]:
        """A built-in architecture's spec (JSON)."""
        from hwloop.archs import builtin_archs

        specs = builtin_archs()
        if name not in specs:
            raise HwloopError(f"no built-in arch {name!r} (built-ins: {', '.join(specs)})")
        return dict(specs[name].to_json())

    @server.tool()
    @_answers_user_errors
    def targets() -> list[dict[str, Any]]:
        """The FPGA targets: part, family, clock and resource capacities."""
        from dataclasses import asdict

        from fpga_targets import list_targets

        return [
            {
                "name": t.name,
                "part": t.part,
                "family": t.family,
                "clock_period_ns": t.clock_period_ns,
                "description": t.description,
                "resources": asdict(t.resources),
            }
            for t in list_targets().values()
        ]

    @server.tool()
    @_answers_user_errors
    def cache(
        flow: str | None = None,
        status: str | None = None,
        key: str | None = None,
        limit: int = 50,
        url: str | None = None,
    ) -> dict[str, Any]:
        """Read-only query of the synthesis cache: runs by flow and status (oldest first), or
        the runs whose key starts with ``key`` (with their designs)."""
        return cache_query(url, flow, status, key, limit)

    server._hwloop_runs = runs  # type: ignore[attr-defined]  # the CLI stops them on exit
    return server
