"""Held-out evaluation of the layer-level (Vivado-flow) surrogate, with a plain-XGBoost baseline.

Two splits: by architecture (a fifth of the layer shapes / networks held out, every precision and
reuse variant of one on the same side; several seeds) and by source (train on one set of sources,
test on another: wa-hls4ml -> N-TORC). The baseline is the whole-design :class:`ResourceSurrogate`
(one XGBoost per metric over design features) trained and tested on the same rows, where its
feature schema reads the design.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hwloop.prediction._data import DocumentSet
from surrogates import (
    METRICS,
    FeatureError,
    LayeredSurrogate,
    ResourceSurrogate,
    design_features,
    hls_layers,
    round_counts,
    scores,
)

EVAL_METRICS = ("lut", "ff", "dsp", "bram_18k", "latency")
# sources of one origin, scored pooled as well (issue 18's goal is "held out by architecture on
# wa-hls4ml": its single-layer CSV, its 2-layer / conv JSON models and its 3-layer networks)
SOURCE_FAMILIES = {"wa-hls4ml": ("wa-hls4ml", "wa-hls4ml-csv", "wa-hls4ml-3layer")}


@dataclass(frozen=True)
class SplitScores:
    """Scores of the layered model and of the baseline on one kind of split."""

    split: str
    n_train: int
    n_test: int
    layered: dict[str, dict[str, float]]
    baseline: dict[str, dict[str, float]]
    n_baseline_test: int
    by_source: dict[str, dict[str, dict[str, float]]]

    def to_json(self) -> dict[str, Any]:
        def clean(d: Any) -> Any:
            if isinstance(d, dict):
                return {k: clean(v) for k, v in d.items()}
            return None if isinstance(d, float) and math.isnan(d) else d

        return clean(self.__dict__)


def _predictable(ds: DocumentSet) -> NDArray[np.bool_]:
    ok = []
    for doc in ds.docs:
        try:
            ok.append(bool(hls_layers(doc).layers))
        except FeatureError:
            ok.append(False)
    return np.asarray(ok, dtype=bool)


def _mean(runs: Sequence[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for m in EVAL_METRICS:
        rows = [r[m] for r in runs if m in r]
        if rows:
            out[m] = {k: float(np.nanmean([r[k] for r in rows])) for k in rows[0]}
    return out


def _score(
    model: LayeredSurrogate, test: DocumentSet
) -> tuple[dict[str, Any], dict[str, Any], int]:
    covered = np.asarray([model.answers(hls_layers(d)) for d in test.docs], dtype=bool)
    test = test.subset(covered)
    if not len(test):
        return {}, {}, 0
    pred, _ = model.predict_documents(test.docs)
    overall = {m: scores(test.Y[m], pred[m]) for m in EVAL_METRICS if m in pred}
    groups = {str(s): test.sources == s for s in np.unique(test.sources)}
    for family, members in SOURCE_FAMILIES.items():
        pooled = np.isin(test.sources, members)
        if len({str(s) for s in test.sources[pooled]}) > 1:
            groups[f"{family} (all its sets)"] = pooled
    per_source = {
        name: {m: scores(test.Y[m][rows], pred[m][rows]) for m in overall}
        for name, rows in groups.items()
    }
    return overall, per_source, len(test)


def _baseline(train: DocumentSet, test: DocumentSet) -> tuple[dict[str, Any], int]:
    def matrix(ds: DocumentSet) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
        rows, ok = [], []
        for doc in ds.docs:
            try:
                rows.append(list(design_features(doc).values()))
                ok.append(True)
            except FeatureError:
                ok.append(False)
        return np.asarray(rows, dtype=np.float64), np.asarray(ok, dtype=bool)

    Xtr, oktr = matrix(train)
    Xte, okte = matrix(test)
    if oktr.sum() < 10 or okte.sum() == 0:
        return {}, 0
    Ytr = {m: v[oktr] for m, v in train.Y.items() if m in METRICS}
    model = ResourceSurrogate(flow=train.flow, kind=train.kind).fit(Xtr, Ytr, train.groups[oktr])
    pred = round_counts(model.predict(Xte))  # counted like the layered model's
    return {m: scores(test.Y[m][okte], pred[m]) for m in EVAL_METRICS if m in pred}, int(okte.sum())


def evaluate_by_arch(
    ds: DocumentSet, seeds: Iterable[int] = range(3), fraction: float = 0.2, **params: Any
) -> SplitScores:
    """Architectures (layer shapes / networks) held out, every variant on one side: one
    scikit-learn ``GroupShuffleSplit`` per seed."""
    from sklearn.model_selection import GroupShuffleSplit

    ds = ds.subset(_predictable(ds))
    layered, base, per_src = [], [], []
    n_test = n_train = n_base = 0
    for seed in seeds:
        split = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
        _, idx = next(split.split(np.zeros((len(ds.groups), 1)), groups=ds.groups))
        held = np.zeros(len(ds.groups), dtype=bool)
        held[idx] = True
        train, test = ds.subset(~held), ds.subset(held)
        model = LayeredSurrogate(flow=ds.flow, kind=ds.kind, random_state=seed, **params)
        model.fit(train.docs, train.Y)
        overall, by_source, n_test = _score(model, test)
        layered.append(overall)
        per_src.append(by_source)
        b, n_base = _baseline(train, test)
        base.append(b)
        n_train = len(train)
    sources = {s for d in per_src for s in d}
    return SplitScores(
        "architecture",
        n_train,
        n_test,
        _mean(layered),
        _mean(base),
        n_base,
        {s: _mean([d[s] for d in per_src if s in d]) for s in sorted(sources)},
    )


def evaluate_by_source(
    ds: DocumentSet, train_sources: Sequence[str], test_sources: Sequence[str], **params: Any
) -> SplitScores:
    """Train on ``train_sources`` only, test on ``test_sources`` (the layers the training
    sources cover)."""
    ds = ds.subset(_predictable(ds))
    train = ds.subset(np.isin(ds.sources, list(train_sources)))
    test = ds.subset(np.isin(ds.sources, list(test_sources)))
    model = LayeredSurrogate(flow=ds.flow, kind=ds.kind, **params).fit(train.docs, train.Y)
    overall, by_source, n_test = _score(model, test)
    base, nb = _baseline(train, test)
    return SplitScores("source", len(train), n_test, overall, base, nb, by_source)


def vivado_record_paths(fixtures: Path, extra: Sequence[Path] = ()) -> list[Path]:
    """The real hls4ml records to learn from: under ``fixtures`` (../shared/fixtures) the
    wa-hls4ml, N-TORC and hls-reports sets, and hls4ml's baselines, wa-hls4ml's 3-layer table and
    transformer-synthesis's layer-norm reports where a copy is there; plus ``extra`` paths (an
    hls4ml checkout's test/pytest/baselines, the 3-layer CSV, the folder
    scripts/transformer_synthesis_reports.py writes)."""
    names = (
        "wa-hls4ml",
        "n-torc",
        "hls-reports",
        "hls4ml-baselines",
        "wa-hls4ml-3layer",
        "transformer-synthesis",
    )
    return [p for n in names if (p := fixtures / n).exists()] + [Path(p) for p in extra]
