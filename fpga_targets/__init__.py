"""FPGA target devices: parts, families, clocks and resource capacities.

Standard library only. Built-in targets are data (``data/builtin.toml``); users add their own
with :func:`load_targets_file` or by naming a file in ``HWLOOP_TARGETS``.

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

__all__ = [
    "RESOURCE_NAMES",
    "Resources",
    "Target",
    "TargetError",
    "builtin_targets",
    "get_target",
    "list_targets",
    "load_targets_file",
    "parse_targets",
]
