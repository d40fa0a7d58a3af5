"""1-D convolutions (issue 24: N-TORC's and many trigger models' layer) through every stage: the
spec, torch and Brevitas, BOPs, the open flow's pieces (bit exact against numpy), real synthesis,
the piece-level surrogate (hls4ml's C++ emulation: tests/synth_tests/test_design_hls4ml.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from hwloop import HwloopError
from hwloop.archs import ArchSpec, Conv1d, Flatten, Linear, build_model
from hwloop.bops import compute_bops
from hwloop.synth import HardwareConfig, random_design, synthesize
from hwloop.synth._open import ROW_BLOCK, OpenSynthesizer
from hwloop.synth._pieces import Planner
from synth_cache import SqlCache

PART = "xcvu13p-flga2577-2-e"
DA = "distributed_arithmetic"
SEQ = ArchSpec(
    (2, 6), (Conv1d("c", 3, 3, act="relu"), Flatten("f"), Linear("o", 2)), name="tiny-conv1d"
)


def test_spec_shapes_bops_and_torch() -> None:
    spec = ArchSpec((3, 16), (Conv1d("c0", 8, 3, padding=1, norm="batch", act="gelu"),))
    assert spec.shapes() == [((3, 16), (8, 16))]
    assert ArchSpec.loads(spec.dumps()) == spec
    out = build_model(spec).eval()(torch.zeros(2, 3, 16))
    assert tuple(out.shape) == (2, 8, 16)
    (layer,) = compute_bops(spec, bits=4).layers
    n = 3 * 3  # inputs per output: channels x kernel
    assert layer.bops == pytest.approx(16 * 8 * n * (4 * 4 + 4 + 4 + math.log2(n)))
    assert layer.parameters == 8 * n + 8 + 2 * 8  # weights, biases, batch norm scale and shift
    with pytest.raises(HwloopError, match="does not fit a length-2 input"):
        ArchSpec((3, 2), (Conv1d("c", 2, 3),))
    with pytest.raises(HwloopError, match=r"conv1d needs a \(C, L\) input"):
        ArchSpec((1, 4, 4), (Conv1d("c", 2, 3),))


def test_brevitas_quantised_module_takes_conv1d() -> None:
    from hwloop.local._quant import QuantSpecModule

    y = QuantSpecModule(SEQ, bits=4)(torch.rand(5, 2, 6))
    assert tuple(y.shape) == (5, 2)


def test_pieces_are_counted_per_position_and_bit_exact() -> None:
    from da4ml.trace.ops import quantize, relu

    design = random_design(SEQ, HardwareConfig.uniform(PART, 6, strategy=DA), seed=1)
    pieces = Planner(design, ROW_BLOCK).plan()
    # one im2col row of 2 channels x 3 taps, at each of the 4 output positions
    assert [(p.name, p.count, p.n_inputs) for p in pieces] == [("c", 4, 6), ("o", 1, 12)]
    x = np.random.default_rng(0).uniform(-1, 1, (50, 2, 6))
    cols = np.stack([x[:, :, j : j + 3].reshape(50, -1) for j in range(4)], axis=1)
    conv = pieces[0].comb.predict(cols.reshape(-1, 6), n_threads=1).reshape(50, 4, 3)
    got = pieces[1].comb.predict(conv.transpose(0, 2, 1).reshape(50, -1), n_threads=1)

    def fmt(name: str, op: str) -> tuple[int, int]:
        res = design.hw.layer(name, op).result
        assert res is not None
        return res.integer - 1, res.width - res.integer

    inp = design.hw.input_precision
    h = quantize(x, 1, inp.integer - 1, inp.width - inp.integer)
    h = np.stack([h[:, :, j : j + 3].reshape(50, -1) for j in range(4)], axis=1)
    h = h @ design.weights["c.weight"].reshape(3, -1).T + design.weights["c.bias"]
    i, f = fmt("c", "conv1d")
    h = relu(h, i=np.array(i), f=np.array(f)).transpose(0, 2, 1).reshape(50, -1)
    h = h @ design.weights["o.weight"].T + design.weights["o.bias"]
    np.testing.assert_array_equal(got, quantize(h, 1, *fmt("o", "linear")))


@pytest.mark.slow
def test_synthesises_and_the_shipped_model_answers(tmp_path: Path) -> None:
    from fpga_targets import get_target
    from hwloop.prediction import find_model, predict_designs

    design = random_design(SEQ, HardwareConfig.uniform(PART, 6, strategy=DA), seed=1)
    cache = SqlCache(f"sqlite:///{tmp_path}/c.db")
    (r,) = synthesize(design, OpenSynthesizer(), cache, timeout_s=600).entry.results
    assert r.status == "ok", r.error
    table = r.extra["piece_table"]
    assert sum(p["count"] * p["lut"] for p in table) == r.lut and r.lut > 0
    target = get_target("vu13p")
    (p,) = predict_designs([design], target, find_model("open", target, "post_synthesis"))
    low, median, high = p.metrics["lut"]
    assert 0 < low <= median <= high and not p.extrapolated  # conv1d rows are conv pieces
