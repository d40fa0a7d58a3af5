"""From models to hardware: designs, synthesizers and the cached synthesis runner.

What needs torch, optuna or da4ml (designs from torch models, calibration, the open flow's
trace) loads on first use, so a prediction from specs (``ExpectedDesign``) never imports them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hwloop.synth._base import (
    Outcome,
    Synthesizer,
    check_flow,
    default_strategy,
    get_synthesizer,
    synthesize,
)
from hwloop.synth._design import STRATEGIES, Design, HardwareConfig, LayerHW, quantise
from hwloop.synth._expected import ExpectedDesign
from hwloop.synth._flows import FLOWS, Flow, get_flow, register_flow, registered_flows

if TYPE_CHECKING:
    from hwloop.synth._calibrate import (
        SPARSITIES,
        CalibrationItem,
        CalibrationSummary,
        reap_dead_runs,
        run_calibration,
        sample_space,
    )
    from hwloop.synth._from_model import (
        design_from_model,
        fit_integer_bits,
        load_design_weights,
        prune_per_layer,
        random_design,
    )
    from hwloop.synth._hls4ml import to_hls4ml
    from hwloop.synth._open import trace_pieces
    from hwloop.synth._pieces import LEAKY_SLOPE

_LAZY = {
    "SPARSITIES": "hwloop.synth._calibrate",
    "CalibrationItem": "hwloop.synth._calibrate",
    "CalibrationSummary": "hwloop.synth._calibrate",
    "run_calibration": "hwloop.synth._calibrate",
    "sample_space": "hwloop.synth._calibrate",
    "fit_integer_bits": "hwloop.synth._from_model",
    "LEAKY_SLOPE": "hwloop.synth._pieces",
    "reap_dead_runs": "hwloop.synth._calibrate",
    "design_from_model": "hwloop.synth._from_model",
    "load_design_weights": "hwloop.synth._from_model",
    "prune_per_layer": "hwloop.synth._from_model",
    "random_design": "hwloop.synth._from_model",
    "trace_pieces": "hwloop.synth._open",
    "to_hls4ml": "hwloop.synth._hls4ml",
}

__all__ = [
    "FLOWS",
    "check_flow",
    "Flow",
    "get_flow",
    "register_flow",
    "registered_flows",
    "LEAKY_SLOPE",
    "SPARSITIES",
    "STRATEGIES",
    "CalibrationItem",
    "CalibrationSummary",
    "fit_integer_bits",
    "run_calibration",
    "sample_space",
    "Design",
    "ExpectedDesign",
    "HardwareConfig",
    "LayerHW",
    "Outcome",
    "Synthesizer",
    "default_strategy",
    "design_from_model",
    "get_synthesizer",
    "load_design_weights",
    "prune_per_layer",
    "quantise",
    "random_design",
    "reap_dead_runs",
    "synthesize",
    "to_hls4ml",
    "trace_pieces",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hwloop.synth' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
