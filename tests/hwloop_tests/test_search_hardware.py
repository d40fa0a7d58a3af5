"""Hardware in the loop: predicted-resource objectives, feasibility constraints, real synthesis
rounds with refits, and workers sharing one study (real training, real surrogate, real open-flow
synthesis at tiny budgets)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from hwloop.cli.main import main
from hwloop.search._hardware import HardwareScore
from hwloop.search._loop import loop_rounds

TINY = ["--task", "bragg", "--space", "mlp", "--epochs", "1", "--limit", "120"]
TINY += ["--population", "4", "--target", "vu13p"]


def _study(out: Path, name: str = "bragg-mlp-vu13p") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{out}/study.db")


def test_infeasible_candidates_never_reach_the_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "strict"
    args = ["search", *TINY, "--trials", "3", "--out", str(out)]
    args += ["--objectives", "metric,lut,latency", "--max-util", "1e-9"]
    assert main(args) == 0
    assert "no feasible candidate" in capsys.readouterr().out
    study = _study(out)
    assert study.metric_names == ["metric", "lut", "latency"]
    for t in study.get_trials(states=(TrialState.COMPLETE,)):
        hw = t.user_attrs["hw"]  # predicted by the shipped default (no model of the user's)
        assert "shipped default" in hw["model"]
        assert t.values[1] == pytest.approx(hw["predicted"]["lut"][1])
        assert t.values[2] == pytest.approx(hw["latency_ns"])
        assert t.constraints["utilisation"] > 0  # infeasible, yet a complete trial
    assert json.loads((out / "pareto.json").read_text())["front"] == []


def test_feasible_front_carries_predictions(tmp_path: Path) -> None:
    out = tmp_path / "loose"
    args = ["search", *TINY, "--trials", "3", "--out", str(out), "--objectives", "metric,lut,dsp"]
    assert main([*args, "--max-util", "0.9", "--max-latency-ns", "1e6"]) == 0
    front = json.loads((out / "pareto.json").read_text())["front"]
    assert front
    for m in front:
        assert set(m["values"]) == {"metric", "lut", "dsp"} and m["hw"]["source"] == "predicted"
        assert m["hw"]["utilisation"]["lut"] <= 0.9
    with (out / "pareto.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert rows and float(rows[0]["lut_low80"]) <= float(rows[0]["lut_pred"])
    assert rows[0]["lut_real"] == ""  # no real synthesis in this search
    report = (out / "report.md").read_text()
    assert report.count("predicted") >= len(front)
    assert "Reference without a model: the mean training target scores" in report


@pytest.mark.slow
def test_expressible_follows_the_flow_and_attention_is_expressible(tmp_path: Path) -> None:
    out = tmp_path / "block"
    args = ["search", "--task", "bragg", "--space", "block", "--epochs", "1", "--limit", "120"]
    args += ["--population", "4", "--trials", "4", "--out", str(out), "--objectives", "metric,lut"]
    assert main(args) == 0
    trials = _study(out, "bragg-block-vu13p").get_trials(states=(TrialState.COMPLETE,))
    front = {m["trial"] for m in json.loads((out / "pareto.json").read_text())["front"]}
    for t in trials:
        hw = t.user_attrs["hw"]
        assert (hw["unsupported"] is None) == (t.constraints["expressible"] == 0)
        if hw["unsupported"]:
            assert t.number not in front
        has_attention = any(
            layer["op"] == "conv_attention" for layer in t.user_attrs["arch"]["layers"]
        )
        assert not (has_attention and hw["unsupported"])  # the open flow builds attention


@pytest.mark.slow
def test_a_design_that_timed_out_for_real_is_infeasible(tmp_path: Path) -> None:
    """The scorer looks each design up in the cache: a real run that timed out (or failed)
    makes the trial infeasible (a complete trial, constraint ``synthesised`` = 1), so the sampler
    learns from it. Training is seeded, so a second search trains the identical design."""
    from synth_cache import CacheEntry, SqlCache, SynthResult

    cache = f"sqlite:///{tmp_path}/cache.db"
    args = ["search", *TINY, "--trials", "1", "--objectives", "metric,lut", "--cache", cache]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    (first,) = _study(tmp_path / "a").get_trials(states=(TrialState.COMPLETE,))
    hw = first.user_attrs["hw"]
    assert hw["real"] is None and "synthesised" not in first.constraints
    timeout = SynthResult("open", "yosys", "test", "post_synthesis", status="timeout")
    SqlCache(cache).put(CacheEntry(hw["key"], {"note": "stand-in"}, (timeout,)))
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    (again,) = _study(tmp_path / "b").get_trials(states=(TrialState.COMPLETE,))
    assert again.user_attrs["hw"]["key"] == hw["key"]
    assert again.user_attrs["hw"]["real"]["status"] == "timeout"
    assert again.constraints["synthesised"] == 1.0
    assert json.loads((tmp_path / "b" / "pareto.json").read_text())["front"] == []


@pytest.mark.slow
def test_a_target_without_a_surrogate_is_calibrated_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """No shipped default and no model of the user's for this target: the search synthesises a
    small batch of its own space for real (open flow), fits a first surrogate, and says so."""
    targets = tmp_path / "mine.toml"
    targets.write_text(
        '[targets.vu9p-test]\npart = "xcvu9p-flga2104-2L-e"\nfamily = "UltraScale+"\n'
        "clock_period_ns = 5.0\n[targets.vu9p-test.resources]\n"
        "lut = 1182240\nff = 2364480\ndsp = 6840\nbram_18k = 4320\n"
    )
    monkeypatch.setenv("HWLOOP_TARGETS", str(targets))
    out, cache = tmp_path / "boot", f"sqlite:///{tmp_path}/cache.db"
    args = ["search", *TINY[:-1], "vu9p-test", "--trials", "2", "--out", str(out)]
    args += ["--cache", cache, "--objectives", "metric,lut", "--hw-bits", "2", "--bootstrap", "4"]
    with caplog.at_level("INFO"):
        assert main(args) == 0
    assert "no trained open surrogate (post_synthesis) for vu9p-test" in caplog.text
    assert "calibrating a small batch of the search space first" in caplog.text
    meta = json.loads((out / "surrogate" / "bootstrap" / "metadata.json").read_text())
    assert meta["trained_on"]["bootstrap"] and meta["trained_on"]["runs"] == 4
    trials = _study(out, "bragg-mlp-vu9p-test").get_trials(states=(TrialState.COMPLETE,))
    assert trials and all("bootstrap" in t.user_attrs["hw"]["model"] for t in trials)


@pytest.mark.slow
def test_loop_synthesises_refits_and_reports(tmp_path: Path) -> None:
    out, cache = tmp_path / "loop", f"sqlite:///{tmp_path}/cache.db"
    args = ["search", *TINY, "--trials", "4", "--out", str(out), "--cache", cache]
    args += ["--objectives", "lut,metric", "--hw-bits", "2", "--max-util", "0.5"]
    assert main([*args, "--synth-every", "2", "--synth-batch", "1", "--synth-timeout", "300"]) == 0
    study = _study(out)
    rounds = loop_rounds(study)
    assert rounds, "a round ran every 2 trials"
    first = rounds[0]
    (design,) = first["designs"]  # the smallest-LUT member of the front
    assert design["status"] == "ok", design
    assert design["real"]["lut"] > 0 and "lut" in first["smape"]  # predicted vs real recorded
    assert (out / "surrogate" / "round-1" / "metadata.json").is_file()  # refitted
    rescored = [k for k in study.user_attrs if k.startswith("loop_rescore:")]
    assert rescored  # the front was re-scored with the refitted model
    front = json.loads((out / "pareto.json").read_text())["front"]
    real = [m for m in front if m["hw"]["source"] == "real"]
    if any(m["trial"] == design["trial"] for m in front):
        assert real and real[0]["values"]["lut"] == design["real"]["lut"]
    report = (out / "report.md").read_text()
    assert "Loop rounds" in report and "| 1 |" in report
    for f in ("front-lut.png", "front-latency.png", "loop-error.png"):
        assert (out / f).stat().st_size > 1000
    # resuming the search picks up the refitted surrogate
    assert main([*args, "--trials", "5"]) == 0
    last = _study(out).get_trials(states=(TrialState.COMPLETE,))[-1]
    assert "round-" in last.user_attrs["hw"]["model"]


def _worker(out: Path, storage: str, trials: int) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "hwloop.cli.main", "search", *TINY, "--out", str(out)]
    cmd += ["--storage", storage, "--trials", str(trials), "--objectives", "metric,lut"]
    return subprocess.Popen(
        cmd,
        cwd=out.parent,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.slow
def test_two_workers_share_one_study(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        storage = f"sqlite:///{tmp_path}/shared.db"
    else:
        storage = request.getfixturevalue("postgres_url")
    procs = [_worker(tmp_path / f"w{i}", storage, 6) for i in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=900)
        assert p.returncode == 0, err
    study = optuna.load_study(study_name="bragg-mlp-vu13p", storage=storage)
    done = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert 6 <= len(done) <= 8  # each worker stops once the study holds 6
    assert len({t.user_attrs["worker"] for t in done}) == 2, "both workers contributed"
    assert all("hw" in t.user_attrs for t in done if t.state == TrialState.COMPLETE)


def test_bad_hardware_options_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for extra, msg in (
        (["--objectives", "metric,area"], "--objectives: unknown area"),
        (["--max-util", "2"], "--max-util is a fraction"),
        (["--hw-bits", "40"], "--hw-bits must be in 2..32 (the fixed-point widths"),
        (["--executor", "spark://x", "--synth-every", "1"], "--executor: expected dask://"),
    ):
        code = main(["search", *TINY, "--trials", "1", "--out", str(tmp_path / "o"), *extra])
        err = capsys.readouterr().err
        assert code == 2 and msg in err and "Traceback" not in err, err


def test_a_hardware_score_reads_back_what_it_wrote() -> None:
    """A trial's ``hw`` attribute (JSON through Optuna's storage) is the same typed score."""
    score = HardwareScore(
        key="k1",
        predicted={"lut": (900.0, 1000.0, 1200.0), "dsp": (0.0, 0.0, 0.0)},
        latency_ns=25.0,
        utilisation={"lut": 0.01},
        constraints={"lut": -0.5},
        model="open-vu13p",
        real={"status": "ok", "lut": 1010.0},
        extrapolated=("inputs",),
        reuse_factors=(("fc0", 4),),
    )
    back = HardwareScore.from_json(json.loads(json.dumps(score.to_json())))
    assert back == score
    assert back.uncertainty() == pytest.approx(0.3) and back.objective("lut") == 1010.0
