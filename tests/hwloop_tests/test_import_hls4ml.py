"""hls4ml models into hwloop (issue 24): a ModelGraph converted by the real hls4ml, and the project
it writes, give the spec and weights that the torch route gives (hls4ml's channels-last layout
put back), plus the model's own precisions, reuse factors and strategy, which predictions use.
Bad projects are one line and exit 2; python tags in a project's config are never run."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import hwloop
from hwloop.archs import (
    ArchSpec,
    Conv1d,
    Conv2d,
    Flatten,
    Linear,
    build_model,
    graph_to_spec,
    import_model,
    torch_to_spec,
)
from hwloop.cli.main import main
from hwloop.synth import HardwareConfig, LayerHW, design_from_model, to_hls4ml
from hwloop.training import reset_parameters

SPEC = ArchSpec(
    (1, 6, 6),
    (
        Conv2d("c0", 3, 3, 1, act="relu", norm="batch"),
        Flatten("f"),
        Linear("fc0", 5, act="tanh"),
        Linear("out", 2),
    ),
    name="small",
)


@pytest.fixture(scope="module")
def hls(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Module, Any, Path]:
    """A trained-looking model (batch norm with real statistics), hls4ml's ModelGraph of it with
    a reuse factor of 3 on the first dense layer, and the project hls4ml writes."""
    model = build_model(SPEC).eval()
    reset_parameters(model, 1)
    with torch.no_grad():
        bn = model.layers["c0"][1]
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.2, 0.2)
    hw = HardwareConfig.uniform("xcu250-figd2104-2L-e", 8, 5.0, strategy="latency")
    hw = replace(hw, by_name=(("fc0", LayerHW(reuse_factor=3)),))
    folder = tmp_path_factory.mktemp("hls") / "prj"
    graph = to_hls4ml(design_from_model(model, hw), model, folder)
    graph.write()
    return model, graph, folder


def _same(a: Any, b: Any) -> None:
    strip = [
        {k: v for k, v in layer.items() if k != "precision"}
        for layer in b.spec.structure()["layers"]
    ]
    assert strip == a.spec.structure()["layers"]
    assert tuple(a.spec.input_shape) == tuple(b.spec.input_shape) == (1, 6, 6)
    assert sorted(a.weights) == sorted(b.weights)
    for key in a.weights:
        np.testing.assert_allclose(b.weights[key], a.weights[key], rtol=1e-5, atol=1e-6)


def test_graph_and_project_give_the_torch_routes_spec_and_weights(hls: tuple) -> None:  # type: ignore[type-arg]
    model, graph, folder = hls
    ref = torch_to_spec(model, "small", (1, 6, 6))
    for imp in (graph_to_spec(graph, "small"), import_model(folder, name="small")):
        _same(ref, imp)
        assert imp.reuse_factors == {"conv0": 1, "fc0": 3, "fc1": 1}
        assert imp.strategy == "latency"
        fc0 = next(layer for layer in imp.spec.layers if layer.name == "fc0")
        assert fc0.precision is not None and fc0.precision.weight.width == 8
        assert imp.input_precision is not None and imp.input_precision.width == 8


def test_cli_import_keeps_the_hardware_settings_and_predict_uses_them(
    hls: tuple,  # type: ignore[type-arg]
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, graph, folder = hls
    out = tmp_path / "small.json"
    assert main(["arch", "import", str(folder), "-o", str(out)]) == 0
    assert out.is_file() and out.with_suffix(".safetensors").is_file()
    capsys.readouterr()
    args = ["predict", str(out), "--json"]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["weights"].startswith("trained") and doc["lut"]["median"] > 0
    # the same from the ModelGraph in Python and from the folder
    for source in (graph, folder):
        p = hwloop.predict(source)
        assert p.weights.startswith("trained") and p.lut == tuple(
            doc["lut"][k] for k in ("low80", "median", "high80")
        )
    from hwloop.api import DesignRequest, make_design

    design, _ = make_design(str(out), DesignRequest(), "xcu250-figd2104-2L-e", 5.0, "vivado")
    named = dict(design.hw.by_name)
    assert named["fc0"].reuse_factor == 3 and design.hw.strategy == "latency"
    assert design.hw.input_precision.width == 8
    # a reuse factor asked for wins over the model's own
    asked, _ = make_design(
        graph, DesignRequest(reuse_factor=2), "xcu250-figd2104-2L-e", 5.0, "vivado"
    )
    assert asked.hw.model.reuse_factor == 2
    assert all(h.reuse_factor in (None, 2) for _, h in asked.hw.by_name)


def test_bad_projects_are_one_line(
    hls: tuple,  # type: ignore[type-arg]
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, _, folder = hls
    out = tmp_path / "x.json"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["arch", "import", str(empty), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "needs its hls4ml_config.yml" in err and len(err.strip().splitlines()) == 1
    # a config whose python tags would run a command: skipped, never constructed
    import shutil

    evil = tmp_path / "evil"
    shutil.copytree(folder, evil)
    marker = tmp_path / "ran"
    cfg = (evil / "hls4ml_config.yml").read_text()
    cfg += f"Evil: !!python/object/apply:os.system ['touch {marker}']\n"
    (evil / "hls4ml_config.yml").write_text(cfg)
    assert main(["arch", "import", str(evil), "-o", str(out)]) == 0
    assert not marker.exists()
    # a layer hwloop has no op for: refused, naming it
    cpp = evil / "firmware" / "myproject.cpp"
    cpp.write_text(cpp.read_text().replace("nnet::relu<", "nnet::hard_tanh<", 1))
    bad = tmp_path / "bad.json"
    assert main(["arch", "import", str(evil), "-o", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "nnet::hard_tanh" in err and "has no hwloop layer" in err and not bad.exists()
    (evil / "firmware" / "weights" / "w6.txt").write_text("1, 2, x")
    cpp.write_text(cpp.read_text().replace("nnet::hard_tanh<", "nnet::relu<", 1))
    assert main(["arch", "import", str(evil), "-o", str(bad)]) == 2
    assert "not an hls4ml weight file" in capsys.readouterr().err and not bad.exists()
    (evil / "firmware" / "weights" / "w6.txt").write_text("1, 2, 3")  # numbers, too few
    assert main(["arch", "import", str(evil), "-o", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "its weights do not fit its sizes" in err and len(err.strip().splitlines()) == 1
    assert not bad.exists()


def test_a_model_without_convs_keeps_torchs_layout(tmp_path: Path) -> None:
    """An MLP on a map (the Bragg MLP space's models): hls4ml keeps its input shape and
    flattens it in an order of its own, put back (two channels, so that every axis shows)."""
    spec = ArchSpec((2, 3, 4), (Flatten("f"), Linear("fc0", 6, act="relu"), Linear("out", 2)))
    model = build_model(spec).eval()
    reset_parameters(model, 2)
    hw = HardwareConfig.uniform("xcu250-figd2104-2L-e", 6, 5.0, strategy="latency")
    graph = to_hls4ml(design_from_model(model, hw), model, tmp_path / "prj")
    graph.write()
    ref = torch_to_spec(model, "m", (2, 3, 4))
    for imp in (graph_to_spec(graph, "m"), import_model(tmp_path / "prj", name="m")):
        assert tuple(imp.spec.input_shape) == (2, 3, 4)
        for key in ref.weights:
            np.testing.assert_allclose(imp.weights[key], ref.weights[key], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "spec",
    [
        ArchSpec(  # several input channels: hls4ml's PyTorch converter transposes them first
            (3, 5, 5),
            (Conv2d("c0", 4, 3, 1, act="relu"), Flatten("f"), Linear("out", 2)),
            name="rgb",
        ),
        ArchSpec(
            (3, 10),
            (
                Conv1d("c0", 4, 3, 1, act="relu", norm="batch"),
                Flatten("f"),
                Linear("fc0", 5, act="tanh"),
                Linear("out", 2),
            ),
            name="seq",
        ),
    ],
    ids=["conv2d-3ch", "conv1d"],
)
def test_multichannel_and_1d_convs_import_like_torch(spec: ArchSpec, tmp_path: Path) -> None:
    """hls4ml's Transpose of a torch model's input and its channels-last Conv1D are put back:
    the graph and the project give the torch route's spec and weights."""
    model = build_model(spec).eval()
    reset_parameters(model, 4)
    hw = HardwareConfig.uniform("xcu250-figd2104-2L-e", 8, 5.0, strategy="latency")
    graph = to_hls4ml(design_from_model(model, hw), model, tmp_path / "prj")
    graph.write()
    ref = torch_to_spec(model, spec.name, tuple(spec.input_shape))
    assert [layer.op for layer in ref.spec.layers][0] == spec.layers[0].op
    for imp in (graph_to_spec(graph, spec.name), import_model(tmp_path / "prj", name=spec.name)):
        strip = [
            {k: v for k, v in layer.items() if k != "precision"}
            for layer in imp.spec.structure()["layers"]
        ]
        assert strip == ref.spec.structure()["layers"]
        assert tuple(imp.spec.input_shape) == tuple(spec.input_shape)
        assert sorted(imp.weights) == sorted(ref.weights)
        for key in ref.weights:
            np.testing.assert_allclose(imp.weights[key], ref.weights[key], rtol=1e-5, atol=1e-6)


def test_a_projects_average_pool_stays_an_average(tmp_path: Path) -> None:
    """parameters.h spells a pool's op ``static const nnet::Pool_Op pool_op = nnet::Average;``:
    the project reader used to miss it and read every pool as a max pool."""
    import hls4ml

    torch.manual_seed(8)
    m = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AvgPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(18, 2),
    ).eval()
    cfg = hls4ml.utils.config_from_pytorch_model(m, (1, 6, 6), granularity="name")
    graph = hls4ml.converters.convert_from_pytorch_model(
        m, hls_config=cfg, output_dir=str(tmp_path / "prj"), io_type="io_parallel"
    )
    graph.write()
    for imp in (graph_to_spec(graph, "p"), import_model(tmp_path / "prj", name="p")):
        pools = [layer for layer in imp.spec.layers if layer.op == "pool2d"]
        assert [(p.size, p.method) for p in pools] == [(2, "mean")]  # type: ignore[union-attr]
