"""da4ml's fixed-point formats as the planners pass them around (a module of its own, so that the
piece planner and the attention planner both use it without importing each other)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hwloop.archs import FixedPoint

Kif = tuple[Any, Any, Any]  # (keep sign, integer bits w/o sign, fractional bits): ints or arrays
Post = Callable[[Any], Any]


def kif_of(fmt: FixedPoint) -> tuple[int, int, int]:
    """da4ml's (keep sign, integer bits without sign, fractional bits) of an ap_fixed format."""
    k = 1 if fmt.signed else 0
    return k, fmt.integer - k, fmt.width - fmt.integer
