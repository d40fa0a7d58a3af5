"""Local search around one architecture: training-hyperparameter tuning (``hwloop tune``) and
compression by quantisation-aware training and iterative pruning (``hwloop compress``).

Brevitas, qonnx and hls4ml are imported only when a function needs them.
"""

from __future__ import annotations

from hwloop.local._common import (
    config_to_json,
    load_train_config,
    resolve_local_arch,
    train_config_beside,
)
from hwloop.local._compress import load_compressed, run_compress
from hwloop.local._state import CompressConfig, CompressPoint, CompressResult
from hwloop.local._tune import TuneConfig, TuneResult, run_tune

__all__ = [
    "CompressConfig",
    "config_to_json",
    "CompressPoint",
    "CompressResult",
    "TuneConfig",
    "TuneResult",
    "load_compressed",
    "load_train_config",
    "resolve_local_arch",
    "run_compress",
    "run_tune",
    "train_config_beside",
]
