"""The flows' registry (issue 20): each flow is a module of hwloop/synth/flows/ naming its
synthesizer and its default strategy; get_synthesizer, default_strategy and the synthesizer
itself read it."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwloop import HwloopError
from hwloop.synth import (
    FLOWS,
    Flow,
    _flows,
    default_strategy,
    flows,
    get_flow,
    get_synthesizer,
    register_flow,
    registered_flows,
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


def test_a_new_flow_is_one_module(monkeypatch: pytest.MonkeyPatch) -> None:
    # what a module of hwloop/synth/flows/ does when it is imported (each built-in flow is one)
    modules = sorted(p.stem for p in Path(flows.__file__).parent.glob("[!_]*.py"))
    assert modules == sorted(registered_flows()) == ["open", "vivado"]
    monkeypatch.setattr(_flows, "_FLOWS", dict(_flows._FLOWS))
    register_flow(Flow("open-resource", "hwloop.synth._open:OpenSynthesizer", "resource"))
    assert default_strategy("open-resource") == "resource"
    assert type(get_synthesizer("open-resource")).__name__ == "OpenSynthesizer"
