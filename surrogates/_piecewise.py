"""The piece-level surrogate of the open flow: one model of a piece, composed like synthesis.

The open flow synthesises a design as pieces of bounded size (:mod:`surrogates._pieces`). This
surrogate learns one piece's LUT / FF / DSP / BRAM and pipeline stages from its
:class:`PieceSpec` (a :class:`ResourceSurrogate` over :data:`PIECE_FEATURES`, trained on the
unique pieces of real runs: the ``piece_table`` in their ``extra``). A design's prediction is
what the synthesiser would add up: the sum over its planned pieces of count x the piece's
prediction, and latency the sum over pipeline levels of the slowest piece on the level. Since
pieces stay inside the training range however large the design, a design 100x larger than any
trained on is not an extrapolation of the trees.

The piece intervals (10 / 90 % quantiles) are summed (as if the pieces' errors moved together)
and then conformalised on design totals (cross-conformal): the training architectures are split
into ``conformal_folds`` folds, each fold's designs predicted by a model fitted on the others,
and the log-scale margin that covers 80 % of those out-of-fold totals is kept (negative when the
summed intervals are too wide). With ``size_fold`` one more fold holds out the largest third of
the designs (by real LUT) and trains on the rest: a search goes past the calibrated sizes, and
errors there are larger than between architectures of the same size. That fold's margin (at
least the folds' one) is kept apart, for designs predicted larger than any trained on
(``size_cut_``); the others get the architecture folds' margin. One margin pooled over all
folds was too wide inside the range and too narrow past it (coverage 0.90-0.91 held out by
architecture, 0.61-0.66 held out by size).

Some pieces are fixed by their descriptor: they hold no constants, and every copy synthesises
the same (attention's q.k scores, softmax rows and SV sums; a layer norm's statistics). Where the
training data shows a kind to be so (each of at least :data:`MIN_REPEATS` repeated descriptors
gave the same numbers every time), its pieces seen in training are answered by their real
numbers (:attr:`exact_`) rather than by the trees, which smooth over yosys's irregular mapping (a
16-bit SV sum of 18 inputs takes 838 LUTs, a 14-bit one 265). Their interval keeps the trees'
relative width around the real number: a zero width made designs that are half attention look
twice as certain as the rest of their pieces are (FF coverage 0.48 on them, held out by size).
A piece library (``scripts/calibrate_attention_pieces.py``: the smallest designs that hold each
attention piece the block space can make) adds the large ones, which only large designs hold;
its runs teach pieces (``fit(library=...)``) but never calibrate the margin.

A piece kind with no training data still gets the model's answer, but the design is flagged
``piece kind '...': no training data`` in the notes :meth:`predict_documents` returns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from surrogates._model import ResourceSurrogate, SurrogateError, read_metadata, write_metadata
from surrogates._pieces import (
    PIECE_FEATURES,
    PIECE_SCHEMA,
    ROW_BLOCK,
    TRACED_FEATURES,
    PieceSpec,
    piece_rows,
    plan_pieces,
    traced_rows,
)

FORMAT = "hwloop.piecewise/1"
PIECE_METRICS = ("lut", "ff", "dsp", "bram_18k", "latency")
# LUT: per piece kind, a law in work, non-zeros, input and weight bits and inputs (one law in work
# alone over-predicted large pieces by 40 %: da4ml shares more sub-expressions in wide matrices);
# a kind seen on few pieces keeps the global exponents with its own level. FF one law in work,
# registers at the ports, the adder tree's depth and width. Measured held out by size and by
# architecture (docs/surrogates.md)
_PRIORS = (
    ("lut", "work+nonzero+in_bits+w_bits+inputs", "kind"),
    ("ff", "work+io_bits+terms+outputs"),
    ("dsp", "mults"),
    ("latency", "terms"),
)
# the middle fidelity: da4ml's LUT estimate and register bits of each traced piece
_TRACED_PRIORS = (("lut", "da4ml_cost"), ("ff", "reg_bits"), ("dsp", "mults"))
TRACED_METRICS = ("lut", "ff", "dsp", "bram_18k")
# metric -> the feature without which a piece has none of it (checked on the training data)
_ZERO_WITHOUT = {"dsp": "mults", "bram_18k": "tables"}
EXACT_METRICS = ("lut", "ff", "dsp", "latency")
SIZE_FOLD_QUANTILE = 2 / 3  # the size fold holds out the designs above this LUT quantile
MIN_REPEATS = 3  # repeated descriptors of a kind, all alike, before its pieces are looked up


def _zero_rules(X: NDArray[np.float64], Y: Mapping[str, NDArray[np.float64]]) -> dict[str, str]:
    """The rules of :data:`_ZERO_WITHOUT` that every training row obeys (a tree's leaf never
    says exactly 0, and 0 DSP on a design that has none is worth saying exactly)."""
    out = {}
    for metric, feature in _ZERO_WITHOUT.items():
        y = Y.get(metric)
        if y is None:
            continue
        rows = (X[:, PIECE_FEATURES.index(feature)] == 0) & np.isfinite(y)
        if rows.any() and np.all(y[rows] == 0):
            out[metric] = feature
    return out


def _key(row: Sequence[float]) -> tuple[float, ...]:
    """A piece's descriptor as a dictionary key (NaN, the density of a piece without
    constants, never equals itself)."""
    return tuple(round(float(v), 6) if math.isfinite(v) else -1.0 for v in row)


def _exact_table(
    X: NDArray[np.float64], Y: Mapping[str, NDArray[np.float64]], kinds: Sequence[str]
) -> dict[tuple[float, ...], dict[str, float]]:
    """The real numbers of every training piece that holds no constants, for the kinds whose
    pieces synthesise the same every time: each descriptor seen more than once (at least
    :data:`MIN_REPEATS` of them) had the same LUT, FF, DSP and stages every time. Such a piece
    (a softmax row, a q.k score) is fixed by its descriptor, so its real result is its answer."""
    w = PIECE_FEATURES.index("weights")
    seen: dict[tuple[float, ...], list[int]] = {}
    for i in np.flatnonzero(X[:, w] == 0):
        seen.setdefault(_key(X[i]), []).append(int(i))
    repeats: dict[str, list[bool]] = {}
    for idx in seen.values():
        if len(idx) > 1:
            same = all(
                np.ptp(v) <= 0.01 * max(float(np.mean(v)), 1.0)
                for m in EXACT_METRICS
                if np.all(np.isfinite(v := Y[m][idx]))
            )
            repeats.setdefault(kinds[idx[0]], []).append(same)
    fixed = {k for k, r in repeats.items() if len(r) >= MIN_REPEATS and all(r)}
    return {
        key: {m: float(np.mean(Y[m][idx])) for m in EXACT_METRICS if np.all(np.isfinite(Y[m][idx]))}
        for key, idx in seen.items()
        if kinds[idx[0]] in fixed
    }


def _traced_targets(Y: Mapping[str, NDArray[np.float64]]) -> dict[str, NDArray[np.float64]]:
    """A trace knows the stages: the traced model learns resources only."""
    return {m: v for m, v in Y.items() if m in TRACED_METRICS}


def _slowest(q: NDArray[np.float64]) -> NDArray[np.float64]:
    """(low, median, high) stages of the slowest of the k pieces on a level, from each piece's
    quantiles: the median of the largest of k draws is each draw's 0.5^(1/k) quantile, read off
    between the median and the 90 % quantile (the max of k medians is biased low)."""
    k = q.shape[0]
    w = min(1.0, max(0.0, (0.5 ** (1 / k) - 0.5) / 0.4))
    mid = q[:, 1] + w * (q[:, 2] - q[:, 1])
    return np.array([q[:, 0].max(), mid.max(), q[:, 2].max()])


class PieceSurrogate:
    """Predicts lut / ff / dsp / bram_18k / latency / ii of open-flow designs from pieces."""

    piece_model_: ResourceSurrogate
    margin_: dict[str, float]
    kinds_: dict[str, int]  # piece kind -> training rows
    zero_without_: dict[str, str]  # metric -> feature: zero in training wherever it was
    exact_: dict[tuple[float, ...], dict[str, float]]  # pieces answered by their real numbers
    traced_model_: ResourceSurrogate  # the middle fidelity (designs with weights, traced)
    traced_margin_: dict[str, float]
    # designs larger than any trained on (predicted LUT above ``size_cut_``) get the size
    # fold's margin: keys ``lut``, ..., and ``traced:lut``, ... for the middle fidelity
    beyond_margin_: dict[str, float]
    size_cut_: float
    n_designs_: int
    metadata_: dict[str, Any]

    def __init__(
        self,
        flow: str = "open",
        kind: str = "post_synthesis",
        row_block: int = ROW_BLOCK,
        n_estimators: int = 300,
        traced_estimators: int = 150,  # da4ml's cost explains most of a traced piece
        learning_rate: float = 0.05,
        max_depth: int = 8,
        conformal_folds: int = 5,
        size_fold: bool = True,
        n_jobs: int = 1,
        random_state: int = 0,
    ) -> None:
        self.flow = flow
        self.kind = kind
        self.row_block = row_block
        self.n_estimators = n_estimators
        self.traced_estimators = traced_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.conformal_folds = conformal_folds
        self.size_fold = size_fold
        self.n_jobs = n_jobs
        self.random_state = random_state

    def get_params(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "kind": self.kind,
            "row_block": self.row_block,
            "n_estimators": self.n_estimators,
            "traced_estimators": self.traced_estimators,
            "learning_rate": self.learning_rate,
            "max_depth": self.max_depth,
            "conformal_folds": self.conformal_folds,
            "size_fold": self.size_fold,
            "n_jobs": self.n_jobs,
            "random_state": self.random_state,
        }

    def _piece_model(self, traced: bool = False) -> ResourceSurrogate:
        """The per-piece regressor: from the plan alone, or (``traced``) with da4ml's trace."""
        return ResourceSurrogate(
            self.flow,
            self.kind,
            n_estimators=self.traced_estimators if traced else self.n_estimators,
            learning_rate=self.learning_rate,
            max_depth=self.max_depth,
            conformal_fraction=0.0,  # the design totals are conformalised, not the pieces
            priors=_TRACED_PRIORS if traced else _PRIORS,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
            features="piece-traced" if traced else "piece",
        )

    def _traced_rows(
        self,
        docs: Sequence[Mapping[str, Any]],
        tables: Sequence[Sequence[Mapping[str, Any]]],
        idx: Sequence[int],
    ) -> NDArray[np.float64]:
        rows = [f for i in idx for _, _, _, f in traced_rows(docs[i], tables[i], self.row_block)]
        return np.asarray(rows, dtype=np.float64).reshape(-1, len(TRACED_FEATURES))

    # ---- fit ------------------------------------------------------------------------------------
    def _rows(
        self,
        docs: Sequence[Mapping[str, Any]],
        tables: Sequence[Sequence[Mapping[str, Any]]],
        totals: Mapping[str, NDArray[Any]],
        idx: Sequence[int],
    ) -> tuple[NDArray[np.float64], dict[str, NDArray[np.float64]], list[str]]:
        X, Y, kinds = [], {m: [] for m in PIECE_METRICS}, []  # type: ignore[var-annotated]
        for i in idx:
            for spec, y in piece_rows(docs[i], tables[i], self.row_block):
                X.append(spec.features())
                kinds.append(spec.kind)
                for m in PIECE_METRICS:
                    v = y.get(m, math.nan)
                    if m == "bram_18k" and math.isnan(v):
                        # older piece tables lack BRAM: a design without any has none per piece
                        v = 0.0 if totals.get(m) is not None and totals[m][i] == 0 else math.nan
                    Y[m].append(v)
        return (
            np.asarray(X, dtype=np.float64).reshape(-1, len(PIECE_FEATURES)),
            {m: np.asarray(v, dtype=np.float64) for m, v in Y.items()},
            kinds,
        )

    def fit(
        self,
        docs: Sequence[Mapping[str, Any]],
        tables: Sequence[Sequence[Mapping[str, Any]]],
        totals: Mapping[str, NDArray[Any]],
        groups: NDArray[Any] | None = None,
        library: NDArray[Any] | None = None,
    ) -> PieceSurrogate:
        """``docs``: design documents of real open-flow runs; ``tables``: each run's
        ``extra["piece_table"]``; ``totals``: metric -> the runs' real totals (for the
        conformal margin); ``groups``: each run's architecture; ``library``: runs that only
        teach pieces (a piece library: designs made to hold given pieces, not designs a
        search samples), never held out to calibrate the margin."""
        n = len(docs)
        if len(tables) != n:
            raise SurrogateError(f"{len(tables)} piece tables for {n} designs")
        if n == 0:
            raise SurrogateError("no designs with piece tables to learn from")
        Yt = {m: np.asarray(v, dtype=np.float64) for m, v in totals.items()}
        g = np.asarray(groups if groups is not None else np.arange(n)).astype(str)
        names = np.random.default_rng(self.random_state).permutation(np.unique(g))
        folds = min(self.conformal_folds, names.size)
        lib = np.zeros(n, dtype=bool) if library is None else np.asarray(library, dtype=bool)
        helds = [np.isin(g, names[f::folds]) & ~lib for f in range(folds if folds >= 2 else 0)]
        lut = Yt.get("lut")
        if self.size_fold and helds and lut is not None and np.isfinite(lut[~lib]).sum() >= 6:
            helds.append((lut > np.nanquantile(lut[~lib], SIZE_FOLD_QUANTILE)) & ~lib)
        errs: dict[tuple[str, bool], list[NDArray[np.float64]]] = {}
        for k, held in enumerate(helds):
            by_size = k >= folds  # the size fold: its own quantile
            fit_idx = np.flatnonzero(~held).tolist()
            cal_idx = np.flatnonzero(held).tolist()
            X, Y, kinds = self._rows(docs, tables, Yt, fit_idx)
            self.piece_model_ = self._piece_model().fit(X, Y)
            self.zero_without_ = _zero_rules(X, Y)
            self.exact_ = _exact_table(X, Y, kinds)
            Xt = self._traced_rows(docs, tables, fit_idx)
            self.traced_model_ = self._piece_model(traced=True).fit(Xt, _traced_targets(Y))
            cal_docs = [docs[i] for i in cal_idx]
            pred = self._compose([self._plan(d) for d in cal_docs])
            traced = self._compose_traced(cal_docs, [tables[i] for i in cal_idx])
            for name, got in (("", pred), ("traced:", traced)):
                for metric, q in got.items():
                    y = Yt.get(metric)
                    if y is None:
                        continue
                    y = y[cal_idx]
                    ok = np.isfinite(y)
                    t, lq = np.log1p(np.maximum(y[ok], 0)), np.log1p(q[ok])
                    errs.setdefault((name + metric, by_size), []).append(
                        np.maximum(lq[:, 0] - t, t - lq[:, 2])
                    )
        inside: dict[str, float] = {}
        beyond: dict[str, float] = {}
        for (metric, size), parts in errs.items():
            err = np.concatenate(parts)
            if err.size >= 5:
                level = min(1.0, 0.8 * (1 + 1 / err.size))
                (beyond if size else inside)[metric] = float(np.quantile(err, level))
        self.margin_ = {m: v for m, v in inside.items() if not m.startswith("traced:")}
        self.traced_margin_ = {
            m.removeprefix("traced:"): v for m, v in inside.items() if m.startswith("traced:")
        }
        self.beyond_margin_ = {m: max(v, inside.get(m, -math.inf)) for m, v in beyond.items()}
        self.size_cut_ = (
            float(np.nanmax(lut[~lib])) if lut is not None and (~lib).any() else math.inf
        )
        X, Y, kinds = self._rows(docs, tables, Yt, range(n))
        self.piece_model_ = self._piece_model().fit(X, Y)
        self.zero_without_ = _zero_rules(X, Y)
        self.exact_ = _exact_table(X, Y, kinds)
        Xt = self._traced_rows(docs, tables, range(n))
        self.traced_model_ = self._piece_model(traced=True).fit(Xt, _traced_targets(Y))
        self.kinds_ = {kd: kinds.count(kd) for kd in sorted(set(kinds))}
        self.n_designs_ = n
        return self

    # ---- predict ------------------------------------------------------------------------------
    def _plan(self, doc: Mapping[str, Any]) -> tuple[PieceSpec, ...]:
        return plan_pieces(doc, self.row_block)

    def _compose(self, plans: Sequence[Sequence[PieceSpec]]) -> dict[str, NDArray[np.float64]]:
        """Metric -> (n, 3) raw totals (before the conformal margin)."""
        index: dict[tuple[float, ...], int] = {}
        rows: list[list[float]] = []
        keys: list[list[int]] = []
        for plan in plans:
            ks = []
            for spec in plan:
                f = spec.features()
                key = tuple(f)
                j = index.get(key)
                if j is None:
                    j = index[key] = len(rows)
                    rows.append(f)
                ks.append(j)
            keys.append(ks)
        X = np.asarray(rows, dtype=np.float64).reshape(-1, len(PIECE_FEATURES))
        pred = self.predict_pieces(X) if len(rows) else {}
        out: dict[str, NDArray[np.float64]] = {}
        for metric, q in pred.items():
            tot = np.zeros((len(plans), 3))
            for d, (plan, ks) in enumerate(zip(plans, keys, strict=True)):
                if metric == "latency":
                    levels: dict[int, list[int]] = {}
                    for spec, j in zip(plan, ks, strict=True):
                        levels.setdefault(spec.level, []).append(j)
                    tot[d] = sum((_slowest(q[js]) for js in levels.values()), np.zeros(3))
                else:
                    counts = np.asarray([s.count for s in plan], dtype=np.float64)
                    tot[d] = counts @ q[ks] if ks else 0.0
            out[metric] = tot
        return out

    def predict_pieces(self, X: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
        """Metric -> (n, 3) (low, median, high) of single pieces (rows of
        :data:`PIECE_FEATURES`, ``PieceSpec.features()``): the piece model, exact zeros where
        training never saw any (:data:`_ZERO_WITHOUT`), and the real numbers of pieces that
        are fixed by their descriptor (:attr:`exact_`)."""
        pred = self.piece_model_.predict(X)
        for metric, feature in self.zero_without_.items():
            if metric in pred:
                pred[metric][X[:, PIECE_FEATURES.index(feature)] == 0] = 0.0
        self._exact(X, pred)
        return pred

    def _exact(self, X: NDArray[np.float64], pred: dict[str, NDArray[np.float64]]) -> None:
        """Pieces of :attr:`exact_` get their real numbers (the median; low and high keep the
        trees' relative width around it)."""
        table = self.exact_
        if not table:
            return
        for j in np.flatnonzero(X[:, PIECE_FEATURES.index("weights")] == 0):
            hit = table.get(_key(X[j]))
            if hit is not None:
                for metric, v in hit.items():
                    if metric in pred:
                        q = pred[metric][j]
                        scale = v / q[1] if q[1] > 0 else 1.0
                        pred[metric][j] = (q[0] * scale, v, q[2] * scale) if v > 0 else v

    def _compose_traced(
        self, docs: Sequence[Mapping[str, Any]], tables: Sequence[Sequence[Mapping[str, Any]]]
    ) -> dict[str, NDArray[np.float64]]:
        """Metric -> (n, 3) raw totals of traced designs; latency is exact (the pipeline's
        stages are known once traced): the sum over levels of the slowest piece."""
        rows = [traced_rows(d, t, self.row_block) for d, t in zip(docs, tables, strict=True)]
        X = np.asarray([f for r in rows for *_, f in r], dtype=np.float64)
        X = X.reshape(-1, len(TRACED_FEATURES))
        pred = self.traced_model_.predict(X) if X.shape[0] else {}
        for metric, feature in self.zero_without_.items():
            if metric in pred:
                pred[metric][X[:, TRACED_FEATURES.index(feature)] == 0] = 0.0
        self._exact(X[:, : len(PIECE_FEATURES)], pred)
        out = {m: np.zeros((len(docs), 3)) for m in pred if m in TRACED_METRICS}
        out["latency"] = np.zeros((len(docs), 3))
        j = 0
        for d, r in enumerate(rows):
            counts = np.asarray([c for _, c, _, _ in r], dtype=np.float64)
            for metric in out:
                if metric != "latency":
                    out[metric][d] = counts @ pred[metric][j : j + len(r)] if r else 0.0
            slowest: dict[int, float] = {}
            for _, _, levels, f in r:
                for lv in levels:
                    slowest[lv] = max(slowest.get(lv, 0.0), f[-1])
            out["latency"][d] = sum(slowest.values())
            j += len(r)
        return out

    def predict_traced(
        self, docs: Sequence[Mapping[str, Any]], tables: Sequence[Sequence[Mapping[str, Any]]]
    ) -> tuple[dict[str, NDArray[np.float64]], list[list[str]]]:
        """The middle fidelity: designs with real weights whose pieces da4ml has traced
        (``tables``: per design, rows of piece name, count, levels, da4ml_cost, reg_bits,
        stages, weights and non-zeros, as ``hwloop.synth.trace_pieces`` returns them).
        Returns what :meth:`predict_documents` does."""
        if not hasattr(self, "traced_model_"):
            raise SurrogateError("this surrogate has no traced model: refit it")
        raw = self._compose_traced(docs, tables)
        out = {}
        beyond = self._beyond(raw)
        for metric, q in raw.items():
            if metric == "latency":  # exact: the traced pipeline's stages
                out[metric] = q
                continue
            inside = self.traced_margin_.get(metric, 0.0)
            m = np.where(beyond, self.beyond_margin_.get(f"traced:{metric}", inside), inside)
            lq = np.log1p(q)
            lo = np.minimum(lq[:, 0] - m, lq[:, 1])
            hi = np.maximum(lq[:, 2] + m, lq[:, 1])
            out[metric] = np.maximum(np.expm1(np.column_stack([lo, lq[:, 1], hi])), 0.0)
        out["ii"] = np.ones((len(docs), 3))
        return out, [self._notes(self._plan(d)) for d in docs]

    def predict_documents(
        self, docs: Sequence[Mapping[str, Any]], target: Mapping[str, float] | None = None
    ) -> tuple[dict[str, NDArray[np.float64]], list[list[str]]]:
        """Metric -> (n, 3) (low, median, high) and, per design, notes on what the model has
        not seen (``piece kind 'softmax': no training data``; pieces with features outside the
        training range). ``target`` is unused: the open flow's netlist does not depend on
        the part."""
        if not hasattr(self, "piece_model_"):
            raise SurrogateError("this surrogate is not fitted: call fit() or load()")
        plans = [self._plan(d) for d in docs]
        raw = self._compose(plans)
        out = {}
        beyond = self._beyond(raw)
        for metric, q in raw.items():
            inside = self.margin_.get(metric, 0.0)
            m = np.where(beyond, self.beyond_margin_.get(metric, inside), inside)
            lq = np.log1p(q)
            lo = np.minimum(lq[:, 0] - m, lq[:, 1])
            hi = np.maximum(lq[:, 2] + m, lq[:, 1])
            out[metric] = np.maximum(np.expm1(np.column_stack([lo, lq[:, 1], hi])), 0.0)
        out["ii"] = np.ones((len(docs), 3))  # every open-flow design is fully pipelined
        return out, [self._notes(plan) for plan in plans]

    def _beyond(self, raw: Mapping[str, NDArray[np.float64]]) -> NDArray[np.bool_]:
        """Which designs are predicted larger (LUT) than any design trained on."""
        lut = raw.get("lut")
        if lut is None:  # no pieces were predicted: no design is past the trained sizes
            return np.zeros(next(iter(raw.values())).shape[0] if raw else 0, dtype=bool)
        return np.asarray(lut[:, 1] > self.size_cut_)

    def _notes(self, plan: Sequence[PieceSpec]) -> list[str]:
        notes = []
        unknown = sorted({s.kind for s in plan if s.kind not in self.kinds_})
        for kind in unknown:
            notes.append(f"piece kind {kind!r}: no training data")
        X = np.asarray([s.features() for s in plan], dtype=np.float64)
        outside: dict[str, set[str]] = {}
        for spec, bad in zip(plan, self.piece_model_.outside(X), strict=True):
            if bad and spec.kind not in unknown:
                outside.setdefault(spec.kind, set()).update(bad)
        notes += [f"{k} pieces: {', '.join(sorted(v))}" for k, v in sorted(outside.items())]
        return notes

    def check(self, doc: Mapping[str, Any]) -> None:
        """Raise :class:`FeatureError` if the open flow cannot plan ``doc``."""
        self._plan(doc)

    @property
    def n_train_(self) -> dict[str, int]:
        return {"runs": self.n_designs_}

    # ---- persistence --------------------------------------------------------------------------
    def save(self, directory: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
        if not hasattr(self, "piece_model_"):
            raise SurrogateError("cannot save an unfitted surrogate")
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.piece_model_.save(d / "pieces", compress=True)
        self.traced_model_.save(d / "traced", compress=True)
        meta = {
            "format": FORMAT,
            "feature_schema": PIECE_SCHEMA,
            "params": self.get_params(),
            "margin": self.margin_,
            "traced_margin": self.traced_margin_,
            "beyond_margin": self.beyond_margin_,
            "size_cut": self.size_cut_ if math.isfinite(self.size_cut_) else None,
            "kinds": self.kinds_,
            "zero_without": self.zero_without_,
            "exact": [[list(k), v] for k, v in sorted(self.exact_.items())],
            "n_designs": self.n_designs_,
            "n_pieces": sum(self.kinds_.values()),
            **dict(extra or {}),
        }
        write_metadata(d, meta)
        return d

    @classmethod
    def load(cls, directory: str | Path) -> PieceSurrogate:
        d = Path(directory)
        meta = read_metadata(d)
        if meta.get("format") != FORMAT or meta.get("feature_schema") != PIECE_SCHEMA:
            raise SurrogateError(
                f"{d} is not a piece-level surrogate of schema {PIECE_SCHEMA}: refit it"
            )
        model = cls(**meta["params"])
        model.piece_model_ = ResourceSurrogate.load(d / "pieces")
        model.traced_model_ = ResourceSurrogate.load(d / "traced")
        model.margin_ = {k: float(v) for k, v in meta["margin"].items()}
        model.traced_margin_ = {k: float(v) for k, v in meta["traced_margin"].items()}
        model.beyond_margin_ = {k: float(v) for k, v in (meta.get("beyond_margin") or {}).items()}
        cut = meta.get("size_cut")
        model.size_cut_ = math.inf if cut is None else float(cut)
        model.kinds_ = {k: int(v) for k, v in meta["kinds"].items()}
        model.zero_without_ = {str(k): str(v) for k, v in meta["zero_without"].items()}
        model.exact_ = {
            tuple(float(x) for x in k): {str(m): float(v) for m, v in vals.items()}
            for k, vals in meta.get("exact") or ()
        }
        model.n_designs_ = int(meta["n_designs"])
        model.metadata_ = meta
        return model
