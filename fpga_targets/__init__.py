"""FPGA target devices: parts, families, clocks and resource capacities.

Standard library only. Built-in targets are data (``data/builtin.toml``); users add their own
with :func:`load_targets_file` or by naming a file in ``HWLOOP_TARGETS``.

Also hls4ml's reuse-factor rule on a layer (:func:`closest_reuse_factor`), which both the
importers and the surrogates need.

>>> from fpga_targets import get_target
>>> get_target("vu13p").resources.lut
1728000
"""

from __future__ import annotations

from fpga_targets._model import RESOURCE_NAMES, Resources, Target, TargetError
from fpga_targets._registry import (
    builtin_targets,
    get_target,
    list_targets,
    load_targets_file,
    parse_targets,
)
from fpga_targets._reuse import closest_reuse_factor, valid_reuse_factors

__all__ = [
    "RESOURCE_NAMES",
    "Resources",
    "Target",
    "TargetError",
    "builtin_targets",
    "closest_reuse_factor",
    "valid_reuse_factors",
    "get_target",
    "list_targets",
    "load_targets_file",
    "parse_targets",
]
