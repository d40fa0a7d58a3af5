"""A calibration whose main process is killed (issue 21, items 5 and 7): its joblib workers
die with it instead of synthesising on into the cache, and the next run removes the work folder
it left in the temp folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hwloop.synth import reap_dead_runs


def _children(pid: int) -> set[int]:
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.add(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_killed_main_process_takes_its_workers_and_leaves_nothing(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hwloop.cli.main", "calibrate", "--space", "bragg:mlp", "--n",
         "6", "--bits", "8", "--max-bops", "1.2e5", "--jobs", "2", "--seed", "5", "--cache",
         f"sqlite:///{tmp_path}/c.db"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        workers: set[int] = set()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            workers = {c for c in _children(proc.pid) if _children(c)}  # workers running yosys
            if workers:
                break
            time.sleep(0.5)
        assert workers, "no worker started synthesising"
        assert list(tmp.glob(f"hwloop-calibrate-{proc.pid}-*"))
        os.kill(proc.pid, signal.SIGKILL)  # the main process only, as the issue did
        proc.wait(timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.5)
        assert not any(_alive(w) for w in workers), "workers outlived their parent"
        left = list(tmp.glob(f"hwloop-calibrate-{proc.pid}-*"))
        assert left, "the kill left its work folder (what the next run must remove)"
        assert reap_dead_runs(tmp) == left and not any(p.exists() for p in left)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
