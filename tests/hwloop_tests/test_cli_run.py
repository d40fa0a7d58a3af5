"""`hwloop init` and `hwloop run` end to end: a data file made in three lines of numpy, a real
Optuna study, real QAT and pruning, a real open-flow synthesis; resume, refusal, --force, and
the experiment file as --task of search, tune, compress and predict."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from hwloop.cli.main import main
from hwloop.experiment import load_experiment

TINY = [
    "--set",
    "search.trials=3",
    "--set",
    "search.epochs=1",
    "--set",
    "search.population=2",
    "--set",
    "local.iterations=1",
    "--set",
    "local.bits=[8]",
    "--set",
    "local.epochs=1",
]


def make_data(folder: Path) -> Path:
    # the README's three lines
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 8)).astype("float32")
    np.savez(folder / "mydata.npz", x=x, y=(x[:, :3].sum(1) > 0).astype(int))
    return folder / "mydata.npz"


def trials(study: Path) -> int:
    with sqlite3.connect(study) as db:
        return int(db.execute("select count(*) from trials").fetchone()[0])


@pytest.mark.slow
def test_init_run_resume_refuse_and_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = make_data(tmp_path)
    exp = tmp_path / "demo.toml"
    assert main(["init", str(exp), "--data", str(data)]) == 0
    text = exp.read_text()
    assert 'kind = "classification"' in text and "classes = 2" in text and "# " in text
    parsed = load_experiment(exp)
    assert parsed.space.kind == "mlp" and parsed.data.path == Path("mydata.npz")
    assert main(["init", str(exp), "--data", str(data)]) == 2  # exists: --force to overwrite
    out = tmp_path / "out"
    assert main(["run", str(exp), "--out", str(out), *TINY]) == 0
    printed = capsys.readouterr().out
    assert "real open synthesis of trial" in printed and ": ok: LUT" in printed
    for name in ("pareto.json", "pareto.csv", "pareto.png", "summary.md", "experiment.toml"):
        assert (out / name).is_file(), name
    summary = (out / "summary.md").read_text()
    assert "## Pareto front" in summary and "## Local search" in summary
    assert "## Real synthesis" in summary and "| ok |" in summary
    front = json.loads((out / "pareto.json").read_text())["front"]
    assert front and all("lut" in m["hw"]["predicted"] for m in front)
    assert json.loads((out / "scaling.json").read_text())["inputs"]["mode"] == "standard"
    chosen = next((out / "local").glob("trial-*/chosen/config.json"))
    assert json.loads(chosen.read_text())["synthesis"]["status"] == "ok"
    assert trials(out / "study.db") == 3

    # a re-run resumes: no new trial, the compress state and the cached synthesis are reused
    stamp = chosen.stat().st_mtime_ns
    assert main(["run", str(exp), "--out", str(out), *TINY]) == 0
    assert trials(out / "study.db") == 3
    assert "real open synthesis of trial" in capsys.readouterr().out
    assert chosen.stat().st_mtime_ns >= stamp

    # another experiment (a different space) is refused in one line, the folder untouched
    before = (out / "experiment.toml").read_text()
    assert main(["run", str(exp), "--out", str(out), *TINY, "--set", "space.units=[4]"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds the study of experiment 'demo' (different space)" in err[0]
    assert (out / "experiment.toml").read_text() == before

    # without the local stage, the best front member's trained model is synthesised itself
    no_local = [*TINY, "--set", "local.iterations=0", "--set", "search.trials=4"]
    assert main(["run", str(exp), "--out", str(out), *no_local]) == 0
    assert "(search): ok: LUT" in capsys.readouterr().out
    assert trials(out / "study.db") == 4

    # --force starts afresh and keeps the old study beside, renamed
    assert (
        main(
            [
                "run",
                str(exp),
                "--out",
                str(out),
                "--force",
                *no_local,
                "--set",
                "space.units=[4]",
                "--set",
                "search.trials=1",
                "--set",
                "output.synthesize=0",
            ]
        )
        == 0
    )
    kept = list(out.glob("previous-*-study.db"))
    assert len(kept) == 1 and trials(kept[0]) == 4
    assert trials(out / "study.db") == 1


@pytest.mark.slow
def test_experiment_file_as_task_of_other_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_data(tmp_path)
    exp = tmp_path / "e.toml"
    assert main(["init", str(exp), "--data", str(tmp_path / "mydata.npz")]) == 0
    out = tmp_path / "s"
    args = ["search", "--task", str(exp), "-n", "2", "--epochs", "1", "--population", "2"]
    assert main([*args, "--out", str(out)]) == 0
    doc = json.loads((out / "pareto.json").read_text())
    assert doc["study"] == "e-mlp-vu13p" and doc["task"] == str(exp)
    member = f"{out / 'pareto.json'}:{doc['front'][0]['trial']}"
    capsys.readouterr()
    assert main(["predict", member, "--task", str(exp), "--json"]) == 0
    pred = json.loads(capsys.readouterr().out)
    assert pred["target"] == "vu13p" and pred["lut"]["median"] > 0
    assert main(["predict", "nac-tiny", "--task", str(exp)]) == 2  # another input shape
    assert "task 'e' has inputs [8]" in capsys.readouterr().err
    c_out = tmp_path / "c"
    c_args = ["--task", str(exp), "--bits", "8", "--iterations", "0", "--epochs", "1"]
    assert main(["compress", member, *c_args, "--no-hls4ml", "--out", str(c_out)]) == 0
    assert (c_out / "compress.csv").is_file()
    t_out = tmp_path / "t"
    assert (
        main(["tune", member, "--task", str(exp), "-n", "1", "--epochs", "1", "-o", str(t_out)])
        == 0
    )
