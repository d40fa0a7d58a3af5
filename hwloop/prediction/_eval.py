"""Evaluation of a surrogate on designs held out by architecture, with a learning curve:
scikit-learn's model selection (the surrogate is a scikit-learn regressor)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hwloop import HwloopError
from hwloop.prediction._data import TrainingSet
from surrogates import METRICS, ResourceSurrogate, scores


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


def _scorer(estimator: ResourceSurrogate, X: Any, Y: Any) -> dict[str, float]:
    """Every metric's scores (:func:`surrogates.scores`) as ``metric:score`` keys."""
    pred = estimator.predict(X)
    out = {}
    for j, metric in enumerate(METRICS):
        if metric in pred:
            for name, value in scores(Y[:, j], pred[metric]).items():
                out[f"{metric}:{name}"] = value
    return out


def _smape_of(j: int) -> Any:
    def score(estimator: ResourceSurrogate, X: Any, Y: Any) -> float:
        pred = estimator.predict(X).get(METRICS[j])
        return math.nan if pred is None else scores(Y[:, j], pred)["smape"]

    return score


def evaluate(
    data: TrainingSet,
    params: Mapping[str, Any] | None = None,
    test_fraction: float = 0.2,
    seeds: Sequence[int] = (0, 1, 2),
    curve: Sequence[float] = (0.25, 0.5, 1.0),
) -> Evaluation:
    """scikit-learn's grouped cross-validation of the surrogate: ``len(seeds)`` splits
    (``GroupShuffleSplit``: ``test_fraction`` of the architectures held out, every variant of an
    architecture on one side), scored per metric, mean and standard deviation (``<score>_std``)
    over the splits; and ``learning_curve`` on the first split at ``curve`` fractions of its
    training designs (SMAPE per metric)."""
    from sklearn.model_selection import GroupShuffleSplit, cross_validate, learning_curve

    if not seeds:
        raise HwloopError("evaluation needs at least one split seed")
    if np.unique(data.groups).size < 2:
        raise HwloopError(
            f"evaluation holds out whole architectures, and the data has only "
            f"{np.unique(data.groups).size}: calibrate more architectures first"
        )
    kw = dict(params or {})
    kw.update(flow=data.flow, kind=data.kind)
    estimator = ResourceSurrogate(**kw)
    Y = np.column_stack([data.Y.get(m, np.full(len(data), math.nan)) for m in METRICS])

    def splitter(n: int) -> GroupShuffleSplit:
        return GroupShuffleSplit(n_splits=n, test_size=test_fraction, random_state=seeds[0])

    fit = {"groups": data.groups}  # the conformal margin holds out architectures too
    cv = cross_validate(
        estimator,
        data.X,
        Y,
        groups=data.groups,
        cv=splitter(len(seeds)),
        scoring=_scorer,
        params=fit,
        return_indices=True,
        error_score="raise",
    )
    merged: dict[str, dict[str, float]] = {}
    for key, values in cv.items():
        if not key.startswith("test_"):
            continue
        metric, name = key.removeprefix("test_").split(":")
        ok = np.asarray(values, dtype=np.float64)
        ok = ok[~np.isnan(ok)]
        merged.setdefault(metric, {})[name] = float(ok.mean()) if ok.size else math.nan
        merged[metric][f"{name}_std"] = float(ok.std()) if ok.size > 1 else math.nan
    idx = cv["indices"]
    points: dict[int, dict[str, float]] = {}
    for j, metric in enumerate(METRICS):
        if metric not in merged:
            continue
        only = np.full_like(Y, math.nan)  # one metric's boosters per curve: the cost of one fit
        only[:, j] = Y[:, j]
        sizes, _, test = learning_curve(
            estimator,
            data.X,
            only,
            groups=data.groups,
            train_sizes=[f for f in curve if 0 < f <= 1],
            cv=splitter(1),
            scoring=_smape_of(j),
            shuffle=True,  # random subsets of the training designs, not the first ones
            random_state=seeds[0],
            params=fit,
            error_score="raise",
        )
        for n, score in zip(sizes, test[:, 0], strict=True):
            points.setdefault(int(n), {})[metric] = float(score)
    return Evaluation(
        merged,
        int(np.mean([len(t) for t in idx["train"]])),
        int(np.mean([len(t) for t in idx["test"]])),
        int(np.mean([np.unique(data.groups[t]).size for t in idx["test"]])),
        tuple(sorted(points.items())),
        len(seeds),
    )
