"""Edge-model search: ptycho through the CLI, samplers, Chebyshev scalarisation with the front
from the raw objectives, measured latency, the energy refusal, and one-line config errors."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from hwloop.cli.main import main
from hwloop.measure import energy_unavailable_reason
from hwloop.search import SearchConfig, run_search
from hwloop.search._objectives import chebyshev

BRAGG = ["--task", "bragg", "--epochs", "1", "--limit", "120", "--population", "4"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hwloop.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=900,
        env=os.environ.copy(),
    )


def _dominated(a: dict[str, float], b: dict[str, float]) -> bool:
    """a is dominated by b."""
    return all(b[k] <= a[k] for k in a) and any(b[k] < a[k] for k in a)


@pytest.mark.slow
def test_tiny_ptycho_cnn_search_through_the_cli(tmp_path: Path) -> None:
    out = tmp_path / "p"
    args = ["search", "--task", "ptycho", "--space", "cnn", "--size", "32", "--limit", "640"]
    args += ["--trials", "2", "--epochs", "1", "--out", str(out), "--measure-repeats", "3"]
    args += ["--objectives", "metric,params,p95,latency_ms", "--sampler", "tpe"]
    proc = run(*args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Pareto front" in proc.stdout and "ms/batch32" in proc.stdout
    assert "test amp" in proc.stdout and "test phase" in proc.stdout  # both MAEs reported
    doc = json.loads((out / "pareto.json").read_text())
    assert doc["task"] == "ptycho" and doc["front"]
    for m in doc["front"]:
        assert set(m["values"]) == {"metric", "params", "p95", "latency_ms"}
        p = m["extra"]["val_percentiles"]
        assert 0 < p["p75"] <= p["p95"] == m["values"]["p95"]
        rep = m["extra"]["test_report"]
        assert rep["mae"] == pytest.approx(0.5 * (rep["amp_mae"] + rep["phase_mae"]))
        assert rep["mae"] == pytest.approx(m["test_metric"], rel=1e-5)
        assert m["extra"]["val_report"]["mae"] == pytest.approx(m["metric"], rel=1e-5)
        meas = m["extra"]["measure"]
        assert meas["batch"] == 32 and meas["backend"] == "torch" and meas["repeats"] == 3
        assert 0 < meas["p10_ms"] <= meas["median_ms"] <= meas["p90_ms"]
        assert meas["median_ms"] == m["values"]["latency_ms"]
        assert {"batch_size", "lr", "epochs"} == set(m["extra"]["train"])  # the space's sample
        assert any(layer["op"] == "branches" for layer in m["arch"]["layers"])
    with (out / "pareto.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert rows and float(rows[0]["latency_ms"]) > 0 and float(rows[0]["val_p95"]) > 0
    assert rows[0]["measured_on"].startswith("torch on ")


@pytest.mark.parametrize("sampler", ["nsga2", "tpe", "gp", "random"])
def test_every_sampler_runs_a_multi_objective_study(sampler: str, tmp_path: Path) -> None:
    cfg = SearchConfig(
        task="bragg",
        space="mlp",
        trials=3,
        epochs=1,
        limit=120,
        population=2,
        sampler=sampler,
        objectives=("metric", "params"),
        out=tmp_path,
    )
    res = run_search(cfg)
    assert res.n_complete == 3 and res.front
    study = optuna.load_study(study_name=cfg.study_name, storage=cfg.storage_url)
    assert len(study.directions) == 2 and study.user_attrs.get("sampler", "nsga2") == sampler


def test_chebyshev_values() -> None:
    w = {"metric": 0.5, "bops": 0.3, "params": 0.2}
    ref = {"metric": 2.0, "bops": 1e6, "params": 1e4}
    assert chebyshev(ref, w, ref) == pytest.approx(0.5)  # every ratio 1: the largest weight
    v = {"metric": 1.0, "bops": 4e6, "params": 1e4}
    assert chebyshev(v, w, ref) == pytest.approx(max(0.25, 1.2, 0.2))


@pytest.mark.slow
def test_scalarised_search_writes_the_raw_front(tmp_path: Path) -> None:
    out = tmp_path / "s"
    args = ["search", *BRAGG, "--space", "mlp", "--trials", "6", "--sampler", "tpe"]
    args += ["--objectives", "metric,bops,params", "--scalarize", "chebyshev"]
    args += ["--weights", "0.5,0.3,0.2", "--out", str(out)]
    assert main(args) == 0
    study = optuna.load_study(study_name="bragg-mlp-vu13p", storage=f"sqlite:///{out}/study.db")
    assert len(study.directions) == 1 and study.metric_names == ["chebyshev"]
    ref = study.user_attrs["scalarize_ref"]
    w = {"metric": 0.5, "bops": 0.3, "params": 0.2}
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    raw = {t.number: t.user_attrs["objectives"] for t in done}
    for t in done:  # the value the sampler saw is the scalarisation of the raw objectives
        assert t.value == pytest.approx(chebyshev(raw[t.number], w, ref))
    front = json.loads((out / "pareto.json").read_text())["front"]
    on_front = {m["trial"] for m in front}
    expected = {n for n, v in raw.items() if not any(_dominated(v, u) for u in raw.values())}
    assert on_front == expected  # non-dominated over the raw objectives, not the best scalar
    for m in front:
        assert m["values"] == raw[m["trial"]]


@pytest.mark.skipif(
    energy_unavailable_reason("torch") is None, reason="this machine has an energy counter"
)
def test_energy_without_a_counter_is_refused_up_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["search", *BRAGG, "--objectives", "metric,energy_mj", "--out", str(tmp_path)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "/sys/class/powercap" in err
    assert "estimate" in err
    assert not (tmp_path / "study.db").exists()  # refused before any study or training


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--weights", "0.5,0.5"], "--weights needs --scalarize chebyshev"),
        (["--scalarize", "chebyshev", "--weights", "1"], "give one weight per objective"),
        (["--scalarize", "chebyshev", "--weights", "1,-1"], "must all be positive"),
        (["--size", "32"], "--size sets the ptycho map size"),
        (["--task", "ptycho", "--objectives", "metric,lut"], "edge-GPU models"),
        (["--task", "jets", "--objectives", "metric,p95"], "has no per-sample error"),
        (["--objectives", "metric,latency_ms", "--latency-backend", "tpu"], "--latency-backend"),
        (["--task", "ptycho", "--space", "block"], "is not a space of task 'ptycho'"),
    ],
)
def test_bad_edge_options_one_line_exit_2(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["search", *BRAGG, *args, "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_search_help_lists_the_spaces_of_each_task() -> None:
    proc = run("search", "--help")
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    for line in ("bragg block", "bragg mlp: mlpBragg", "bragg cnn: cnnBragg", "jets deepsets"):
        assert line in text
    assert "ptycho cnn: cnnPtycho" in text and "ptycho mlp: mlpPtycho" in text
    for option in ("--sampler", "--scalarize", "--weights", "--latency-backend", "--size"):
        assert option in text


def test_ptychonn_is_enqueued_at_the_space_size() -> None:
    from hwloop.archs import builtin_archs
    from hwloop.search._nas import enqueue_baselines
    from hwloop.spaces import get_space

    space = get_space("ptycho", "cnn", size=32)
    study = optuna.create_study(directions=["minimize", "minimize"])
    assert enqueue_baselines(study, space, "ptycho") == ["ptychonn"]
    queued = study.ask()
    spec = space.sample(queued)
    assert spec.digest == builtin_archs()["ptychonn"].with_input_shape((1, 32, 32)).digest
    assert enqueue_baselines(study, space, "ptycho") == []  # once per study
