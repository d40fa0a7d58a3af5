"""The open flow's pieces, planned from a design document alone (no weights, no da4ml).

The open flow (``hwloop/synth/_pieces.py``) cuts a network into circuits of bounded size and
synthesises each unique one; a design's numbers are the sum over pieces of count x the piece's
numbers, and its latency the sum over pipeline levels of the slowest piece. :func:`plan_pieces`
makes the same plan from the cache's design JSON: the same piece names, counts, levels, inputs
and outputs, with each piece described by nominal formats (the layer's configured widths) and
its expected non-zero weights (the layer's non-zeros spread evenly over its row blocks). A test
checks it against the real planner, piece for piece.

The piece-level surrogate learns one piece from its :class:`PieceSpec`; the pieces are bounded
in size (at most ``row_block`` matrix inputs), so a design ten times larger than any seen in
training is made of pieces inside the training range.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from surrogates._features import FeatureError

ROW_BLOCK = 96  # the open flow's inputs per matrix piece (hwloop.synth._open.ROW_BLOCK)
TABLE_BITS = 10  # activation / softmax / 1/sqrt tables are indexed by at most 10 bits
SOFTMAX_BITS = 18  # hls4ml's exp and 1/x table entries: ap_fixed<18,8>
PIECE_SCHEMA = "piece-6"

# piece kinds -> stable codes (a feature); a new kind gets a new code at the end
KINDS = (
    "dense",  # a whole matrix (<= row_block inputs) + bias + activation
    "rows",  # one row block of a wider matrix: exact partial sums
    "reduce",  # the partial sums of a wide matrix added, + bias + activation
    "aggregate-mean",
    "aggregate-max",
    "ln-stats",  # layer norm: sum and sum of squares of a block
    "ln-reduce",  # layer norm: mean, variance, 1/sqrt by table
    "ln-norm",  # layer norm: scale a block by its gamma and beta, + activation
    "scores",  # attention: q . k (variable x variable)
    "softmax",  # attention: hls4ml's table softmax over a row
    "sv",  # attention: sum_j p_ij v_j (variable x variable)
    "proj",  # attention: projection + residual + activation
)
ACT_CODES = {None: 0, "relu": 1, "leaky_relu": 2, "gelu": 3}

PIECE_FEATURES = (
    "kind",
    "inputs",
    "outputs",
    "in_bits",
    "w_bits",
    "out_bits",
    "weights",
    "nonzero",
    "density",
    "act",
    "multipliers",
    "tables",
    "work",  # a size proxy in bit operations (the power-law prior of LUT and FF)
    "mults",  # products on real multipliers (the prior of DSP)
    "terms",  # summands per output (the adder tree's depth: the prior of pipeline stages)
    "io_bits",  # input + output bits (pipeline registers hold at least the outputs)
    "clock_ns",
    "consts",  # expected distinct constant multiples of the inputs (shared shift-adds)
    "reuse",  # non-zeros per distinct constant multiple (how often each shared multiple is used)
)

# the middle fidelity: what da4ml says of a traced piece of a design with real weights
TRACED_FEATURES = (*PIECE_FEATURES, "da4ml_cost", "reg_bits", "stages")


@dataclass(frozen=True)
class PieceSpec:
    """One planned circuit: ``count`` identical copies at pipeline ``level``."""

    name: str
    kind: str
    count: int
    level: int
    inputs: int
    outputs: int
    in_bits: float  # data bits per input (sign included when kept)
    w_bits: float = 0.0  # constant weights' width (0: none)
    out_bits: float = 0.0
    weights: int = 0  # constant weights the circuit holds (matrix entries)
    nonzero: float = 0.0  # of which non-zero
    act: str | None = None
    multipliers: bool = False  # the weights multiply on real multipliers (strategy latency)
    tables: int = 0  # lookup tables (activation, softmax, 1/sqrt)
    clock_ns: float = math.nan

    def features(self) -> list[float]:
        """The feature vector (:data:`PIECE_FEATURES` order)."""
        return list(self._vector)

    @cached_property
    def _vector(self) -> tuple[float, ...]:  # computed once per spec (planning asks twice)
        code = KINDS.index(self.kind) if self.kind in KINDS else len(KINDS)
        return (
            float(code),
            float(self.inputs),
            float(self.outputs),
            self.in_bits,
            self.w_bits,
            self.out_bits,
            float(self.weights),
            self.nonzero,
            self.nonzero / self.weights if self.weights else math.nan,
            float(ACT_CODES.get(self.act, len(ACT_CODES))),
            float(self.multipliers),
            float(self.tables),
            self.work,
            self.mults,
            self.terms,
            self.inputs * self.in_bits + self.outputs * self.out_bits,
            self.clock_ns,
            self.consts,
            self.reuse,
        )

    @property
    def work(self) -> float:
        """Bit operations of the circuit in LUTs: constant products cost ~ non-zeros x input
        bits x weight bits, additions ~ inputs x bits; attention's variable products sit on
        DSPs (``mults``), so its LUTs are the adder trees of 2b-bit products."""
        b, k = self.in_bits, self.kind
        if k in ("dense", "rows", "proj"):
            w = self.nonzero * b * max(self.w_bits, 1.0) + self.inputs * b
        elif k in ("scores", "sv"):  # the products are on DSPs: LUTs add up 2b-bit products
            w = max(self.inputs / 2 - 1, 0.0) * 2 * b
        elif k == "ln-stats":
            w = self.inputs * b * (b + 1)
        elif k == "ln-norm":
            w = self.inputs * b * (b + self.w_bits)
        else:
            w = self.inputs * b
        # a table of 2^TABLE_BITS entries per output bit: ~16 LUT6 each
        return w + self.tables * self.out_bits * 2 ** (TABLE_BITS - 6)

    @property
    def consts(self) -> float:
        """Expected distinct constant multiples of the inputs a constant matrix needs: da4ml
        builds each input's odd multiples once and shares them over the outputs, and a
        ``w``-bit weight has at most 2^(w-2) odd magnitudes, so wide matrices of narrow weights
        cost less per non-zero than narrow ones (the sharing that a per-non-zero law misses)."""
        if self.kind not in ("dense", "rows", "proj") or not self.inputs:
            return 0.0
        per_input = self.nonzero / self.inputs
        return self.inputs * min(per_input, 2 ** max(self.w_bits - 2, 0.0)) * self.in_bits

    @property
    def reuse(self) -> float:
        """Non-zeros per distinct constant multiple (:attr:`consts` per input bit): past one, a
        non-zero costs an adder and no new multiple, so LUTs grow more slowly than non-zeros."""
        distinct = self.consts / self.in_bits if self.in_bits else 0.0
        return self.nonzero / distinct if distinct else 0.0

    @property
    def terms(self) -> float:
        if self.kind in ("dense", "rows") and self.outputs:
            return self.nonzero / self.outputs
        if self.kind == "proj" and self.outputs:
            return self.nonzero / self.outputs + 1  # the residual
        return self.inputs / max(self.outputs, 1)

    @property
    def mults(self) -> float:
        """Variable or constant products that synthesis maps to DSP48E2 blocks: the layer
        norm's squares (stats), its mean squared (reduce) and each element times 1/sqrt(var)
        (norm); attention's q.k and p.v products and the softmax's exp x 1/sum; every weight
        with strategy latency."""
        if self.kind in ("scores", "sv"):
            return self.inputs / 2
        if self.kind in ("ln-stats", "softmax"):  # squares; each exp times 1/sum
            return float(self.inputs)
        if self.kind == "ln-reduce":
            return 1.0
        if self.kind == "ln-norm":
            return float(self.outputs)
        return self.nonzero if self.multipliers else 0.0


@dataclass(frozen=True)
class _Fmt:
    """A data format as the open flow's planner carries it: (keep sign, integer, fraction)."""

    k: int
    i: int
    f: int

    @property
    def bits(self) -> int:
        return self.k + self.i + self.f


def _kif(fmt: Mapping[str, Any] | None, what: str) -> _Fmt:
    if not fmt:
        raise FeatureError(f"the design has no {what} format")
    k = 1 if fmt.get("signed", True) else 0
    return _Fmt(k, int(fmt["integer"]) - k, int(fmt["width"]) - int(fmt["integer"]))


def _cascade(hw: Mapping[str, Any], name: str, op: str) -> dict[str, Any]:
    out = dict(hw.get("model") or {})
    out.update((hw.get("by_type") or {}).get(op) or {})
    out.update((hw.get("by_name") or {}).get(name) or {})
    return out


class _Plan:
    def __init__(self, doc: Mapping[str, Any], row_block: int) -> None:
        self.hw = doc["hw"]
        self.nonzero = doc.get("nonzero") or {}
        self.sparsity = float(doc.get("sparsity") or 0.0)
        self.rb = row_block
        self.multipliers = self.hw.get("strategy") == "latency"
        self.clock = float(self.hw.get("clock_period_ns", math.nan))
        self.level = 0
        self.pieces: list[PieceSpec] = []

    def add(self, spec: PieceSpec) -> None:
        # the spec was made a line ago and nothing else holds it: set its level in place
        # (dataclasses.replace was a third of a batch prediction's time)
        object.__setattr__(spec, "level", self.level)
        object.__setattr__(spec, "clock_ns", self.clock)
        self.pieces.append(spec)

    def post(self, act: str | None, res: _Fmt) -> _Fmt:
        return _Fmt(0, res.i, res.f) if act == "relu" else res

    def nonzeros(self, key: str, size: int, part: int) -> float:
        """Expected non-zeros of ``part`` of the ``size`` weights of matrix ``key`` (exact for
        the whole matrix: a model's range check must not see float noise)."""
        nz = self.nonzero.get(key)
        if nz is None or not size:
            return part * (1.0 - self.sparsity)
        return float(nz) if part == size else float(nz) * part / size

    def matrix(
        self,
        name: str,
        key: str,
        n: int,
        m: int,
        w_bits: float,
        count: int,
        fmt: _Fmt,
        act: str | None,
        out: _Fmt,
    ) -> None:
        tables = m if act == "gelu" else 0
        if n <= self.rb:
            self.add(
                PieceSpec(
                    name, "dense", count, 0, n, m, fmt.bits, w_bits, out.bits, n * m,
                    self.nonzeros(key, n * m, n * m), act, self.multipliers, tables,
                )
            )  # fmt: skip
            self.level += 1
            return
        nb = math.ceil(n / self.rb)
        # a partial sum's width: da4ml's range analysis bounds it by sum |w| x max |x|, about
        # the non-zero summands of an output times the weight and input ranges
        per_output = self.nonzeros(key, n * m, min(self.rb, n) * m) / max(m, 1)
        acc_bits = fmt.bits + w_bits + math.log2(max(per_output, 1.0))
        for j in range(nb):
            rows = min(self.rb, n - j * self.rb)
            self.add(
                PieceSpec(
                    f"{name}.rows{j}", "rows", count, 0, rows, m, fmt.bits, w_bits, acc_bits,
                    rows * m, self.nonzeros(key, n * m, rows * m), None, self.multipliers,
                )
            )  # fmt: skip
        self.level += 1
        self.add(
            PieceSpec(
                f"{name}.reduce", "reduce", count, 0, nb * m, m, acc_bits, 0.0, out.bits,
                act=act, tables=tables,
            )
        )  # fmt: skip
        self.level += 1

    def layer_norm(
        self, name: str, n: int, z: _Fmt, w_bits: float, act: str | None, out: _Fmt
    ) -> None:
        rb = min(self.rb, n)
        nb = math.ceil(n / rb)
        sum_bits = 2 * z.bits + math.ceil(math.log2(rb))
        self.add(PieceSpec(f"{name}.stats", "ln-stats", nb, 0, rb, 2, z.bits, 0.0, sum_bits))
        self.level += 1
        self.add(
            PieceSpec(
                f"{name}.norm-reduce", "ln-reduce", 1, 0, 2 * nb, 2, sum_bits, 0.0,
                z.bits + 12, tables=1,
            )
        )  # fmt: skip
        self.level += 1
        tables = 1 if act == "gelu" else 0
        for j in range(nb):
            size = min(rb, n - j * rb)
            self.add(
                PieceSpec(
                    f"{name}.norm{j}", "ln-norm", 1, 0, size + 2, size, z.bits, w_bits,
                    out.bits, 2 * size, 2.0 * size, act, tables=tables * size,
                )
            )  # fmt: skip
        self.level += 1


def plan_pieces(doc: Mapping[str, Any], row_block: int = ROW_BLOCK) -> tuple[PieceSpec, ...]:
    """The open flow's pieces of an hwloop design document (``Design.canonical()``)."""
    try:
        arch, hw = doc["arch"], doc["hw"]
        shape = tuple(int(x) for x in arch["input_shape"])
        plan = _Plan(doc, row_block)
        fmt = _kif(hw.get("input_precision"), "input")
        for layer in arch["layers"]:
            op, name = layer["op"], layer["name"]
            if op == "flatten":
                shape = (math.prod(shape),)
                continue
            lw = _cascade(hw, name, op)
            if op == "aggregate":
                n_set, feats = shape
                kind = f"aggregate-{layer.get('method', 'mean')}"
                plan.add(PieceSpec(name, kind, 1, 0, n_set * feats, feats, fmt.bits, 0, fmt.bits))
                plan.level += 1
                shape = shape[1:]
                continue
            res = _kif(lw.get("result"), f"layer {name} result")
            if op == "conv_attention":
                fmt = _attention(plan, layer, shape, fmt, res)
                continue
            w_bits = float(_kif(lw.get("weight"), f"layer {name} weight").bits)
            act, norm = layer.get("act"), layer.get("norm")
            if op == "conv2d":
                c, h, wd = shape
                k, p = int(layer["kernel"]), int(layer.get("padding", 0))
                ho, wo = h + 2 * p - k + 1, wd + 2 * p - k + 1
                n, m, positions = c * k * k, int(layer["out_channels"]), ho * wo
                shape = (m, ho, wo)
            elif op == "conv1d":
                c, length = shape
                k, p = int(layer["kernel"]), int(layer.get("padding", 0))
                lo = length + 2 * p - k + 1
                n, m, positions = c * k, int(layer["out_channels"]), lo
                shape = (m, lo)
            elif op == "linear" and len(shape) == 2:  # a set: the same layer on each element
                n, m, positions = shape[1], int(layer["out_features"]), shape[0]
                shape = (shape[0], m)
            elif op == "linear":
                n, m, positions = shape[0], int(layer["out_features"]), 1
                shape = (m,)
            else:
                raise FeatureError(
                    f"layer {name}: the open flow has no {op!r} (pieces cover conv2d, conv1d, "
                    "linear, conv_attention, aggregate and flatten)"
                )
            out = plan.post(act, res)
            if norm == "layer":
                plan.matrix(name, name, n, m, w_bits, positions, fmt, None, res)
                plan.layer_norm(name, positions * m, res, w_bits, act, out)
            else:
                plan.matrix(name, name, n, m, w_bits, positions, fmt, act, out)
            fmt = out
        return tuple(plan.pieces)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, FeatureError):
            raise
        raise FeatureError(f"not an hwloop design document: {exc!r}") from None


def _attention(
    plan: _Plan, layer: Mapping[str, Any], shape: tuple[int, ...], fmt: _Fmt, res: _Fmt
) -> _Fmt:
    """hwloop/synth/_attention.py's seven pieces of a conv_attention block."""
    name, hidden = layer["name"], int(layer["hidden"])
    c, h, w = shape
    n = h * w
    first = plan.level
    for part in ("query", "key", "value"):
        plan.level = first
        pw = _cascade(plan.hw, f"{name}.{part}", "conv_attention").get("weight")
        w_bits = float(_kif(pw, f"layer {name}.{part} weight").bits)
        plan.matrix(f"{name}.{part}", f"{name}.{part}", c, hidden, w_bits, n, fmt, None, res)
    plan.add(PieceSpec(f"{name}.scores", "scores", n * n, 0, 2 * hidden, 1, res.bits, 0, res.bits))
    plan.level += 1
    # hls4ml's table softmax: an exp table per element, one 1/sum table
    plan.add(
        PieceSpec(f"{name}.softmax", "softmax", n, 0, n, n, res.bits, 0, res.bits, tables=n + 1)
    )
    plan.level += 1
    plan.add(PieceSpec(f"{name}.sv", "sv", n * hidden, 0, 2 * n, 1, res.bits, 0, res.bits))
    plan.level += 1
    act = layer.get("act")
    out = plan.post(act, res)
    pw = _cascade(plan.hw, f"{name}.proj", "conv_attention").get("weight")
    w_bits = float(_kif(pw, f"layer {name}.proj weight").bits)
    key = f"{name}.proj"
    plan.add(
        PieceSpec(
            key, "proj", n, 0, hidden + c, c, max(res.bits, fmt.bits), w_bits, out.bits,
            hidden * c, plan.nonzeros(key, hidden * c, hidden * c), act, plan.multipliers,
            c if act == "gelu" else 0,
        )
    )  # fmt: skip
    plan.level += 1
    return out


def traced_rows(
    doc: Mapping[str, Any], table: Sequence[Mapping[str, Any]], row_block: int = ROW_BLOCK
) -> list[tuple[PieceSpec, int, tuple[int, ...], list[float]]]:
    """Each row of a traced piece table (the open flow's ``piece_table``, or
    ``hwloop.synth.trace_pieces`` without synthesis) as (spec with its real non-zeros, count,
    levels, :data:`TRACED_FEATURES` vector)."""
    out: list[tuple[PieceSpec, int, tuple[int, ...], list[float]]] = []
    for (spec, _), row in zip(piece_rows(doc, table, row_block), table, strict=True):
        extra = [float(row.get(k) or 0.0) for k in ("da4ml_cost", "reg_bits", "stages")]
        levels = tuple(int(v) for v in row.get("levels") or (spec.level,))
        out.append((spec, int(row.get("count") or spec.count), levels, spec.features() + extra))
    return out


def piece_rows(
    doc: Mapping[str, Any], table: Sequence[Mapping[str, Any]], row_block: int = ROW_BLOCK
) -> list[tuple[PieceSpec, dict[str, float]]]:
    """The training rows of one synthesised design: each unique piece of its ``piece_table``
    (the open flow's ``extra``) joined by name with its planned spec, the spec's expected
    non-zeros replaced by the piece's real ones, and its real LUT / FF / DSP / stages."""
    specs = {s.name: s for s in plan_pieces(doc, row_block)}
    out = []
    for row in table:
        spec = specs.get(str(row.get("piece")))
        if spec is None:
            raise FeatureError(
                f"piece {row.get('piece')!r} of the synthesised design is not in its plan"
            )
        if int(row.get("weights") or 0) == spec.weights and spec.weights:
            spec = replace(spec, nonzero=float(row.get("nonzero_weights") or 0))
        y = {m: float(row[m]) for m in ("lut", "ff", "dsp") if row.get(m) is not None}
        y["latency"] = float(row.get("stages") or 0)
        out.append((spec, y))
    return out
