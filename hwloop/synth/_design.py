"""A hardware design: arch spec + quantised weights + hardware configuration.

The hardware configuration cascades like hls4ml's: model defaults, then per layer type, then per
layer name. Precisions are typed (:class:`FixedPoint`); hls4ml's config dict is produced only at
the boundary (``Design.hls4ml_config``) and stored with the design.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from hwloop import HwloopError
from hwloop.archs import ArchSpec, FixedPoint

Strategy = Literal["latency", "resource", "distributed_arithmetic"]
STRATEGIES: tuple[str, ...] = ("latency", "resource", "distributed_arithmetic")
# hls4ml's spelling of each strategy (its config is case-sensitive for the da4ml one)
HLS4ML_STRATEGY = {
    "latency": "Latency",
    "resource": "Resource",
    "distributed_arithmetic": "distributed_arithmetic",
}
IOType = Literal["io_parallel", "io_stream"]


@dataclass(frozen=True)
class LayerHW:
    """Precision of one layer: weights, results and accumulator (None: inherit)."""

    weight: FixedPoint | None = None
    result: FixedPoint | None = None
    accum: FixedPoint | None = None
    reuse_factor: int | None = None

    def merged(self, over: LayerHW) -> LayerHW:
        return LayerHW(
            over.weight or self.weight,
            over.result or self.result,
            over.accum or self.accum,
            over.reuse_factor or self.reuse_factor,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("weight", "result", "accum"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value.to_json()
        if self.reuse_factor is not None:
            out["reuse_factor"] = self.reuse_factor
        return out


@dataclass(frozen=True)
class HardwareConfig:
    """How a network becomes hardware. ``by_type`` keys are layer ops (``linear``, ``conv2d``,
    ``conv1d``);
    ``by_name`` keys are layer names; both override ``model``."""

    part: str
    clock_period_ns: float = 5.0
    model: LayerHW = LayerHW(FixedPoint(8, 3), FixedPoint(16, 6), FixedPoint(24, 10), 1)
    by_type: tuple[tuple[str, LayerHW], ...] = ()
    by_name: tuple[tuple[str, LayerHW], ...] = ()
    strategy: Strategy = "latency"
    io_type: IOType = "io_parallel"
    input_precision: FixedPoint = FixedPoint(8, 1)

    def __post_init__(self) -> None:
        if self.clock_period_ns <= 0:
            raise HwloopError(f"clock period must be positive, got {self.clock_period_ns}")
        if self.strategy not in STRATEGIES:
            raise HwloopError(
                f"strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}"
            )
        if self.io_type not in ("io_parallel", "io_stream"):
            raise HwloopError(f"io type must be io_parallel or io_stream, got {self.io_type!r}")

    def layer(self, name: str, op: str) -> LayerHW:
        """The effective settings of one layer (model <- type <- name)."""
        hw = self.model
        for key, value in self.by_type:
            if key == op:
                hw = hw.merged(value)
        for key, value in self.by_name:
            if key == name:
                hw = hw.merged(value)
        return hw

    def with_layers(self, settings: Iterable[tuple[str, LayerHW]]) -> HardwareConfig:
        """This config with per-layer ``settings`` merged over ``by_name`` (a setting given for
        a layer already there overrides its fields that are set)."""
        named = dict(self.by_name)
        for name, hw in settings:
            named[name] = named[name].merged(hw) if name in named else hw
        return replace(self, by_name=tuple(sorted(named.items())))

    @classmethod
    def uniform(
        cls,
        part: str,
        bits: int,
        clock_period_ns: float = 5.0,
        input_integer: int = 1,
        **kw: Any,
    ) -> HardwareConfig:
        """All weights and inputs at ``bits`` (integer bits sized for typical trained weights;
        ``input_integer`` for the inputs, from the data's range: ``integer_bits_for``)."""
        model = LayerHW(
            FixedPoint(bits, min(2, bits)), FixedPoint(bits + 8, 6), FixedPoint(2 * bits + 8, 10), 1
        )
        inputs = FixedPoint(bits, min(input_integer, bits))
        return cls(part, clock_period_ns, model, input_precision=inputs, **kw)

    def to_json(self) -> dict[str, Any]:
        return {
            "part": self.part,
            "clock_period_ns": self.clock_period_ns,
            "model": self.model.to_json(),
            "by_type": {k: v.to_json() for k, v in self.by_type},
            "by_name": {k: v.to_json() for k, v in self.by_name},
            "strategy": self.strategy,
            "io_type": self.io_type,
            "input_precision": self.input_precision.to_json(),
        }


def quantise(values: NDArray[np.floating[Any]], fmt: FixedPoint) -> NDArray[np.float64]:
    """Round to the fixed-point grid of ``fmt`` and saturate (what the hardware stores)."""
    step = 2.0**-fmt.fractional
    lo = -(2.0 ** (fmt.integer - 1)) if fmt.signed else 0.0
    hi = 2.0 ** (fmt.integer - 1) - step if fmt.signed else 2.0**fmt.integer - step
    return np.clip(np.round(np.asarray(values, np.float64) / step) * step, lo, hi)


@dataclass(frozen=True)
class Design:
    """What a synthesizer turns into hardware. ``weights`` maps ``"<layer>.weight"`` and
    ``"<layer>.bias"`` to arrays already on the layer's fixed-point grid (see ``quantise``)."""

    arch: ArchSpec
    weights: dict[str, NDArray[np.float64]] = field(repr=False)
    hw: HardwareConfig

    def matrices(self) -> dict[str, NDArray[np.float64]]:
        """The weight matrices by layer (``fc0``, ``b0_attn.query``; not norm gamma/beta)."""
        return {
            k.removesuffix(".weight"): w
            for k, w in sorted(self.weights.items())
            if k.endswith(".weight") and ".norm." not in k
        }

    @property
    def sparsity(self) -> float:
        ws = list(self.matrices().values())
        total = sum(w.size for w in ws)
        return float(sum((w == 0).sum() for w in ws) / total) if total else 0.0

    def weights_digest(self) -> str:
        h = hashlib.sha256()
        for key in sorted(self.weights):
            arr = np.ascontiguousarray(self.weights[key], dtype=np.float64)
            h.update(key.encode())
            h.update(str(arr.shape).encode())
            h.update(arr.tobytes())
        return h.hexdigest()[:24]

    def canonical(self) -> dict[str, Any]:
        """The design as the cache keys it: structure, weight values, hardware configuration."""
        return {
            "arch": self.arch.structure(),
            "arch_digest": self.arch.digest,
            "weights_sha256": self.weights_digest(),
            "sparsity": round(self.sparsity, 6),
            # per-layer non-zero weights (surrogate features; pruning need not be uniform)
            "nonzero": {k: int(np.count_nonzero(w)) for k, w in self.matrices().items()},
            "hw": self.hw.to_json(),
            "hls4ml_config": self.hls4ml_config(),
        }

    def hls4ml_config(self) -> dict[str, Any]:
        """hls4ml's config dict (model -> layer name), the exchange format with hls4ml."""
        m = self.hw.model
        cfg: dict[str, Any] = {
            "Model": {
                "Precision": {"default": (m.result or FixedPoint(16, 6)).hls()},
                "ReuseFactor": m.reuse_factor or 1,
                "Strategy": HLS4ML_STRATEGY[self.hw.strategy],
            },
            "LayerName": {},
        }
        for layer in self.arch.layers:
            if layer.op not in ("linear", "conv1d", "conv2d"):
                continue
            hw = self.hw.layer(layer.name, layer.op)
            prec = {
                k: v.hls()
                for k, v in (
                    ("weight", hw.weight),
                    ("bias", hw.weight),
                    ("result", hw.result),
                    ("accum", hw.accum),
                )
                if v
            }
            cfg["LayerName"][layer.name] = {"Precision": prec, "ReuseFactor": hw.reuse_factor or 1}
        return cfg

    def with_hw(self, **changes: Any) -> Design:
        return replace(self, hw=replace(self.hw, **changes))
