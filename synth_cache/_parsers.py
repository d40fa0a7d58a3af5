"""Report parsers: pure functions over text that return typed results.

Formats: Vivado/Vitis HLS ``*_csynth.xml`` and ``*_csynth.rpt`` (HLS estimates), Vivado
``report_utilization`` files (``vivado_synth.rpt``, ``*_utilization_synth.rpt``; post-synthesis),
wa-hls4ml JSON record lists and its resource CSV. Quirks handled: ``DSP48E`` (Vivado HLS) vs
``DSP`` (Vitis HLS), ``~0`` cells, clock-table layouts of different versions, ``Slice LUTs``
(7-series) vs ``CLB LUTs`` (UltraScale+), BRAM reported in 36 Kb tiles (converted to 18 Kb units).
Anything else raises :class:`ReportParseError`.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from synth_cache._model import SynthResult


class ReportParseError(ValueError):
    """The text is not a report of the expected format (the message says what is missing)."""


# ---- helpers -------------------------------------------------------------------------------
def _num(text: str | None, what: str) -> float:
    if text is None:
        raise ReportParseError(f"missing {what}")
    t = text.strip().replace(",", "")
    if t in ("~0", "-", ""):
        return 0.0
    t = re.sub(r"\s*(ns|us|ms)$", "", t)
    try:
        return float(t)
    except ValueError:
        raise ReportParseError(f"{what}: not a number: {text!r}") from None


def _int(text: str | None, what: str) -> int:
    return int(round(_num(text, what)))


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


# ---- HLS C-synthesis reports ----------------------------------------------------------------
def parse_csynth_xml(text: str) -> SynthResult:
    """A Vivado/Vitis HLS ``*_csynth.xml``: the HLS estimate of one design."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ReportParseError(f"not XML: {exc}") from None
    if root.tag != "profile" or root.find("AreaEstimates/Resources") is None:
        raise ReportParseError("not a csynth XML report (no profile/AreaEstimates/Resources)")
    res = root.find("AreaEstimates/Resources")
    assert res is not None
    dsp_tag = "DSP48E" if res.find("DSP48E") is not None else "DSP"
    lat = "PerformanceEstimates/SummaryOfOverallLatency/"
    return SynthResult(
        flow="vivado",
        tool="vivado_hls" if dsp_tag == "DSP48E" else "vitis_hls",
        tool_version=(root.findtext("ReportVersion/Version") or "").strip(),
        kind="hls_estimate",
        part=(root.findtext("UserAssignments/Part") or "").strip(),
        clock_target_ns=_num(root.findtext("UserAssignments/TargetClockPeriod"), "target clock"),
        clock_estimated_ns=_num(
            root.findtext("PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod"),
            "estimated clock",
        ),
        lut=_int(res.findtext("LUT"), "LUT"),
        ff=_int(res.findtext("FF"), "FF"),
        dsp=_int(res.findtext(dsp_tag), "DSP"),
        bram_18k=_num(res.findtext("BRAM_18K"), "BRAM_18K"),
        uram=_int(res.findtext("URAM") or "0", "URAM"),
        latency_min=_int(root.findtext(lat + "Best-caseLatency"), "best-case latency"),
        latency_max=_int(root.findtext(lat + "Worst-caseLatency"), "worst-case latency"),
        ii_min=_int(root.findtext(lat + "Interval-min"), "interval min"),
        ii_max=_int(root.findtext(lat + "Interval-max"), "interval max"),
    )


def _section(lines: list[str], title: str) -> list[str]:
    for i, line in enumerate(lines):
        if line.startswith("== ") and title in line:
            return lines[i + 1 :]
    raise ReportParseError(f"no '{title}' section")


def _first_data_row(lines: list[str], first_cell: re.Pattern[str]) -> list[str]:
    for line in lines:
        if line.strip().startswith("|"):
            cells = _cells(line)
            if cells and first_cell.match(cells[0]):
                return cells
    raise ReportParseError(f"no table row matching {first_cell.pattern!r}")


def parse_csynth_rpt(text: str) -> SynthResult:
    """A Vivado/Vitis HLS ``*_csynth.rpt`` (text): the HLS estimate of one design."""
    lines = text.splitlines()
    head = re.search(r"== (Vivado|Vitis) HLS Report for", text)
    if not head:
        raise ReportParseError("not an HLS csynth report (no 'Vivado/Vitis HLS Report' header)")
    version = re.search(r"^\* Version:\s+(\S+)", text, re.M)
    part = re.search(r"^\* Target device:\s+(\S+)", text, re.M)
    perf = _section(lines, "Performance Estimates")
    clock = _first_data_row(perf, re.compile(r"^ap_clk$"))
    lat = _first_data_row(perf, re.compile(r"^\d+$"))
    util = _section(lines, "Utilization Estimates")
    header = next((row for row in util if "BRAM_18K" in row), None)
    if header is None:
        raise ReportParseError("no utilization summary header")
    names = _cells(header)
    total = dict(zip(names, _first_data_row(util, re.compile(r"^Total$")), strict=False))
    dsp_name = "DSP48E" if "DSP48E" in total else "DSP"
    return SynthResult(
        flow="vivado",
        tool="vivado_hls" if head.group(1) == "Vivado" else "vitis_hls",
        tool_version=version.group(1) if version else "",
        kind="hls_estimate",
        part=part.group(1) if part else "",
        clock_target_ns=_num(clock[1], "target clock"),
        clock_estimated_ns=_num(clock[2], "estimated clock"),
        lut=_int(total.get("LUT"), "LUT"),
        ff=_int(total.get("FF"), "FF"),
        dsp=_int(total.get(dsp_name), "DSP"),
        bram_18k=_num(total.get("BRAM_18K"), "BRAM_18K"),
        uram=_int(total.get("URAM", "0"), "URAM"),
        latency_min=_int(lat[0], "latency min"),
        latency_max=_int(lat[1], "latency max"),
        ii_min=_int(lat[4], "interval min"),
        ii_max=_int(lat[5], "interval max"),
    )


# ---- Vivado utilization (post-synthesis) -----------------------------------------------------
def _site(text: str, pattern: str) -> int | None:
    m = re.search(r"^\|\s*" + pattern + r"\s*\|\s*([\d.~]+)\s*\|", text, re.M)
    return _int(m.group(1), pattern) if m else None


def parse_utilization_rpt(text: str) -> SynthResult:
    """A Vivado ``report_utilization`` file (post-synthesis resource counts)."""
    if "report_utilization" not in text and "Utilization Design Information" not in text:
        raise ReportParseError("not a Vivado utilization report")
    version = re.search(r"Tool Version\s*:\s*Vivado v\.(\S+)", text)
    device = re.search(r"\|\s*Device\s*:\s*(\S+)", text)
    lut = _site(text, r"(?:CLB|Slice) LUTs\*?")
    ff = _site(text, r"(?:CLB|Slice) Registers")
    if lut is None or ff is None:
        raise ReportParseError("no LUT / register rows (Slice LUTs or CLB LUTs)")
    m = re.search(r"^\|\s*Block RAM Tile\s*\|\s*([\d.]+)\s*\|", text, re.M)
    tiles = float(m.group(1)) if m else 0.0
    carry = _site(text, r"CARRY[48]")
    return SynthResult(
        flow="vivado",
        tool="vivado",
        tool_version=version.group(1) if version else "",
        kind="post_synthesis",
        part=device.group(1) if device else "",
        lut=lut,
        ff=ff,
        dsp=_site(text, r"DSPs") or 0,
        bram_18k=2 * tiles,
        uram=_site(text, r"URAM") or 0,
        carry=carry,
    )


# ---- wa-hls4ml --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImportedRun:
    """A design from published results and the results of its run (one per kind)."""

    design: dict[str, Any]
    results: tuple[SynthResult, ...]
    label: str = ""


def _wa_result(rec: dict[str, Any], kind: str, report: dict[str, Any]) -> SynthResult:
    lat = rec.get("latency_report") or {}
    version = str(rec.get("vivado_version", ""))
    common: dict[str, Any] = {
        "flow": "vivado",
        "tool": "vivado" if kind == "post_synthesis" else "vitis_hls",
        "tool_version": version,
        "kind": kind,
        "part": str(rec.get("target_part", "")),
        "extra": {"hls4ml_version": str(rec.get("hls4ml_version", ""))},
    }
    if not report or not lat:
        return SynthResult(**common, status="failed", error="empty report (synthesis failed)")
    factor = 2.0 if kind == "post_synthesis" else 1.0  # post-synthesis BRAM is in 36 Kb tiles
    return SynthResult(
        **common,
        clock_target_ns=_num(lat.get("target_clock"), "target_clock"),
        clock_estimated_ns=_num(lat.get("estimated_clock"), "estimated_clock"),
        lut=_int(report.get("lut"), "lut"),
        ff=_int(report.get("ff"), "ff"),
        dsp=_int(report.get("dsp"), "dsp"),
        bram_18k=factor * _num(report.get("bram"), "bram"),
        uram=_int(report.get("uram"), "uram"),
        latency_min=_int(lat.get("cycles_min"), "cycles_min"),
        latency_max=_int(lat.get("cycles_max"), "cycles_max"),
        ii_min=_int(lat.get("interval_min"), "interval_min"),
        ii_max=_int(lat.get("interval_max"), "interval_max"),
    )


def parse_wa_hls4ml_json(text: str) -> list[ImportedRun]:
    """A wa-hls4ml JSON list; records with empty reports are failed runs (kept as failed)."""
    try:
        records = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportParseError(f"not JSON: {exc}") from None
    if not isinstance(records, list):
        raise ReportParseError("a wa-hls4ml file is a JSON list of records")
    runs = []
    for i, rec in enumerate(records):
        if not isinstance(rec, dict) or "model_config" not in rec or "hls_config" not in rec:
            raise ReportParseError(f"record {i}: no model_config / hls_config")
        design = {
            "source": "wa-hls4ml",
            "model_config": rec["model_config"],
            "hls_config": rec["hls_config"],
            "target_part": rec.get("target_part", ""),
            "hls4ml_version": rec.get("hls4ml_version", ""),
        }
        results = (
            _wa_result(rec, "post_synthesis", rec.get("resource_report") or {}),
            _wa_result(rec, "hls_estimate", rec.get("hls_resource_report") or {}),
        )
        name = str((rec.get("meta_data") or {}).get("model_name", "")).rsplit("/", 1)[-1]
        runs.append(ImportedRun(design, results, name))
    return runs


U250_PART = "xcu250-figd2104-2L-e"
_CSV_COLUMNS = ("model_name", "d_in", "d_out", "prec", "rf", "strategy", "hls_synth_success")


def parse_wa_hls4ml_csv(text: str) -> Iterator[ImportedRun]:
    """The wa-hls4ml resource CSV (single dense layers, HLS estimates, U250)."""
    reader = csv.DictReader(io.StringIO(text))
    missing = set(_CSV_COLUMNS) - set(reader.fieldnames or ())
    if missing:
        raise ReportParseError(f"not a wa-hls4ml results CSV (missing columns {sorted(missing)})")
    for row in reader:
        design = {
            "source": "wa-hls4ml-csv",
            "layers": [
                {"class_name": "Dense", "d_in": int(row["d_in"]), "d_out": int(row["d_out"])}
            ],
            "precision_bits": int(row["prec"]),
            "reuse_factor": int(row["rf"]),
            "strategy": row["strategy"].lower(),
            "target_part": U250_PART,
        }
        common: dict[str, Any] = {
            "flow": "vivado",
            "tool": "vitis_hls",
            "tool_version": "",
            "kind": "hls_estimate",
            "part": U250_PART,
        }
        if row["hls_synth_success"].strip().lower() != "true":
            result = SynthResult(**common, status="failed", error="hls_synth_success is False")
        else:
            result = SynthResult(
                **common,
                clock_target_ns=_num(row["TargetClockPeriod_hls"], "TargetClockPeriod_hls"),
                clock_estimated_ns=_num(row["EstimatedClockPeriod_hls"], "EstimatedClockPeriod"),
                lut=_int(row["LUT_hls"], "LUT_hls"),
                ff=_int(row["FF_hls"], "FF_hls"),
                dsp=_int(row["DSP_hls"], "DSP_hls"),
                bram_18k=_num(row["BRAM_18K_hls"], "BRAM_18K_hls"),
                uram=_int(row["URAM_hls"], "URAM_hls"),
                latency_min=_int(row["BestLatency_hls"], "BestLatency_hls"),
                latency_max=_int(row["WorstLatency_hls"], "WorstLatency_hls"),
                ii_min=_int(row["IntervalMin_hls"], "IntervalMin_hls"),
                ii_max=_int(row["IntervalMax_hls"], "IntervalMax_hls"),
            )
        yield ImportedRun(design, (result,), row["model_name"])
