"""``hwloop surrogate fit / eval`` on the real wa-hls4ml results imported into a cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwloop.cli.main import main
from surrogates import ResourceSurrogate

CSV = (
    Path(__file__).resolve().parents[2]
    / "../shared/fixtures/wa-hls4ml/wa-hls4ml-search_results_resource.csv"
)
METRICS = {"lut", "ff", "dsp", "bram_18k", "latency", "ii"}


def test_fit_then_eval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    assert main(["cache", "import", str(CSV), "--cache", url]) == 0
    out = tmp_path / "model"
    fit = ["surrogate", "fit", "--cache", url, "--flow", "vivado", "--kind", "hls_estimate"]
    assert main([*fit, "--target", "u250", "--out", str(out), "--seeds", "1"]) == 0
    text = capsys.readouterr().out
    assert "906 vivado hls_estimate results of 64 architectures" in text
    assert "learning curve" in text
    model = ResourceSurrogate.load(out)
    assert (model.flow, model.kind, model.metadata_["target"]) == ("vivado", "hls_estimate", "u250")
    assert set(model.metadata_["eval"]) >= METRICS  # the held-out numbers travel with the model
    ev = ["surrogate", "eval", "--cache", url, "--model", str(out), "--json", "--seeds", "2"]
    assert main(ev) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) >= METRICS
    scores = {"r2", "smape", "mape", "coverage80"}
    assert set(doc["lut"]) == scores | {f"{k}_std" for k in scores}  # mean and spread of 2 splits
    assert doc["lut"]["r2"] > 0.6 and doc["_split"]["n_test"] > 0 and doc["_split"]["seeds"] == 2


def test_no_results_says_how_to_get_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/empty.db"
    assert main(["surrogate", "fit", "--cache", url, "--target", "vu13p"]) == 2
    err = capsys.readouterr().err
    assert "hwloop calibrate --flow open" in err and "Traceback" not in err
    assert main(["surrogate", "eval", "--cache", url, "--model", str(tmp_path / "none")]) == 2
    assert "no readable surrogate" in capsys.readouterr().err
