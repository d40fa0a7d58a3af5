"""From models to hardware: designs, synthesizers and the cached synthesis runner."""

from __future__ import annotations

from hwloop.synth._base import FLOWS, Outcome, Synthesizer, get_synthesizer, synthesize
from hwloop.synth._calibrate import reap_dead_runs
from hwloop.synth._design import Design, HardwareConfig, LayerHW, quantise
from hwloop.synth._expected import ExpectedDesign
from hwloop.synth._from_model import (
    design_from_model,
    load_design_weights,
    prune_per_layer,
    random_design,
)
from hwloop.synth._open import trace_pieces

__all__ = [
    "FLOWS",
    "Design",
    "ExpectedDesign",
    "HardwareConfig",
    "LayerHW",
    "Outcome",
    "Synthesizer",
    "design_from_model",
    "get_synthesizer",
    "load_design_weights",
    "prune_per_layer",
    "quantise",
    "random_design",
    "reap_dead_runs",
    "synthesize",
    "trace_pieces",
]
