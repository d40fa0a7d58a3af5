"""Layer kinds whose hls4ml cost is per element: activations (softmax too), pooling and layer
normalisation.

Their real records are few and of few shapes: hls4ml's baselines hold 64-element activations
after a Dense layer and 3-channel poolings, all at 16 bits. A tree model cannot learn a size law
from two shapes, so here the law comes from how hls4ml builds these layers and only its level is
learnt. hls4ml unrolls one copy of the element function per element (``io_parallel``), or per
channel of a stream beat (``io_stream``), so LUT / FF / DSP / BRAM grow as those elements x bits;
the latency in cycles is a pipeline depth that does not grow with the layer with
``io_parallel``, and one stream beat per position (pooling: per input position) with
``io_stream``. A layer norm is one family: hls4ml 1.x pipelines every row's mean, variance,
table lookup and scaling at II 1, so its cost too grows with the elements. Per family
(ReLU-like, table-based, pooling, layer norm) and io type, :class:`ElementwiseModel` keeps the
10 / 50 / 90 % quantiles of ``metric / scale`` over the records: the interval is the spread of
real records, not an assumed error.

Records are single-layer designs of the kind, or the residual of a multi-layer network after its
other layers' predictions (the baselines' Dense + activation tests): see
:meth:`LayeredSurrogate.fit`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from surrogates._layers import LAYER_FEATURES, TABLE_ACTS, HlsLayer
from surrogates._model import (
    METRICS,
    SurrogateError,
    feature_range,
    outside_range,
    read_metadata,
    write_metadata,
)

FORMAT = "hwloop.elementwise/1"
ELEMENTWISE_KINDS = frozenset(("activation", "pooling", "norm"))
_PER_ELEMENT = ("lut", "ff", "dsp", "bram_18k")
_COLUMN = {name: i for i, name in enumerate(LAYER_FEATURES)}
_DEFAULT_BITS = 16.0  # hls4ml's default ap_fixed<16,6> where a record leaves the width unknown


def family(layer: HlsLayer) -> str:
    """The cost family of an element-wise layer: a comparison / shift (``relu``), a lookup
    table (``table``), a window reduction (``pooling``) or a layer norm (``norm``)."""
    if layer.kind in ("pooling", "norm"):
        return layer.kind
    return "table" if layer.act in TABLE_ACTS or layer.kind == "softmax" else "relu"


def _bits(x: NDArray[np.float64]) -> NDArray[np.float64]:
    b = x[:, _COLUMN["in_bits"]]
    return np.where(np.isfinite(b) & (b > 0), b, _DEFAULT_BITS)


def element_scale(X: NDArray[Any]) -> NDArray[np.float64]:
    """Elements x bits of layer-feature rows, what resources scale with: every element of the
    layer with ``io_parallel``, one stream beat (a position's channels) with ``io_stream``."""
    X = np.asarray(X, dtype=np.float64)
    beat = X[:, _COLUMN["n_in"]] * X[:, _COLUMN["n_out"]]
    stream = X[:, _COLUMN["io_stream"]] > 0.5
    elements = np.where(stream, beat, beat * X[:, _COLUMN["positions"]])
    return elements * _bits(X)


def element_share(X: NDArray[Any]) -> NDArray[np.float64]:
    """Each row's fraction of the rows' total elements x bits."""
    scale = element_scale(X)
    total = scale.sum()
    return scale / total if total > 0 else np.full(len(scale), 1.0 / len(scale))


def _scale(metric: str, X: NDArray[Any]) -> NDArray[np.float64]:
    X = np.asarray(X, dtype=np.float64)
    if metric in _PER_ELEMENT:
        return element_scale(X)
    if metric == "latency":  # a stream takes one beat (all channels of a position) per cycle
        beats = X[:, _COLUMN["n_in"]] * X[:, _COLUMN["positions"]]
        return np.where(X[:, _COLUMN["io_stream"]] > 0.5, beats, 1.0)
    return np.ones(X.shape[0])


class ElementwiseModel:
    """Quantiles of ``metric / scale`` per (family, io type) group (see module doc).

    ``fit(X, families, Y)``: X rows of :data:`LAYER_FEATURES`, one family name per row,
    ``Y`` metric -> targets (NaN: unknown). A group with fewer than ``min_group`` records falls
    back on all records of its family. A family with fewer than ``min_group`` records keeps
    what it has, its interval widened to half the smallest and twice the largest ratio: a
    stated margin for too few records to measure a spread. Families are never mixed (a ReLU
    is a comparison, a sigmoid a table): a family with no records cannot be answered
    (:meth:`families`)."""

    levels_: dict[str, dict[str, list[float]]]  # "family/io" or "family" -> metric -> q
    n_records_: int
    feature_range_: tuple[NDArray[np.float64], NDArray[np.float64]]

    def __init__(self, kind: str, min_group: int = 3) -> None:
        self.kind = kind
        self.min_group = min_group

    @property
    def boosters_(self) -> dict[str, Any]:  # the metrics it answers, as ResourceSurrogate says it
        return {m: None for m in next(iter(self.levels_.values()), {})}

    def families(self) -> set[str]:
        return {k for k in self.levels_ if "/" not in k}

    def _quantiles(self, r: NDArray[np.float64], family_key: bool) -> list[float] | None:
        if r.size >= self.min_group:
            return [float(v) for v in np.quantile(r, [0.1, 0.5, 0.9])]
        if family_key and r.size:
            return [float(r.min()) / 2, float(np.median(r)), float(r.max()) * 2]
        return None

    def fit(
        self, X: NDArray[Any], families: Sequence[str], Y: dict[str, NDArray[Any]]
    ) -> ElementwiseModel:
        X = np.asarray(X, dtype=np.float64)
        stream = X[:, _COLUMN["io_stream"]] > 0.5
        keys: dict[str, list[int]] = defaultdict(list)
        for i, fam in enumerate(families):
            keys[f"{fam}/{'io_stream' if stream[i] else 'io_parallel'}"].append(i)
            keys[fam].append(i)
        self.levels_ = {}
        for key, rows in keys.items():
            levels = {}
            for metric in METRICS:
                y = np.asarray(Y.get(metric, np.full(len(X), np.nan)), dtype=np.float64)[rows]
                r = y / _scale(metric, X[rows])
                q = self._quantiles(np.maximum(r[np.isfinite(r)], 0.0), "/" not in key)
                if q is not None:
                    levels[metric] = q
            if levels:
                self.levels_[key] = levels
        if not self.families():
            raise SurrogateError(f"{self.kind}: no usable records")
        self.n_records_ = len(X)
        self.feature_range_ = feature_range(X)
        return self

    def _levels(self, fam: str, stream: bool, metric: str) -> list[float] | None:
        for key in (f"{fam}/{'io_stream' if stream else 'io_parallel'}", fam):
            q = self.levels_.get(key, {}).get(metric)
            if q is not None:
                return q
        return None

    def predict(self, X: NDArray[Any], families: Sequence[str]) -> dict[str, NDArray[np.float64]]:
        """metric -> (n, 3) (low, median, high); a metric some row's family cannot answer is
        left out."""
        X = np.asarray(X, dtype=np.float64)
        stream = X[:, _COLUMN["io_stream"]] > 0.5
        out = {}
        for metric in METRICS:
            q = [self._levels(f, bool(s), metric) for f, s in zip(families, stream, strict=True)]
            if any(x is None for x in q):
                continue
            out[metric] = np.asarray(q, dtype=np.float64) * _scale(metric, X)[:, None]
        return out

    def outside(self, X: NDArray[Any]) -> list[list[str]]:
        """Per row, the size features outside the records' range."""
        names = ("n_in", "n_out", "positions", "in_bits")
        every = outside_range(X, self.feature_range_, LAYER_FEATURES)
        return [[n for n in row if n in names] for row in every]

    def save(self, directory: str | Path, compress: bool = True) -> Path:
        del compress  # a few numbers: JSON as it is
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        lo, hi = self.feature_range_
        doc = {
            "format": FORMAT,
            "kind": self.kind,
            "min_group": self.min_group,
            "levels": self.levels_,
            "n_records": self.n_records_,
            "feature_range": [[None if np.isnan(v) else float(v) for v in a] for a in (lo, hi)],
        }
        write_metadata(d, doc)
        return d

    @classmethod
    def load(cls, directory: str | Path) -> ElementwiseModel:
        doc = read_metadata(directory)
        if doc.get("format") != FORMAT:
            raise SurrogateError(f"{directory} is not an element-wise layer model")
        model = cls(doc["kind"], int(doc["min_group"]))
        model.levels_ = doc["levels"]
        model.n_records_ = int(doc["n_records"])
        lo, hi = (np.asarray([np.nan if v is None else v for v in a]) for a in doc["feature_range"])
        model.feature_range_ = (lo, hi)
        return model


def is_elementwise(directory: str | Path) -> bool:
    try:
        return bool(read_metadata(directory).get("format") == FORMAT)
    except SurrogateError:
        return False
