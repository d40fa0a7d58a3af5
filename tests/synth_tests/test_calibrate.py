"""``hwloop calibrate`` end to end on a tiny arch (real open-flow synthesis), and its errors."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

from hwloop import HwloopError
from hwloop.archs import ArchSpec, Linear
from hwloop.cli.main import main
from hwloop.spaces import get_space
from hwloop.synth._calibrate import sample_space
from synth_cache import SqlCache


@pytest.mark.slow
def test_calibrate_runs_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arch = tmp_path / "tiny.json"
    ArchSpec((5,), (Linear("fc0", 3, act="relu"), Linear("out", 2)), name="tiny").save(arch)
    url = f"sqlite:///{tmp_path}/c.db"
    args = ["calibrate", "--arch", str(arch), "--bits", "3", "--sparsity", "0,0.5", "--cache", url]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "calibrating 2 designs" in first
    entries = list(SqlCache(url).entries())
    assert len(entries) == 2 and all(e.status == "ok" for e in entries)
    assert main(args) == 0  # resumed: nothing is synthesised twice
    second = capsys.readouterr().out.splitlines()
    row = next(line for line in second if line.strip().startswith("2 "))
    assert row.split()[:5] == ["2", "0", "0", "0", "2"]  # ok, failed, timeout, unsupported, cached


def test_stratified_sampling_is_balanced_and_seeded() -> None:
    space = get_space("bragg", "mlp")
    a = sample_space(space, 12, [4, 8], [0.0, 0.5], seed=3)
    b = sample_space(space, 12, [4, 8], [0.0, 0.5], seed=3)
    assert [(x.arch.digest, x.bits, x.sparsity) for x in a] == [
        (x.arch.digest, x.bits, x.sparsity) for x in b
    ]
    combos = [(x.bits, x.sparsity) for x in a]
    assert all(combos.count(c) == 3 for c in set(combos))  # 12 designs over 4 combinations
    assert len({x.arch.digest for x in a}) >= 6  # spread over sizes, not one arch


def test_bops_cap_keeps_designs_small() -> None:
    from hwloop.bops import compute_bops

    space = get_space("bragg", "block")
    items = sample_space(space, 10, [4, 6], [0.0, 0.5], seed=1, max_bops=2e5)
    assert 5 <= len(items) <= 10
    assert all(compute_bops(x.arch, x.bits, x.sparsity).total <= 2e5 for x in items)
    with pytest.raises(HwloopError, match="no architecture"):
        sample_space(space, 5, [8], [0.0], seed=1, max_bops=10)


def test_bops_floor_keeps_designs_large() -> None:
    from hwloop.bops import compute_bops

    space = get_space("bragg", "block")
    items = sample_space(space, 8, [4, 8], [0.0, 0.5], seed=3, min_bops=1e5, max_bops=3e6)
    assert 4 <= len(items) <= 8
    assert all(1e5 <= compute_bops(x.arch, x.bits, x.sparsity).total <= 3e6 for x in items)
    with pytest.raises(HwloopError, match="above --max-bops"):
        sample_space(space, 5, [8], [0.0], seed=1, min_bops=10, max_bops=1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["calibrate"], "nothing to synthesise"),
        (["calibrate", "--arch", "nac-tiny", "--sparsity", "1.5"], "--sparsity values"),
        (
            ["calibrate", "--arch", "nac-tiny", "--flow", "vivado"],
            "vivado flow is not available here: Vitis HLS not found",
        ),
        (["calibrate", "--study", "s"], "--study needs --storage"),
        (["calibrate", "--space", "mnist", "--n", "2"], "no search space"),
        (["calibrate", "--arch", "nac-tiny", "--target", "zynq"], "unknown target"),
    ],
)
def test_calibrate_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.slow
def test_kill_9_mid_batch_then_rerun(tmp_path: Path) -> None:
    """kill -9 during calibrate: the cache stays consistent and the rerun synthesises only what
    was missing."""
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    arch = tmp_path / "tiny.json"
    ArchSpec((5,), (Linear("fc0", 3, act="relu"), Linear("out", 2)), name="tiny").save(arch)
    db = tmp_path / "c.db"
    args = [
        sys.executable,
        "-m",
        "hwloop.cli.main",
        "calibrate",
        "--arch",
        str(arch),
        "--bits",
        "3,4,5",
        "--sparsity",
        "0,0.5",
        "--cache",
        f"sqlite:///{db}",
    ]
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.monotonic() + 300
    done = 0
    while time.monotonic() < deadline and proc.poll() is None and done < 1:
        time.sleep(0.3)
        try:
            with sqlite3.connect(db, timeout=5) as con:
                done = con.execute("select count(*) from runs").fetchone()[0]
        except sqlite3.OperationalError:
            continue
    assert proc.poll() is None, "calibrate finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its workers, mid-batch
    proc.wait(30)
    with sqlite3.connect(db, timeout=5) as con:
        assert con.execute("pragma integrity_check").fetchone()[0] == "ok"
        before = {k for (k,) in con.execute("select key from runs")}
    assert 1 <= len(before) < 6
    rerun = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    entries = list(SqlCache(f"sqlite:///{db}").entries())
    assert len(entries) == 6 and all(e.status == "ok" for e in entries)
    kept = {e.key: e.created_at for e in entries if e.key in before}
    assert len(kept) == len(before)  # what was stored before the kill was not redone
    row = next(line for line in rerun.stdout.splitlines() if line.strip().startswith("6 "))
    assert int(row.split()[4]) == len(before)  # "from cache" column


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.slow
def test_ctrl_c_during_yosys_stops_promptly(tmp_path: Path, jobs: int) -> None:
    """SIGINT to the process group (what a terminal's Ctrl-C sends) while yosys runs: calibrate
    exits with 130 within seconds, stores nothing half-done (a yosys killed by the signal is not
    a failed run) and leaves no work directories, also with parallel runs (loky workers)."""
    import os
    import signal
    import sqlite3
    import subprocess
    import time

    arch = tmp_path / "mlp.json"
    layers = (Linear("fc0", 32, act="relu"), Linear("out", 5))
    ArchSpec((64,), layers, name="mlp-64-32-5").save(arch)  # ~30 s of yosys at 8 bits
    # waiting for the first yosys is not what is tested (a stop within 20 s of the SIGINT is).
    # It takes 4-30 s here, yet twice in CI's fresh clone no yosys came within 120 s / 300 s of
    # the loky start, with the processes alive; that stall is reported (states, Python stacks)
    # and the run started once more, so the next stall says where it waits
    for attempt in (1, 2):
        run = tmp_path / f"try{attempt}"
        proc, db, work, err_file = _start_calibrate(arch, run, jobs)
        if _wait_for_yosys(proc, err_file, 300):
            break
        stall = _report_stall(proc, err_file)
        if attempt == 2:
            raise AssertionError(f"no yosys started within 300 s, twice:\n{stall}")
        warnings.warn(f"no yosys in 300 s (jobs={jobs}); started again:\n{stall}", stacklevel=1)
    time.sleep(0.5)
    ignored = _sigint_ignored(proc.pid)
    t0 = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise AssertionError(
            f"calibrate did not stop in 60 s (SIGINT ignored: {ignored})"
        ) from None
    err = err_file.read_bytes()
    assert proc.returncode == 130, err
    assert time.monotonic() - t0 < 20
    assert b"Traceback" not in err
    with sqlite3.connect(db) as con:
        assert con.execute("pragma integrity_check").fetchone()[0] == "ok"
        assert con.execute("select count(*) from runs").fetchone()[0] == 0
    assert not [p for p in work.iterdir() if p.name.startswith("hwloop-open-")]


def _start_calibrate(arch: Path, run: Path, jobs: int) -> tuple[Any, Path, Path, Path]:
    """``hwloop calibrate`` in a session of its own, its output in files (a pipe nobody reads
    can fill and stall it); Python's fault handler on, so a SIGABRT dumps every stack."""
    import os
    import signal
    import subprocess
    import sys

    run.mkdir()
    db, work = run / "c.db", run / "tmp"
    work.mkdir()
    args = [sys.executable, "-m", "hwloop.cli.main", "calibrate", "--arch", str(arch)]
    args += ["--bits", "6,8", "--sparsity", "0", "--cache", f"sqlite:///{db}"]
    err_file = run / "stderr"
    with open(run / "stdout", "wb") as out, open(err_file, "wb") as err:
        proc = subprocess.Popen(
            [*args, "--jobs", str(jobs)],
            stdout=out,
            stderr=err,
            start_new_session=True,
            env={**os.environ, "TMPDIR": str(work), "PYTHONFAULTHANDLER": "1"},
            # as from a terminal: a test run started in the background (`cmd &` in a script)
            # has SIGINT ignored, and an ignored SIGINT is inherited by calibrate and its yosys
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    return proc, db, work, err_file


def _wait_for_yosys(proc: Any, err_file: Path, seconds: float) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _yosys_in_session(proc.pid):
            return True
        assert proc.poll() is None, err_file.read_text(errors="replace")
        time.sleep(0.1)
    return False


def _report_stall(proc: Any, err_file: Path) -> str:
    """Each process of the stalled session (state, CPU seconds, kernel wait channel), the load,
    then the Python stacks a SIGABRT makes the fault handler print; the session is gone after."""
    import os
    import signal
    import subprocess
    from pathlib import Path as P

    assert proc.poll() is None, err_file.read_text(errors="replace")
    lines = [f"load average: {P('/proc/loadavg').read_text().strip()}"]
    tick = os.sysconf("SC_CLK_TCK")
    for stat in P("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            wchan = (stat.parent / "wchan").read_text()
            cmd = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")[:120]
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        if int(fields[3]) == proc.pid:  # [3]: session id; [0]: state; [11], [12]: CPU ticks
            cpu = (int(fields[11]) + int(fields[12])) / tick
            lines.append(f"{stat.parent.name} {fields[0]} cpu {cpu:.1f} s wchan {wchan} {cmd!r}")
    os.killpg(proc.pid, signal.SIGABRT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return "\n".join(lines) + "\n" + err_file.read_text(errors="replace")[-12000:]


def _yosys_in_session(sid: int) -> bool:
    """Whether a yosys synthesis of session ``sid`` is running (Linux /proc). The flow's
    ``yosys -V`` version probe, before any run has opened the cache, does not count: a SIGINT
    then would find nothing to test (and no cache written yet)."""
    from pathlib import Path as P

    for stat in P("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            args = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        name = text[text.find("(") + 1 : text.rfind(")")]
        fields = text[text.rfind(")") + 2 :].split()
        if "yosys" in name and int(fields[3]) == sid and b"-V" not in args:  # [3]: session id
            return True
    return False


def _sigint_ignored(pid: int) -> bool:
    from pathlib import Path as P

    for line in P(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << 1))  # SIGINT is signal 2: bit 1
    return False
