"""``hwloop predict``: a surrogate fitted on real open-flow runs of a tiny MLP answers, and shows
the real result when the identical design is in the cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwloop.archs import ArchSpec, Flatten, Linear
from hwloop.cli.main import main
from surrogates import SHIPPED_DIR


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    tmp = tmp_path_factory.mktemp("predict")
    arch = tmp / "tiny.json"
    ArchSpec((5,), (Linear("fc0", 3, act="relu"), Linear("out", 2)), name="tiny").save(arch)
    url = f"sqlite:///{tmp}/c.db"
    calib = ["calibrate", "--arch", str(arch), "--bits", "3,4,5", "--sparsity", "0,0.5"]
    assert main([*calib, "--cache", url]) == 0  # 6 real open-flow runs
    model = tmp / "model"
    fit = ["surrogate", "fit", "--cache", url, "--target", "vu13p", "--out", str(model)]
    assert main([*fit, "--no-eval"]) == 0
    return url, model, arch


@pytest.mark.slow
def test_predict_table_and_cached_result(
    fitted: tuple[str, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    url, model, arch = fitted
    capsys.readouterr()
    args = ["predict", str(arch), "--bits", "4", "--model", str(model), "--cache", url]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "lut" in out and "fits vu13p: yes" in out and str(model) in out
    assert "real open result in the cache" in out  # calibrate synthesised this very design
    assert main([*args, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["lut"]["low80"] <= doc["lut"]["median"] <= doc["lut"]["high80"]
    assert doc["cached"]["status"] == "ok" and doc["fits"] is True
    assert doc["utilisation_pct"]["lut"] < 1 and doc["latency_ns"] > 0
    # the draw the model was trained on is predicted in expectation (random weights): its
    # expected non-zeros may sit a little past the six draws seen, but no kind is unseen
    assert not any("no training data" in x for x in doc["extrapolated"])
    assert doc["weights"].startswith("random") and "expected" in doc["weights"]


def test_predict_batch(
    fitted: tuple[str, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, model, arch = fitted
    batch = tmp_path / "in.jsonl"
    batch.write_text(
        json.dumps({"arch": str(arch), "bits": 6}) + "\n\n" + json.dumps({"arch": "nac-tiny"})
    )
    capsys.readouterr()
    assert main(["predict", "--batch", str(batch), "--model", str(model)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all("lut" in json.loads(x) for x in lines)
    # nac-tiny's pieces are far larger than the tiny MLP's the model saw: the answer says so
    assert any("dense pieces" in x for x in json.loads(lines[1])["extrapolated"])
    batch.write_text("{not json\n")
    assert main(["predict", "--batch", str(batch), "--model", str(model)]) == 2
    assert "--batch line 1" in capsys.readouterr().err


def test_without_a_model_it_says_how_to_get_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HWLOOP_SURROGATE_DIR", str(tmp_path))
    # nothing ships for Vivado post-synthesis numbers (--flow vivado alone asks for the
    # hls_estimate model that ships)
    args = ["predict", "nac-tiny", "--target", "u250", "--flow", "vivado"]
    assert main([*args, "--kind", "post_synthesis"]) == 2
    err = capsys.readouterr().err
    assert "hwloop calibrate --flow vivado --target u250" in err
    assert "hwloop surrogate fit --flow vivado --target u250" in err


@pytest.mark.parametrize("target", ["u250", "vu13p"])
def test_shipped_default_answers_without_a_model_of_ones_own(
    target: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HWLOOP_SURROGATE_DIR", str(tmp_path))  # the user has fitted nothing
    arch = tmp_path / "mlp.json"  # a small Bragg MLP, like those the defaults were trained on
    layers = (Flatten("f"), Linear("fc0", 16, act="relu"), Linear("out", 2))
    ArchSpec((1, 11, 11), layers, name="mlp").save(arch)
    args = ["predict", str(arch), "--target", target, "--bits", "6"]
    assert main([*args, "--cache", f"sqlite:///{tmp_path}/c.db", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["shipped_model"] and doc["model_description"].startswith("shipped default")
    assert doc["target"] == target and doc["flow"] == "open" and doc["kind"] == "post_synthesis"
    assert 0 < doc["lut"]["low80"] <= doc["lut"]["median"] <= doc["lut"]["high80"]
    # one model answers both (same family and clock: the same netlists), stored under vu13p
    model_dir = SHIPPED_DIR / "open-vu13p-post_synthesis"
    assert doc["model"] == str(model_dir)
    assert not (SHIPPED_DIR / "open-u250-post_synthesis").exists()
    meta = json.loads((model_dir / "metadata.json").read_text())
    assert {"u250", "vu13p"} <= set(meta["answers_for"])
    # the piece-level model: its runs, held out by architecture and by size
    assert meta["format"] == "hwloop.piecewise/1" and meta["trained_on"]["runs"] >= 60
    assert meta["eval"]["lut"]["r2"] > 0.5 and len(meta["evaluations"]) == 2
    sizes = [p.stat().st_size for p in model_dir.rglob("*") if p.is_file()]
    # a few MB for both targets (3.05 MB on 600 runs with 6-deep trees, 8-deep ones 6.9 MB)
    assert sum(sizes) < 8e6


def test_python_api_for_a_torch_model(fitted: tuple[str, Path, Path]) -> None:
    from fpga_targets import get_target
    from hwloop.archs import build_model
    from hwloop.prediction import predict_model
    from hwloop.synth import HardwareConfig

    _, model_dir, arch = fitted
    net = build_model(ArchSpec.load(arch)).eval()
    hw = HardwareConfig.uniform("xcvu13p-flga2577-2-e", 4, strategy="distributed_arithmetic")
    p = predict_model(net, hw, get_target("vu13p"), model_dir=model_dir)
    assert p.metrics["lut"][1] > 0 and p.fits


def test_vivado_layer_surrogate_with_reuse_factors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The shipped hls4ml + Vivado model answers per layer; reuse factors are global or per
    layer, and one hls4ml cannot realise is refused with what it would round to."""
    monkeypatch.setenv("HWLOOP_SURROGATE_DIR", str(tmp_path))
    arch = tmp_path / "mlp.json"
    ArchSpec((16,), (Linear("fc0", 16), Linear("out", 2)), name="mlp").save(arch)
    base = ["predict", str(arch), "--target", "u250", "--flow", "vivado"]
    base += ["--kind", "hls_estimate", "--bits", "8", "--json"]
    assert main([*base, "--reuse-factor", "4"]) == 0
    four = json.loads(capsys.readouterr().out)
    assert four["model_description"].startswith("shipped default")
    assert 0 < four["lut"]["low80"] <= four["lut"]["median"] <= four["lut"]["high80"]
    assert main([*base, "--reuse-factor", "1"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert one["dsp"]["median"] > four["dsp"]["median"]  # fewer multipliers at reuse 4
    assert main([*base, "--reuse-factor", "4,out=8"]) == 0
    assert main([*base, "--reuse-factor", "3"]) == 2
    assert "layer fc0: hls4ml cannot realise reuse factor 3" in capsys.readouterr().err
    assert main([*base, "--reuse-factor", "4,nope=2"]) == 2
    assert "unknown layer(s) nope" in capsys.readouterr().err
    normed = tmp_path / "norm.json"  # layer norm: learnt from transformer-synthesis's reports
    ArchSpec((16,), (Linear("fc0", 16, norm="layer"), Linear("out", 2)), name="n").save(normed)
    assert main(["predict", str(normed), *base[2:], "--reuse-factor", "4"]) == 0
    capsys.readouterr()
    assert main(["predict", "braggnn", *base[2:], "--reuse-factor", "4"]) == 2
    assert "layer b0_attn: hls4ml has no 'conv_attention' layer" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "message"),
    [  # issue 25: each of these was a traceback
        ("\n\n", "the file holds no designs"),
        ("[1, 2]\n", "line 1: each design is a JSON object"),
        ('"nac-tiny"\n', "line 1: each design is a JSON object"),
        ('{"arch": "nac-tiny", "bits": "four"}\n', "line 1: 'bits' must be a number"),
        ('{"arch": "nac-tiny"}\n{"arch": "nac-tiny", "bits": null}\n', "line 2: 'bits' must"),
        ('{"arch": "nac-tiny", "sparsity": "x"}\n', "'sparsity' must be a number"),
    ],
)
def test_bad_batch_lines_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    batch = tmp_path / "in.jsonl"
    batch.write_text(text)
    assert main(["predict", "--batch", str(batch)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_open_flow_refuses_options_it_ignores(capsys: pytest.CaptureFixture[str]) -> None:
    for extra in (["--reuse-factor", "4"], ["--strategy", "resource"]):
        assert main(["predict", "nac-tiny", *extra]) == 2
        assert "use --flow vivado" in capsys.readouterr().err


def test_a_model_of_another_flow_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 25, item 9: a vivado model with the default --flow open answered silently with
    the open flow's strategy."""
    shipped = Path(__file__).resolve().parents[2] / "surrogates/data/vivado-u250-hls_estimate"
    assert main(["predict", "nac-tiny", "--target", "u250", "--model", str(shipped)]) == 2
    assert "pass --flow vivado --kind hls_estimate" in capsys.readouterr().err


def test_predict_does_not_create_a_cache_to_look_up(tmp_path: Path) -> None:
    """Issue 25, item 16: predict --cache created the database and its folders."""
    url = f"sqlite:///{tmp_path}/new/c.db"
    assert main(["predict", "nac-tiny", "--cache", url]) == 0
    assert not (tmp_path / "new").exists()
