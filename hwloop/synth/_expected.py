"""Random weights in expectation: the design document of ``random_design`` without drawing it.

Drawing random weights builds a torch module, initialises, prunes and quantises it (milliseconds
a design); a prediction only needs what the surrogates read from the weights: each matrix's
non-zeros and the weight formats. Both follow from the initialisation alone. torch's default
(Kaiming-uniform, a = sqrt(5)) draws a layer's weights from U(-B, B) with B = 1/sqrt(fan_in);
pruning keeps the largest (1 - s) of them, so |w| is uniform on [sB, B]; the weight format takes
integer bits that just hold B (``fit_integer_bits``), and a weight below half a step quantises to
zero. :class:`ExpectedDesign` writes those expectations into the same canonical document, so
thousands of random designs a second can be predicted; :meth:`ExpectedDesign.draw` makes the
real draw where one is needed (to look the design up in a cache, or to synthesise it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from hwloop.archs import ArchSpec, Conv1d, Conv2d, ConvAttention, FixedPoint, Linear
from hwloop.synth._design import Design, HardwareConfig, LayerHW


def _matrices(spec: ArchSpec) -> list[tuple[str, str, str, int, int]] | None:
    """(key, layer name, layer op, fan-in, weights) of every weight matrix; None where the arch
    has layers this does not model (branches: draw those)."""
    out = []
    for layer, (shape_in, _) in zip(spec.layers, spec.shapes(), strict=True):
        if isinstance(layer, Linear):
            n = int(shape_in[-1])
            out.append((layer.name, layer.name, layer.op, n, n * layer.out_features))
        elif isinstance(layer, Conv2d):
            n = int(shape_in[0]) * layer.kernel**2
            out.append((layer.name, layer.name, layer.op, n, n * layer.out_channels))
        elif isinstance(layer, Conv1d):
            n = int(shape_in[0]) * layer.kernel
            out.append((layer.name, layer.name, layer.op, n, n * layer.out_channels))
        elif isinstance(layer, ConvAttention):
            c, d = int(shape_in[0]), layer.hidden
            for part in ("query", "key", "value"):
                out.append((f"{layer.name}.{part}", layer.name, layer.op, c, c * d))
            out.append((f"{layer.name}.proj", layer.name, layer.op, d, d * c))
        elif layer.op not in ("flatten", "aggregate", "pool2d", "upsample2d"):
            return None
    return out


def _fitted(width: int, bound: float, size: int) -> FixedPoint:
    """``fit_integer_bits`` of ``size`` weights drawn from U(-bound, bound): the expected
    largest magnitude is bound x size / (size + 1)."""
    return FixedPoint(width, int(math.floor(math.log2(bound * size / (size + 1)))) + 2)


def _nonzero_fraction(fmt: FixedPoint, bound: float, sparsity: float) -> float:
    half_step = 2.0 ** -(fmt.width - fmt.integer) / 2
    kept = 1.0 - sparsity
    zero = max(0.0, half_step - sparsity * bound) / (kept * bound)
    return kept * (1.0 - min(1.0, zero))


@dataclass(frozen=True)
class ExpectedDesign:
    """``random_design(arch, hw, seed, sparsity)`` in expectation (see the module docstring)."""

    arch: ArchSpec
    hw: HardwareConfig
    sparsity: float = 0.0
    seed: int = 0

    @classmethod
    def of(cls, arch: ArchSpec, hw: HardwareConfig, seed: int = 0, sparsity: float = 0.0) -> Any:
        """An :class:`ExpectedDesign`, or the drawn :class:`Design` where the arch has layers
        the expectation does not cover."""
        if _matrices(arch) is None:
            from hwloop.synth._from_model import random_design

            return random_design(arch, hw, seed=seed, sparsity=sparsity)
        return cls(arch, hw, sparsity, seed)

    def draw(self) -> Design:
        from hwloop.synth._from_model import random_design

        return random_design(self.arch, self.hw, seed=self.seed, sparsity=self.sparsity)

    def canonical(self) -> dict[str, Any]:
        """The document ``random_design(...).canonical()`` would give, with expected non-zeros
        and no weights digest."""
        nonzero: dict[str, float] = {}
        fitted: list[tuple[str, LayerHW]] = []
        total = zeros = 0.0
        for key, name, op, fan_in, size in _matrices(self.arch) or []:
            fmt = self.hw.layer(name, op)
            assert fmt.weight is not None
            bound = 1.0 / math.sqrt(fan_in)
            wfmt = _fitted(fmt.weight.width, bound, size)
            if wfmt != fmt.weight:
                fitted.append((key, LayerHW(weight=wfmt)))
            nonzero[key] = size * _nonzero_fraction(wfmt, bound, self.sparsity)
            total += size
            zeros += size - nonzero[key]
        hw = self.hw.with_layers(fitted)
        return {
            "arch": self.arch.structure(),
            "arch_digest": self.arch.digest,
            "weights_sha256": None,
            "sparsity": round(zeros / total, 6) if total else 0.0,
            "nonzero": nonzero,
            "hw": hw.to_json(),
            "hls4ml_config": Design(self.arch, {}, hw).hls4ml_config(),
        }
