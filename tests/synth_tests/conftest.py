"""Synthesis test helpers: a FAKE vitis_hls on PATH (fake_tools/) for the vivado flow."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

FAKE_TOOLS = Path(__file__).parent / "fake_tools"
FIXTURE_PROJECT = (
    Path(__file__).resolve().parents[2]
    / "../shared/fixtures/hls-reports/pominiq__DNNonSilicon/model_1/hls4ml_prj"
).resolve()


@pytest.fixture
def fake_vitis(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """``fake_vitis(mode)`` puts the fake tools first on PATH (modes: see fake_tools/vitis_hls)."""

    def use(mode: str = "ok") -> None:
        monkeypatch.setenv("PATH", f"{FAKE_TOOLS}:/usr/bin:/bin")
        monkeypatch.setenv("FAKE_VITIS_FIXTURES", str(FIXTURE_PROJECT))
        monkeypatch.setenv("FAKE_VITIS_MODE", mode)
        monkeypatch.delenv("HWLOOP_VITIS", raising=False)

    return use
