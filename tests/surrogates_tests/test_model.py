"""The XGBoost surrogate on real published results (wa-hls4ml CSV: 906 successful dense-layer
HLS runs), held out by architecture."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from surrogates import (
    FEATURES,
    ResourceSurrogate,
    SurrogateError,
    feature_matrix,
    round_counts,
    scores,
)
from synth_cache import parse_wa_hls4ml_csv

CSV = (
    Path(__file__).resolve().parents[2]
    / "../shared/fixtures/wa-hls4ml/wa-hls4ml-search_results_resource.csv"
)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray, np.ndarray]:
    runs = [r for r in parse_wa_hls4ml_csv(CSV.read_text()) if r.results[0].ok]
    X = feature_matrix([r.design for r in runs])
    Y = {
        "lut": np.array([r.results[0].lut for r in runs], float),
        "ff": np.array([r.results[0].ff for r in runs], float),
        "latency": np.array([r.results[0].latency_max for r in runs], float),
    }
    layer = [r.design["layers"][0] for r in runs]
    arch = np.array([f"{x['d_in']}x{x['d_out']}" for x in layer])
    held = set(np.random.default_rng(0).permutation(np.unique(arch))[:13])
    return X, Y, np.array([a in held for a in arch]), arch


def test_fit_predict_held_out_architectures(data: tuple) -> None:  # type: ignore[type-arg]
    X, Y, test, arch = data
    model = ResourceSurrogate(flow="vivado", kind="hls_estimate", n_estimators=200)
    train = {k: v[~test] for k, v in Y.items()}
    assert model.fit(X[~test], train, groups=arch[~test]) is model
    pred = model.predict(X[test])
    assert set(pred) == {"lut", "ff", "latency"}
    assert all(p.shape == (test.sum(), 3) for p in pred.values())
    assert all((p[:, 0] <= p[:, 1]).all() and (p[:, 1] <= p[:, 2]).all() for p in pred.values())
    s = scores(Y["lut"][test], pred["lut"])
    assert s["r2"] > 0.6 and s["smape"] < 25, s  # architectures never seen in training
    # the conformal margin widens the raw quantile interval towards its nominal 80 %
    assert model.interval_margin_["lut"] > 0 and s["coverage80"] > 0.65, s


def test_save_load_round_trip_and_schema_check(data: tuple, tmp_path: Path) -> None:  # type: ignore[type-arg]
    X, Y, _, _ = data
    model = ResourceSurrogate(n_estimators=30).fit(X[:300], {"lut": Y["lut"][:300]})
    model.save(tmp_path / "m", extra={"eval": {"lut": {"r2": 0.5}}})
    back = ResourceSurrogate.load(tmp_path / "m")
    np.testing.assert_array_equal(back.predict(X[:50])["lut"], model.predict(X[:50])["lut"])
    assert back.training_hash_ == model.training_hash_ and back.metadata_["eval"]
    assert {p.name for p in (tmp_path / "m").iterdir()} == {"lut.json", "metadata.json"}
    meta = json.loads((tmp_path / "m" / "metadata.json").read_text())
    meta["feature_schema"] = 0
    (tmp_path / "m" / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(SurrogateError, match="feature schema v0"):
        ResourceSurrogate.load(tmp_path / "m")


def test_compressed_models_load_identically(data: tuple, tmp_path: Path) -> None:  # type: ignore[type-arg]
    X, Y, _, _ = data
    model = ResourceSurrogate(n_estimators=30).fit(X[:300], {"lut": Y["lut"][:300]})
    model.save(tmp_path / "m")
    model.save(tmp_path / "m", compress=True)  # replaces the plain file
    assert {p.name for p in (tmp_path / "m").iterdir()} == {"lut.json.gz", "metadata.json"}
    back = ResourceSurrogate.load(tmp_path / "m")
    np.testing.assert_array_equal(back.predict(X[:50])["lut"], model.predict(X[:50])["lut"])
    (tmp_path / "m" / "lut.json.gz").write_bytes(b"not gzip")
    with pytest.raises(SurrogateError, match="cannot read the lut model"):
        ResourceSurrogate.load(tmp_path / "m")


def test_misuse_gives_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(SurrogateError, match="not fitted"):
        ResourceSurrogate().predict(np.zeros((1, len(FEATURES))))
    with pytest.raises(SurrogateError, match="feature columns"):
        ResourceSurrogate().fit(np.zeros((3, 2)), {"lut": np.ones(3)})
    with pytest.raises(SurrogateError, match="at least 2 known"):
        ResourceSurrogate().fit(np.zeros((3, len(FEATURES))), {"lut": np.full(3, np.nan)})
    with pytest.raises(SurrogateError, match="no readable surrogate"):
        ResourceSurrogate.load(tmp_path)
    X, y = np.zeros((3, len(FEATURES))), {"lut": np.ones(3)}
    for bad in (np.ones(2), np.array([1.0, -1.0, 1.0]), np.zeros(3), np.array([1, np.nan, 1])):
        with pytest.raises(SurrogateError, match="sample_weight must be 3 finite weights"):
            ResourceSurrogate().fit(X, y, sample_weight=bad)


def test_counted_metrics_round_to_their_unit() -> None:
    q = np.array([[0.3, 0.6, 2.4]])
    out = round_counts({"dsp": q, "bram_18k": q, "lut": q})
    np.testing.assert_array_equal(out["dsp"], [[0.0, 1.0, 2.0]])
    np.testing.assert_array_equal(out["bram_18k"], [[0.5, 0.5, 2.5]])
    np.testing.assert_array_equal(out["lut"], q)  # LUTs are many: left as predicted


def test_scores_on_exact_intervals() -> None:
    y = np.array([1.0, 1.0, 10.0, 20.0])
    pred = np.array([[1 + 1e-9] * 3, [1.0] * 3, [8.0, 10.0, 12.0], [10.0, 15.0, 18.0]])
    s = scores(y, pred)
    assert s["coverage80"] == 0.75  # the constant II = 1 counts as covered despite float noise
    assert s["mape"] == pytest.approx(100 * 0.25 / 4)
    assert s["smape"] == pytest.approx(100 * (2 * 5 / 35) / 4)
