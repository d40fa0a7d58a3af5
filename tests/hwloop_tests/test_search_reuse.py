"""The vivado flow's hardware objectives with hls4ml reuse factors: requested factors rounded as
hls4ml rounds them, or chosen per design by N-TORC's ILP under the latency bound; the score
records them (the front reports them)."""

from __future__ import annotations

import pytest

from fpga_targets import get_target
from hwloop import HwloopError
from hwloop.archs import ArchSpec, Linear, build_model
from hwloop.search._config import SearchConfig
from hwloop.search._hardware import HardwareScorer
from hwloop.synth import get_synthesizer
from surrogates import shipped_model_dir

SPEC = ArchSpec((16,), (Linear("fc0", 24), Linear("fc1", 16), Linear("out", 3)), name="mlp")


def _scorer(reuse: str, max_latency_ns: float | None = None) -> HardwareScorer:
    target = get_target("u250")
    model_dir = shipped_model_dir("vivado", "u250", "hls_estimate")
    assert model_dir is not None
    return HardwareScorer(
        target,
        get_synthesizer("vivado"),
        8,
        "resource",
        model_dir,
        max_latency_ns=max_latency_ns,
        reuse=reuse,
    )


def test_requested_factors_are_rounded_like_hls4ml() -> None:
    scorer = _scorer("4,out=5")
    (score,) = scorer.score_designs([scorer.design(build_model(SPEC))])
    # out (16 x 3) realises 1, 2, 4, 8, 16, 48: a requested 5 becomes 4, as in hls4ml
    assert dict(score.reuse_factors) == {"fc0": 4, "fc1": 4, "out": 4}
    assert score.to_json()["reuse_factors"]["fc1"] == 4
    assert score.predicted["lut"][1] > 0 and score.unsupported is None


def test_auto_reuse_meets_the_latency_bound_at_least_cost() -> None:
    model = build_model(SPEC)
    fast = _scorer("1").score_designs([_scorer("1").design(model)])[0]
    loose = fast.latency_ns * 8
    scorer = _scorer("auto", max_latency_ns=loose)
    (score,) = scorer.score_designs([scorer.design(model)])
    rf = dict(score.reuse_factors)
    assert max(rf.values()) > 1  # a looser bound buys resource sharing
    assert score.predicted["dsp"][1] < fast.predicted["dsp"][1]


def test_reuse_factors_need_the_vivado_flow_and_auto_a_bound() -> None:
    with pytest.raises(HwloopError, match="use --flow vivado"):
        SearchConfig(flow="open", reuse_factor="4")
    with pytest.raises(HwloopError, match="give --max-latency-ns"):
        SearchConfig(flow="vivado", reuse_factor="auto")
