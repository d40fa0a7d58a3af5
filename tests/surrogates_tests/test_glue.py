"""The network glue's contract (``surrogates._glue``).

Its accuracy on real networks is measured by scripts/bench_vivado_surrogate.py (wa-hls4ml's
3-layer networks are not in ../shared/fixtures). Here the targets are synthetic, made so that
what a network costs beyond the sum of its layers depends on its widest layer, which one ratio
cannot express: the test checks the estimator's behaviour, not a claim about hls4ml.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from surrogates import design_features
from surrogates._glue import GLUE_FEATURES, NetworkGlue


def _networks(n: int, seed: int) -> tuple[list[dict], np.ndarray, np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    rng = np.random.default_rng(seed)
    docs, sums, ys = [], [], []
    for _ in range(n):
        widths = rng.choice([8, 16, 32, 64, 128], size=rng.integers(3, 5))
        layers = [
            {"class_name": "Dense", "d_in": int(a), "d_out": int(b)}
            for a, b in zip(widths[:-1], widths[1:], strict=True)
        ]
        docs.append(
            {
                "source": "synthetic",
                "layers": layers,
                "precision_bits": int(rng.choice([4, 8, 16])),
                "reuse_factor": int(rng.choice([1, 4, 16])),
                "target_part": "xcu250-figd2104-2L-e",
            }
        )
        s = float(sum(a * b for a, b in zip(widths[:-1], widths[1:], strict=True)))
        sums.append(s)
        ys.append(s * (1.0 + widths.max() / 32.0))  # registers that grow with the widest layer
    n_layers = np.asarray([len(d["layers"]) for d in docs], dtype=float)
    return docs, np.asarray(sums), np.asarray(ys), n_layers


def _groups(docs: list[dict]) -> np.ndarray:  # type: ignore[type-arg]
    return np.asarray([str([(x["d_in"], x["d_out"]) for x in d["layers"]]) for d in docs])


def _domain(docs: list[dict]) -> tuple[list[str], np.ndarray]:  # type: ignore[type-arg]
    return ["dense"] * len(docs), np.asarray([d["reuse_factor"] for d in docs], dtype=float)


def test_the_booster_learns_what_one_ratio_cannot(tmp_path: Path) -> None:
    docs, s, y, n = _networks(400, seed=0)
    glue = NetworkGlue(n_estimators=150).fit(
        docs, {"lut": s}, n, {"lut": y}, _groups(docs), *_domain(docs)
    )
    assert "lut" in glue.boosters_  # chosen on held-out networks
    err = glue.chosen_["lut"]
    assert err["booster"] < 0.5 * err["ratio"]
    test_docs, ts, ty, tn = _networks(100, seed=1)
    q = np.column_stack([ts, ts, ts])
    every = np.ones(len(test_docs), dtype=bool)
    out, applied = glue.apply(test_docs, {"lut": q}, tn, every, *_domain(test_docs))
    out = out["lut"]
    assert applied.all()
    booster_err = np.median(np.abs(out[:, 1] - ty) / ty)
    a, c = glue.linear_["lut"]
    ratio_err = np.median(np.abs(np.expm1(np.log1p(ts) + a + c * (tn - 1)) - ty) / ty)
    assert booster_err < 0.5 * ratio_err
    assert np.all(out[:, 0] <= out[:, 1]) and np.all(out[:, 1] <= out[:, 2])
    # persisted: the same answers
    glue.save(tmp_path)
    again = NetworkGlue.load(tmp_path, glue.to_json())
    np.testing.assert_allclose(
        again.apply(test_docs, {"lut": q}, tn, every, *_domain(test_docs))[0]["lut"], out
    )


def test_the_booster_answers_only_networks_like_its_own() -> None:
    docs, s, y, n = _networks(300, seed=5)
    kinds, reuse = _domain(docs)
    glue = NetworkGlue(n_estimators=50).fit(
        docs, {"lut": s}, n, {"lut": y}, _groups(docs), kinds, reuse
    )
    q = np.column_stack([s, s, s])[:3]
    ratio = np.zeros(3, dtype=bool)  # outside the ratio's range too
    for other_kinds, other_reuse in (
        (["conv+dense"] * 3, reuse[:3]),
        (kinds[:3], np.full(3, 512.0)),
    ):
        out, applied = glue.apply(docs[:3], {"lut": q}, n[:3], ratio, other_kinds, other_reuse)
        assert not applied.any()
        np.testing.assert_array_equal(out["lut"], q)  # the sum of the layers, unglued
    assert glue.supported(kinds[:3], reuse[:3] * 4).all()  # within 4 times: like its own
    out, applied = glue.apply(docs[:3], {"lut": q}, np.ones(3), ratio | True, kinds[:3], reuse[:3])
    assert not applied.any()  # a single layer is its own model's answer


def test_few_networks_keep_the_ratio() -> None:
    docs, s, y, n = _networks(60, seed=2)
    kinds, reuse = _domain(docs)
    glue = NetworkGlue(min_booster=200).fit(
        docs, {"lut": s}, n, {"lut": y}, _groups(docs), kinds, reuse
    )
    assert glue.boosters_ == {} and "lut" in glue.linear_
    few = NetworkGlue(min_records=100).fit(
        docs, {"lut": s}, n, {"lut": y}, _groups(docs), kinds, reuse
    )
    assert few.linear_ == {}  # too few for any glue: the sum is the answer
    q = np.column_stack([s, s, s])
    out, _ = few.apply(docs, {"lut": q}, n, n > 0, kinds, reuse)
    np.testing.assert_array_equal(out["lut"], q)


def test_untrusted_networks_teach_only_the_booster() -> None:
    docs, s, y, n = _networks(300, seed=3)
    trusted = np.arange(len(docs)) % 3 == 0
    y_bad = np.where(trusted, y, 50 * y)  # what an extrapolated sum would teach one ratio
    kinds, reuse = _domain(docs)
    glue = NetworkGlue(n_estimators=50).fit(
        docs, {"lut": s}, n, {"lut": y_bad}, _groups(docs), kinds, reuse, trusted
    )
    keep = np.flatnonzero(trusted)
    ratio_only = NetworkGlue(n_estimators=50).fit(
        [docs[i] for i in keep],
        {"lut": s[trusted]},
        n[trusted],
        {"lut": y_bad[trusted]},
        _groups(docs)[trusted],
        [kinds[i] for i in keep],
        reuse[trusted],
    )
    assert glue.linear_["lut"] == pytest.approx(ratio_only.linear_["lut"])


def test_glue_features_are_the_design_features() -> None:
    docs, *_ = _networks(1, seed=4)
    names = set(design_features(docs[0]))
    assert set(GLUE_FEATURES) - names == {"log_sum"}
    assert names - set(GLUE_FEATURES) == {"target_lut", "target_dsp"}
