"""Evaluation of a surrogate on designs held out by architecture, with a learning curve."""

from __future__ import annotations

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
    """Scores per metric on held-out architectures, and SMAPE per metric vs training size."""

    scores: dict[str, dict[str, float]]
    n_train: int
    n_test: int
    n_test_archs: int
    curve: tuple[tuple[int, dict[str, float]], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            **self.scores,
            "_split": {
                "n_train": self.n_train,
                "n_test": self.n_test,
                "n_test_archs": self.n_test_archs,
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
    seed: int = 0,
    curve: Sequence[float] = (0.25, 0.5, 1.0),
) -> Evaluation:
    """Fit on the architectures of ``1 - test_fraction`` of the groups, score the rest (all
    variants of an architecture fall on one side); repeat on growing subsets of the training
    architectures for the learning curve."""
    test = _split(data.groups, test_fraction, seed)
    train, held = data.subset(~test), data.subset(test)
    kw = dict(params or {})
    kw.update(flow=data.flow, kind=data.kind)

    def fit_score(rows: TrainingSet) -> dict[str, dict[str, float]]:
        model = ResourceSurrogate(**kw).fit(rows.X, rows.Y, groups=rows.groups)
        pred = model.predict(held.X)
        return {m: scores(held.Y[m], p) for m, p in pred.items()}

    full = fit_score(train)
    points = []
    names = np.random.default_rng(seed + 1).permutation(np.unique(train.groups))
    for frac in curve:
        if frac >= 1.0:
            res = full
            n = len(train)
        else:
            keep = np.isin(train.groups, names[: max(2, int(round(frac * names.size)))])
            if keep.sum() < 10:
                continue
            res = fit_score(train.subset(keep))
            n = int(keep.sum())
        points.append((n, {m: s["smape"] for m, s in res.items()}))
    return Evaluation(full, len(train), len(held), len(np.unique(held.groups)), tuple(points))
