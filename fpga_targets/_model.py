"""Typed, immutable target descriptions."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

RESOURCE_NAMES: tuple[str, ...] = ("lut", "ff", "dsp", "bram_18k", "uram")


class TargetError(ValueError):
    """A target description is missing, malformed or unknown. The message names the problem."""


@dataclass(frozen=True)
class Resources:
    """Resource counts of a device (capacities) or of a design (usage)."""

    lut: int
    ff: int
    dsp: int
    bram_18k: int
    uram: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise TargetError(
                    f"resource {f.name!r} must be a non-negative integer, got {value!r}"
                )

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def utilisation(self, used: Resources) -> dict[str, float]:
        """Fraction of each resource that ``used`` takes of these capacities (0 capacity -> inf)."""
        out: dict[str, float] = {}
        for name in RESOURCE_NAMES:
            cap = getattr(self, name)
            use = getattr(used, name)
            out[name] = use / cap if cap else (0.0 if use == 0 else math.inf)
        return out


@dataclass(frozen=True)
class Target:
    """One FPGA device a design can be built for."""

    name: str
    part: str
    family: str
    clock_period_ns: float
    resources: Resources
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("-", "").replace("_", "").isalnum():
            raise TargetError(f"target name {self.name!r} must be alphanumeric (with - or _)")
        if not self.part:
            raise TargetError(f"target {self.name!r}: 'part' is empty")
        clock = self.clock_period_ns
        if not (isinstance(clock, int | float) and math.isfinite(clock) and clock > 0):
            raise TargetError(
                f"target {self.name!r}: clock_period_ns must be a positive finite number, "
                f"got {self.clock_period_ns!r}"
            )

    @property
    def clock_mhz(self) -> float:
        return 1000.0 / self.clock_period_ns

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "part": self.part,
            "family": self.family,
            "clock_period_ns": self.clock_period_ns,
            "resources": self.resources.as_dict(),
            "description": self.description,
        }
