"""wa-hls4ml's multi-layer dense table (``data/concatenated_3layer_json_to_csv.csv``).

One row is one synthesised network of dense layers, named by ``model_string`` (``104-48-104-104``
is 104 -> 48 -> 104 -> 104, three Dense layers), with the requested model-level reuse factor
``rf``, the weight width ``prec`` and Vitis HLS estimates on the U250. The row does not say which
reuse factor each layer got, so it is derived with hls4ml's rounding rule
(``fpga_targets.closest_reuse_factor``). The
precisions follow the generator's configs (the 2-layer records of the same run carry them):
weights and biases ``ap_fixed<prec,1>``, results and accumulators ``ap_fixed<16,6>``; no IOType
is set, so hls4ml's default ``io_parallel``. Failed runs (``hls_synth_success`` false) are kept.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from fpga_targets import closest_reuse_factor
from synth_cache._model import SynthResult
from synth_cache._parsers import U250_PART, ImportedRun, ReportParseError

_COLUMNS = ("model_name", "model_file", "model_string", "prec", "rf", "strategy")
_RESULT_PRECISION = "ap_fixed<16,6>"


def is_wa_multilayer_csv(header: list[str]) -> bool:
    return set(_COLUMNS) <= set(header) and "hls_synth_success" in header


def _int(row: dict[str, str], name: str) -> int:
    text = row.get(name, "")
    try:
        return int(float(text))
    except ValueError:
        raise ReportParseError(f"{name}: not a number: {text!r}") from None


def _float(row: dict[str, str], name: str) -> float:
    try:
        return float(row.get(name, ""))
    except ValueError:
        raise ReportParseError(f"{name}: not a number: {row.get(name)!r}") from None


def _layers(row: dict[str, str], bits: int, requested: int) -> list[dict[str, Any]]:
    spec = row["model_string"]
    try:
        widths = [int(w) for w in spec.split("-")]
    except ValueError:
        raise ReportParseError(f"model_string: not dash-separated widths: {spec!r}") from None
    if len(widths) < 2 or min(widths) < 1:
        raise ReportParseError(f"model_string: needs two or more positive widths: {spec!r}")
    return [
        {
            "class_name": "Dense",
            "d_in": d_in,
            "d_out": d_out,
            "precision": f"ap_fixed<{bits},1>",
            "reuse_factor": closest_reuse_factor(d_in, d_out, requested),
            "reuse_factor_requested": requested,
        }
        for d_in, d_out in zip(widths, widths[1:], strict=False)
    ]


def _result(row: dict[str, str]) -> SynthResult:
    common: dict[str, Any] = {
        "flow": "vivado",
        "tool": "vitis_hls",
        "tool_version": "",  # not in the table (the run directory's name is no reliable guide)
        "kind": "hls_estimate",
        "part": U250_PART,
    }
    if row["hls_synth_success"].strip().lower() != "true":
        return SynthResult(**common, status="failed", error="hls_synth_success is false")
    return SynthResult(
        **common,
        clock_target_ns=_float(row, "TargetClockPeriod_hls"),
        clock_estimated_ns=_float(row, "EstimatedClockPeriod_hls"),
        lut=_int(row, "LUT_hls"),
        ff=_int(row, "FF_hls"),
        dsp=_int(row, "DSP_hls"),
        bram_18k=_float(row, "BRAM_18K_hls"),
        uram=_int(row, "URAM_hls"),
        latency_min=_int(row, "BestLatency_hls"),
        latency_max=_int(row, "WorstLatency_hls"),
        ii_min=_int(row, "IntervalMin_hls"),
        ii_max=_int(row, "IntervalMax_hls"),
    )


def wa_run_uuid(row: dict[str, str]) -> str:
    """The run's UUID (its artifact archive is ``<uuid>.tar.gz``)."""
    return row["model_file"].removesuffix(".tar.gz")


def parse_wa_multilayer_csv(text: str) -> Iterator[ImportedRun]:
    """Rows of a wa-hls4ml multi-layer dense table as imported runs (HLS estimates, U250)."""
    reader = csv.DictReader(io.StringIO(text))
    if not is_wa_multilayer_csv(list(reader.fieldnames or ())):
        raise ReportParseError(f"not a wa-hls4ml multi-layer CSV (needs {list(_COLUMNS)})")
    for row in reader:
        bits, requested = _int(row, "prec"), _int(row, "rf")
        layers = _layers(row, bits, requested)
        design = {
            "source": f"wa-hls4ml-{len(layers)}layer",
            "uuid": wa_run_uuid(row),
            "layers": layers,
            "precision": _RESULT_PRECISION,
            "precision_bits": bits,
            # model level: what was asked for; each layer's "reuse_factor" is what hls4ml used
            "reuse_factor": requested,
            "reuse_factor_requested": requested,
            "strategy": row["strategy"].strip().lower(),
            "io_type": "io_parallel",
            "target_part": U250_PART,
        }
        yield ImportedRun(design, (_result(row),), wa_run_uuid(row))
