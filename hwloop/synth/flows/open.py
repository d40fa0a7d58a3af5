"""The open flow: da4ml + yosys, anywhere (``hwloop.synth._open``). Its netlists are
multiplierless (distributed arithmetic) unless a design asks for the latency strategy."""

from __future__ import annotations

from hwloop.synth._flows import Flow, register_flow

register_flow(
    Flow(
        "open",
        "hwloop.synth._open:OpenSynthesizer",
        "distributed_arithmetic",
        "da4ml + yosys, anywhere",
    )
)
