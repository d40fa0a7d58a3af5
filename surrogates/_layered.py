"""The layer-level surrogate of the hls4ml + Vivado/Vitis flow: one model per hls4ml layer kind,
composed like hls4ml composes layers, plus a learned glue term.

A network's prediction is the sum over its layers of each layer's prediction (latency: the sum,
layers run one after another; II: the largest), mapped through a glue term fitted on the
multi-layer records: ``log1p(total) = a + b log1p(sum) + c n_layers`` per metric (identity when
fewer than :attr:`min_glue` multi-layer records exist). So a network never seen in training gets
an answer from the layers it is made of. The 80 % interval sums the layers' interval bounds
(conservative: it assumes the layers' errors move together).

What answers a layer is :class:`ResourceSurrogate` over :data:`LAYER_FEATURES`, trained only on
single-layer records of its kind. A kind with fewer than ``min_records`` records has no model;
a design containing it cannot be predicted (:class:`LayerKindError` names it).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from surrogates._assign import RESOURCES, ReuseOption
from surrogates._features import FeatureError
from surrogates._layers import LAYER_FEATURES, LAYER_SCHEMA, HlsDesign, hls_layers, layer_features
from surrogates._model import METRICS, ResourceSurrogate, SurrogateError
from surrogates._piecewise import FORMAT as PIECE_FORMAT
from surrogates._piecewise import PieceSurrogate
from surrogates._reuse import check_reuse_factor, valid_reuse_factors

FORMAT = "hwloop.layered/1"
_PRIORS = (
    ("lut", "bops_per_cycle"),
    ("ff", "bops_per_cycle"),
    ("dsp", "mults_per_cycle"),
    ("latency", "cycles"),
)


class LayerKindError(FeatureError):
    """A design has a layer of a kind the surrogate has no records of."""


def _matrix(design: HlsDesign) -> NDArray[np.float64]:
    rows = [list(layer_features(x, design).values()) for x in design.layers]
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(LAYER_FEATURES))


class LayeredSurrogate:
    """Predicts :data:`METRICS` of hls4ml designs from per-layer-kind models (see module doc)."""

    kinds_: dict[str, ResourceSurrogate]
    glue_: dict[str, tuple[float, float, float]]
    records_: dict[str, int]
    metadata_: dict[str, Any]

    def __init__(
        self,
        flow: str = "vivado",
        kind: str = "hls_estimate",
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        max_depth: int = 6,
        min_records: int = 20,
        min_glue: int = 20,
        n_jobs: int = 1,
        random_state: int = 0,
    ) -> None:
        self.flow = flow
        self.kind = kind
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_records = min_records
        self.min_glue = min_glue
        self.n_jobs = n_jobs
        self.random_state = random_state

    def get_params(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "kind": self.kind,
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "max_depth": self.max_depth,
            "min_records": self.min_records,
            "min_glue": self.min_glue,
            "n_jobs": self.n_jobs,
            "random_state": self.random_state,
        }

    def _layer_model(self) -> ResourceSurrogate:
        return ResourceSurrogate(
            self.flow,
            self.kind,
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            max_depth=self.max_depth,
            priors=_PRIORS,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
            features="layer",
        )

    def fit(
        self, designs: Sequence[Mapping[str, Any]], Y: Mapping[str, NDArray[Any]]
    ) -> LayeredSurrogate:
        """``designs``: design documents (any source :func:`hls_layers` reads); ``Y``: metric ->
        targets (NaN: unknown). Single-layer designs train their kind's model; the others fit
        the glue. Unreadable designs are skipped (counted in ``records_['unreadable']``)."""
        parsed: list[HlsDesign | None] = []
        skipped = 0
        for doc in designs:
            try:
                parsed.append(hls_layers(doc))
            except FeatureError:
                parsed.append(None)
                skipped += 1
        Yn = {m: np.asarray(v, dtype=np.float64) for m, v in Y.items() if m in METRICS}
        by_kind: dict[str, list[int]] = defaultdict(list)
        multi: list[int] = []
        for i, d in enumerate(parsed):
            if d is None or not d.layers:
                continue
            if len(d.layers) == 1:
                by_kind[d.layers[0].model_kind].append(i)
            else:
                multi.append(i)
        self.kinds_ = {}
        self.records_ = {"unreadable": skipped, "multi_layer": len(multi)}
        for kind, rows in sorted(by_kind.items()):
            self.records_[kind] = len(rows)
            if len(rows) < self.min_records:
                continue
            X = np.vstack([_matrix(parsed[i]) for i in rows])  # type: ignore[arg-type]
            groups = np.asarray([_shape_group(parsed[i]) for i in rows])  # type: ignore[arg-type]
            try:
                self.kinds_[kind] = self._layer_model().fit(
                    X, {m: v[rows] for m, v in Yn.items()}, groups
                )
            except SurrogateError:
                continue
        if not self.kinds_:
            raise SurrogateError(
                f"no layer kind has {self.min_records} single-layer records to learn from"
            )
        self.glue_ = {}
        usable = [i for i in multi if self._covered(parsed[i])]  # type: ignore[arg-type]
        if len(usable) >= self.min_glue:
            sums = self._compose([parsed[i] for i in usable])  # type: ignore[misc]
            n_layers = np.asarray([len(parsed[i].layers) for i in usable], dtype=np.float64)  # type: ignore[union-attr]
            for metric, pred in sums.items():
                y = Yn.get(metric)
                if y is None:
                    continue
                y = y[usable]
                ok = np.isfinite(y) & np.isfinite(pred[:, 1])
                if ok.sum() < self.min_glue:
                    continue
                A = np.column_stack([np.ones(ok.sum()), np.log1p(pred[ok, 1]), n_layers[ok]])
                coef, *_ = np.linalg.lstsq(A, np.log1p(np.maximum(y[ok], 0)), rcond=None)
                self.glue_[metric] = (float(coef[0]), float(coef[1]), float(coef[2]))
        self.records_["glue"] = len(usable)
        return self

    def _covered(self, design: HlsDesign) -> bool:
        return all(x.model_kind in self.kinds_ for x in design.layers)

    def _compose(self, designs: Sequence[HlsDesign]) -> dict[str, NDArray[np.float64]]:
        """Per metric, (n, 3) sums of the layers' (low, median, high), before the glue."""
        sums: dict[str, NDArray[np.float64]] = {}
        by_kind: dict[str, list[tuple[int, NDArray[np.float64]]]] = defaultdict(list)
        for i, d in enumerate(designs):
            X = _matrix(d)
            for j, layer in enumerate(d.layers):
                by_kind[layer.model_kind].append((i, X[j]))
        for kind, items in by_kind.items():
            model = self.kinds_[kind]
            idx = np.asarray([i for i, _ in items])
            pred = model.predict(np.vstack([x for _, x in items]))
            for metric, p in pred.items():
                acc = sums.setdefault(metric, np.zeros((len(designs), 3)))
                if metric == "ii":
                    np.maximum.at(acc, idx, p)
                else:
                    np.add.at(acc, idx, p)
        for metric in list(sums):  # a metric some layer's model cannot answer is unknown
            known = {k for k, m in self.kinds_.items() if metric in m.boosters_}
            for i, d in enumerate(designs):
                if any(x.model_kind not in known for x in d.layers):
                    sums[metric][i] = np.nan
        return sums

    def _glue(self, metric: str, q: NDArray[np.float64], n_layers: NDArray[Any]) -> Any:
        coef = self.glue_.get(metric)
        if coef is None:
            return q
        a, b, c = coef
        return np.maximum(np.expm1(a + b * np.log1p(q) + c * n_layers[:, None]), 0.0)

    def check(self, design: HlsDesign) -> None:
        """Raise :class:`LayerKindError` if a layer of ``design`` has no model."""
        for x in design.layers:
            if x.model_kind not in self.kinds_:
                n = self.records_.get(x.model_kind, 0)
                raise LayerKindError(
                    f"layer {x.name}: no {self.flow} records of layer kind {x.kind!r} "
                    f"({n} single-layer records; the surrogate learnt "
                    f"{', '.join(sorted(self.kinds_))})"
                )

    def predict_documents(
        self, docs: Sequence[Mapping[str, Any]], target: Mapping[str, float] | None = None
    ) -> tuple[dict[str, NDArray[np.float64]], list[list[str]]]:
        """Metric -> (n, 3) (low, median, high) and, per design, what lies outside the training
        domain (``layer: features``)."""
        if not hasattr(self, "kinds_"):
            raise SurrogateError("this surrogate is not fitted: call fit() or load()")
        designs = [hls_layers(d) for d in docs]
        for d in designs:
            self.check(d)
        sums = self._compose(designs)
        n_layers = np.asarray([len(d.layers) for d in designs], dtype=np.float64)
        out = {m: self._glue(m, q, n_layers) for m, q in sums.items()}
        outside = []
        for d in designs:
            notes = []
            X = _matrix(d)
            for j, layer in enumerate(d.layers):
                (bad,) = self.kinds_[layer.model_kind].outside(X[j : j + 1])
                if bad:
                    notes.append(f"{layer.name} ({layer.kind}): {', '.join(bad)}")
            outside.append(notes)
        return out, outside

    def reuse_options(
        self, doc: Mapping[str, Any], max_reuse: int = 1024
    ) -> dict[str, list[ReuseOption]]:
        """Every Dense / Conv layer of ``doc`` with each reuse factor hls4ml can realise for it
        (up to ``max_reuse``) and that option's predicted median resources and latency: the
        input of :func:`assign_reuse_factors`. The other layers' cost does not depend on it."""
        design = hls_layers(doc)
        self.check(design)
        out: dict[str, list[ReuseOption]] = {}
        for layer in design.layers:
            if layer.kind not in ("dense", "conv1d", "conv2d"):
                continue
            factors = [r for r in valid_reuse_factors(layer.n_in, layer.n_out) if r <= max_reuse]
            variants = [replace(layer, reuse=float(r)) for r in factors]
            X = np.asarray(
                [list(layer_features(v, design).values()) for v in variants], dtype=np.float64
            )
            pred = self.kinds_[layer.model_kind].predict(X)
            out[layer.name] = [
                ReuseOption(
                    r,
                    float(pred["latency"][i, 1]) if "latency" in pred else float(r),
                    **{m: float(pred[m][i, 1]) for m in RESOURCES if m in pred},
                )
                for i, r in enumerate(factors)
            ]
        return out

    @property
    def n_train_(self) -> dict[str, int]:
        return {k: v for k, v in self.records_.items() if k in self.kinds_}

    # ---- persistence --------------------------------------------------------------------------
    def save(self, directory: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
        if not hasattr(self, "kinds_"):
            raise SurrogateError("cannot save an unfitted surrogate")
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        domain = {}
        for kind, model in self.kinds_.items():
            model.save(d / kind, compress=True)
            lo, hi = model.feature_range_
            domain[kind] = {
                name: [None if math.isnan(a) else a, None if math.isnan(b) else b]
                for name, a, b in zip(LAYER_FEATURES, lo.tolist(), hi.tolist(), strict=True)
                if name in ("n_in", "n_out", "positions", "w_bits", "reuse", "io_stream")
            }
        meta = {
            "format": FORMAT,
            "feature_schema": LAYER_SCHEMA,
            "params": self.get_params(),
            "kinds": sorted(self.kinds_),
            "records": self.records_,
            "glue": {k: list(v) for k, v in self.glue_.items()},
            "domain": domain,
            **dict(extra or {}),
        }
        tmp = d / "metadata.json.tmp"
        tmp.write_text(json.dumps(meta, indent=1, sort_keys=True))
        tmp.replace(d / "metadata.json")
        return d

    @classmethod
    def load(cls, directory: str | Path) -> LayeredSurrogate:
        d = Path(directory)
        try:
            meta = json.loads((d / "metadata.json").read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise SurrogateError(f"no readable surrogate in {d}: {exc}") from None
        if meta.get("format") != FORMAT or meta.get("feature_schema") != LAYER_SCHEMA:
            raise SurrogateError(f"{d} is not a layered surrogate of schema {LAYER_SCHEMA}")
        model = cls(**meta["params"])
        model.kinds_ = {k: ResourceSurrogate.load(d / k) for k in meta["kinds"]}
        model.glue_ = {k: (float(v[0]), float(v[1]), float(v[2])) for k, v in meta["glue"].items()}
        model.records_ = {k: int(v) for k, v in meta["records"].items()}
        model.metadata_ = meta
        return model


def _shape_group(design: HlsDesign) -> str:
    """Records of one layer shape (its precision / reuse variants) form one group."""
    x = design.layers[0]
    return f"{x.kind}:{x.n_in}x{x.n_out}@{x.positions}"


Surrogate = ResourceSurrogate | LayeredSurrogate | PieceSurrogate


def load_surrogate(directory: str | Path) -> Surrogate:
    """Any kind of saved surrogate, told apart by its metadata's format."""
    try:
        fmt = json.loads((Path(directory) / "metadata.json").read_text()).get("format")
    except (OSError, json.JSONDecodeError) as exc:
        raise SurrogateError(f"no readable surrogate in {directory}: {exc}") from None
    if fmt == FORMAT:
        return LayeredSurrogate.load(directory)
    if fmt == PIECE_FORMAT:
        return PieceSurrogate.load(directory)
    return ResourceSurrogate.load(directory)


def check_reuse_factors(doc: Mapping[str, Any]) -> None:
    """Raise :class:`ReuseFactorError` for the first Dense / Conv layer of ``doc`` whose reuse
    factor hls4ml cannot realise (the message names what it would round to)."""
    for x in hls_layers(doc).layers:
        if x.kind in ("dense", "conv1d", "conv2d"):
            check_reuse_factor(x.name, x.n_in, x.n_out, int(x.reuse))
