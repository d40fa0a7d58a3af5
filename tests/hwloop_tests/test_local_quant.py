"""Quantised models (Brevitas), pruning, their designs, QONNX + hls4ml bit-exactness, and what
the open flow spends on pruned weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hwloop import HwloopError
from hwloop.archs import ArchSpec, Conv2d, Flatten, Linear, build_model, builtin_archs
from hwloop.local._design import design_from_quantised
from hwloop.local._export import compare_with_hls4ml, hls4ml_unsupported, quantised_inputs
from hwloop.local._prune import apply_masks, full_masks, kept_fraction, prune_global
from hwloop.local._quant import QuantSpecModule, quantised_from_float
from hwloop.local._state import load_quant_state, quant_state
from hwloop.synth import Design, HardwareConfig, quantise
from hwloop.synth._open import OpenSynthesizer
from hwloop.training import reset_parameters

PART = "xcvu13p-flga2577-2-e"
# everything hls4ml's QONNX path takes: conv + batch norm (folded), ReLU, LeakyReLU, no act
SPEC = ArchSpec(
    (1, 11, 11),
    (
        Conv2d("stem", 4, 3, norm="batch", act="relu"),
        Conv2d("c1", 4, 3, act="leaky_relu"),
        Conv2d("c2", 2, 1),
        Flatten("flat"),
        Linear("fc0", 16, norm="batch", act="relu"),
        Linear("out", 2),
    ),
    name="hls-friendly",
)


def _float_model(seed: int = 0) -> tuple[torch.nn.Module, torch.Tensor]:
    model = build_model(SPEC)
    reset_parameters(model, seed)
    x = torch.rand(400, 1, 11, 11, generator=torch.Generator().manual_seed(seed))
    model.train()
    with torch.no_grad():  # batch-norm statistics that are not the identity
        model(x)
    return model.eval(), x


@pytest.mark.slow
@pytest.mark.parametrize("bits", [4, 8])
def test_pruned_quantised_model_is_bit_exact_in_hls4ml(bits: int, tmp_path: Path) -> None:
    model, x = _float_model()
    q = quantised_from_float(model, bits, x[:128])
    layers = q.main_layers()
    masks = prune_global(layers, full_masks(layers), 0.5)
    apply_masks(layers, masks)
    check = compare_with_hls4ml(q, x[:300], tmp_path)
    assert check.samples == 300
    assert check.exact, check
    assert check.max_abs_diff == 0.0
    assert (tmp_path / "model.qonnx.onnx").is_file()


def test_design_of_a_quantised_model_carries_its_exact_formats() -> None:
    model, x = _float_model(1)
    q = quantised_from_float(model, 6, x[:128])
    layers = q.main_layers()
    masks = prune_global(layers, full_masks(layers), 0.4)
    apply_masks(layers, masks)
    d = design_from_quantised(q, x, PART, 5.0)
    assert d.hw.input_precision.width == 6 and not d.hw.input_precision.signed  # x >= 0
    for name, main in layers.items():
        fmt = d.hw.layer(name, "linear").weight
        assert fmt is not None and fmt.width == 6
        w = d.weights[f"{name}.weight"]
        np.testing.assert_array_equal(w, quantise(w, fmt))  # on the grid, no saturation
        with torch.no_grad():
            np.testing.assert_array_equal(w, main.quant_weight().value.double().numpy())
        assert not np.any(w[~masks[name].numpy()])  # pruned weights are zeros in hardware
    assert d.hw.layer("stem", "conv2d").result.signed is False  # ReLU: unsigned 6 bits
    assert d.hw.layer("c1", "conv2d").result.signed is True  # LeakyReLU: signed
    assert d.sparsity >= 0.399  # 40 % of the weights, rounded to whole weights
    # the last layer keeps the exact accumulator: fractional bits of input + weight
    out = d.hw.layer("out", "linear")
    fc0 = d.hw.layer("fc0", "linear")
    assert out.result == out.accum and out.weight is not None and fc0.result is not None
    assert out.accum.fractional == out.weight.fractional + fc0.result.fractional


def test_global_pruning_ranks_across_layers() -> None:
    a, b = torch.nn.Linear(10, 10), torch.nn.Linear(10, 10)
    with torch.no_grad():
        a.weight.copy_(torch.linspace(0.01, 0.1, 100).reshape(10, 10))  # all small
        b.weight.copy_(torch.linspace(1.0, 2.0, 100).reshape(10, 10))  # all large
    layers = {"a": a, "b": b}
    masks = prune_global(layers, full_masks(layers), 0.25)
    assert int(masks["a"].sum()) == 50 and bool(masks["b"].all())  # the 50 smallest, all in a
    masks = prune_global(layers, masks, 0.2)  # 20 % of the 150 remaining
    assert abs(kept_fraction(masks) - 120 / 200) < 1e-9
    apply_masks(layers, masks)
    assert int((a.weight == 0).sum()) == 80


def test_quantised_state_round_trips_through_safetensors(tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    model, x = _float_model(2)
    q = quantised_from_float(model, 4, x[:128])
    masks = full_masks(q.main_layers())
    save_file({k: v.contiguous() for k, v in quant_state(q, masks).items()}, tmp_path / "s")
    fresh, got_masks = load_quant_state(QuantSpecModule(SPEC, 4), load_file(tmp_path / "s"))
    fresh.eval()
    q.eval()
    with torch.no_grad():
        torch.testing.assert_close(fresh(x), q(x), rtol=0, atol=0)
    assert set(got_masks) == set(masks)
    xq = quantised_inputs(q, x)
    assert torch.all(xq * 2**4 == torch.round(xq * 2**4))  # inputs on a po2 grid


def test_what_cannot_be_quantised_or_converted_is_named() -> None:
    with pytest.raises(HwloopError, match="conv_attention"):
        QuantSpecModule(builtin_archs()["braggnn"], 8)
    q = QuantSpecModule(builtin_archs()["nac-small"], 8)
    assert "GELU" in (hls4ml_unsupported(q) or "")
    with pytest.raises(HwloopError, match="bit width"):
        QuantSpecModule(SPEC, 1)


@pytest.mark.slow
def test_open_flow_spends_nothing_on_pruned_weights(tmp_path: Path) -> None:
    """A layer whose pruned weights leave two inputs unused costs exactly what the same layer
    without those inputs costs; the dense layer costs more."""
    hw = HardwareConfig.uniform(PART, 6, strategy="distributed_arithmetic")
    assert hw.model.weight is not None and hw.model.accum is not None
    rng = np.random.default_rng(0)
    w = quantise(rng.normal(0, 0.5, (8, 12)), hw.model.weight)
    b = quantise(rng.normal(0, 0.2, 8), hw.model.accum)
    pruned = w * (rng.random(w.shape) < 0.5)
    pruned[:, [3, 7]] = 0.0
    keep = [i for i in range(12) if i not in (3, 7)]

    def design(n_in: int, weights: np.ndarray) -> Design:
        spec = ArchSpec((n_in,), (Linear("fc", 8, act="relu"),), name=f"fc{n_in}")
        return Design(spec, {"fc.weight": weights, "fc.bias": b}, hw)

    synth = OpenSynthesizer()
    results = []
    for i, d in enumerate((design(12, pruned), design(10, pruned[:, keep]), design(12, w))):
        (r,) = synth.run(d, tmp_path / str(i), 600)
        assert r.status == "ok", r.error
        results.append(r)
    assert (results[0].lut, results[0].ff) == (results[1].lut, results[1].ff)
    assert results[2].lut is not None and results[0].lut is not None
    assert results[2].lut > 1.5 * results[0].lut


def test_pruning_never_wipes_out_a_layer_whose_norm_was_folded() -> None:
    """A folded batch norm can shrink a whole layer's weights below every other layer's (nac-
    tiny's output layer: max |w| 0.009 after folding). Ranked by the pre-fold weights, and with
    each layer's largest weights protected, no layer is cut off."""
    big, tiny = torch.nn.Linear(10, 10), torch.nn.Linear(10, 2)
    with torch.no_grad():
        big.weight.uniform_(0.5, 1.0)
        tiny.weight.uniform_(0.001, 0.01)  # as folded: pre-fold weights x 0.01
    layers = {"big": big, "tiny": tiny}
    masks = full_masks(layers)
    for _ in range(3):
        masks = prune_global(layers, masks, 0.5)
    assert int(masks["tiny"].sum()) >= 2  # protected: out_features weights stay
    scales = {"big": torch.ones(10), "tiny": torch.full((2,), 0.01)}
    masks = prune_global(layers, full_masks(layers), 0.5, scales)
    kept_tiny = int(masks["tiny"].sum())
    assert 0 < kept_tiny < 20  # ranked with the others by pre-fold magnitude


def test_sixteen_bit_biases_of_folded_norms_do_not_saturate() -> None:
    model, x = _float_model(3)
    with torch.no_grad():
        model.layers["fc0"][1].bias.fill_(25.0)  # a folded bias far above 1
    q = quantised_from_float(model, 16, x[:128])
    d = design_from_quantised(q, x, PART, 5.0)
    assert float(d.weights["fc0.bias"].max()) > 20.0
    assert torch.allclose(
        q.fold_scales()["fc0"],
        model.layers["fc0"][1].weight / torch.sqrt(model.layers["fc0"][1].running_var + 1e-5),
    )
