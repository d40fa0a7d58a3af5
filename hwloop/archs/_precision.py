"""Typed fixed-point precision (da4ml / hls4ml ``ap_fixed<W,I>`` semantics) instead of strings."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from hwloop import HwloopError


def integer_bits_for(max_abs: float) -> int:
    """Signed integer bits (incl. sign) of an ``ap_fixed`` whose range ``[-2^(I-1), 2^(I-1))``
    just holds ``±max_abs``: ``floor(log2 max_abs) + 2`` (below 0.5 it is 0 or fewer: the format
    spends its bits on the fraction); 1 for 0."""
    if max_abs == 0:
        return 1
    return math.floor(math.log2(max_abs)) + 2


_AP = re.compile(r"^\s*ap_(u?)fixed\s*<\s*(\d+)\s*,\s*(-?\d+)\s*(?:,[^>]*)?>\s*$")


@dataclass(frozen=True)
class FixedPoint:
    """A fixed-point number format: ``width`` bits in total, ``integer`` of them (incl. sign)."""

    width: int
    integer: int
    signed: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.width <= 64:
            raise HwloopError(f"fixed-point width must be in 1..64, got {self.width}")

    @property
    def fractional(self) -> int:
        return self.width - self.integer

    def hls(self) -> str:
        """The hls4ml / Vitis spelling, only for the boundary with those tools."""
        return f"ap_{'' if self.signed else 'u'}fixed<{self.width},{self.integer}>"

    @classmethod
    def parse_hls(cls, text: str) -> FixedPoint:
        m = _AP.match(text)
        if not m:
            raise HwloopError(f"not an ap_fixed type: {text!r}")
        return cls(int(m.group(2)), int(m.group(3)), signed=m.group(1) != "u")

    def to_json(self) -> dict[str, Any]:
        return {"width": self.width, "integer": self.integer, "signed": self.signed}

    @classmethod
    def from_json(cls, doc: Any, where: str) -> FixedPoint:
        if isinstance(doc, int) and not isinstance(doc, bool):
            return cls(doc, min(doc, 1))  # a bare bit width: integer bits are a later concern
        if isinstance(doc, str):
            return cls.parse_hls(doc)
        if not isinstance(doc, dict) or "width" not in doc:
            raise HwloopError(
                f"{where}: precision must be an int, 'ap_fixed<W,I>' or {{width, ...}}"
            )
        return cls(int(doc["width"]), int(doc.get("integer", 1)), bool(doc.get("signed", True)))


@dataclass(frozen=True)
class LayerPrecision:
    """Per-layer precision of weights and of the layer's result (activations)."""

    weight: FixedPoint | None = None
    result: FixedPoint | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.weight is not None:
            out["weight"] = self.weight.to_json()
        if self.result is not None:
            out["result"] = self.result.to_json()
        return out

    @classmethod
    def from_json(cls, doc: Any, where: str) -> LayerPrecision:
        if not isinstance(doc, dict) or set(doc) - {"weight", "result"}:
            raise HwloopError(f"{where}: precision takes only 'weight' and 'result'")
        w, r = doc.get("weight"), doc.get("result")
        return cls(
            FixedPoint.from_json(w, where) if w is not None else None,
            FixedPoint.from_json(r, where) if r is not None else None,
        )
