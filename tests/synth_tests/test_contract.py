"""The ``Synthesizer`` contract, run for every implementation on a real tiny design.

The open flow runs for real (da4ml + yosys). The vivado flow runs hls4ml for real and a FAKE
``vitis_hls`` (``fake_tools/``) that writes real published reports where Vitis HLS and Vivado
would, so its subprocess, options file and report parsing are exercised without AMD tools.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hwloop.archs import ArchSpec, Linear
from hwloop.synth import HardwareConfig, Synthesizer, random_design, synthesize
from hwloop.synth._open import OpenSynthesizer
from hwloop.synth._vivado import VivadoSynthesizer
from synth_cache import SqlCache

PART = "xcvu13p-flga2577-2-e"
TINY = ArchSpec((6,), (Linear("fc0", 4, act="relu"), Linear("out", 2)), name="tiny-mlp")
SYNTHESIZERS = [OpenSynthesizer, VivadoSynthesizer]


@pytest.fixture(params=SYNTHESIZERS, ids=lambda c: c.flow)
def synth(request: pytest.FixtureRequest, fake_vitis: Callable[[str], None]) -> Synthesizer:
    s: Synthesizer = request.param()
    if isinstance(s, VivadoSynthesizer):
        fake_vitis("ok")
    reason = s.available()
    if reason:
        pytest.fail(f"{s.flow} flow not available: {reason}")
    return s


@pytest.mark.slow
def test_contract_real_run_and_cache(synth: Synthesizer, tmp_path: Path) -> None:
    cache = SqlCache(f"sqlite:///{tmp_path}/c.db")
    design = random_design(TINY, HardwareConfig.uniform(PART, 4), seed=0)
    assert synth.unsupported(design) is None
    out = synthesize(design, synth, cache, timeout_s=600)
    results = {r.kind: r for r in out.entry.results}
    r = results["post_synthesis"]
    assert (r.flow, r.status) == (synth.flow, "ok"), r.error
    assert all(x.flow == synth.flow and x.status == "ok" for x in results.values())
    assert r.lut is not None and r.lut > 0 and r.ff is not None and r.ff > 0
    assert r.latency_max is not None and r.latency_max >= 1
    assert r.ii_max is not None and r.ii_max >= 1
    assert r.wall_s is not None and r.wall_s > 0
    assert r.tool_version and synth.tool_version()
    assert r.part and r.clock_target_ns == 5.0
    assert any(cache.artifacts(out.entry.key).rglob("*.log"))  # the run's log is kept
    assert synthesize(design, synth, cache).cached  # the second time comes from the cache


def test_contract_unsupported_is_a_result(synth: Synthesizer, tmp_path: Path) -> None:
    from hwloop.archs import builtin_archs

    cache = SqlCache(f"sqlite:///{tmp_path}/c.db")
    # the open flow cannot time-multiplex (strategy resource), the vivado flow has no attention
    hw = HardwareConfig.uniform(PART, 4, strategy="resource")
    design = random_design(builtin_archs()["braggnn"], hw)
    out = synthesize(design, synth, cache)
    assert out.entry.status == "unsupported"
    error = out.entry.results[0].error or ""
    assert ("resource" if synth.flow == "open" else "conv_attention") in error
