"""Element-wise layer kinds (activations, pooling) of the layer-level Vivado-flow surrogate,
learnt from the per-layer numbers of real hls4ml reports (the described networks of
../shared/fixtures/hls-reports)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

from surrogates import LayeredSurrogate, LayerKindError, hls_layers, load_surrogate
from synth_cache import SqlCache, import_paths, parse_ntorc_csv

FIX = Path(__file__).resolve().parents[2] / "../shared/fixtures"
FIELDS = {"lut": "lut", "ff": "ff", "dsp": "dsp", "bram_18k": "bram_18k", "latency": "latency_max"}


@pytest.fixture(scope="module")
def runs() -> list[tuple[dict, object]]:  # type: ignore[type-arg]
    cache = SqlCache(f"sqlite:///{tempfile.mkdtemp()}/c.db")
    import_paths(cache, [FIX / "hls-reports"])
    out = [(e.design, e.results[0]) for e in cache.entries() if "layers" in e.design]
    out += [
        (r.design, r.results[0])
        for r in parse_ntorc_csv((FIX / "n-torc/dense_resources_collapsed.csv").read_text())
    ]
    return [(d, r) for d, r in out if r.ok]  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def model(runs: list[tuple[dict, object]]) -> LayeredSurrogate:  # type: ignore[type-arg]
    Y = {
        m: np.array([np.nan if getattr(r, f) is None else getattr(r, f) for _, r in runs], float)
        for m, f in FIELDS.items()
    }
    return LayeredSurrogate(n_estimators=50).fit([d for d, _ in runs], Y)


def _measured(runs: list[tuple[dict, object]], act: str) -> np.ndarray:  # type: ignore[type-arg]
    """LUT per element-bit of the reports' io_parallel ``act`` instances (all 16 bits)."""
    return np.array(
        [
            r.lut / (d["layers"][0]["n"] * 16)  # type: ignore[attr-defined]
            for d, r in runs
            if "instance" in d
            and d["layers"][0].get("activation") == act
            and d["io_type"] == "io_parallel"
        ]
    )


def _net(*layers: dict) -> dict:  # type: ignore[type-arg]
    return {
        "source": "t",
        "layers": list(layers),
        "precision": "ap_fixed<16,6>",
        "reuse_factor": 1,
        "io_type": "io_parallel",
        "target_part": "xcu250-figd2104-2L-e",
    }


def test_relu_costs_what_the_reports_measured_per_element_and_bit(
    model: LayeredSurrogate,
    runs: list[tuple[dict, object]],  # type: ignore[type-arg]
) -> None:
    ratios = _measured(runs, "relu")
    # the tutorial's jet tagger: 1,792 LUT for 64 x 16 bits, 896 for 32 x 16 (1.75 per
    # element-bit); the pruned OpenML tagger 1.78-2.3
    assert len(ratios) == 6 and ratios.min() == pytest.approx(1.75)
    relu = _net({"class_name": "Activation", "activation": "relu", "n": 48})
    (pred, _) = model.predict_documents([relu])
    expected = np.quantile(ratios, [0.1, 0.5, 0.9]) * 48 * 16
    np.testing.assert_allclose(pred["lut"][0], expected)
    assert pred["ff"][0, 1] == 0 and pred["latency"][0, 1] == 0


def test_families_with_few_records_get_a_wide_interval(
    model: LayeredSurrogate,
    runs: list[tuple[dict, object]],  # type: ignore[type-arg]
) -> None:
    ratios = _measured(runs, "softmax")
    assert len(ratios) == 2  # the two jet taggers' softmax on 5 outputs: 664 and 790 LUT
    soft = _net({"class_name": "Activation", "activation": "softmax", "n": 5})
    (pred, _) = model.predict_documents([soft])
    expected = np.array([ratios.min() / 2, np.median(ratios), ratios.max() * 2]) * 5 * 16
    np.testing.assert_allclose(pred["lut"][0], expected)


def test_a_family_or_kind_without_records_is_refused(model: LayeredSurrogate) -> None:
    pool = _net({"class_name": "MaxPooling1D", "n_chan": 3, "seq_len": 8, "pool_size": 2})
    with pytest.raises(LayerKindError, match="layer kind 'pooling'"):
        model.predict_documents([pool])
    model.kinds_["pooling"] = model.kinds_["activation"]  # a model of other families only
    try:
        with pytest.raises(LayerKindError, match="'pooling' family"):
            model.predict_documents([pool])
    finally:
        del model.kinds_["pooling"]


def test_round_trip(model: LayeredSurrogate, tmp_path: Path) -> None:
    net = _net(
        {"class_name": "Dense", "d_in": 16, "d_out": 32, "reuse_factor": 4},
        {"class_name": "Activation", "activation": "relu", "n": 32},
    )
    again = load_surrogate(model.save(tmp_path / "m"))
    assert isinstance(again, LayeredSurrogate)
    a, b = model.predict_documents([net])[0], again.predict_documents([net])[0]
    np.testing.assert_allclose(a["lut"], b["lut"])


def test_pooling_positions_follow_the_padding() -> None:
    same = _net({"class_name": "MaxPooling1D", "n_chan": 3, "seq_len": 121, "padding": "same"})
    valid = {**same, "layers": [{**same["layers"][0], "padding": "valid"}]}
    pool2d = _net(
        {"class_name": "AveragePooling2D", "n_chan": 3, "height": 18, "width": 15, "pool_size": 2}
    )
    assert hls_layers(same).layers[0].positions == 61
    assert hls_layers(valid).layers[0].positions == 60
    assert hls_layers(pool2d).layers[0].positions == 9 * 7
