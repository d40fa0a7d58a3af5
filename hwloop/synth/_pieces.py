"""How the open flow cuts a network into pieces that are traced and synthesised separately.

yosys time grows faster than linearly with design size (a monolithic 648x32 dense layer did not
finish in 30 minutes) and da4ml's constant-matrix solver grows steeply with the number of inputs,
so the open flow never builds the whole network at once. It plans :class:`Piece` s:

- a dense layer (or one output position of a convolution: its im2col row) with at most
  ``row_block`` inputs is one piece: matrix, bias, activation, output quantisation;
- a wider one is one piece per block of ``row_block`` inputs (exact partial sums) plus a
  ``reduce`` piece that adds the partial sums, the bias and applies the activation;
- a convolution's output positions all use the same circuit, so its pieces are traced once and
  counted ``Ho*Wo`` times. With padding, border positions are counted as full patches (an upper
  bound: their zero inputs would let a synthesis tool drop a few adders);
- a linear layer on a set (Deep Sets' φ) is a convolution whose positions are the set's
  elements: its pieces are traced once and counted N times;
- a set aggregation (mean or max over the N elements of each feature) is one piece on the
  elements' outputs, keeping their format (the mean's 1/N truncates to it);
- a layer norm adds ``stats`` pieces (sum and sum of squares of a block of elements, identical
  circuits), a ``norm-reduce`` piece (mean, variance, 1/sqrt(var + eps) by lookup table) and
  ``norm`` pieces that scale each block of elements with its own gamma and beta;
- an attention block (``hwloop/synth/_attention.py``) is seven per-position or per-pair pieces:
  q, k, v convolutions, q.k scores, hls4ml's table softmax per row, p.v sums, projection +
  residual.

Every piece has a ``level``: pieces on one level run side by side in the full design, so the
design's latency is the sum over levels of the slowest piece's pipeline depth. Resources are the
sum over pieces of ``count`` times the piece's numbers. Cross-piece optimisation is lost (da4ml
cannot share adders across row blocks either, which costs about 7 % on a 648x32 layer).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hwloop.archs import Aggregate, Conv1d, Conv2d, ConvAttention, FixedPoint, Flatten, Linear
from hwloop.synth._attention import plan_attention
from hwloop.synth._design import Design
from hwloop.synth._kif import Kif, Post, kif_of

LEAKY_SLOPE = 3 / 256  # torch's 0.01, rounded to 8 fractional bits (a float constant has ~52)
LN_EPS = 1e-5
TABLE_BITS = 10  # activation tables are indexed by at most 10 bits (hls4ml: table_size 1024)
VAR_BITS = TABLE_BITS  # the 1/sqrt(var) table has 2**VAR_BITS entries
INV_KIF = (0, 4, 8)  # 1/sqrt(var + eps): unsigned, 4 integer and 8 fractional bits, saturating


def gelu(x: NDArray[Any]) -> NDArray[Any]:
    erf = np.vectorize(math.erf)
    return np.asarray(0.5 * x * (1.0 + erf(x / math.sqrt(2.0))), dtype=np.float64)


@dataclass
class Piece:
    """One separately synthesised circuit: ``count`` identical copies at pipeline ``level``."""

    name: str
    count: int
    level: int
    comb: Any  # da4ml CombLogic
    n_inputs: int  # data inputs (the first inputs of ``comb``)
    constants: NDArray[np.float64] | None = None  # values of the remaining inputs (weights)
    matrix: NDArray[Any] | None = None  # a multiplierless piece's weights (for its statistics)


class Planner:
    """Traces ``design`` into pieces (:meth:`plan`). ``row_block`` inputs per matrix piece."""

    def __init__(self, design: Design, row_block: int) -> None:
        self.design = design
        self.row_block = row_block
        # strategy "latency": every weight multiplies on a real multiplier (hls4ml's Latency
        # strategy; yosys maps them to DSP48E2); "distributed_arithmetic": multiplierless
        self.multipliers = design.hw.strategy == "latency"
        self.pieces: list[Piece] = []
        self.level = 0

    # ---- tracing helpers ------------------------------------------------------------------
    def _trace(
        self,
        name: str,
        count: int,
        kif: Kif,
        n: int,
        fn: Callable[..., Any],
        weights: tuple[NDArray[Any], FixedPoint] | None = None,
        matrix: NDArray[Any] | None = None,
    ) -> Any:
        """Trace ``fn`` on ``n`` inputs quantised to ``kif``; record the piece; return ``fn``'s
        output (a da4ml array, whose ``kif`` / ``lhs`` describe the piece's outputs).

        With ``weights`` (values and format) the weights become extra inputs, so every product
        is a real multiplier; ``fn(x, w)`` gets them, and the Verilog ties them to constants.
        ``matrix``: the constant weights a multiplierless ``fn`` holds (recorded, not traced)."""
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        from da4ml.trace import FixedVariableArrayInput, comb_trace
        from da4ml.trace.ops import quantize

        extra = 0 if weights is None else weights[0].size
        inp = FixedVariableArrayInput(
            (n + extra,), solver_options={"search_all_decompose_dc": False}
        )
        k, i, f = (np.broadcast_to(np.asarray(v), (n,)) for v in kif)
        x = quantize(inp[:n], k, i, f)
        if weights is None:
            y = fn(x).reshape(-1)
            constants = None
        else:
            values, wfmt = weights
            w = quantize(inp[n:], *kif_of(wfmt)).reshape(values.shape)
            y = fn(x, w).reshape(-1)
            constants = values.astype(np.float64).reshape(-1)
        comb = comb_trace(inp, y)
        self.pieces.append(Piece(name, count, self.level, comb, n, constants, matrix))
        return y

    def _post(self, act: str | None, res: FixedPoint) -> tuple[Post, tuple[int, int, int]]:
        """The activation and output quantisation of a layer, and the output format."""
        from da4ml.trace.ops import quantize, relu

        k, i, f = kif_of(res)
        if act == "relu":
            return (lambda y: relu(y, i=np.array(i), f=np.array(f))), (0, i, f)
        if act == "leaky_relu":

            def leaky(y: Any) -> Any:
                q = quantize(y, k, i, f)
                return quantize(np.where(q > 0, q, q * LEAKY_SLOPE), k, i, f)

            return leaky, (k, i, f)
        if act == "gelu":  # a table indexed by the pre-activation at <= TABLE_BITS (as hls4ml's)
            ft = min(f, TABLE_BITS - k - i)
            return (lambda y: quantize(y, k, i, ft).apply(gelu).quantize(k, i, f)), (k, i, f)
        if act is None:
            return (lambda y: quantize(y, k, i, f)), (k, i, f)
        raise ValueError(f"activation {act!r}")

    # ---- the plan -------------------------------------------------------------------------
    def plan(self) -> list[Piece]:
        d = self.design
        fmt: Kif = kif_of(d.hw.input_precision)
        shape = tuple(d.arch.input_shape)
        for layer in d.arch.layers:
            if isinstance(layer, Flatten):
                shape = (int(np.prod(shape)),)
                continue
            if isinstance(layer, Aggregate):
                fmt = self._aggregate(layer, shape, fmt)
                shape = shape[1:]
                continue
            if isinstance(layer, ConvAttention):
                fmt = plan_attention(self, layer, shape, fmt)
                continue
            assert isinstance(layer, (Conv2d, Conv1d, Linear))
            w = d.weights[f"{layer.name}.weight"]
            b = d.weights[f"{layer.name}.bias"]
            lw = d.hw.layer(layer.name, layer.op)
            assert lw.result is not None and lw.weight is not None
            if isinstance(layer, Conv2d):
                c, h, wd = shape
                k, p = layer.kernel, layer.padding
                ho, wo = h + 2 * p - k + 1, wd + 2 * p - k + 1
                wt = w.reshape(w.shape[0], -1).T
                positions, shape = ho * wo, (w.shape[0], ho, wo)
            elif isinstance(layer, Conv1d):
                lo = shape[1] + 2 * layer.padding - layer.kernel + 1
                wt = w.reshape(w.shape[0], -1).T
                positions, shape = lo, (w.shape[0], lo)
            elif len(shape) == 2:  # a set: the same layer on each element
                wt, positions, shape = w.T, shape[0], (shape[0], w.shape[0])
            else:
                wt, positions, shape = w.T, 1, (w.shape[0],)
            post, out_fmt = self._post(layer.act, lw.result)
            wfmt = lw.weight
            if layer.norm == "layer":
                zfmt = kif_of(lw.result)
                quant = self._post(None, lw.result)[0]
                self._matrix(layer.name, wt, wfmt, b, positions, fmt, quant)
                self._layer_norm(layer.name, positions * wt.shape[1], zfmt, post)
            else:
                self._matrix(layer.name, wt, wfmt, b, positions, fmt, post)
            fmt = out_fmt
        return self.pieces

    def _aggregate(self, layer: Aggregate, shape: tuple[int, ...], fmt: Kif) -> Kif:
        """Mean or max over the set's elements of each feature; the output keeps ``fmt``."""
        from da4ml.trace.ops import quantize

        n_set, feats = shape
        k, i, f = fmt

        def agg(x: Any) -> Any:
            x = x.reshape(n_set, feats)
            if layer.method == "max":
                return np.max(x, axis=0)
            return quantize(np.sum(x, axis=0) * (1.0 / n_set), k, i, f)

        kif: Kif = tuple(np.tile(np.broadcast_to(np.asarray(v), (feats,)), n_set) for v in fmt)  # type: ignore[assignment]
        self._trace(layer.name, 1, kif, n_set * feats, agg)
        self.level += 1
        return fmt

    def _matrix(
        self,
        name: str,
        wt: NDArray[Any],
        wfmt: FixedPoint,
        b: NDArray[Any],
        count: int,
        fmt: Kif,
        post: Post,
    ) -> None:
        n, m = wt.shape
        rb = self.row_block
        if n <= rb:
            if self.multipliers:
                self._trace(name, count, fmt, n, lambda x, w: post(x @ w + b), (wt, wfmt))
            else:
                self._trace(name, count, fmt, n, lambda x: post(x @ wt + b), matrix=wt)
            self.level += 1
            return
        kifs, consts = [], np.array(b, dtype=np.float64)
        for j, lo in enumerate(range(0, n, rb)):
            block = wt[lo : lo + rb]

            def rows(x: Any, w: Any = block) -> Any:
                return x @ w

            wts = (block, wfmt) if self.multipliers else None
            y = self._trace(
                f"{name}.rows{j}", count, fmt, block.shape[0], rows, wts, None if wts else block
            )
            low, high, _ = y.lhs
            fixed = low == high  # all-zero weight columns: constant partial sums
            consts = consts + np.where(fixed, low, 0.0)
            k, i, f = (np.asarray(v) for v in y.kif)
            kifs.append((np.where(fixed, 0, k), np.where(fixed, 0, i), np.where(fixed, 0, f)))
        self.level += 1
        nb = len(kifs)
        kif: Kif = tuple(np.concatenate([kf[a] for kf in kifs]) for a in range(3))  # type: ignore[assignment]

        def reduce(x: Any) -> Any:
            return post(np.sum(x.reshape(nb, m), axis=0) + consts)

        self._trace(f"{name}.reduce", count, kif, nb * m, reduce)
        self.level += 1

    def _layer_norm(self, name: str, n: int, zfmt: tuple[int, int, int], post: Post) -> None:
        """LayerNorm over all ``n`` elements of the layer's output, in blocks of ``row_block``
        elements (gamma and beta in torch's channel-major order)."""
        from da4ml.trace.ops import quantize

        d = self.design
        gamma = d.weights[f"{name}.norm.weight"].reshape(-1)
        beta = d.weights[f"{name}.norm.bias"].reshape(-1)
        rb = min(self.row_block, n)
        nb = math.ceil(n / rb)

        def stats(z: Any) -> Any:
            parts = (np.sum(z, axis=0, keepdims=True), np.sum(z * z, axis=0, keepdims=True))
            return np.concatenate(parts)

        # identical blocks (the last one counted as full)
        y = self._trace(f"{name}.stats", nb, zfmt, rb, stats)
        self.level += 1
        k, i, f = (np.asarray(v) for v in y.kif)
        kz, iz, fz = zfmt
        shift = math.ceil(math.log2(n)) + 10  # 1/n with 10 significant bits
        inv_n = round(2**shift / n) / 2**shift
        vi = 2 * (iz + kz - 1)  # var <= max z^2 = 2^(2*(integer bits incl. sign) - 2)
        var_kif = (0, vi, VAR_BITS - vi)

        def reduce(x: Any) -> Any:
            s = np.sum(x.reshape(nb, 2), axis=0)
            mean = quantize(s[0:1] * inv_n, kz, iz, fz)
            var = quantize(s[1:2] * inv_n - mean * mean, *var_kif)
            inv = var.apply(lambda v: 1.0 / np.sqrt(np.maximum(v, 0.0) + LN_EPS)).quantize(
                *INV_KIF, overflow_mode="SAT"
            )
            return np.concatenate([mean, inv])

        self._trace(
            f"{name}.norm-reduce",
            1,
            (np.tile(k, nb), np.tile(i, nb), np.tile(f, nb)),
            2 * nb,
            reduce,
        )
        self.level += 1
        stat_kif = ([kz, INV_KIF[0]], [iz, INV_KIF[1]], [fz, INV_KIF[2]])
        for j, lo in enumerate(range(0, n, rb)):
            g, bt = gamma[lo : lo + rb], beta[lo : lo + rb]
            size = g.shape[0]
            kif: Kif = tuple(  # type: ignore[assignment]
                np.concatenate([[zfmt[a]] * size, stat_kif[a]]) for a in range(3)
            )

            def norm(x: Any, g: NDArray[Any] = g, bt: NDArray[Any] = bt, size: int = size) -> Any:
                z, mean, inv = x[:size], x[size : size + 1], x[size + 1 : size + 2]
                t = quantize((z - mean) * inv, kz, iz, fz)
                return post(t * g + bt)

            self._trace(f"{name}.norm{j}", 1, kif, size + 2, norm)
        self.level += 1
