"""The feature schema: hwloop designs and wa-hls4ml records map into the same vector."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from hwloop.archs import Aggregate, ArchSpec, Conv2d, Flatten, Linear
from hwloop.synth import HardwareConfig, random_design
from surrogates import FEATURES, FeatureError, design_features, design_info
from synth_cache import parse_wa_hls4ml_csv, parse_wa_hls4ml_json

PART = "xcvu13p-flga2577-2-e"
CSV = (
    Path(__file__).resolve().parents[2]
    / "../shared/fixtures/wa-hls4ml/wa-hls4ml-search_results_resource.csv"
)
SPEC = ArchSpec(
    (1, 5, 5),
    (
        Conv2d("c", 4, 3, padding=1, act="gelu", norm="layer"),
        Flatten("f"),
        Linear("h", 8, act="relu"),
        Linear("o", 2),
    ),
)


def test_hwloop_design_features() -> None:
    design = random_design(SPEC, HardwareConfig.uniform(PART, 6), seed=0, sparsity=0.5)
    f = design_features(design.canonical(), {"lut": 1_728_000, "dsp": 12_288})
    assert list(f) == list(FEATURES)
    assert (f["n_layers"], f["n_conv"], f["n_dense"], f["n_layer_norm"], f["n_gelu"]) == (
        3,
        1,
        2,
        1,
        1,
    )
    assert f["params"] == 9 * 4 + 100 * 8 + 8 * 2
    nonzero = sum(int((w != 0).sum()) for w in design.matrices().values())
    assert f["nonzero"] == nonzero and f["sparsity"] == pytest.approx(1 - nonzero / f["params"])
    conv_nz = int((design.weights["c.weight"] != 0).sum())
    assert f["mults"] == f["nonzero"] + conv_nz * 24  # the conv's products at 25 positions
    assert f["w_bits_max"] == 6 and f["res_bits_max"] == 14 and f["clock_ns"] == 5.0
    assert f["strategy_latency"] == 1.0 and f["target_lut"] == 1_728_000


def test_deep_sets_phi_counts_as_a_conv_over_the_elements() -> None:
    spec = ArchSpec((8, 3), (Linear("phi0", 4, act="relu"), Aggregate("agg"), Linear("out", 5)))
    design = random_design(spec, HardwareConfig.uniform(PART, 6), seed=0)
    f = design_features(design.canonical())
    assert (f["n_conv"], f["n_dense"], f["input_size"], f["output_size"]) == (1, 1, 24, 5)
    nz = {k: int((w != 0).sum()) for k, w in design.matrices().items()}
    assert f["mults"] == 8 * nz["phi0"] + nz["out"]  # φ's products at each of the 8 elements


def test_designs_without_per_layer_counts_fall_back_to_sparsity() -> None:
    doc = random_design(SPEC, HardwareConfig.uniform(PART, 4), seed=1, sparsity=0.5).canonical()
    exact = design_features(doc)
    del doc["nonzero"]  # cache entries written before per-layer counts existed
    approx = design_features(doc)
    assert approx["nonzero"] == pytest.approx(exact["nonzero"], rel=0.02)


def test_wa_hls4ml_csv_records_share_the_schema() -> None:
    run = next(iter(parse_wa_hls4ml_csv(CSV.read_text())))
    f = design_features(run.design)
    assert list(f) == list(FEATURES)
    (layer,) = design_info(run.design).layers
    assert f["params"] == layer.n_in * layer.n_out and f["n_dense"] == 1
    assert f["reuse_max"] == run.design["reuse_factor"]
    assert math.isnan(f["acc_bits_max"]) and math.isnan(f["target_lut"])  # unknown, not guessed


def test_unknown_designs_are_refused() -> None:
    with pytest.raises(FeatureError, match="source 'hls4ml-project'"):
        design_features({"source": "hls4ml-project", "reports": {}})
    with pytest.raises(FeatureError, match="unreadable"):
        design_features({"arch": {"input_shape": [3], "layers": [{"op": "linear"}]}, "hw": {}})


def test_wa_hls4ml_json_records_share_the_schema() -> None:
    fixtures = CSV.parent
    two = parse_wa_hls4ml_json((fixtures / "test_2layer_merged.json").read_text())
    convs = parse_wa_hls4ml_json((fixtures / "test_conv2d_merged.json").read_text())
    # dense_128_120_104_2b: two dense layers, 2-bit weights, 16-bit data, reuse 3840 / 3120
    info = design_info(two[0].design)
    assert [(x.n_in, x.n_out, x.w_bits, x.in_bits, x.reuse) for x in info.layers] == [
        (128, 120, 2.0, 16.0, 3840.0),
        (120, 104, 2.0, 16.0, 3120.0),
    ]
    assert (info.input_size, info.output_size, info.strategy) == (128, 104, "resource")
    # conv2d_26273: 3x3 conv 16->8 channels at 20x5 outputs, then dense 800->16->16
    f = design_features(convs[0].design)
    assert list(f) == list(FEATURES)
    assert (f["n_conv"], f["n_dense"], f["n_sigmoid"], f["n_tanh"]) == (1, 2, 2, 1)
    assert f["params"] == 144 * 8 + 800 * 16 + 16 * 16
    assert f["mults"] == 144 * 8 * 100 + 800 * 16 + 16 * 16
    assert f["w_bits_max"] == 4 and f["input_size"] == 40 * 9 * 16
    assert math.isnan(f["res_bits_max"])  # 'auto' precisions are unknown, not guessed
