"""Designs from models, and hls4ml's C++ emulation against the quantised torch model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hwloop import HwloopError
from hwloop.archs import (
    ArchSpec,
    Conv1d,
    Conv2d,
    FixedPoint,
    Flatten,
    Linear,
    build_model,
    builtin_archs,
)
from hwloop.synth import (
    HardwareConfig,
    LayerHW,
    design_from_model,
    load_design_weights,
    quantise,
    random_design,
)
from hwloop.synth._hls4ml import convert, hls4ml_unsupported
from hwloop.training import reset_parameters

PART = "xcvu13p-flga2577-2-e"


def test_quantise_grid_and_saturation() -> None:
    fmt = FixedPoint(4, 2)  # step 0.25, range [-2, 1.75]
    got = quantise(np.array([0.1, 0.13, -3.0, 5.0, -0.125]), fmt)
    np.testing.assert_array_equal(got, [0.0, 0.25, -2.0, 1.75, -0.0])


def test_cascading_hardware_config() -> None:
    hw = HardwareConfig(
        PART,
        by_type=(("linear", LayerHW(weight=FixedPoint(6, 2))),),
        by_name=(("out", LayerHW(weight=FixedPoint(4, 1), reuse_factor=4)),),
    )
    assert hw.layer("stem", "conv2d").weight == FixedPoint(8, 3)
    assert hw.layer("fc0", "linear").weight == FixedPoint(6, 2)
    out = hw.layer("out", "linear")
    assert out.weight == FixedPoint(4, 1) and out.reuse_factor == 4
    assert out.result == hw.model.result  # inherited
    with pytest.raises(HwloopError, match="clock period"):
        HardwareConfig(PART, clock_period_ns=0)


def test_design_canonical_and_sparsity() -> None:
    hw = HardwareConfig.uniform(PART, 6)
    spec = builtin_archs()["nac-tiny"]
    a = random_design(spec, hw, seed=1, sparsity=0.5)
    b = random_design(spec, hw, seed=1, sparsity=0.5)
    c = random_design(spec, hw, seed=2, sparsity=0.5)
    assert a.canonical() == b.canonical()
    assert a.weights_digest() != c.weights_digest()
    assert a.sparsity == pytest.approx(0.5, abs=0.01)
    fmt = a.hw.layer("fc0", "linear").weight  # width 6, integer bits fitted to the weights
    assert fmt is not None and fmt.width == 6
    w = a.weights["fc0.weight"]
    step = 2.0**-fmt.fractional
    np.testing.assert_allclose(w / step, np.round(w / step))  # on the fixed-point grid
    assert np.abs(w).max() >= 2.0 ** (fmt.integer - 2)  # the format is not wasted on headroom
    cfg = a.hls4ml_config()
    assert cfg["LayerName"]["fc0"]["Precision"]["weight"] == fmt.hls()


def test_batchnorm_is_folded() -> None:
    spec = ArchSpec((4,), (Linear("a", 3, norm="batch"), Linear("o", 2)))
    model = build_model(spec).eval()
    reset_parameters(model, 0)
    bn = model.layers["a"][1]
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-1, 1)
    hw = HardwareConfig(
        PART, model=LayerHW(FixedPoint(32, 8), FixedPoint(32, 8), FixedPoint(40, 12))
    )
    d = design_from_model(model, hw)
    x = torch.randn(5, 4)
    folded = x.double() @ torch.from_numpy(d.weights["a.weight"]).T + torch.from_numpy(
        d.weights["a.bias"]
    )
    np.testing.assert_allclose(
        folded.numpy(), model.layers["a"](x).detach().double().numpy(), atol=1e-5
    )


def test_unsupported_layers_named() -> None:
    hw = HardwareConfig.uniform(PART, 8)
    d = random_design(builtin_archs()["braggnn"], hw)
    assert "conv_attention" in (hls4ml_unsupported(d) or "")
    with pytest.raises(HwloopError, match="cannot convert"):
        convert(d, build_model(d.arch), "/nonexistent")
    assert "GELU" in (hls4ml_unsupported(random_design(builtin_archs()["nac-tiny"], hw)) or "")


@pytest.mark.slow
@pytest.mark.parametrize(
    "spec",
    [
        ArchSpec(
            (1, 6, 6),
            (
                Conv2d("c", 3, 3, act="relu"),
                Flatten("f"),
                Linear("h", 8, act="relu"),
                Linear("o", 2),
            ),
        ),
        ArchSpec(  # 1-D, two channels: hls4ml's Conv1D after its transpose to channels last
            (2, 8),
            (
                Conv1d("c", 3, 3, act="relu"),
                Flatten("f"),
                Linear("h", 8, act="relu"),
                Linear("o", 2),
            ),
        ),
    ],
    ids=["conv2d", "conv1d"],
)
def test_hls4ml_emulation_matches_quantised_torch(spec: ArchSpec, tmp_path: Path) -> None:
    """hls4ml's C++ emulation (g++) agrees with the torch model on the same fixed-point weights
    and inputs, within the result quantisation of the layers."""
    pytest.importorskip("hls4ml")
    result = FixedPoint(18, 8)
    hw = HardwareConfig(
        PART,
        model=LayerHW(FixedPoint(8, 2), result, FixedPoint(24, 10), 1),
        input_precision=FixedPoint(10, 2),
    )
    model = build_model(spec).eval()
    reset_parameters(model, 3)
    design = design_from_model(model, hw)
    load_design_weights(model, design)
    hls_model = convert(design, model, tmp_path / "prj")
    hls_model.compile()
    rng = np.random.default_rng(0)
    x = quantise(rng.uniform(0, 1, (64, *spec.input_shape)), hw.input_precision)
    x = x.astype(np.float32)
    ours = model(torch.from_numpy(x)).detach().numpy()
    theirs = np.asarray(hls_model.predict(np.ascontiguousarray(x))).reshape(ours.shape)
    lsb = 2.0**-result.fractional
    # each of the 3 layers truncates its result once: at most ~1 LSB each, amplified by weights
    assert np.abs(theirs - ours).max() < 40 * lsb
    assert np.abs(ours).max() > 100 * lsb  # the comparison is not between near-zero outputs
