"""BraggNN's non-local block (``ConvAttention``) as open-flow pieces.

``y = act(x + proj(softmax(q k^T) v))`` over the N = H*W positions (tokens) of a C-channel map,
with q, k, v 1x1 convolutions to ``hidden`` = d channels. hls4ml has no such layer, so its
arithmetic is hls4ml's for each part, at the layer's result format R (TRN, WRAP) unless noted:

- ``query``, ``key``, ``value``: 1x1 convolutions C -> d side by side, per position (each with
  its own fitted weight format, ``<layer>.<part>`` in the hardware config's ``by_name``);
- ``scores``: q_i . k_j, d variable x variable products, one piece per (i, j) pair;
- ``softmax``: hls4ml 1.3's ``softmax_stable`` (its default; the version installed here) on one
  row of N scores: max(x) - x as ap_ufixed<W-1, I-1> (W, I: R's width and integer bits), its top
  ``TABLE_BITS`` bits index an exp(-x) table, the exps (ap_fixed<18,8>, RND/SAT) are summed, the
  sum's top bits index a 1/x table, and each exp times 1/sum is the probability (quantised to
  R). Tables hold hls4ml's ``table_size`` 1024 entries at most;
- ``sv``: sum_j p_ij v_jc, N variable x variable products, one piece per (i, c) pair;
- ``proj``: 1x1 convolution d -> C plus the residual x, activation, per position.

Every position (and every pair) uses the same circuit, so each piece is traced once and counted:
a 9x9 map synthesises seven circuits, not 81 copies of the block. The pieces sit on successive
levels (the latency adds up). Not counted: the registers that delay x alongside the four levels
before ``proj`` (in a fully pipelined design: C*N*bits per cycle of those levels).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray

from hwloop.archs import ConvAttention, FixedPoint
from hwloop.synth._kif import Kif, Post, kif_of

if TYPE_CHECKING:
    from hwloop.synth._design import Design


class _Planner(Protocol):
    """What the attention block uses of the piece planner (``_pieces.Planner``)."""

    design: Design
    row_block: int
    level: int
    multipliers: bool

    def _trace(
        self,
        name: str,
        count: int,
        kif: Kif,
        n: int,
        fn: Callable[..., Any],
        weights: tuple[NDArray[Any], FixedPoint] | None = None,
        matrix: NDArray[Any] | None = None,
    ) -> Any: ...

    def _post(self, act: str | None, res: FixedPoint) -> tuple[Post, tuple[int, int, int]]: ...

    def _matrix(
        self,
        name: str,
        wt: NDArray[Any],
        wfmt: FixedPoint,
        b: NDArray[Any],
        count: int,
        fmt: Kif,
        post: Post,
    ) -> None: ...


TABLE_BITS = 10  # hls4ml's softmax table_size 1024: the index is the top 10 bits of the value
TABLE_KIF = (1, 7, 10)  # exp_table_t, inv_table_t, inv_inp_t: ap_fixed<18,8,AP_RND,AP_SAT>


def exp_table(d: NDArray[Any]) -> NDArray[Any]:
    """hls4ml's exp table (``init_exp_table`` with ``negative``): exp(-d) in float32."""
    return np.exp(-np.asarray(d, np.float32)).astype(np.float64)


def inv_table(s: NDArray[Any]) -> NDArray[Any]:
    """hls4ml's 1/x table entry at index value ``s``. The sum of exps is >= 1 (the max gives
    exp(0) = 1), so entries below 1 are never addressed: they hold 1 to keep the range small."""
    s32 = np.maximum(np.asarray(s, np.float32), np.float32(1))
    return (np.float32(1) / s32).astype(np.float64)


def softmax_formats(res: tuple[int, int, int]) -> tuple[tuple[int, int, int], ...]:
    """The table indices of hls4ml 1.3's softmax_stable for scores at ``res`` = (k, i, f):
    max(x) - x as ``inp_norm_t`` = ap_ufixed<W-1, I-1> (TRN, WRAP), then its top TABLE_BITS
    bits (all if narrower); the exp sum as ``inv_inp_t`` (SAT), then its top TABLE_BITS bits."""
    _, i, f = res
    tk, ti, tf = TABLE_KIF
    return (0, i, min(f, TABLE_BITS - i)), (tk, ti, min(tf, TABLE_BITS - tk - ti))


def softmax_row(s: Any, res: tuple[int, int, int]) -> Any:
    """hls4ml 1.3's softmax_stable on a da4ml array of scores at ``res``."""
    from da4ml.trace.ops import quantize

    dk, ek = softmax_formats(res)
    d = quantize(-s + np.max(s), *dk)  # >= 0; wraps above 2^(I-1) as ap_ufixed does
    e = d.apply(exp_table).quantize(*TABLE_KIF, overflow_mode="SAT", round_mode="RND")
    # accum_t ap_fixed<18+log2 n, 8+log2 n> holds the sum exactly; inv_inp_t saturates it
    total = quantize(np.sum(e, keepdims=True), *ek, overflow_mode="SAT", round_mode="TRN")
    inv = total.apply(inv_table).quantize(*TABLE_KIF, overflow_mode="SAT", round_mode="RND")
    return quantize(e * inv[0], *res)


def plan_attention(
    planner: _Planner, layer: ConvAttention, shape: tuple[int, ...], fmt: Kif
) -> tuple[int, int, int]:
    """Add the block's pieces to ``planner``; returns the output format (the map keeps its
    shape). ``fmt``: the format of the block's input x."""
    from da4ml.trace.ops import quantize

    d = planner.design
    name, hidden = layer.name, layer.hidden
    c, h, w = shape
    n = h * w
    lw = d.hw.layer(layer.name, layer.op)
    assert lw.result is not None and lw.weight is not None
    if hidden > planner.row_block:
        raise ValueError(f"layer {name}: hidden {hidden} is wider than a row block")
    res = kif_of(lw.result)

    def weights(part: str) -> tuple[NDArray[Any], NDArray[Any], FixedPoint]:
        wt = d.weights[f"{name}.{part}.weight"]
        wfmt = d.hw.layer(f"{name}.{part}", layer.op).weight  # fitted per conv, else the layer's
        assert wfmt is not None
        return wt.reshape(wt.shape[0], -1).T, d.weights[f"{name}.{part}.bias"], wfmt

    plain = planner._post(None, lw.result)[0]
    first = planner.level
    for part in ("query", "key", "value"):  # side by side on one level
        planner.level = first
        wt, b, wfmt = weights(part)
        planner._matrix(f"{name}.{part}", wt, wfmt, b, n, fmt, plain)

    def scores(x: Any) -> Any:
        return quantize(np.sum(x[:hidden] * x[hidden:], keepdims=True), *res)

    planner._trace(f"{name}.scores", n * n, res, 2 * hidden, scores)
    planner.level += 1
    planner._trace(f"{name}.softmax", n, res, n, lambda s: softmax_row(s, res))
    planner.level += 1

    def sv(x: Any) -> Any:
        return quantize(np.sum(x[:n] * x[n:], keepdims=True), *res)

    planner._trace(f"{name}.sv", n * hidden, res, 2 * n, sv)
    planner.level += 1
    post, out_fmt = planner._post(layer.act, lw.result)
    wp, bp, wfmt = weights("proj")
    kif: Kif = tuple(  # type: ignore[assignment]
        np.concatenate([np.full(hidden, res[a]), np.broadcast_to(np.asarray(fmt[a]), (c,))])
        for a in range(3)
    )
    if planner.multipliers:

        def proj_w(x: Any, wt: Any) -> Any:
            return post(x[:hidden] @ wt + bp + x[hidden:])

        planner._trace(f"{name}.proj", n, kif, hidden + c, proj_w, (wp, wfmt))
    else:
        planner._trace(
            f"{name}.proj",
            n,
            kif,
            hidden + c,
            lambda x: post(x[:hidden] @ wp + bp + x[hidden:]),
            matrix=wp,
        )
    planner.level += 1
    return out_fmt
