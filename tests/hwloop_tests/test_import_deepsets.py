"""Deep Sets in conv form (issue 24): a PyTorch Deep Set written as hls4ml 1.3.0 can convert it
(it refuses torch.mean and transpose) -- (N, C, L) channels first, pointwise Conv1d, a pool over
all L elements, a flatten, Linear layers -- imports through torch (factory + safetensors), ONNX,
hls4ml's ModelGraph and the project it writes as one native Deep Set spec: input (L, C), the
convs ``linear`` layers on the set with their squeezed weights, the pool an ``aggregate``. What
is not that pattern is refused in one line, naming the node and its op type."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from hwloop import HwloopError
from hwloop.archs import build_model, graph_to_spec, import_model, torch_to_spec
from hwloop.cli.main import main

C, L = 3, 8  # features per element, elements per set
FACTORY = """
import torch

class ConvDeepSet(torch.nn.Module):
    def __init__(self, pool="avg", width=8, kernel=1):
        super().__init__()
        self.phi0 = torch.nn.Conv1d(3, 16, kernel)
        self.bn0 = torch.nn.BatchNorm1d(16)
        self.phi1 = torch.nn.Conv1d(16, 8, 1)
        self.pool = (torch.nn.AvgPool1d if pool == "avg" else torch.nn.MaxPool1d)(width)
        self.rho0 = torch.nn.Linear(8 * ((9 - kernel) // width), 6)
        self.out = torch.nn.Linear(6, 2)

    def forward(self, x):
        h = torch.tanh(self.phi1(torch.relu(self.bn0(self.phi0(x)))))
        h = torch.flatten(self.pool(h), 1)
        return self.out(torch.relu(self.rho0(h)))

def make():
    return ConvDeepSet()
def make_max():
    return ConvDeepSet("max")
def make_local_pool():  # a pool over pairs of elements, not over the set
    return ConvDeepSet(width=2)
def make_kernel3():  # a conv over neighbouring elements before the global pool
    return ConvDeepSet(width=6, kernel=3)
"""


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Any]]:
    """The folder of the factory module ``conv_deepset``, and the module."""
    folder = tmp_path_factory.mktemp("deepset")
    (folder / "conv_deepset.py").write_text(FACTORY)
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(folder))
        sys.modules.pop("conv_deepset", None)
        import conv_deepset  # type: ignore[import-not-found]

        yield folder, conv_deepset
    sys.modules.pop("conv_deepset", None)


def _hls4ml(model: torch.nn.Module, folder: Path) -> Any:
    import hls4ml

    cfg = hls4ml.utils.config_from_pytorch_model(
        model, (C, L), granularity="name", backend="Vivado"
    )
    return hls4ml.converters.convert_from_pytorch_model(
        model, hls_config=cfg, output_dir=str(folder), backend="Vivado", io_type="io_parallel"
    )


def _trained(make: Any, seed: int) -> torch.nn.Module:
    """Real random weights, and batch norm statistics that are not the defaults."""
    torch.manual_seed(seed)
    m = make()
    with torch.no_grad():
        m.bn0.running_mean.uniform_(-0.5, 0.5)
        m.bn0.running_var.uniform_(0.5, 2.0)
        m.bn0.weight.uniform_(0.5, 1.5)
        m.bn0.bias.uniform_(-0.2, 0.2)
    return m.eval()


def _expected(m: Any) -> dict[str, np.ndarray]:
    """The native Deep Set's weights: the convs' squeezed (out, in, 1) -> (out, in), the batch
    norm folded into the first."""
    bn = m.bn0
    s = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach().numpy()
    w0 = m.phi0.weight.detach().numpy()[:, :, 0] * s[:, None]
    b0 = (m.phi0.bias.detach().numpy() - bn.running_mean.numpy()) * s + bn.bias.detach().numpy()
    out = {"fc0": (w0, b0)}
    for name, mod in (("fc1", m.phi1), ("fc2", m.rho0), ("fc3", m.out)):
        w = mod.weight.detach().numpy()
        out[name] = (w.reshape(w.shape[0], -1), mod.bias.detach().numpy())
    return {
        f"layers.{k}.0.{part}": v[i]
        for k, v in out.items()
        for i, part in enumerate(("weight", "bias"))
    }


def _layers(imp: Any) -> list[dict[str, Any]]:
    """The spec's layers without precisions (hls4ml's carry its types; torch's have none)."""
    return [
        {k: v for k, v in layer.items() if k != "precision"}
        for layer in imp.spec.structure()["layers"]
    ]


@pytest.mark.parametrize(("make", "method"), [("make", "mean"), ("make_max", "max")])
def test_every_route_gives_the_native_deep_set(
    factory: tuple[Path, Any], tmp_path: Path, make: str, method: str
) -> None:
    folder, mod = factory
    m = _trained(getattr(mod, make), 5)
    save_file(m.state_dict(), str(tmp_path / "w.safetensors"))
    torch.onnx.export(m, (torch.zeros(1, C, L),), str(tmp_path / "m.onnx"), dynamo=True)
    graph = _hls4ml(m, tmp_path / "prj")
    graph.write()
    routes = {
        "factory": import_model(
            tmp_path / "w.safetensors", f"conv_deepset:{make}", (C, L), name="ds"
        ),
        "onnx": import_model(tmp_path / "m.onnx", name="ds"),
        "graph": graph_to_spec(graph, "ds"),
        "project": import_model(tmp_path / "prj", name="ds"),
    }
    ref = routes["factory"]
    assert tuple(ref.spec.input_shape) == (L, C)
    assert [(x["op"], x.get("act") or x.get("method")) for x in _layers(ref)] == [
        ("linear", "relu"),
        ("linear", "tanh"),
        ("aggregate", method),
        ("linear", "relu"),
        ("linear", None),
    ]
    assert routes["onnx"].spec.digest == ref.spec.digest
    expected = _expected(m)
    x = torch.randn(7, C, L)
    with torch.no_grad():
        want = m(x)
    for route, imp in routes.items():
        assert _layers(imp) == _layers(ref), route
        assert tuple(imp.spec.input_shape) == (L, C), route
        assert sorted(imp.weights) == sorted(expected), route
        for key, value in expected.items():
            np.testing.assert_allclose(imp.weights[key], value, rtol=1e-5, atol=1e-6)
        native = build_model(imp.spec).eval()
        native.load_state_dict({k: torch.from_numpy(v) for k, v in imp.weights.items()})
        with torch.no_grad():
            got = native(x.transpose(1, 2))
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    # hls4ml's own settings follow the layers' new names
    for route in ("graph", "project"):
        assert sorted(routes[route].reuse_factors) == ["fc0", "fc1", "fc2", "fc3"]
        assert routes[route].spec.layers[0].precision is not None  # type: ignore[union-attr]
    # the same as the native Deep Set's own import: hwloop's module for the spec, through ONNX
    native = build_model(ref.spec).eval()
    native.load_state_dict({k: torch.from_numpy(v) for k, v in ref.weights.items()})
    again = torch_to_spec(native, "ds", (L, C))
    assert again.spec.digest == ref.spec.digest
    for key, value in ref.weights.items():
        np.testing.assert_allclose(again.weights[key], value, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "make", ["make_local_pool", "make_kernel3"], ids=["pool-not-global", "kernel3-before-pool"]
)
def test_what_is_not_a_deep_set_is_refused_in_one_line(
    factory: tuple[Path, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], make: str
) -> None:
    _, mod = factory
    m = _trained(getattr(mod, make), 6)
    save_file(m.state_dict(), str(tmp_path / "w.safetensors"))
    out = tmp_path / "spec.json"
    args = ["arch", "import", str(tmp_path / "w.safetensors"), "-o", str(out)]
    assert main([*args, "--factory", f"conv_deepset:{make}", "--input-shape", f"{C},{L}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert re.search(r"node \S+ \(AveragePool\): a 1-D pool maps only as a Deep Set's", err[0])
    assert not out.exists() and not out.with_suffix(".safetensors").exists()
    # hls4ml converts it; hwloop refuses its pool, naming it
    graph = _hls4ml(m, tmp_path / "prj")
    with pytest.raises(HwloopError, match=r"hls4ml layer pool \(Pooling1D\): a 1-D pool"):
        graph_to_spec(graph, "ds")
    graph.write()
    assert main(["arch", "import", str(tmp_path / "prj"), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "hls4ml layer pool (Pooling1D): a 1-D pool" in err[0], err
    assert not out.exists()


def test_a_pointwise_conv1d_outside_a_set_is_a_kernel1_conv1d(tmp_path: Path) -> None:
    """hls4ml's PointwiseConv1D (its class for a kernel-1 Conv1D) on a sequence that is then
    flattened: a ``conv1d`` of kernel 1, as torch's route gives."""
    torch.manual_seed(7)
    m = torch.nn.Sequential(
        torch.nn.Conv1d(C, 4, 1), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * L, 2)
    ).eval()
    graph = _hls4ml(m, tmp_path / "prj")
    assert "PointwiseConv1D" in [layer.class_name for layer in graph.get_layers()]
    ref = torch_to_spec(m, "pw", (C, L))
    imp = graph_to_spec(graph, "pw")
    assert _layers(imp) == _layers(ref)
    assert [(x["op"], x.get("kernel")) for x in _layers(ref)] == [
        ("conv1d", 1),
        ("flatten", None),
        ("linear", None),
    ]
    for key, value in ref.weights.items():
        np.testing.assert_allclose(imp.weights[key], value, rtol=1e-5, atol=1e-6)
