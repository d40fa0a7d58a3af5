"""The vivado flow: hls4ml + Vitis HLS + Vivado where installed (``hwloop.synth._vivado``),
hls4ml's default strategy, latency."""

from __future__ import annotations

from hwloop.synth._flows import Flow, register_flow

register_flow(
    Flow(
        "vivado",
        "hwloop.synth._vivado:VivadoSynthesizer",
        "latency",
        "hls4ml + Vitis HLS + Vivado, where installed",
    )
)
