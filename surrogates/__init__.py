"""Surrogate models of synthesis results (XGBoost). Never imports torch.

It may import ``fpga_targets`` and nothing from ``hwloop``. So far: the feature schema
(:func:`design_features`) and the estimator (:class:`ResourceSurrogate`); ``hwloop surrogate``
and ``hwloop predict`` follow (docs/surrogates.md).
"""

from __future__ import annotations

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
from surrogates._model import METRICS, ResourceSurrogate, SurrogateError, scores

__all__ = [
    "FEATURES",
    "METRICS",
    "ResourceSurrogate",
    "SurrogateError",
    "scores",
    "SCHEMA_VERSION",
    "DesignInfo",
    "FeatureError",
    "LayerInfo",
    "design_features",
    "design_info",
    "feature_matrix",
]
