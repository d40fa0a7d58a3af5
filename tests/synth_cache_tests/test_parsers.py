"""Parsers against every fixture in ../shared/fixtures (expected numbers from its README)."""

from __future__ import annotations

from pathlib import Path

import pytest

from synth_cache import (
    ReportParseError,
    parse_csynth_rpt,
    parse_csynth_xml,
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
