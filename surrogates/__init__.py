"""Surrogate models of synthesis results (XGBoost). Never imports torch.

It may import ``fpga_targets`` and nothing from ``hwloop``: the feature schema
(:func:`design_features`), the estimator (:class:`ResourceSurrogate`) and the default models
shipped with the package (:func:`shipped_model_dir`). ``hwloop surrogate`` and ``hwloop predict``
build on them (docs/surrogates.md).
"""

from __future__ import annotations

from surrogates._assign import (
    Assignment,
    AssignmentError,
    ReuseOption,
    assign_reuse_factors,
    capacity_weights,
)
from surrogates._features import (
    FEATURES,
    SCHEMA_VERSION,
    DesignInfo,
    FeatureError,
    LayerInfo,
    design_features,
    design_info,
    feature_matrix,
)
from surrogates._layered import (
    LayeredSurrogate,
    LayerKindError,
    Surrogate,
    check_reuse_factors,
    load_surrogate,
)
from surrogates._layers import LAYER_FEATURES, HlsDesign, HlsLayer, hls_layers
from surrogates._model import METRICS, ResourceSurrogate, SurrogateError, round_counts, scores
from surrogates._pieces import KINDS as PIECE_KINDS
from surrogates._pieces import PIECE_FEATURES, PieceSpec, piece_rows, plan_pieces
from surrogates._piecewise import PieceSurrogate
from surrogates._reuse import (
    ReuseFactorError,
    check_reuse_factor,
    closest_reuse_factor,
    valid_reuse_factors,
)
from surrogates._shipped import SHIPPED_DIR, is_shipped, shipped_model_dir

__all__ = [
    "PIECE_FEATURES",
    "PIECE_KINDS",
    "PieceSpec",
    "PieceSurrogate",
    "Surrogate",
    "piece_rows",
    "plan_pieces",
    "LAYER_FEATURES",
    "HlsDesign",
    "HlsLayer",
    "LayerKindError",
    "LayeredSurrogate",
    "ReuseFactorError",
    "check_reuse_factor",
    "check_reuse_factors",
    "closest_reuse_factor",
    "hls_layers",
    "load_surrogate",
    "valid_reuse_factors",
    "Assignment",
    "AssignmentError",
    "ReuseOption",
    "assign_reuse_factors",
    "capacity_weights",
    "FEATURES",
    "METRICS",
    "ResourceSurrogate",
    "SurrogateError",
    "round_counts",
    "scores",
    "SCHEMA_VERSION",
    "SHIPPED_DIR",
    "is_shipped",
    "shipped_model_dir",
    "DesignInfo",
    "FeatureError",
    "LayerInfo",
    "design_features",
    "design_info",
    "feature_matrix",
]
