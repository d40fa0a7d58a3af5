"""Trained models into hwloop (issue 24): torch (a factory + safetensors) and ONNX give the same
spec and weights, QONNX gives precisions, bad files are one line and write nothing, predictions
use the trained weights and say so, and the Python API returns tables."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import hwloop
from hwloop.archs import ArchSpec, build_model, import_model, load_trained, save_imported
from hwloop.cli.main import main

FACTORY = """
import torch
def make():
    return torch.nn.Sequential(
        torch.nn.Linear(12, 24), torch.nn.BatchNorm1d(24), torch.nn.ReLU(),
        torch.nn.Linear(24, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3),
    )
def make_softmax():
    return torch.nn.Sequential(torch.nn.Linear(12, 3), torch.nn.Softmax(dim=1))
"""


@pytest.fixture()
def trained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, torch.nn.Module]:
    """A small trained-looking torch model: its factory module, safetensors and ONNX files."""
    (tmp_path / "own_model.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("own_model", None)
    import own_model  # type: ignore[import-not-found]

    torch.manual_seed(0)
    m = own_model.make()
    with torch.no_grad():
        m[1].running_mean.uniform_(-1, 1)
        m[1].running_var.uniform_(0.5, 2)
    m.eval()
    save_file(m.state_dict(), str(tmp_path / "w.safetensors"))
    torch.onnx.export(m, (torch.zeros(1, 12),), str(tmp_path / "m.onnx"), dynamo=True)
    return tmp_path, m


def test_torch_and_onnx_routes_agree(trained: tuple[Path, torch.nn.Module]) -> None:
    folder, m = trained
    a = import_model(folder / "w.safetensors", factory="own_model:make")
    b = import_model(folder / "m.onnx")
    assert a.spec.digest == b.spec.digest
    assert [(x.op, getattr(x, "act", None)) for x in a.spec.layers] == [
        ("linear", "relu"),
        ("linear", "tanh"),
        ("linear", None),
    ]
    assert a.weights.keys() == b.weights.keys()
    assert all(np.allclose(a.weights[k], b.weights[k], atol=1e-6) for k in a.weights)
    spec_path, weights = save_imported(a, folder / "spec.json")
    model = load_trained(ArchSpec.load(spec_path), weights)
    x = torch.randn(7, 12)
    with torch.no_grad():
        assert torch.allclose(model(x), m(x), atol=1e-5)  # the batch norm is folded


def _export_pt2(model: torch.nn.Module, path: Path) -> None:
    torch.export.save(torch.export.export(model.eval(), (torch.zeros(1, 12),)), str(path))


def test_a_pt2_program_gives_the_torch_routes_spec_and_weights(
    trained: tuple[Path, torch.nn.Module], capsys: pytest.CaptureFixture[str]
) -> None:
    """``torch.export.save``'s archive, read without unpickling (its sample inputs are a
    pickle, never opened)."""
    folder, m = trained
    _export_pt2(m, folder / "m.pt2")
    a = import_model(folder / "w.safetensors", factory="own_model:make")
    b = import_model(folder / "m.pt2")
    assert a.spec.digest == b.spec.digest and a.weights.keys() == b.weights.keys()
    assert all(np.allclose(a.weights[k], b.weights[k], atol=1e-6) for k in a.weights)
    assert main(["arch", "import", str(folder / "m.pt2"), "-o", str(folder / "p.json")]) == 0
    capsys.readouterr()
    assert main(["predict", str(folder / "m.pt2"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["weights"].startswith("trained")


def test_qonnx_quant_nodes_give_precisions(tmp_path: Path) -> None:
    from hwloop.archs import Flatten, Linear
    from hwloop.local._export import export_qonnx
    from hwloop.local._quant import quantised_from_float

    spec = ArchSpec((1, 4, 4), (Flatten("f"), Linear("fc0", 8, act="relu"), Linear("out", 2)))
    torch.manual_seed(1)
    q = quantised_from_float(build_model(spec).eval(), 6, torch.randn(64, 1, 4, 4), True).eval()
    path = export_qonnx(q, tmp_path / "q.qonnx.onnx")
    imp = import_model(path)
    linear = [x for x in imp.spec.layers if x.op == "linear"]
    assert [x.precision.weight.width for x in linear] == [6, 6]  # type: ignore[union-attr]
    assert imp.input_precision is not None and imp.input_precision.width == 6
    w = imp.weights["layers.fc1.0.weight"]
    step = 2.0 ** -linear[1].precision.weight.fractional  # type: ignore[union-attr]
    assert np.allclose(w / step, np.round(w / step))  # on the Quant node's grid


@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        ("garbage", [], "not an ONNX model"),
        ("pickle", ["--factory", "own_model:make"], "is a pickle \\(torch.save\\)"),
        ("unknown", [], "unknown model format '.h5x'"),
        ("softmax", [], "op type Softmax has no hwloop layer"),
        ("none", ["--factory", "own_model:make"], "does not exist"),
        ("shape", ["--factory", "own_model:make", "--input-shape", "5"], "input shape \\[5\\]"),
        ("nofactory", [], "name the module's factory with --factory"),
        ("pt2_garbage", [], "not a .pt2 archive"),
        ("pt2_pickled", [], "pickled weights .* hwloop never unpickles"),
    ],
)
def test_bad_models_are_one_line_and_write_nothing(
    trained: tuple[Path, torch.nn.Module],
    capsys: pytest.CaptureFixture[str],
    make: str,
    args: list[str],
    message: str,
) -> None:
    folder, _ = trained
    model = folder / "w.safetensors"
    if make == "garbage":
        model = folder / "bad.onnx"
        model.write_bytes(b"\x08\x01garbage that is not protobuf")
    elif make == "pickle":
        model = folder / "p.safetensors"
        torch.save(torch.nn.Linear(2, 2).state_dict(), model)
    elif make == "unknown":
        model = folder / "m.h5x"
        model.write_text("x")
    elif make == "softmax":
        import own_model  # type: ignore[import-not-found]

        model = folder / "s.onnx"
        torch.onnx.export(own_model.make_softmax().eval(), (torch.zeros(1, 12),), str(model))
    elif make == "none":
        model = folder / "absent.safetensors"
    elif make == "pt2_garbage":
        model = folder / "bad.pt2"
        model.write_bytes(b"PK\x03\x04 not really a zip")
    elif make == "pt2_pickled":  # a fake: a saved program whose weight config claims a pickle
        import zipfile

        good, model = folder / "good.pt2", folder / "pickled.pt2"
        _export_pt2(trained[1], good)
        with zipfile.ZipFile(good) as src, zipfile.ZipFile(model, "w") as dst:
            for item in src.infolist():
                data = src.read(item)
                if item.filename.endswith("model_weights_config.json"):
                    data = data.replace(b'"use_pickle": false', b'"use_pickle": true', 1)
                dst.writestr(item, data)
    out = folder / "spec.json"
    assert main(["arch", "import", str(model), "-o", str(out), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert __import__("re").search(message, err[0]), err[0]
    assert not out.exists() and not out.with_suffix(".safetensors").exists()


def test_predict_uses_trained_weights_and_says_so(
    trained: tuple[Path, torch.nn.Module], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = trained
    assert main(["arch", "import", str(folder / "m.onnx"), "-o", str(folder / "s.json")]) == 0
    capsys.readouterr()
    assert main(["predict", str(folder / "s.json"), "--json"]) == 0
    own = json.loads(capsys.readouterr().out)
    assert own["weights"] == f"trained ({folder / 's.safetensors'})"
    assert main(["predict", str(folder / "m.onnx"), "--json"]) == 0
    direct = json.loads(capsys.readouterr().out)
    assert direct["lut"] == own["lut"]  # the same design, straight from the model file
    (folder / "s.safetensors").rename(folder / "elsewhere.safetensors")
    assert main(["predict", str(folder / "s.json"), "--json"]) == 0
    rand = json.loads(capsys.readouterr().out)
    assert rand["weights"] == "random (sparsity 0, expected over draws)"
    assert rand["lut"] != own["lut"]
    assert main(["predict", str(folder / "m.onnx"), "--sparsity", "0.5"]) == 2
    assert "trained weights set their own" in capsys.readouterr().err


@pytest.mark.slow
def test_python_api(trained: tuple[Path, torch.nn.Module], tmp_path: Path) -> None:
    _, m = trained
    p = hwloop.predict(m, input_shape=(12,), target="vu13p", bits=6)
    assert p.lut is not None and p.lut[0] <= p.lut[1] <= p.lut[2] and p.lut[1] > 0
    assert p.fits and p.latency_ns and p.weights == "trained (the module's)"
    frame = p.to_frame()
    assert len(frame) == 1 and {"lut", "lut_low80", "lut_high80", "fits"} <= set(frame.columns)
    many = hwloop.predict_many(["nac-tiny", "nac-small"], bits=4)
    assert [q.weights for q in many] == ["random (sparsity 0, expected over draws)"] * 2
    assert many[0].lut[1] < many[1].lut[1]  # type: ignore[index]
    with pytest.raises(hwloop.HwloopError, match="input shape \\[3\\] does not fit"):
        hwloop.predict(m, input_shape=(3,))

    from synth_cache import SqlCache, import_paths

    url = f"sqlite:///{tmp_path / 'c.db'}"
    import_paths(SqlCache(url), [Path(__file__).parents[2] / "../shared/fixtures/hls-reports"])
    table = hwloop.Cache(url).to_frame()
    assert len(table) > 0 and {"key", "lut", "status", "target"} <= set(table.columns)
    assert len(hwloop.Cache(url).to_frame(status="ok")) <= len(table)
    assert hwloop.Cache(f"sqlite:///{tmp_path / 'none.db'}").to_frame().empty
    assert not (tmp_path / "none.db").exists()

    out = tmp_path / "s"
    args = ["search", "--task", "bragg", "--space", "mlp", "-n", "2", "--epochs", "1"]
    args += ["--limit", "300", "--objectives", "metric,lut", "--population", "2"]
    assert main([*args, "--out", str(out)]) == 0
    front = hwloop.load_front(out)
    assert len(front) >= 1 and {"trial", "mean_distance_px", "lut_pred"} <= set(front.columns)
    with pytest.raises(hwloop.HwloopError, match="is not a search's pareto.json"):
        hwloop.load_front(tmp_path)


@pytest.mark.slow
def test_compress_and_calibrate_start_from_the_trained_weights(tmp_path: Path) -> None:
    """An imported Bragg-shaped model: compress evaluates its weights as the float reference
    (no retraining), calibrate synthesises the design of its trained weights."""
    from hwloop.archs import trained_weights
    from hwloop.synth import HardwareConfig, design_from_model
    from synth_cache import SqlCache, design_key

    torch.manual_seed(3)
    m = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(121, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)
    ).eval()
    torch.onnx.export(m, (torch.zeros(1, 1, 11, 11),), str(tmp_path / "b.onnx"), dynamo=True)
    spec = tmp_path / "b.json"
    assert main(["arch", "import", str(tmp_path / "b.onnx"), "-o", str(spec)]) == 0
    out = tmp_path / "c"
    args = ["compress", str(spec), "--task", "bragg", "--bits", "8", "--iterations", "0"]
    args += ["--epochs", "1", "--limit", "300", "--no-hls4ml", "--out", str(out)]
    assert main(args) == 0
    report = json.loads((out / "compress.json").read_text())
    ref = report["reference"]
    assert ref["epochs_run"] == 0  # evaluated, not trained
    from hwloop.tasks import get_task
    from hwloop.training import evaluate

    task = get_task("bragg")
    data = task.load(limit=300, seed=0)
    trained = load_trained(ArchSpec.load(spec), trained_weights(str(spec)))  # type: ignore[arg-type]
    assert ref["val_metric"] == pytest.approx(evaluate(trained, task, data.val), rel=1e-5)

    url = f"sqlite:///{tmp_path / 'cache.db'}"
    assert main(["calibrate", "--arch", str(spec), "--bits", "4", "--cache", url]) == 0
    from fpga_targets import get_target

    t = get_target("vu13p")
    hw = HardwareConfig.uniform(t.part, 4, t.clock_period_ns, strategy="distributed_arithmetic")
    from hwloop.synth import get_synthesizer

    synth = get_synthesizer("open")
    key = design_key(design_from_model(trained, hw).canonical(), "open", synth.tool_version())
    entry = SqlCache(url).get(key)
    assert entry is not None and entry.status == "ok"  # the trained weights' design, for real


def test_a_safetensors_header_is_not_taken_for_a_pickle(tmp_path: Path) -> None:
    """A safetensors file starts with its header's length: 1,152 bytes is b'\\x80\\x04...', a
    pickle's PROTO 4 opcode. Seen in a real run (bench_own_model); the '{' after it decides."""
    import pickle

    from hwloop.archs._import import _is_pickle

    fake = tmp_path / "w.safetensors"
    fake.write_bytes((1152).to_bytes(8, "little") + b"{" + b" " * 1151 + b"\0" * 16)
    assert fake.read_bytes()[:2] == b"\x80\x04" and not _is_pickle(fake)
    real = tmp_path / "p.safetensors"
    real.write_bytes(pickle.dumps({"w": [1.0]}, protocol=4))
    assert _is_pickle(real)


def test_onnx_broadcast_biases_and_auto_pad(tmp_path: Path) -> None:
    """Gemm biases of shape (1, N) or a scalar broadcast; SAME padding is refused in one line
    (it used to import without padding: a wrong spec)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from hwloop import HwloopError
    from hwloop.archs import onnx_to_spec

    w = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    for name, bias in (("b2", np.ones((1, 3), np.float32)), ("b0", np.array(2.0, np.float32))):
        b = numpy_helper.from_array(bias, name)
        g = helper.make_graph(
            [helper.make_node("Gemm", ["x", "w", name], ["y"])],
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
            [w, b],
        )
        imp = onnx_to_spec(helper.make_model(g))
        assert imp.weights["layers.fc0.0.bias"].shape == (3,)
    k = numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "k")
    g = helper.make_graph(
        [helper.make_node("Conv", ["x", "k"], ["y"], auto_pad="SAME_UPPER")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 6, 6])],
        [k],
    )
    with pytest.raises(HwloopError, match="no auto_pad"):
        onnx_to_spec(helper.make_model(g))
    assert onnx is not None
