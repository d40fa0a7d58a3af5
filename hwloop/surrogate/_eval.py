"""Evaluation of a surrogate on designs held out by architecture, with a learning curve."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hwloop import HwloopError
from hwloop.surrogate._data import TrainingSet
from surrogates import ResourceSurrogate, scores


@dataclass(frozen=True)
class Evaluation:
    """Scores per metric on held-out architectures (mean and spread over split seeds; the
    ``n_*`` counts are per split, averaged), and SMAPE per metric vs training size."""

    scores: dict[str, dict[str, float]]
    n_train: int
    n_test: int
    n_test_archs: int
    curve: tuple[tuple[int, dict[str, float]], ...]
    n_seeds: int = 1

    def to_json(self) -> dict[str, Any]:
        return {
            **self.scores,
            "_split": {
                "n_train": self.n_train,
                "n_test": self.n_test,
                "n_test_archs": self.n_test_archs,
                "seeds": self.n_seeds,
            },
            "_learning_curve": [{"n_train": n, "smape": s} for n, s in self.curve],
        }


def _split(groups: NDArray[Any], fraction: float, seed: int) -> NDArray[np.bool_]:
    names = np.unique(groups)
    if names.size < 2:
        raise HwloopError(
            f"evaluation holds out whole architectures, and the data has only {names.size}: "
            "calibrate more architectures first"
        )
    k = min(names.size - 1, max(1, int(round(fraction * names.size))))
    held = np.random.default_rng(seed).permutation(names)[:k]
    return np.isin(groups, held)


def evaluate(
    data: TrainingSet,
    params: Mapping[str, Any] | None = None,
    test_fraction: float = 0.2,
    seeds: Sequence[int] = (0, 1, 2),
    curve: Sequence[float] = (0.25, 0.5, 1.0),
) -> Evaluation:
    """For each split seed, fit on the architectures of ``1 - test_fraction`` of the groups and
    score the rest (all variants of an architecture fall on one side); scores are the mean over
    the seeds, with their standard deviation as ``<score>_std``. The learning curve refits on
    growing subsets of the first split's training architectures."""
    if not seeds:
        raise HwloopError("evaluation needs at least one split seed")
    kw = dict(params or {})
    kw.update(flow=data.flow, kind=data.kind)

    def fit_score(rows: TrainingSet, held: TrainingSet) -> dict[str, dict[str, float]]:
        model = ResourceSurrogate(**kw).fit(rows.X, rows.Y, groups=rows.groups)
        pred = model.predict(held.X)
        return {m: scores(held.Y[m], p) for m, p in pred.items()}

    runs, n_train, n_test, n_archs = [], [], [], []
    for seed in seeds:
        test = _split(data.groups, test_fraction, seed)
        train, held = data.subset(~test), data.subset(test)
        runs.append(fit_score(train, held))
        n_train.append(len(train))
        n_test.append(len(held))
        n_archs.append(len(np.unique(held.groups)))
        if seed == seeds[0]:
            first_train, first_held = train, held
    merged: dict[str, dict[str, float]] = {}
    for metric in runs[0]:
        merged[metric] = {}
        for name in runs[0][metric]:
            values = np.array([r[metric][name] for r in runs if metric in r], dtype=np.float64)
            ok = values[~np.isnan(values)]
            merged[metric][name] = float(ok.mean()) if ok.size else math.nan
            merged[metric][f"{name}_std"] = float(ok.std()) if ok.size > 1 else math.nan
    points = []
    names = np.random.default_rng(seeds[0] + 1).permutation(np.unique(first_train.groups))
    for frac in curve:
        if frac >= 1.0:
            res, n = runs[0], len(first_train)
        else:
            keep = np.isin(first_train.groups, names[: max(2, int(round(frac * names.size)))])
            if keep.sum() < 10:
                continue
            res = fit_score(first_train.subset(keep), first_held)
            n = int(keep.sum())
        points.append((n, {m: s["smape"] for m, s in res.items()}))
    return Evaluation(
        merged,
        int(np.mean(n_train)),
        int(np.mean(n_test)),
        int(np.mean(n_archs)),
        tuple(points),
        len(seeds),
    )
