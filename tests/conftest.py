"""Shared fixtures: an isolated dataset cache and a small Bragg dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PEAKS = REPO / "../shared/data/braggnn/peaks-exp4train.hdf5"


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    mp = pytest.MonkeyPatch()
    mp.setenv("HWLOOP_CACHE_DIR", str(tmp_path_factory.mktemp("hwloop-cache")))
    mp.setenv("HWLOOP_BRAGG_PEAKS", str(PEAKS))
    synth = tmp_path_factory.mktemp("synth-cache") / "cache.db"
    mp.setenv("HWLOOP_SYNTH_CACHE", f"sqlite:///{synth}")
    mp.setenv("HWLOOP_SURROGATE_DIR", str(tmp_path_factory.mktemp("surrogates")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def peaks_file() -> Path:
    if not PEAKS.is_file():
        pytest.fail(f"missing {PEAKS}: the shared data must sit beside the repository")
    return PEAKS
