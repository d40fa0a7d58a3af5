"""hls4ml's synthesis baselines and wa-hls4ml's multi-layer dense tables, on real data."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from fpga_targets import closest_reuse_factor, valid_reuse_factors
from synth_cache import (
    ReportParseError,
    import_paths,
    open_cache,
    parse_hls4ml_baseline,
    parse_wa_multilayer_csv,
)

FIX = Path(__file__).resolve().parents[2] / "../shared/fixtures"
# hls4ml's baselines are not bundled: a copy under shared/fixtures, or an hls4ml checkout's
# test/pytest/baselines named by HWLOOP_HLS4ML_BASELINES
BASELINES = Path(os.environ.get("HWLOOP_HLS4ML_BASELINES", FIX / "hls4ml-baselines"))
needs_baselines = pytest.mark.skipif(
    not (BASELINES / "Vivado").is_dir(), reason=f"no hls4ml baselines at {BASELINES}"
)


# wa-hls4ml's 3-layer table (jdweitz/wa-hls4ml @2e49d33, data/concatenated_3layer_json_to_csv.csv)
# is not bundled either: a copy under shared/fixtures, or the file named by HWLOOP_WA_3LAYER
THREE = Path(
    os.environ.get("HWLOOP_WA_3LAYER", FIX / "wa-hls4ml-3layer/concatenated_3layer_json_to_csv.csv")
)
needs_three = pytest.mark.skipif(
    not THREE.is_file(), reason=f"no wa-hls4ml 3-layer table at {THREE}"
)


def _three() -> str:
    if THREE.suffix == ".gz":
        with gzip.open(THREE, "rt") as fh:
            return fh.read()
    return THREE.read_text()


def test_reuse_rule_reproduces_every_wa_hls4ml_dense_layer() -> None:
    checked = 0
    for name in ("test_2layer_merged.json", "test_conv2d_merged.json"):
        for rec in json.loads((FIX / "wa-hls4ml" / name).read_text()):
            requested = rec["hls_config"]["Model"]["ReuseFactor"]
            for layer in rec["model_config"]:
                if layer["class_name"] in ("Dense", "QDense"):
                    n_in, n_out = layer["input_shape"][-1], layer["output_shape"][-1]
                    assert closest_reuse_factor(n_in, n_out, requested) == layer["reuse_factor"]
                    checked += 1
    assert checked == 22
    # below n_in: divisors of n_in; from n_in up: multiples of n_in dividing n_in * n_out
    valid = [1, 2, 3, 4, 6, 8, 12, 16, 24, 48, 96, 192, 384, 624, 1248, 2496, 4992]
    assert list(valid_reuse_factors(48, 104)) == valid


@needs_three
def test_three_layer_table(tmp_path: Path) -> None:
    runs = list(parse_wa_multilayer_csv(_three()))
    assert len(runs) > 9000
    first = runs[0]
    assert first.label == "6135aca7-cec6-4010-8e7a-0b8def707f81"
    layers = [(la["d_in"], la["d_out"], la["reuse_factor"]) for la in first.design["layers"]]
    assert layers == [(104, 48, 832), (48, 104, 1248), (104, 104, 832)]
    assert first.design["reuse_factor_requested"] == 1024
    assert first.design["precision_bits"] == 4
    assert first.design["layers"][0]["precision"] == "ap_fixed<4,1>"
    res = first.results[0]
    assert (res.kind, res.part, res.tool) == ("hls_estimate", "xcu250-figd2104-2L-e", "vitis_hls")
    assert (res.lut, res.ff, res.dsp, res.bram_18k) == (32468, 24155, 0, 10.0)
    assert (res.latency_min, res.latency_max, res.clock_estimated_ns) == (2917, 2920, 4.002)
    cache = open_cache(f"sqlite:///{tmp_path / 'c.db'}")
    summary = import_paths(cache, [FIX / "wa-hls4ml", THREE])
    assert import_paths(cache, [THREE]).added == 0
    assert summary.failed_runs > 0


def test_baseline_without_description_is_refused() -> None:
    text = '{"CSynthesisReport": {"LUT": "1"}}'
    with pytest.raises(ReportParseError, match="no layer description"):
        parse_hls4ml_baseline(text, "test_keras_api_test_unknown-Vivado.json", "Vivado", "2020.1")
    with pytest.raises(ReportParseError, match="no CSynthesisReport"):
        parse_hls4ml_baseline("[]", "x.json", "Vitis", "2024.1")


@needs_baselines
def test_hls4ml_baselines(tmp_path: Path) -> None:
    cache = open_cache(f"sqlite:///{tmp_path / 'c.db'}")
    summary = import_paths(cache, [BASELINES / "Vivado", BASELINES / "Vitis"])
    assert (summary.added, summary.failed_runs, summary.skipped) == (60, 0, [])
    entries = list(cache.entries())
    versions = sorted((e.results[0].tool, e.results[0].tool_version) for e in entries)
    assert versions.count(("vivado_hls", "2020.1")) == 23
    assert versions.count(("vitis_hls", "2024.1")) == 23
    assert versions.count(("vitis_hls", "2023.1")) == 12
    assert {e.design["target_part"] for e in entries} == {"xcvu13p-flga2577-2-e"}
    name = "test_keras_api_test_dense_io_parallel-Vivado.json"
    run = parse_hls4ml_baseline(
        (BASELINES / "Vivado/2020.1" / name).read_text(), name, "Vivado", "2020.1"
    )
    assert [la["class_name"] for la in run.design["layers"]] == ["Dense", "Activation"]
    res = run.results[0]
    assert (res.lut, res.ff, res.dsp, res.latency_max, res.clock_target_ns) == (190, 89, 2, 2, 5.0)
    conv = next(
        e
        for e in entries
        if e.design["layers"][0]["class_name"] == "Conv2D" and e.results[0].tool == "vitis_hls"
    )
    assert (conv.results[0].lut, conv.results[0].dsp, conv.design["strategy"]) == (
        75413,
        792,
        "resource",
    )
    assert import_paths(cache, [BASELINES / "Vivado", BASELINES / "Vitis"]).added == 0


def test_a_described_report_brings_its_network_and_its_layers(tmp_path: Path) -> None:
    cache = open_cache(f"sqlite:///{tmp_path}/c.db")
    import_paths(cache, [FIX / "hls-reports"])
    entries = list(cache.entries())
    nets = {
        e.design["project"].split("__")[0]: e
        for e in entries
        if e.design["source"] == "hls-reports"
    }
    assert sorted(nets) == ["Hector-Plata", "Lrozzy", "pominiq"]  # Keb-L's has no C-synthesis
    tagger = nets["Hector-Plata"]
    assert [x["class_name"] for x in tagger.design["layers"]][:2] == ["Dense", "Activation"]
    assert tagger.results[0].lut == 85140  # the whole network, as the report says
    layers = {
        (e.design["project"], e.design["instance"]): e for e in entries if "instance" in e.design
    }
    assert len(layers) == 4 + 8 + 7  # every instance networks.json maps
    relu4 = next(e.results[0] for (_, m), e in layers.items() if m.endswith("relu_config4_s"))
    assert (relu4.lut, relu4.ff, relu4.latency_max) in [(1792, 0, 0), (2280, 0, 0)]
    pool = next(e for (_, m), e in layers.items() if m.endswith("4u_config4_s"))
    assert pool.design["io_type"] == "io_stream" and pool.results[0].latency_max == 681


# rianbrooksflynn/transformer-synthesis's layer-norm reports are not bundled (no licence file):
# scripts/transformer_synthesis_reports.py copies them out of a checkout into the folder named
# by HWLOOP_TRANSFORMER_SYNTHESIS
NORMS = Path(os.environ.get("HWLOOP_TRANSFORMER_SYNTHESIS", FIX / "transformer-synthesis"))


def test_layer_norm_projects_are_described_as_one_norm_layer() -> None:
    from surrogates import hls_layers
    from surrogates._elementwise import family
    from synth_cache._hls_networks import _networks

    described = {k: v for k, v in _networks().items() if "transformer-synthesis" in k}
    assert len(described) == 8
    for key, desc in described.items():
        seq, dim = (int(x) for x in key.rsplit("_", 2)[-2:]) if key[-1].isdigit() else (10, 8)
        (layer,) = hls_layers({**desc, "target_part": "xcvu13p-flga2577-2-e"}).layers
        assert (layer.kind, layer.n_out, family(layer)) == ("norm", seq * dim, "norm")


@pytest.mark.skipif(not NORMS.is_dir(), reason=f"no transformer-synthesis reports at {NORMS}")
def test_layer_norm_reports(tmp_path: Path) -> None:
    cache = open_cache(f"sqlite:///{tmp_path}/c.db")
    import_paths(cache, [NORMS])
    norms = [e for e in cache.entries() if "instance" in e.design]
    assert len(norms) == 8 and all(e.results[0].part.startswith("xcvu13p") for e in norms)
    big = next(
        e.results[0] for e in norms if e.design["project"].endswith("keras_layernorm_uniform_30_16")
    )
    assert (big.lut, big.ff, big.dsp, big.latency_max) == (56342, 41674, 960, 3)
