"""Architecture specs: JSON documents that name every layer and build into torch modules."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hwloop.archs._builtin import builtin_archs, resolve_arch
from hwloop.archs._hls4ml_import import graph_to_spec, is_model_graph
from hwloop.archs._import import (
    hls4ml_settings,
    import_model,
    load_trained,
    save_imported,
    torch_to_spec,
    trained_weights,
)
from hwloop.archs._onnx import Imported, onnx_to_spec
from hwloop.archs._precision import FixedPoint, LayerPrecision, integer_bits_for
from hwloop.archs._spec import (
    ACTIVATIONS,
    AGGREGATORS,
    FORMAT,
    NORMS,
    UPSAMPLING,
    Aggregate,
    ArchSpec,
    Branches,
    Conv1d,
    Conv2d,
    ConvAttention,
    Flatten,
    Layer,
    Linear,
    Pool2d,
    Upsample2d,
    branch_shapes,
    iter_layers,
)

if TYPE_CHECKING:
    from hwloop.archs._torch import (
        ConvAttentionBlock,
        SpecModule,
        activation_module,
        count_parameters,
    )

# torch-backed names load on first use: specs, BOPs and the CLI's start work without torch
_LAZY = {
    name: "hwloop.archs._torch"
    for name in ("ConvAttentionBlock", "SpecModule", "activation_module", "count_parameters")
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hwloop.archs' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "ACTIVATIONS",
    "AGGREGATORS",
    "FORMAT",
    "Aggregate",
    "NORMS",
    "UPSAMPLING",
    "ArchSpec",
    "Branches",
    "Conv1d",
    "Conv2d",
    "ConvAttention",
    "FixedPoint",
    "integer_bits_for",
    "Flatten",
    "Layer",
    "LayerPrecision",
    "Linear",
    "Pool2d",
    "Upsample2d",
    "Imported",
    "builtin_archs",
    "graph_to_spec",
    "hls4ml_settings",
    "import_model",
    "is_model_graph",
    "load_trained",
    "onnx_to_spec",
    "save_imported",
    "torch_to_spec",
    "trained_weights",
    "iter_layers",
    "branch_shapes",
    "resolve_arch",
    "build_model",
    "ConvAttentionBlock",
    "SpecModule",
    "activation_module",
    "count_parameters",
]


def build_model(spec: ArchSpec) -> SpecModule:
    """Build the torch module (imports torch lazily so specs work without it)."""
    from hwloop.archs._torch import build_model as _build

    return _build(spec)
