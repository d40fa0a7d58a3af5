"""Random weights in expectation (``ExpectedDesign``) against real draws of ``random_design``:
the same document, non-zeros equal to the mean over seeds, the same weight formats."""

from __future__ import annotations

import numpy as np
import pytest

from hwloop.archs import ArchSpec, Conv2d, ConvAttention, Flatten, Linear, resolve_arch
from hwloop.synth import Design, ExpectedDesign, HardwareConfig, random_design

PART = "xcvu13p-flga2577-2-e"
ARCHS = [
    ArchSpec((32,), (Linear("fc0", 64, act="relu"), Linear("out", 2)), name="mlp"),
    ArchSpec(
        (1, 11, 11),
        (
            Conv2d("stem", 16, 3, act="relu", norm="batch"),
            ConvAttention("attn", 8, act="relu"),
            Flatten("flat"),
            Linear("out", 2),
        ),
        name="cnn",
    ),
]


@pytest.mark.parametrize("bits,sparsity", [(4, 0.0), (6, 0.5), (8, 0.75)])
@pytest.mark.parametrize("spec", ARCHS, ids=lambda s: s.name)
def test_expectation_matches_the_mean_of_draws(spec: ArchSpec, bits: int, sparsity: float) -> None:
    hw = HardwareConfig.uniform(PART, bits, 5.0, strategy="distributed_arithmetic")
    exp = ExpectedDesign(spec, hw, sparsity).canonical()
    draws = [random_design(spec, hw, seed=s, sparsity=sparsity).canonical() for s in range(12)]
    assert set(exp) == set(draws[0]) and exp["weights_sha256"] is None
    assert (
        exp["arch"] == draws[0]["arch"]
        and exp["hls4ml_config"].keys() == draws[0]["hls4ml_config"].keys()
    )
    for key, value in exp["nonzero"].items():
        mean = float(np.mean([d["nonzero"][key] for d in draws]))
        assert value == pytest.approx(mean, rel=0.05, abs=3), key
    # the weight formats a draw fits: the expectation's are those of most draws
    for name, layer in exp["hw"]["by_name"].items():
        agree = sum(d["hw"]["by_name"].get(name) == layer for d in draws)
        assert agree >= len(draws) // 2, name


def test_draw_is_the_seeded_design_and_branches_are_drawn() -> None:
    hw = HardwareConfig.uniform(PART, 6, 5.0)
    exp = ExpectedDesign.of(ARCHS[0], hw, seed=3, sparsity=0.5)
    assert isinstance(exp, ExpectedDesign)
    assert exp.draw().canonical() == random_design(ARCHS[0], hw, seed=3, sparsity=0.5).canonical()
    # PtychoNN's decoder branches are not modelled in expectation: they are drawn
    assert isinstance(ExpectedDesign.of(resolve_arch("ptychonn"), hw), Design)
