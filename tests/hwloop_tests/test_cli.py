"""The CLI end to end: real subprocesses, real SQLite study, real training (tiny budgets)."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from hwloop.cli.main import main

FIX_CSV = (
    Path(__file__).resolve().parents[2]
    / "../shared/fixtures/wa-hls4ml/wa-hls4ml-search_results_resource.csv"
)


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hwloop.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        env=os.environ.copy(),
    )


@pytest.mark.slow
def test_tiny_search_end_to_end_and_resume(tmp_path: Path) -> None:
    out = tmp_path / "out"
    common = [
        "search",
        "--task",
        "bragg",
        "--target",
        "vu13p",
        "--epochs",
        "1",
        "--limit",
        "120",
        "--population",
        "4",
        "--out",
        str(out),
        "--enqueue-baselines",
    ]
    first = run(*common, "--trials", "3")
    assert first.returncode == 0, first.stderr
    assert "Pareto front" in first.stdout
    front = json.loads((out / "pareto.json").read_text())
    assert front["task"] == "bragg" and front["target"] == "vu13p"
    assert front["front"], "the front is never empty after complete trials"
    for member in front["front"]:
        assert member["metric"] > 0 and member["bops"] > 0
        assert member["arch"]["layers"], "front members carry their arch spec"
    with (out / "pareto.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(front["front"])
    assert (out / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the baselines ran first (five are in the block space; three trials ran)
    study = optuna.load_study(study_name="bragg-block-vu13p", storage=f"sqlite:///{out}/study.db")
    done = study.get_trials(states=(TrialState.COMPLETE,))
    assert [t.user_attrs.get("baseline") for t in done] == ["braggnn", "nac-base", "nac-large"]
    # the model-free reference the plots draw (issue 21): the mean peak, about the patch centre
    ref = study.user_attrs["reference"]
    assert ref["what"] == "the mean training target" and 0.05 < ref["value"] < 3.0, ref
    # re-running resumes the same study: only the missing trial runs
    second = run(*common, "--trials", "4")
    assert second.returncode == 0, second.stderr
    assert "resuming study" in second.stderr
    assert _count(out / "study.db", "COMPLETE") == 4
    # a complete study re-run trains nothing and rewrites the front
    third = run(*common, "--trials", "4")
    assert third.returncode == 0 and "4/4" in third.stderr
    # a different budget would mix incomparable results into one front: refused, nothing lost
    other = run(*[a if a != "1" else "2" for a in common], "--trials", "5")
    assert other.returncode == 2
    assert "created with epochs=1" in other.stderr and "Traceback" not in other.stderr
    assert _count(out / "study.db", "COMPLETE") == 4


def _count(db_path: Path, state: str) -> int:
    with sqlite3.connect(db_path, timeout=5) as db:
        return int(
            db.execute("select count(*) from trials where state = ?", (state,)).fetchone()[0]
        )


@pytest.mark.slow
def test_ctrl_c_keeps_the_study_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    common = "search --epochs 1 --limit 120 --population 4 --out".split() + [str(out)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "hwloop.cli.main", *common, "--trials", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    db_path = out / "study.db"
    deadline = time.monotonic() + 300
    complete = 0
    while time.monotonic() < deadline and proc.poll() is None and complete < 2:
        time.sleep(0.5)
        try:
            complete = _count(db_path, "COMPLETE") if db_path.exists() else 0
        except sqlite3.OperationalError:
            continue  # tables not created yet
    assert proc.poll() is None, "the search ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    with sqlite3.connect(db_path) as db:
        assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
    kept = _count(db_path, "COMPLETE")
    assert kept >= complete >= 2
    assert _count(db_path, "RUNNING") == 0  # the interrupted trial is closed, not left dangling
    resumed = run(*common, "--trials", str(kept + 1))
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming study 'bragg-block-vu13p': {kept}/{kept + 1}" in resumed.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "--target", "vu9000", "--trials", "1"], "unknown target 'vu9000'"),
        (["search", "--task", "mnist", "--trials", "1"], "unknown task 'mnist'"),
        (["search", "--trials", "0"], "--trials must be at least 1"),
        (["search", "--storage", "nosuchdb://x", "--trials", "1"], "cannot open"),
        (["bops", "missing.json"], "cannot read arch spec missing.json"),
        (["bops", "nac-tiny", "--sparsity", "1.5"], "--sparsity must be in [0, 1)"),
        (["arch", "show", "resnet50"], "unknown arch 'resnet50'"),
        (["targets", "--file", "nope.toml"], "cannot read targets file"),
    ],
)
def test_bad_input_one_line_exit_2(
    args: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(args + (["--out", str(tmp_path / "o")] if args[0] == "search" else []))
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert message in err
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err


def test_bad_arch_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"input_shape": [4], "layers": [{"op": "linear", "name": "o"}]}')
    proc = run("bops", str(bad))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_usage_error_exit_2() -> None:
    proc = run("search", "--trials", "many")
    assert proc.returncode == 2
    assert "Invalid value" in proc.stderr


def test_bops_json(tmp_path: Path) -> None:
    proc = run("bops", "nac-tiny", "--bits", "8", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["parameters"] == 23_094
    assert doc["total"] == pytest.approx(sum(layer["bops"] for layer in doc["layers"]))
    assert [layer["name"] for layer in doc["layers"]][0] == "stem"
    spec = tmp_path / "tiny.json"
    spec.write_text(run("arch", "show", "nac-tiny").stdout)
    again = json.loads(run("bops", str(spec), "--bits", "8", "--json").stdout)
    assert again["total"] == doc["total"]


def test_targets_and_arch_list() -> None:
    doc = json.loads(run("targets", "--json").stdout)
    assert doc["vu13p"]["part"] == "xcvu13p-flga2577-2-e"
    assert doc["u250"]["resources"]["dsp"] == 12_288
    table = run("targets").stdout
    assert "xcu250" in table
    archs = run("arch", "list").stdout
    for name in ("braggnn", "nac-base", "nac-tiny", "nac-small", "nac-medium", "nac-large"):
        assert name in archs


def test_help_explains_every_search_option() -> None:
    text = run("search", "--help").stdout
    for option in (
        "--task",
        "--target",
        "--trials",
        "--epochs",
        "--limit",
        "--out",
        "--storage",
        "--study",
        "--enqueue-baselines",
        "--population",
    ):
        assert option in text


def test_lazy_command_list_matches_the_commands() -> None:
    """`hwloop --help` lists the commands without importing them (issue 21: it took 3.4 s);
    each listed line is the start of the command's own help."""
    from hwloop.cli.main import COMMANDS, cli

    for name, (_, line) in COMMANDS.items():
        command = cli.get_command(None, name)  # type: ignore[arg-type]
        assert command is not None and command.name == name
        own = " ".join((command.help or "").split())
        assert own.startswith(line[:40]), (name, own[:60], line)


def test_help_targets_and_arch_list_start_fast() -> None:
    code = (
        "import sys, time; t = time.perf_counter(); from hwloop.cli.main import main; "
        "main(['--help']); print(time.perf_counter() - t, sorted(sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    loaded = out.strip().splitlines()[-1]
    for heavy in ("'torch'", "'sqlalchemy'", "'scipy'", "'optuna'", "'xgboost'"):
        assert heavy not in loaded, f"--help imports {heavy}"


@pytest.mark.parametrize(
    ("args", "message"),
    [  # issue 25: each failed with a traceback, some after minutes of work
        (["cache", "export", "-o", "{f}/x.json"], "is a file, not a folder"),
        (["cache", "export", "-o", "/proc/x.csv"], "cannot write in /proc"),
        (["cache", "pieces", "-o", "{f}/x.csv"], "is a file, not a folder"),
        (["surrogate", "fit", "--out", "{f}"], "is a file, not a folder"),
        (["search", "--out", "{f}/sub"], "is a file, not a folder"),
        (["tune", "nac-tiny", "--out", "{f}/sub"], "is a file, not a folder"),
        (["compress", "nac-tiny", "--out", "{f}/sub"], "is a file, not a folder"),
    ],
)
def test_output_paths_are_checked_before_any_work(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "tiny.json"
    f.write_text("{}")
    cache = ["--cache", f"sqlite:///{tmp_path}/c.db"] if args[0] in ("cache", "surrogate") else []
    assert main([a.replace("{f}", str(f)) for a in args] + cache) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


def test_cache_export_to_stdout(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    assert main(["cache", "import", str(FIX_CSV), "--cache", url]) == 0
    proc = run("cache", "export", "-o", "-", "--cache", url, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("key,flow,tool") and not (tmp_path / "-").exists()


@pytest.mark.parametrize(
    ("storage", "message"),
    [  # issue 25: sqlalchemy tracebacks from calibrate --study
        ("runs/hw1/study.db", "is not a URL"),
        ("bogus://x", "cannot open storage bogus://x"),
        ("sqlite:////nodir/s.db", "cannot open storage sqlite:////nodir/s.db"),
    ],
)
def test_calibrate_study_storage_errors(
    storage: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["calibrate", "--study", "NAME", "--storage", storage]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


@pytest.mark.parametrize(
    "args",
    [
        ["calibrate", "--space", "bragg:mlp", "--timeout", "-1"],
        ["calibrate", "--space", "bragg:mlp", "--timeout", "0"],
        ["search", "--synth-timeout", "-1"],
        ["data", "jets", "--n", "5", "--jobs", "0"],
        ["data", "bragg", "--limit", "100", "--jobs", "0"],
    ],
)
def test_bad_limits_and_worker_counts(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 25: a negative timeout stored a permanent timeout; --jobs 0 was joblib's traceback."""
    extra = ["--out", str(tmp_path / "o")] if args[0] == "search" else []
    assert main(args + extra) == 2
    err = capsys.readouterr().err.strip()
    assert "must be a positive number of seconds" in err or "--jobs must be 1" in err, err
    assert len(err.splitlines()) == 1


@pytest.mark.skipif(
    __import__("torch").cuda.is_available(), reason="this machine can run torch-cuda"
)
def test_what_cannot_run_here_is_refused_before_the_study_exists(tmp_path: Path) -> None:
    """Issue 25, item 12: these failed after the study was created (and locked --out)."""
    for args in (
        ["--objectives", "metric,latency_ms", "--latency-backend", "torch-cuda"],
        ["--flow", "vivado", "--objectives", "metric,lut", "--synth-every", "5"],
    ):
        out = tmp_path / args[1].replace(",", "-")
        assert main(["search", *args, "--out", str(out), "--trials", "1"]) == 2
        assert not (out / "study.db").exists()
