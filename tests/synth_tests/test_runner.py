"""The cached synthesis runner's error paths, with a fake synthesizer (the real flows have their
own contract tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwloop.archs import builtin_archs
from hwloop.synth import Design, HardwareConfig, Synthesizer, random_design, synthesize
from synth_cache import SqlCache, SynthResult


class FakeSynthesizer(Synthesizer):
    """Fails or succeeds on command; counts runs. For error-path tests only."""

    flow = "fake"
    tool = "fake"

    def __init__(self, status: str = "ok") -> None:
        self.status = status
        self.runs = 0

    def tool_version(self) -> str:
        return "0"

    def available(self) -> str | None:
        return None

    def unsupported(self, design: Design) -> str | None:
        return "attention" if design.arch.name == "braggnn" else None

    def run(self, design: Design, workdir: Path, timeout_s: float) -> tuple[SynthResult, ...]:
        self.runs += 1
        (workdir / "log.txt").write_text("fake log\n")
        ok = self.status == "ok"
        return (
            SynthResult(
                "fake",
                "fake",
                "0",
                "post_synthesis",
                status=self.status,  # type: ignore[arg-type]
                lut=10 if ok else None,
                error="" if ok else "boom",
            ),
        )


@pytest.fixture
def cache(tmp_path: Path) -> SqlCache:
    return SqlCache(f"sqlite:///{tmp_path}/c.db")


@pytest.fixture
def design() -> Design:
    return random_design(builtin_archs()["nac-tiny"], HardwareConfig.uniform("xcvu13p", 4))


def test_cached_runs_are_not_repeated(cache: SqlCache, design: Design) -> None:
    synth = FakeSynthesizer()
    first = synthesize(design, synth, cache)
    assert not first.cached and first.entry.status == "ok"
    assert (cache.artifacts(first.entry.key) / "log.txt").read_text() == "fake log\n"
    again = synthesize(design, synth, cache)
    assert again.cached and synth.runs == 1
    assert first.entry.results[0].wall_s is not None


def test_failures_are_kept_and_retried_on_request(cache: SqlCache, design: Design) -> None:
    failing = FakeSynthesizer("failed")
    out = synthesize(design, failing, cache)
    assert out.entry.status == "failed" and out.entry.results[0].error == "boom"
    working = FakeSynthesizer("ok")
    assert synthesize(design, working, cache).cached and working.runs == 0  # not retried
    retried = synthesize(design, working, cache, retry_failed=True)
    assert not retried.cached and retried.entry.status == "ok" and working.runs == 1


def test_unsupported_designs_are_results(cache: SqlCache) -> None:
    d = random_design(builtin_archs()["braggnn"], HardwareConfig.uniform("xcvu13p", 4))
    synth = FakeSynthesizer()
    out = synthesize(d, synth, cache)
    assert out.entry.status == "unsupported" and "attention" in out.entry.results[0].error
    assert synth.runs == 0


class LearnedSynthesizer(FakeSynthesizer):
    """The same flow and tool version, now able to build the layer it refused."""

    def unsupported(self, design: Design) -> str | None:
        return None


def test_a_stale_unsupported_verdict_is_run_again(cache: SqlCache) -> None:
    d = random_design(builtin_archs()["braggnn"], HardwareConfig.uniform("xcvu13p", 4))
    assert synthesize(d, FakeSynthesizer(), cache).entry.status == "unsupported"
    learned = LearnedSynthesizer()
    out = synthesize(d, learned, cache)
    assert not out.cached and out.entry.status == "ok" and learned.runs == 1
    assert synthesize(d, learned, cache).cached and learned.runs == 1


def test_a_timeout_is_retried_under_a_longer_limit(cache: SqlCache, design: Design) -> None:
    """Issue 25: a timeout stored under --timeout 1 was skipped "from cache" by every later run,
    whatever its limit."""
    synth = FakeSynthesizer("timeout")
    first = synthesize(design, synth, cache, timeout_s=1.0)
    assert first.entry.status == "timeout" and first.entry.results[0].extra["timeout_s"] == 1.0
    assert synthesize(design, synth, cache, timeout_s=1.0).cached and synth.runs == 1
    synth.status = "ok"
    longer = synthesize(design, synth, cache, timeout_s=100.0)
    assert not longer.cached and synth.runs == 2 and longer.entry.status == "ok"
