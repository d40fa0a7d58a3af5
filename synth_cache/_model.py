"""Typed synthesis results."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

Kind = Literal["post_synthesis", "hls_estimate"]
Status = Literal["ok", "failed", "timeout", "unsupported"]
KINDS: tuple[str, ...] = ("post_synthesis", "hls_estimate")
STATUSES: tuple[str, ...] = ("ok", "failed", "timeout", "unsupported")
METRICS: tuple[str, ...] = (
    "lut",
    "ff",
    "dsp",
    "bram_18k",
    "uram",
    "latency_min",
    "latency_max",
    "ii_min",
    "ii_max",
)


# counts above this cannot be real (a VU13P has 1.7 M LUTs) and would overflow a 64-bit column
MAX_COUNT = 1e15


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(value)
    except TypeError:  # a string or a list where a number belongs
        return False


class CacheError(Exception):
    """A cache URL, record or key a user gave is unusable; the message names the problem."""


@dataclass(frozen=True)
class SynthResult:
    """One kind of numbers (post-synthesis or HLS estimate) of one synthesis run.

    Resource counts are device primitives: ``bram_18k`` counts 18 Kb block RAMs (a 36 Kb tile is
    two). Latency and II are in clock cycles. Missing numbers are ``None``; a run that failed has
    ``status != "ok"`` and usually no numbers at all.
    """

    flow: str
    tool: str
    tool_version: str
    kind: Kind
    status: Status = "ok"
    part: str = ""
    clock_target_ns: float | None = None
    clock_estimated_ns: float | None = None
    lut: int | None = None
    ff: int | None = None
    dsp: int | None = None
    bram_18k: float | None = None
    uram: int | None = None
    carry: int | None = None
    latency_min: int | None = None
    latency_max: int | None = None
    ii_min: int | None = None
    ii_max: int | None = None
    wall_s: float | None = None
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise CacheError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.status not in STATUSES:
            raise CacheError(f"status must be one of {STATUSES}, got {self.status!r}")
        for name in METRICS + ("carry", "wall_s"):
            value = getattr(self, name)
            if value is not None and (not _finite(value) or value < 0 or value > MAX_COUNT):
                raise CacheError(f"{name} must be a number in [0, {MAX_COUNT:.0e}], got {value!r}")
        for name in ("clock_target_ns", "clock_estimated_ns"):
            value = getattr(self, name)
            if value is not None and (not _finite(value) or value <= 0):
                raise CacheError(f"{name} must be a positive number of ns, got {value!r}")
        for low, high in (("latency_min", "latency_max"), ("ii_min", "ii_max")):
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is not None and hi is not None and lo > hi:
                raise CacheError(f"{low} ({lo}) is above {high} ({hi})")

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> SynthResult:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in names})

    def with_(self, **changes: Any) -> SynthResult:
        return replace(self, **changes)


@dataclass(frozen=True)
class CacheEntry:
    """A design (its canonical JSON), the run's results, and where they came from."""

    key: str
    design: dict[str, Any]
    results: tuple[SynthResult, ...]
    source: str = ""
    created_at: float = 0.0

    def result(self, kind: Kind) -> SynthResult | None:
        return next((r for r in self.results if r.kind == kind), None)

    @property
    def status(self) -> str:
        return "ok" if any(r.ok for r in self.results) else self.results[0].status
