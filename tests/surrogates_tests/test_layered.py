"""The layer-level Vivado-flow surrogate on real per-layer records (N-TORC, wa-hls4ml)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from surrogates import (
    FeatureError,
    LayeredSurrogate,
    LayerKindError,
    hls_layers,
    load_surrogate,
    scores,
)
from surrogates._layered import source_weights
from synth_cache import parse_ntorc_csv, parse_wa_hls4ml_csv

FIX = Path(__file__).resolve().parents[2] / "../shared/fixtures"
FIELDS = {"lut": "lut", "ff": "ff", "dsp": "dsp", "bram_18k": "bram_18k", "latency": "latency_max"}


@pytest.fixture(scope="module")
def records() -> tuple[list[dict], dict[str, np.ndarray], np.ndarray]:  # type: ignore[type-arg]
    runs = list(
        parse_wa_hls4ml_csv((FIX / "wa-hls4ml/wa-hls4ml-search_results_resource.csv").read_text())
    )
    for name in (
        "dense_resources_collapsed",
        "dense_latency_collapsed",
        "collapsed_conv_resources",
    ):
        runs += list(parse_ntorc_csv((FIX / f"n-torc/{name}.csv").read_text()))
    runs = [r for r in runs if r.results[0].ok]
    docs = [r.design for r in runs]
    Y = {
        m: np.array(
            [
                np.nan if getattr(r.results[0], f) is None else getattr(r.results[0], f)
                for r in runs
            ],
            dtype=float,
        )
        for m, f in FIELDS.items()
    }
    layer = [hls_layers(d).layers[0] for d in docs]
    groups = np.array([f"{x.kind}{x.n_in}x{x.n_out}@{x.positions}" for x in layer])
    return docs, Y, groups


def test_layers_of_hwloop_designs() -> None:
    from hwloop.archs import resolve_arch
    from hwloop.synth import HardwareConfig, random_design

    hw = HardwareConfig.uniform("xcu250-figd2104-2L-e", 8, 5.0)
    tiny = hls_layers(random_design(resolve_arch("nac-tiny"), hw, seed=0).canonical())
    kinds = [(x.name, x.kind) for x in tiny.layers]
    assert kinds[0] == ("stem", "conv2d") and ("fc0_act", "activation") in kinds
    assert tiny.layers[0].n_in == 9 and tiny.layers[0].positions == 81  # 3x3 on 11x11, valid
    assert not any(x.kind == "norm" for x in tiny.layers)  # batch norm folds into the layer
    sets = hls_layers(random_design(resolve_arch("deepsets-baseline"), hw, seed=0).canonical())
    phi0, agg = sets.layers[0], next(x for x in sets.layers if x.name == "agg")
    assert (phi0.kind, phi0.positions) == ("dense", 8)  # φ runs on each of 8 constituents
    assert (agg.kind, agg.n_in, agg.n_out) == ("pooling", 8, 32)  # a global pooling over the set
    with pytest.raises(FeatureError, match="conv_attention"):
        hls_layers(random_design(resolve_arch("braggnn"), hw, seed=0).canonical())


@pytest.mark.slow
def test_fit_predict_held_out_and_round_trip(records, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    docs, Y, groups = records
    names = np.unique(groups)
    held = np.isin(groups, np.random.default_rng(0).permutation(names)[: names.size // 5])
    train = [d for d, h in zip(docs, held, strict=True) if not h]
    test = [d for d, h in zip(docs, held, strict=True) if h]
    model = LayeredSurrogate(n_estimators=150).fit(train, {m: v[~held] for m, v in Y.items()})
    assert set(model.kinds_) == {"conv", "dense"}
    pred, outside = model.predict_documents(test)
    lut = scores(Y["lut"][held], pred["lut"])
    assert lut["r2"] > 0.8 and lut["smape"] < 25  # layer shapes never seen in training
    assert scores(Y["latency"][held], pred["latency"])["r2"] > 0.8
    assert len(outside) == len(test)
    again = load_surrogate(model.save(tmp_path / "m"))
    assert isinstance(again, LayeredSurrogate)
    np.testing.assert_allclose(again.predict_documents(test[:50])[0]["lut"], pred["lut"][:50])


def test_sources_weigh_alike() -> None:
    w = source_weights(["big"] * 90 + ["small"] * 30 + ["two"] * 2, min_records=20)
    assert w.mean() == pytest.approx(1.0)
    big, small, two = w[0], w[90], w[120]
    assert 90 * big == pytest.approx(30 * small)  # each sweep counts as much as the largest
    assert two == pytest.approx(big)  # too few records to be scaled up


@pytest.mark.slow
def test_balanced_sources_fit_the_smaller_sweep(records) -> None:  # type: ignore[no-untyped-def]
    """wa-hls4ml's 906 Dense rows beside N-TORC's ~11k: unweighted, the trees fit N-TORC and
    wa-hls4ml's held-out shapes miss by far more than with both sweeps weighed alike."""
    docs, Y, groups = records
    names = np.unique(groups)
    held = np.isin(groups, np.random.default_rng(1).permutation(names)[: names.size // 5])
    wa = np.array([d.get("source") == "wa-hls4ml-csv" for d in docs])
    train = [d for d, h in zip(docs, held, strict=True) if not h]
    test = [d for d, h, w in zip(docs, held, wa, strict=True) if h and w]
    smape = {}
    for balance in (False, True):
        model = LayeredSurrogate(n_estimators=150, balance_sources=balance)
        model.fit(train, {m: v[~held] for m, v in Y.items()})
        pred, _ = model.predict_documents(test)
        smape[balance] = scores(Y["lut"][held & wa], pred["lut"])["smape"]
    assert smape[True] < 0.8 * smape[False] and smape[True] < 12


def test_a_network_is_the_sum_of_its_layers(records) -> None:  # type: ignore[no-untyped-def]
    docs, Y, _ = records
    model = LayeredSurrogate(n_estimators=100).fit(docs, Y)
    one = {
        "source": "t",
        "layers": [{"class_name": "Dense", "d_in": 16, "d_out": 16}],
        "precision_bits": 16,
        "reuse_factor": 4,
        "target_part": "xcu250-figd2104-2L-e",
    }
    two = {**one, "layers": one["layers"] * 2}
    (p1, _), (p2, _) = model.predict_documents([one]), model.predict_documents([two])
    assert p2["lut"][0, 1] == pytest.approx(2 * p1["lut"][0, 1])  # no glue without networks
    lstm = {**one, "layers": [{"class_name": "LSTM", "d_in": 8, "units": 8, "seq_len": 8}]}
    with pytest.raises(LayerKindError, match="layer0: no vivado records of layer kind 'lstm'"):
        model.predict_documents([lstm])
