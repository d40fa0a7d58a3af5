"""One prediction path (issue 20): the search's scorer, ``predict_designs`` (CLI, API,
compress) and :class:`hwloop.prediction.Predictor` give the same numbers in the same units."""

from __future__ import annotations

import math

import pytest

from fpga_targets import get_target
from hwloop import HwloopError
from hwloop.archs import ArchSpec, Linear, build_model, builtin_archs
from hwloop.prediction import Predictor, predict_designs
from hwloop.search._hardware import HardwareScorer
from hwloop.synth import get_synthesizer
from surrogates import shipped_model_dir

SPEC = ArchSpec((16,), (Linear("fc0", 24), Linear("fc1", 16), Linear("out", 3)), name="mlp")


@pytest.mark.parametrize(
    ("flow", "strategy"), [("open", "distributed_arithmetic"), ("vivado", "latency")]
)
def test_scorer_and_predict_designs_agree(flow: str, strategy: str) -> None:
    target = get_target("vu13p")
    model_dir = shipped_model_dir(
        flow, "vu13p", "hls_estimate" if flow == "vivado" else "post_synthesis"
    )
    assert model_dir is not None
    scorer = HardwareScorer(target, get_synthesizer(flow), 8, strategy, model_dir)
    design = scorer.design(build_model(SPEC))
    (score,) = scorer.score_designs([design])
    (p,) = predict_designs([design], target, model_dir)
    assert score.predicted == p.metrics
    assert score.latency_ns == pytest.approx(p.latency_ns)
    for m, u in score.utilisation.items():  # both fractions of the target's capacity
        assert p.utilisation[m] == pytest.approx(u) and p.utilisation_pct[m] == pytest.approx(
            100 * u
        )
    assert p.fits == all(u <= 1 for u in p.utilisation.values())
    assert score.model == p.model_description or p.model_description in score.model


def test_a_design_the_model_cannot_read() -> None:
    """hls4ml cannot build BraggNN's attention block, so the vivado model cannot read it.
    Tolerant (the search): NaN and the reason; otherwise one line."""
    target = get_target("u250")
    model_dir = shipped_model_dir("vivado", "u250", "hls_estimate")
    assert model_dir is not None
    scorer = HardwareScorer(target, get_synthesizer("vivado"), 8, "latency", model_dir)
    design = scorer.design(build_model(builtin_archs()["braggnn"]))
    predictor = Predictor(model_dir, target)
    (p,) = predictor.predict([design], tolerant=True)
    assert p.error and "conv_attention" in p.error
    assert all(math.isnan(v[1]) for v in p.metrics.values())
    (score,) = scorer.score_designs([design])
    assert score.constraints["expressible"] == 1.0  # the search scores it infeasible
    with pytest.raises(HwloopError, match="conv_attention"):
        predictor.predict([design])
