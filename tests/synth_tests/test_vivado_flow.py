"""The vivado flow's subprocess, timeout, failure and parsing paths, with a FAKE vitis_hls that
writes real published reports (see fake_tools/vitis_hls)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hwloop.archs import ArchSpec, Linear
from hwloop.synth import HardwareConfig, random_design, synthesize
from hwloop.synth._vivado import VivadoSynthesizer
from synth_cache import SqlCache

PART = "xcvu13p-flga2577-2-e"
TINY = ArchSpec((6,), (Linear("fc0", 4, act="relu"), Linear("out", 2)), name="tiny-mlp")
Fake = Callable[[str], None]


def _run(tmp_path: Path, timeout_s: float = 600) -> list:  # type: ignore[type-arg]
    cache = SqlCache(f"sqlite:///{tmp_path}/c.db")
    design = random_design(TINY, HardwareConfig.uniform(PART, 6), seed=0)
    out = synthesize(design, VivadoSynthesizer(), cache, timeout_s=timeout_s)
    return sorted(out.entry.results, key=lambda r: r.kind)


def test_reports_of_both_kinds_are_parsed(tmp_path: Path, fake_vitis: Fake) -> None:
    fake_vitis("ok")
    hls, post = _run(tmp_path)
    assert (hls.kind, hls.tool, hls.status) == ("hls_estimate", "vivado_hls", "ok")
    assert (hls.lut, hls.ff, hls.dsp, hls.bram_18k) == (25632, 16975, 76, 45)
    assert (post.kind, post.tool, post.status) == ("post_synthesis", "vivado", "ok")
    assert (post.lut, post.ff, post.dsp, post.bram_18k) == (9964, 10881, 76, 8)
    # logic synthesis does not change the schedule: the HLS latency goes with both kinds
    assert (
        (post.latency_min, post.latency_max)
        == (hls.latency_min, hls.latency_max)
        == (
            14121,
            14182,
        )
    )
    assert VivadoSynthesizer().tool_version() == "2023.2"


@pytest.mark.parametrize(
    ("mode", "status", "words"),
    [("fail", "failed", "exit code 1"), ("empty", "failed", "no report"), ("hang", "timeout", "")],
)
@pytest.mark.slow
def test_tool_failures_are_results(
    tmp_path: Path, fake_vitis: Fake, mode: str, status: str, words: str
) -> None:
    fake_vitis(mode)
    (r,) = _run(tmp_path, timeout_s=5)
    assert r.status == status and words in (r.error or "")


def test_absent_tools_are_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("HWLOOP_VITIS", raising=False)
    reason = VivadoSynthesizer().available()
    assert reason is not None and "vitis_hls" in reason


def test_calibrate_with_the_vivado_flow(tmp_path: Path, fake_vitis: Fake) -> None:
    from hwloop.cli.main import main

    fake_vitis("ok")
    arch = tmp_path / "tiny.json"
    TINY.save(arch)
    url = f"sqlite:///{tmp_path}/c.db"
    args = ["calibrate", "--arch", str(arch), "--flow", "vivado", "--bits", "6,8"]
    assert main([*args, "--sparsity", "0", "--cache", url]) == 0
    entries = list(SqlCache(url).entries())
    assert len(entries) == 2 and all(e.status == "ok" for e in entries)
    kinds = {r.kind for e in entries for r in e.results}
    assert kinds == {"hls_estimate", "post_synthesis"}
