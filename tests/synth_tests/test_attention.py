"""The attention block in the open flow: bit-exact against a numpy fixed-point reference written
from hls4ml 1.3's nnet_activation.h (softmax_stable), and synthesised for real by yosys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from hwloop.archs import ArchSpec, Conv2d, ConvAttention, FixedPoint, Flatten, Linear
from hwloop.synth import HardwareConfig, LayerHW, random_design, synthesize
from hwloop.synth._open import ROW_BLOCK, OpenSynthesizer
from hwloop.synth._pieces import Planner
from synth_cache import SqlCache

PART = "xcvu13p-flga2577-2-e"
Arr = NDArray[np.float64]


def fx(x: Any, k: int, i: int, f: int, rnd: bool = False, sat: bool = False) -> Arr:
    """ap_fixed<k+i+f, k+i> of ``x``: AP_TRN or AP_RND, AP_WRAP or AP_SAT."""
    code = np.floor(np.asarray(x, np.float64) * 2.0**f + (0.5 if rnd else 0.0))
    lo, span = -k * 2 ** (i + f), 2 ** (k + i + f)
    code = np.clip(code, lo, lo + span - 1) if sat else (code - lo) % span + lo
    return np.asarray(code * 2.0**-f)


def top_bits(x: Arr, k: int, i: int, f: int, n: int = 10) -> NDArray[np.int64]:
    """hls4ml's softmax_idx_from_real_val: the top ``n`` bits of x's two's complement code."""
    width = k + i + f
    code = np.round(x * 2.0**f).astype(np.int64) & ((1 << width) - 1)
    return np.asarray(code >> max(width - n, 0), np.int64)


def table(fn: Any, k: int, i: int, f: int, n: int = 10) -> Arr:
    """hls4ml's init_exp_table / init_invert_table: entry j holds fn at the value whose top bits
    are j, computed in float and stored as ap_fixed<18,8,AP_RND,AP_SAT>."""
    n = min(n, k + i + f)
    j = np.arange(2**n)
    value = (np.where(j >= 2 ** (n - 1), j - 2**n, j) if k else j) * 2.0 ** (k + i - n)
    with np.errstate(divide="ignore"):
        out = fn(value.astype(np.float32)).astype(np.float64)
    return fx(np.nan_to_num(out, posinf=1e9), 1, 7, 10, rnd=True, sat=True)


def reference(design: Any, x: Arr) -> Arr:
    """The block on x (batch, positions, channels) as hls4ml-style fixed-point numpy."""
    w = design.weights
    res = design.hw.layer("att", "conv_attention").result
    r = (1, res.integer - 1, res.width - res.integer)

    def conv(part: str, v: Arr) -> Arr:
        m = w[f"att.{part}.weight"][:, :, 0, 0]
        return v @ m.T + w[f"att.{part}.bias"]

    q, k, v = (fx(conv(p, x), *r) for p in ("query", "key", "value"))
    s = fx(np.einsum("bid,bjd->bij", q, k), *r)
    # hls4ml 1.3 softmax_stable: inp_norm_t = ap_ufixed<W-1, I-1> (TRN, WRAP), exp(-x) table
    norm = (0, r[1], r[2])
    d = fx(s.max(axis=-1, keepdims=True) - s, *norm)
    e = table(lambda t: np.exp(-t), *norm)[top_bits(d, *norm)]
    total = fx(e.sum(axis=-1, keepdims=True), 1, 7, 10, rnd=True, sat=True)
    inv = table(lambda t: np.float32(1) / t, 1, 7, 10)[top_bits(total, 1, 7, 10)]
    p = fx(e * inv, *r)
    z = fx(p @ v, *r)
    y = conv("proj", z) + x
    return fx(np.maximum(y, 0), 0, r[1], r[2])  # relu at R (WRAP, as da4ml's relu)


def run_pieces(pieces: list[Any], x: Arr) -> Arr:
    """The traced pieces applied in order, in da4ml's bit-exact interpreter."""
    *qkv, scores, softmax, sv, proj = pieces
    b, n, c = x.shape
    q, k, v = (p.comb.predict(x.reshape(b * n, c), n_threads=1).reshape(b, n, -1) for p in qkv)
    dh = q.shape[-1]
    pairs = np.concatenate(np.broadcast_arrays(q[:, :, None], k[:, None, :]), axis=-1)
    s = scores.comb.predict(pairs.reshape(-1, 2 * dh), n_threads=1).reshape(b, n, n)
    p = softmax.comb.predict(s.reshape(b * n, n), n_threads=1).reshape(b, n, n)
    cols = np.broadcast_to(v.transpose(0, 2, 1)[:, None], (b, n, dh, n))
    rows = np.broadcast_to(p[:, :, None], (b, n, dh, n))
    z = sv.comb.predict(np.concatenate([rows, cols], -1).reshape(-1, 2 * n), n_threads=1)
    zx = np.concatenate([z.reshape(b, n, dh), x], axis=-1)
    return np.asarray(proj.comb.predict(zx.reshape(b * n, -1), n_threads=1).reshape(b, n, c))


@pytest.mark.parametrize("strategy", ["distributed_arithmetic", "latency"])
def test_attention_is_bit_exact_against_hls4ml_arithmetic(strategy: str) -> None:
    """Narrow formats so that scores wrap, differences saturate and tables are exercised."""
    spec = ArchSpec((3, 3, 3), (ConvAttention("att", 2, act="relu"),))
    model = LayerHW(FixedPoint(6, 2), FixedPoint(10, 4), FixedPoint(16, 8), 1)
    hw = HardwareConfig(PART, model=model, input_precision=FixedPoint(8, 4), strategy=strategy)
    design = random_design(spec, hw, seed=3)
    fitted = dict(design.hw.by_name)  # each 1x1 conv's weight format fits its weights
    assert {p: fitted[f"att.{p}"].weight for p in ("query", "proj")} == {
        "query": FixedPoint(6, 1),
        "proj": FixedPoint(6, 1),
    }
    pieces = Planner(design, ROW_BLOCK).plan()
    assert [(p.name, p.count, p.level) for p in pieces] == [
        ("att.query", 9, 0),
        ("att.key", 9, 0),
        ("att.value", 9, 0),
        ("att.scores", 81, 1),
        ("att.softmax", 9, 2),
        ("att.sv", 18, 3),
        ("att.proj", 9, 4),
    ]
    x = fx(np.random.default_rng(0).uniform(-8, 8, (300, 9, 3)), 1, 3, 4)
    if strategy == "latency":  # weights are inputs tied to constants: feed them
        got = run_pieces([WithConstants(p) for p in pieces], x)
    else:
        got = run_pieces(pieces, x)
    want = reference(design, x)
    np.testing.assert_array_equal(got, want)
    # the data really exercised the softmax: peaked rows and flat rows, not all uniform
    assert np.ptp(want) > 1.0 and len(np.unique(want)) > 100


class WithConstants:
    """A piece whose weight inputs are appended to each row (what the Verilog wrapper ties)."""

    def __init__(self, piece: Any) -> None:
        self.comb = self
        self.piece = piece

    def predict(self, data: Arr, n_threads: int = 1) -> Arr:
        c = self.piece.constants
        if c is not None:
            data = np.concatenate([data, np.broadcast_to(c, (len(data), len(c)))], axis=1)
        return np.asarray(self.piece.comb.predict(data, n_threads=n_threads))


@pytest.mark.slow
def test_attention_design_synthesises(tmp_path: Path) -> None:
    """A conv + attention + dense design through da4ml and yosys: seven unique attention
    circuits for 4x4 positions, totals = sum of count x piece numbers."""
    spec = ArchSpec(
        (1, 6, 6),
        (
            Conv2d("c", 2, 3),
            ConvAttention("att", 2, act="leaky_relu"),
            Flatten("f"),
            Linear("o", 2),
        ),
        name="tiny-attention",
    )
    hw = HardwareConfig.uniform(PART, 4, strategy="distributed_arithmetic")
    design = random_design(spec, hw, seed=5)
    synth = OpenSynthesizer(jobs=2)
    assert synth.unsupported(design) is None
    cache = SqlCache(f"sqlite:///{tmp_path}/c.db")
    out = synthesize(design, synth, cache, timeout_s=600)
    (r,) = out.entry.results
    assert r.status == "ok", r.error
    rows = json.loads(next(cache.artifacts(out.entry.key).rglob("pieces.json")).read_text())
    names = [row["piece"] for row in rows]
    attention = ["att.query", "att.key", "att.value", "att.scores", "att.softmax", "att.sv"]
    assert names == ["c", *attention, "att.proj", "o"]
    assert [row["count"] for row in rows] == [16, 16, 16, 16, 256, 16, 32, 16, 1]
    assert r.extra["pieces_synthesised"] == 9
    assert r.lut == sum(row["count"] * row["lut"] for row in rows)
    assert r.ff == sum(row["count"] * row["ff"] for row in rows)
    assert r.dsp == sum(row["count"] * row["dsp"] for row in rows) > 0  # the variable products
    levels: dict[int, int] = {}
    for row in rows:  # query, key and value run side by side
        levels[row["level"]] = max(levels.get(row["level"], 0), row["stages"])
    assert len(levels) == 7 and r.latency_min == sum(levels.values())
    softmax = rows[names.index("att.softmax")]
    assert softmax["lut"] > rows[names.index("att.scores")]["lut"]  # the tables cost most
