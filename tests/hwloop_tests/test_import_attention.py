"""BraggNN's non-local attention block imports (issue 24): hwloop's own module of a spec with a
``conv_attention`` -- the builtin ``braggnn`` and a small one -- and a BraggNN written as its
authors wrote it (``NLB``: theta / phi / g / out_cnn, view + permute, ``torch.add``) come back
through the torch (factory + safetensors), ONNX (dynamo and TorchScript exporters) and .pt2
routes as the same spec and weights, giving the same outputs; QONNX weight quantisers set its
weight precision; near misses (scaled scores, no residual, softmax over the queries) are
refused in one line, naming the node and its op type, writing nothing."""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import torch
from onnx import helper, numpy_helper
from safetensors.torch import save_file

from hwloop import HwloopError
from hwloop.archs import (
    ArchSpec,
    Conv2d,
    ConvAttention,
    Flatten,
    Linear,
    build_model,
    import_model,
    resolve_arch,
    torch_to_spec,
)
from hwloop.cli.main import main

SHAPE = (1, 11, 11)
SMALL = ArchSpec(
    SHAPE,
    (Conv2d("c0", 6, 3), ConvAttention("att", 3, act="relu"), Flatten("f"), Linear("out", 2)),
    name="small",
)
FACTORY = """
import torch
from hwloop.archs import build_model, resolve_arch


class NLB(torch.nn.Module):  # BraggNN's model.py, as its authors wrote it
    def __init__(self, in_ch, variant=""):
        super().__init__()
        self.inter_ch = in_ch // 2
        self.variant = variant
        self.theta_layer = torch.nn.Conv2d(in_ch, self.inter_ch, 1)
        self.phi_layer = torch.nn.Conv2d(in_ch, self.inter_ch, 1)
        self.g_layer = torch.nn.Conv2d(in_ch, self.inter_ch, 1)
        self.atten_act = torch.nn.Softmax(dim=1 if variant == "softmax_dim1" else -1)
        self.out_cnn = torch.nn.Conv2d(self.inter_ch, in_ch, 1)

    def forward(self, x):
        mbsz, _, h, w = x.size()
        theta = self.theta_layer(x).view(mbsz, self.inter_ch, -1).permute(0, 2, 1)
        phi = self.phi_layer(x).view(mbsz, self.inter_ch, -1)
        g = self.g_layer(x).view(mbsz, self.inter_ch, -1).permute(0, 2, 1)
        scores = torch.matmul(theta, phi)
        if self.variant == "scaled":
            scores = scores / self.inter_ch ** 0.5
        theta_phi = self.atten_act(scores)
        theta_phi_g = torch.matmul(theta_phi, g)
        theta_phi_g = theta_phi_g.permute(0, 2, 1).contiguous().view(mbsz, self.inter_ch, h, w)
        out = self.out_cnn(theta_phi_g)
        return out if self.variant == "no_residual" else torch.add(out, x)


class BraggNN(torch.nn.Module):
    def __init__(self, variant=""):
        super().__init__()
        act = torch.nn.LeakyReLU(negative_slope=0.01)
        self.cnn_ops = torch.nn.Sequential(
            torch.nn.Conv2d(1, 64, 3), NLB(64, variant), act,
            torch.nn.Conv2d(64, 32, 3), act, torch.nn.Conv2d(32, 8, 3), act,
        )
        self.dense_ops = torch.nn.Sequential(
            torch.nn.Linear(200, 64), act, torch.nn.Linear(64, 32), act,
            torch.nn.Linear(32, 16), act, torch.nn.Linear(16, 2),
        )

    def forward(self, x):
        return self.dense_ops(self.cnn_ops(x).flatten(1))


def braggnn():
    return BraggNN()
def scaled():
    return BraggNN("scaled")
def no_residual():
    return BraggNN("no_residual")
def softmax_dim1():
    return BraggNN("softmax_dim1")
def hwloop_braggnn():
    return build_model(resolve_arch("braggnn"))
"""
# the authors' module names -> the braggnn spec's state-dict keys
AUTHORS = {
    "cnn_ops.0": "stem.0",
    "cnn_ops.1.theta_layer": "b0_attn.query",
    "cnn_ops.1.phi_layer": "b0_attn.key",
    "cnn_ops.1.g_layer": "b0_attn.value",
    "cnn_ops.1.out_cnn": "b0_attn.proj",
    "cnn_ops.3": "b1_conv0.0",
    "cnn_ops.5": "b1_conv1.0",
    "dense_ops.0": "fc0.0",
    "dense_ops.2": "fc1.0",
    "dense_ops.4": "fc2.0",
    "dense_ops.6": "out.0",
}


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder = tmp_path_factory.mktemp("bragg")
    (folder / "bragg_model.py").write_text(FACTORY)
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(folder))
        sys.modules.pop("bragg_model", None)
        import bragg_model  # type: ignore[import-not-found]

        yield bragg_model
    sys.modules.pop("bragg_model", None)


def _renamed(imported: ArchSpec, original: ArchSpec) -> dict[str, str]:
    """The imported layers' names by the original's (importers name layers conv0, attn0, ...),
    after checking that the two specs are one structure but for those names."""
    names = {a.name: b.name for a, b in zip(original.layers, imported.layers, strict=True)}
    renamed = ArchSpec(
        original.input_shape,
        tuple(type(x)(**{**_fields(x), "name": names[x.name]}) for x in original.layers),
    )
    assert renamed.digest == imported.digest, (renamed.structure(), imported.structure())
    return names


def _fields(layer: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(layer).items() if k != "op"}


def _same_weights(
    imported: dict[str, np.ndarray], original: dict[str, torch.Tensor], names: dict[str, str]
) -> None:
    """``original``'s keys ``layers.<name>.<rest>``, under the imported layers' names."""
    want = {}
    for key, value in original.items():
        _, name, rest = key.split(".", 2)
        want[f"layers.{names[name]}.{rest}"] = value.detach().numpy()
    assert sorted(imported) == sorted(want)
    for key, value in want.items():
        np.testing.assert_allclose(imported[key], value, rtol=1e-6, atol=1e-7, err_msg=key)


def _same_outputs(imp: Any, model: torch.nn.Module) -> None:
    native = build_model(imp.spec).eval()
    native.load_state_dict({k: torch.from_numpy(v) for k, v in imp.weights.items()})
    x = torch.randn(6, *SHAPE)
    with torch.no_grad():
        torch.testing.assert_close(native(x), model(x), rtol=1e-5, atol=1e-5)


def _legacy_onnx(model: torch.nn.Module, path: Path) -> None:
    """torch's TorchScript exporter (Constant nodes for the reshape targets, allowzero 0)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(1, *SHAPE),), str(path), dynamo=False)


def _dynamo_onnx(model: torch.nn.Module, path: Path) -> None:
    torch.onnx.export(model, (torch.zeros(1, *SHAPE),), str(path), dynamo=True)


def test_a_small_spec_with_attention_imports_as_itself(tmp_path: Path) -> None:
    torch.manual_seed(3)
    model = build_model(SMALL).eval()
    _dynamo_onnx(model, tmp_path / "m.onnx")
    imp = import_model(tmp_path / "m.onnx", name="small")
    names = _renamed(imp.spec, SMALL)
    assert names["att"] == "attn0"
    _same_weights(imp.weights, model.state_dict(), names)
    _same_outputs(imp, model)


def test_hwloop_braggnn_through_every_route(factory: Any, tmp_path: Path) -> None:
    spec = resolve_arch("braggnn")
    torch.manual_seed(4)
    model = factory.hwloop_braggnn().eval()
    save_file(model.state_dict(), str(tmp_path / "w.safetensors"))
    _dynamo_onnx(model, tmp_path / "m.onnx")
    _legacy_onnx(model, tmp_path / "legacy.onnx")
    torch.export.save(torch.export.export(model, (torch.zeros(1, *SHAPE),)), tmp_path / "m.pt2")
    routes = {
        "factory": import_model(
            tmp_path / "w.safetensors", "bragg_model:hwloop_braggnn", SHAPE, name="b"
        ),
        "onnx": import_model(tmp_path / "m.onnx", name="b"),
        # TorchScript's exporter: flatten(2)'s target is Concat(Slice(Shape(t)), [-1])
        "legacy": import_model(tmp_path / "legacy.onnx", name="b"),
        "pt2": import_model(tmp_path / "m.pt2", name="b"),
    }
    for route, imp in routes.items():
        names = _renamed(imp.spec, spec)
        _same_weights(imp.weights, model.state_dict(), names)
        _same_outputs(imp, model)
        assert imp.spec.digest == routes["factory"].spec.digest, route


def test_the_authors_braggnn_imports_as_hwloops(factory: Any, tmp_path: Path) -> None:
    """BraggNN's own NLB (view / permute / contiguous, out + x, the LeakyReLU a separate module
    after the block) is the builtin ``braggnn``, its weights hwloop's module's."""
    torch.manual_seed(5)
    model = factory.braggnn().eval()
    save_file(model.state_dict(), str(tmp_path / "w.safetensors"))
    _legacy_onnx(model, tmp_path / "legacy.onnx")
    spec = resolve_arch("braggnn")
    ours = {}
    for key, value in model.state_dict().items():
        module, part = key.rsplit(".", 1)
        ours[f"layers.{AUTHORS[module]}.{part}"] = value
    for path, fac in (
        (tmp_path / "w.safetensors", "bragg_model:braggnn"),
        (tmp_path / "legacy.onnx", None),
    ):
        imp = import_model(path, fac, SHAPE if fac else None, name="braggnn")
        names = _renamed(imp.spec, spec)
        _same_weights(imp.weights, ours, names)
        _same_outputs(imp, model)


def _quantised(model_proto: Any, bits: list[int]) -> Any:
    """The exported graph with a QONNX Quant node (power-of-two scale) on each attention
    weight: ``bits`` for query, key, value, proj."""
    graph = model_proto.graph
    convs = [n for n in graph.node if n.op_type == "Conv"][1:5]  # the stem's conv is first
    for i, (node, b) in enumerate(zip(convs, bits, strict=True)):
        names = [f"q{i}_scale", f"q{i}_zp", f"q{i}_bits"]
        for name, value in zip(names, (2.0**-6, 0.0, float(b)), strict=True):
            graph.initializer.append(numpy_helper.from_array(np.array(value, np.float32), name))
        quant = helper.make_node(
            "Quant",
            [node.input[1], *names],
            [f"{node.input[1]}_q"],
            name=f"quant{i}",
            domain="qonnx.custom_op.general",
            signed=1,
            narrow=0,
            rounding_mode="ROUND",
        )
        node.input[1] = quant.output[0]
        graph.node.insert(list(graph.node).index(node), quant)
    return model_proto


def test_qonnx_weight_quantisers_set_the_attention_weight_precision(tmp_path: Path) -> None:
    torch.manual_seed(6)
    model = build_model(SMALL).eval()
    proto = torch.onnx.export(model, (torch.zeros(1, *SHAPE),), dynamo=True).model_proto
    onnx.save(_quantised(proto, [8, 8, 8, 8]), str(tmp_path / "q.onnx"))
    imp = import_model(tmp_path / "q.onnx")
    attn = imp.spec.layers[1]
    assert isinstance(attn, ConvAttention) and attn.precision is not None
    assert attn.precision.weight is not None
    assert (attn.precision.weight.width, attn.precision.weight.integer) == (8, 2)
    for part in ("query", "key", "value", "proj"):
        w = imp.weights[f"layers.attn0.{part}.weight"] * 2**6
        assert np.array_equal(w, np.round(w)) and np.abs(w).max() <= 128
    proto = torch.onnx.export(model, (torch.zeros(1, *SHAPE),), dynamo=True).model_proto
    onnx.save(_quantised(proto, [8, 8, 8, 6]), str(tmp_path / "mixed.onnx"))
    with pytest.raises(HwloopError, match=r"\(ConvAttention\): the query, key, value and proj"):
        import_model(tmp_path / "mixed.onnx")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        ("scaled", r"node \S+ \(Div\): between q@k and the softmax the block has nothing"),
        ("no_residual", r"node \S+ \(LeakyRelu\): the proj conv must be added to the block's"),
        ("softmax_dim1", r"node \S+ \(Softmax\): the softmax must be over the last axis"),
    ],
)
def test_near_misses_are_refused_in_one_line(
    factory: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], make: str, message: str
) -> None:
    torch.manual_seed(7)
    save_file(getattr(factory, make)().state_dict(), str(tmp_path / "w.safetensors"))
    out = tmp_path / "spec.json"
    args = ["arch", "import", str(tmp_path / "w.safetensors"), "-o", str(out)]
    assert main([*args, "--factory", f"bragg_model:{make}", "--input-shape", "1,11,11"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert re.search(message, err[0]), err[0]
    assert "BraggNN's non-local block" in err[0]
    assert not out.exists() and not out.with_suffix(".safetensors").exists()


def test_a_softmax_that_is_not_attention_is_left_to_the_chain_mapper(tmp_path: Path) -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Softmax(dim=-1)).eval()
    with pytest.raises(HwloopError, match=r"op type Softmax has no hwloop layer"):
        torch_to_spec(model, "s", (4,))
