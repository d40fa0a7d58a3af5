"""Bit operations (BOPs) of an arch spec, computed from its shapes alone (no torch).

Convention (``docs/bops.md``), with m outputs, n inputs, b_a activation bits, b_w weight bits and
p the fraction of non-zero weights:

- Linear: ``m*n*(p*b_a*b_w + b_a + b_w + log2 n)``
- Conv2d: ``H_out*W_out*m*n*k^2*(p*b_a*b_w + b_a + b_w + log2(n*k^2))`` (per output position)
- Conv1d: ``L_out*m*n*k*(p*b_a*b_w + b_a + b_w + log2(n*k))``
- ConvAttention (N = H*W tokens, d hidden channels): the four 1x1 convs as Conv2d, plus
  the score matmul ``N*N*(d*b_a^2 + (d-1)*b_a)``, the softmax over the N x N scores
  ``N^2*1.5*(b_a-1) + N*(N-1) + N^2`` and the value matmul ``N*d*(N*b_a^2 + (N-1)*b_a)``
- Linear on a set of N elements (Deep Sets' shared φ): N times the Linear cost
- Aggregate over a set (N, F): ``F*(N-1)*b_a`` (N-1 additions, or comparisons for max, of
  b_a-bit values per feature; the mean's 1/N is a shift for N a power of two)
- Pool2d (size s): ``s^2 - 1`` comparisons (max) or additions (mean) of b_a-bit values per output
  value; Upsample2d: 0 (nearest) or ``3*b_a`` per output value (bilinear: two additions along W,
  one along H; factor-2 weights are shifts)
- Branches: the sum of their layers (each branch starts from the bits entering it)
- BatchNorm folded (0), activations 0, biases 0, flatten 0.

Bits: a layer's ``precision.weight`` gives b_w; b_a is the previous layer's ``precision.result``
(the input for the first layer); otherwise the defaults passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hwloop import HwloopError
from hwloop.archs import (
    Aggregate,
    ArchSpec,
    Branches,
    Conv1d,
    Conv2d,
    ConvAttention,
    Flatten,
    Layer,
    Linear,
    Pool2d,
    Upsample2d,
    branch_shapes,
)


@dataclass(frozen=True)
class LayerBops:
    name: str
    op: str
    bops: float
    parameters: int
    weight_bits: int
    act_bits: int


@dataclass(frozen=True)
class BopsReport:
    total: float
    parameters: int
    layers: tuple[LayerBops, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "total": self.total,
            "parameters": self.parameters,
            "layers": [layer.__dict__ for layer in self.layers],
        }


def _dense(m: int, n: int, p: float, ba: int, bw: int) -> float:
    return m * n * (p * ba * bw + ba + bw + math.log2(n))


def _conv(h: int, w: int, m: int, n: int, k: int, p: float, ba: int, bw: int) -> float:
    return h * w * m * n * k * k * (p * ba * bw + ba + bw + math.log2(n * k * k))


def attention_matmul_bops(tokens: int, hidden: int, ba: int) -> float:
    """Score matmul, softmax and value matmul of one attention block (seed eqs. 3-5, our dims)."""
    n, d = tokens, hidden
    scores = n * n * (d * ba * ba + (d - 1) * ba)
    softmax = n * n * 1.5 * (ba - 1) + n * (n - 1) + n * n
    values = n * d * (n * ba * ba + (n - 1) * ba)
    return scores + softmax + values


def compute_bops(spec: ArchSpec, bits: int = 32, sparsity: float = 0.0) -> BopsReport:
    """BOPs of ``spec`` with default weight/activation ``bits`` and a global weight ``sparsity``."""
    if not 1 <= bits <= 64:
        raise HwloopError(
            f"--bits must be in 1..64 (BOPs count any integer width, 1-bit nets included), "
            f"got {bits}"
        )
    if not 0.0 <= sparsity < 1.0:
        raise HwloopError(f"--sparsity must be in [0, 1), got {sparsity}")
    out: list[LayerBops] = []
    _walk(spec.layers, spec.shapes(), bits, bits, 1.0 - sparsity, out, spec.name)
    return BopsReport(float(sum(x.bops for x in out)), sum(x.parameters for x in out), tuple(out))


def _walk(
    layers: tuple[Layer, ...],
    shapes: list[tuple[tuple[int, ...], tuple[int, ...]]],
    act_bits: int,
    bits: int,
    p: float,
    out: list[LayerBops],
    arch: str,
) -> int:
    """Append the BOPs of ``layers`` (branches recursively) to ``out``; return the bits of the
    last layer's result."""
    for layer, (shape_in, shape_out) in zip(layers, shapes, strict=True):
        if isinstance(layer, Branches):
            ends = [
                _walk(b, branch_shapes(b, shape_in, arch), act_bits, bits, p, out, arch)
                for b in layer.branches
            ]
            out.append(LayerBops(layer.name, layer.op, 0.0, 0, 0, act_bits))
            act_bits = max(ends)
            continue
        if isinstance(layer, Flatten):
            out.append(LayerBops(layer.name, layer.op, 0.0, 0, 0, act_bits))
            continue
        if isinstance(layer, Aggregate | Pool2d | Upsample2d):
            out.append(
                LayerBops(
                    layer.name,
                    layer.op,
                    _reduce(layer, shape_in, shape_out, act_bits),
                    0,
                    0,
                    act_bits,
                )
            )
            continue
        prec = layer.precision
        bw = prec.weight.width if prec and prec.weight else bits
        ba = act_bits
        if isinstance(layer, Conv2d):
            c_in, (m, h, w) = shape_in[0], shape_out
            bops = _conv(h, w, m, c_in, layer.kernel, p, ba, bw)
            params = m * c_in * layer.kernel**2 + m + _norm_params(layer.norm, shape_out)
        elif isinstance(layer, Conv1d):
            c_in, (m, length) = shape_in[0], shape_out
            bops = _conv(1, length, m, c_in * layer.kernel, 1, p, ba, bw)  # n*k inputs per output
            params = m * c_in * layer.kernel + m + _norm_params(layer.norm, shape_out)
        elif isinstance(layer, ConvAttention):
            c, h, w = shape_in
            d = layer.hidden
            bops = 3 * _conv(h, w, d, c, 1, p, ba, bw) + _conv(h, w, c, d, 1, p, ba, bw)
            bops += attention_matmul_bops(h * w, d, ba)
            params = 3 * (c * d + d) + d * c + c
        else:
            assert isinstance(layer, Linear)
            n, m = shape_in[-1], layer.out_features
            elements = shape_in[0] if len(shape_in) == 2 else 1  # a set: once per element
            bops = elements * _dense(m, n, p, ba, bw)
            params = m * n + m + _norm_params(layer.norm, shape_out[-1:])
        out.append(LayerBops(layer.name, layer.op, float(bops), params, bw, ba))
        act_bits = prec.result.width if prec and prec.result else bits
    return act_bits


def _reduce(layer: Layer, shape_in: tuple[int, ...], shape_out: tuple[int, ...], ba: int) -> float:
    """Weight-free layers: additions (or comparisons) of b_a-bit values."""
    if isinstance(layer, Aggregate):
        n_set, feats = shape_in
        return float(feats * (n_set - 1) * ba)
    if isinstance(layer, Pool2d):  # size^2 - 1 comparisons (max) or additions (mean) per output
        return float(math.prod(shape_out) * (layer.size**2 - 1) * ba)
    assert isinstance(layer, Upsample2d)
    if layer.mode == "nearest":
        return 0.0
    return float(3 * math.prod(shape_out) * ba)  # 2 along W + 1 along H, weights are shifts


def _norm_params(norm: str | None, shape: tuple[int, ...]) -> int:
    if norm == "batch":
        return 2 * shape[0]
    if norm == "layer":
        return 2 * math.prod(shape)
    return 0
