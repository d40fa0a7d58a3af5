"""The flows' registry (issue 20): each flow names its synthesizer and its default strategy in
one registration; get_synthesizer, default_strategy and the synthesizer itself read it."""

from __future__ import annotations

import pytest

from hwloop import HwloopError
from hwloop.synth import (
    FLOWS,
    Flow,
    _base,
    default_strategy,
    get_flow,
    get_synthesizer,
    register_flow,
)


def test_builtin_flows_carry_their_default_strategy() -> None:
    assert FLOWS == ("open", "vivado")
    for name in FLOWS:
        synth = get_synthesizer(name)
        assert synth.flow == name
        assert synth.default_strategy == get_flow(name).default_strategy == default_strategy(name)
    assert default_strategy("open") == "distributed_arithmetic"
    assert default_strategy("vivado") == "latency"
    assert default_strategy("open", "latency") == "latency"  # asked for wins
    assert get_synthesizer("open", jobs=3).jobs == 3  # type: ignore[attr-defined]
    with pytest.raises(HwloopError, match="unknown flow 'quartus'; choose from open, vivado"):
        get_synthesizer("quartus")


def test_a_new_flow_is_one_registration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_base, "_FLOWS", dict(_base._FLOWS))
    register_flow(Flow("open-resource", "hwloop.synth._open:OpenSynthesizer", "resource"))
    assert default_strategy("open-resource") == "resource"
    assert type(get_synthesizer("open-resource")).__name__ == "OpenSynthesizer"
