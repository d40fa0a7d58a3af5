"""Parsers against every fixture in ../shared/fixtures (expected numbers from its README)."""

from __future__ import annotations

from pathlib import Path

import pytest

from synth_cache import (
    ReportParseError,
    parse_csynth_rpt,
    parse_csynth_xml,
    parse_ntorc_csv,
    parse_utilization_rpt,
    parse_wa_hls4ml_csv,
    parse_wa_hls4ml_json,
)

FIX = Path(__file__).resolve().parents[2] / "../shared/fixtures"
REPORT = "myproject_prj/solution1/syn/report/myproject_csynth"
HLS = {
    "Hector-Plata__hls4ml-tutorial/model_1/hls4ml_prj": (
        "vivado_hls",
        "2019.2",
        "xcu250-figd2104-2L-e",
        5.0,
        4.371,
        13,
        13,
        1,
        1,
        4,
        1520,
        11100,
        85140,
        0,
    ),
    "Lrozzy__hls4ml_OpenML/model_2.1/hls4ml_prj_prune_60": (
        "vitis_hls",
        "2024.1",
        "xcu50-fsvh2104-2-e",
        5.0,
        3.621,
        14,
        14,
        1,
        1,
        8,
        817,
        8462,
        35326,
        0,
    ),
    "pominiq__DNNonSilicon/model_1/hls4ml_prj": (
        "vivado_hls",
        "2020.1",
        "xc7z020-clg400-1",
        10.0,
        8.518,
        14121,
        14182,
        4705,
        14113,
        45,
        76,
        16975,
        25632,
        0,
    ),
}


@pytest.mark.parametrize("suffix", [".xml", ".rpt"])
@pytest.mark.parametrize("project", sorted(HLS))
def test_csynth_reports(project: str, suffix: str) -> None:
    text = (FIX / "hls-reports" / project / (REPORT + suffix)).read_text()
    r = parse_csynth_xml(text) if suffix == ".xml" else parse_csynth_rpt(text)
    tool, version, part, clk, est, lmin, lmax, iimin, iimax, bram, dsp, ff, lut, uram = HLS[project]
    assert (r.flow, r.tool, r.tool_version, r.kind, r.status) == (
        "vivado",
        tool,
        version,
        "hls_estimate",
        "ok",
    )
    assert r.part == part
    assert (r.clock_target_ns, r.clock_estimated_ns) == (clk, est)
    assert (r.latency_min, r.latency_max, r.ii_min, r.ii_max) == (lmin, lmax, iimin, iimax)
    assert (r.bram_18k, r.dsp, r.ff, r.lut, r.uram) == (bram, dsp, ff, lut, uram)


@pytest.mark.parametrize(
    ("path", "version", "lut", "ff", "bram_18k", "dsp", "carry"),
    [
        (
            "pominiq__DNNonSilicon/model_1/hls4ml_prj/vivado_synth.rpt",
            "2020.1",
            9964,
            10881,
            8,
            76,
            560,
        ),
        (
            "Keb-L__hls4ml-data/latency_analysis/core/model16/vsynth/myproject_utilization_synth.rpt",
            "2018.2",
            130031,
            108200,
            160,
            4962,
            5383,
        ),
    ],
)
def test_utilization_reports(
    path: str, version: str, lut: int, ff: int, bram_18k: int, dsp: int, carry: int
) -> None:
    r = parse_utilization_rpt((FIX / "hls-reports" / path).read_text())
    assert (r.tool, r.tool_version, r.kind) == ("vivado", version, "post_synthesis")
    # BRAM tiles are 36 Kb: 4 and 80 tiles are 8 and 160 BRAM_18K
    assert (r.lut, r.ff, r.bram_18k, r.dsp, r.carry) == (lut, ff, bram_18k, dsp, carry)


def test_wa_hls4ml_json_keeps_failed_runs() -> None:
    runs = parse_wa_hls4ml_json((FIX / "wa-hls4ml/test_conv2d_merged.json").read_text())
    assert len(runs) == 5
    failed = [r for r in runs if not any(x.ok for x in r.results)]
    assert len(failed) == 1
    assert all(x.status == "failed" and x.lut is None for x in failed[0].results)
    post = runs[0].results[0]
    assert (post.kind, post.tool, post.tool_version) == ("post_synthesis", "vivado", "2024.2")
    assert (post.lut, post.ff, post.dsp, post.bram_18k, post.uram) == (10598, 22297, 0, 27.0, 0)
    hls = runs[0].results[1]
    assert (hls.kind, hls.lut, hls.bram_18k) == ("hls_estimate", 44020, 27.0)
    assert (hls.latency_min, hls.latency_max, hls.ii_min, hls.ii_max) == (
        521563,
        522715,
        12907,
        522711,
    )
    two = parse_wa_hls4ml_json((FIX / "wa-hls4ml/test_2layer_merged.json").read_text())
    assert [r.results[0].bram_18k for r in two] == [12.0, 3.0, 3.0, 2.0]  # 6, 1.5, 1.5, 1 tiles


def test_wa_hls4ml_csv() -> None:
    runs = list(
        parse_wa_hls4ml_csv((FIX / "wa-hls4ml/wa-hls4ml-search_results_resource.csv").read_text())
    )
    assert len(runs) == 1343
    failed = [r for r in runs if r.results[0].status == "failed"]
    assert 0 < len(failed) < len(runs)
    first = runs[0]
    assert first.design["layers"] == [{"class_name": "Dense", "d_in": 32, "d_out": 32}]
    assert first.design["reuse_factor"] == 1 and first.design["precision_bits"] == 2
    assert (first.results[0].lut, first.results[0].ff) == (7357, 514)
    assert first.results[0].part == "xcu250-figd2104-2L-e"


def test_ntorc_tables() -> None:
    """Every N-TORC table: the layer as hls4ml saw it, the reuse factor it actually used."""
    conv = list(parse_ntorc_csv((FIX / "n-torc/collapsed_conv_resources.csv").read_text()))
    assert len(conv) == 3998
    first = conv[0]  # 43116,Not Fit,2,1,1,1,16,128,0,9867,2062.5,26
    assert first.design["layers"] == [
        {"class_name": "Conv1D", "n_chan": 1, "n_filt": 16, "seq_len": 128, "kernel_size": 3}
    ]
    r = first.results[0]
    assert (r.lut, r.ff, r.dsp, r.bram_18k) == (9867, 2062, 26, 0.0)  # 2062.5 rounds to even
    assert r.extra["averaged"] and r.part == "xczu7ev-ffvc1156-2-e" and r.kind == "hls_estimate"
    assert (r.tool, r.tool_version, r.clock_target_ns) == ("vivado_hls", "2019.1", 4.0)
    # hls4ml rounded most requested conv reuse factors to another valid one
    rounded = [x for x in conv if x.design["reuse_factor"] != x.design["reuse_factor_requested"]]
    assert len(rounded) == 2872
    lat = list(parse_ntorc_csv((FIX / "n-torc/dense_latency_collapsed.csv").read_text()))
    assert len(lat) == 5651 and lat[0].design["table"] == "latency"
    assert lat[0].design["layers"] == [
        {"class_name": "Dense", "d_in": 16, "d_out": 16, "seq_len": 1}
    ]
    assert (lat[0].results[0].latency_min, lat[0].results[0].lut) == (11, None)
    lstm = list(parse_ntorc_csv((FIX / "n-torc/lstm_resources_collapsed.csv").read_text()))
    assert lstm[0].design["layers"] == [
        {"class_name": "LSTM", "d_in": 16, "units": 8, "seq_len": 8}
    ]
    broken = (
        "model_number,fit_status,layer_index,reuse_factor,correct_reuse_factor_x,n_inputs,"
        "sequence_length,dense_size,bram_18k,lut,ff,dsp48e\n1,Fit,0,2,2,4,1,4,0,,10,1\n"
    )
    (run,) = parse_ntorc_csv(broken)
    assert run.results[0].status == "failed"  # a run without numbers stays a failed run


@pytest.mark.parametrize(
    ("parser", "text", "message"),
    [
        (parse_csynth_xml, "<nope", "not XML"),
        (parse_csynth_xml, "<profile></profile>", "not a csynth XML"),
        (parse_csynth_rpt, "hello", "not an HLS csynth report"),
        (parse_csynth_rpt, "== Vitis HLS Report for 'x'\n", "Performance Estimates"),
        (parse_utilization_rpt, "nothing here", "not a Vivado utilization report"),
        (parse_utilization_rpt, "Utilization Design Information\n", "no LUT"),
        (parse_wa_hls4ml_json, "{}", "JSON list"),
        (parse_wa_hls4ml_json, "[{}]", "record 0"),
        (lambda t: list(parse_wa_hls4ml_csv(t)), "a,b\n1,2\n", "missing columns"),
        (lambda t: list(parse_ntorc_csv(t)), "a,b\n1,2\n", "not an N-TORC table"),
    ],
)
def test_bad_reports_raise_typed_errors(parser, text: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ReportParseError, match=message):
        parser(text)


def test_tilde_zero_and_truncated_report() -> None:
    text = (
        FIX / "hls-reports" / "pominiq__DNNonSilicon/model_1/hls4ml_prj" / (REPORT + ".rpt")
    ).read_text()
    r = parse_csynth_rpt(
        text.replace("|Total            |       45|", "|Total            |       ~0|")
    )
    assert r.bram_18k == 0
    with pytest.raises(ReportParseError):
        parse_csynth_rpt(text[: text.index("== Utilization Estimates")])
