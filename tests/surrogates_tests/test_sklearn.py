"""The surrogate is a scikit-learn regressor: ``clone`` keeps its parameters, ``cross_validate``
with a grouped splitter fits it on an (n, metrics) target array, and the result is the one the
surrogate's own ``fit`` / ``predict`` gives on the same split (real wa-hls4ml records)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone, is_regressor
from sklearn.model_selection import GroupShuffleSplit, cross_validate

from surrogates import METRICS, ResourceSurrogate, SurrogateError, scores

CSV = Path(__file__).resolve().parents[3] / "shared/fixtures/wa-hls4ml"


@pytest.fixture(scope="module")
def records(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from hwloop.prediction import training_set
    from synth_cache import SqlCache, import_paths

    cache = SqlCache(f"sqlite:///{tmp_path_factory.mktemp('sk')}/c.db")
    import_paths(cache, [CSV])
    data = training_set(cache, "vivado", "hls_estimate", None)
    Y = np.column_stack([data.Y.get(m, np.full(len(data), math.nan)) for m in METRICS])
    return data.X[:400], Y[:400], data.groups[:400]


def test_clone_and_params() -> None:
    model = ResourceSurrogate(n_estimators=7, max_depth=3)
    twin = clone(model)
    assert twin is not model and twin.get_params() == model.get_params()
    assert is_regressor(model)
    assert model.set_params(max_depth=4) is model and model.max_depth == 4
    with pytest.raises(SurrogateError, match="unknown surrogate parameter"):
        model.set_params(depth=4)


def test_cross_validate_takes_it_as_it_is(records: tuple) -> None:  # type: ignore[type-arg]
    X, Y, groups = records
    est = ResourceSurrogate(flow="vivado", kind="hls_estimate", n_estimators=40)

    def lut_smape(model: ResourceSurrogate, Xt: np.ndarray, Yt: np.ndarray) -> float:
        return scores(Yt[:, 0], model.predict(Xt)["lut"])["smape"]

    split = GroupShuffleSplit(n_splits=1, test_size=0.25, random_state=0)
    cv = cross_validate(
        est, X, Y, groups=groups, cv=split, scoring=lut_smape, return_indices=True,
        params={"groups": groups}, error_score="raise",
    )  # fmt: skip
    train, test = cv["indices"]["train"][0], cv["indices"]["test"][0]
    assert not set(groups[train]) & set(groups[test])  # architectures on one side
    own = ResourceSurrogate(flow="vivado", kind="hls_estimate", n_estimators=40)
    own.fit(X[train], {m: Y[train, j] for j, m in enumerate(METRICS)}, groups=groups[train])
    expect = scores(Y[test, 0], own.predict(X[test])["lut"])["smape"]
    assert cv["test_score"][0] == pytest.approx(expect)
    with pytest.raises(SurrogateError, match="a column per metric"):
        est.fit(X, Y[:, :2])
