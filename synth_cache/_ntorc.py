"""N-TORC's per-layer hls4ml results (HeRCLab/N-TORC ``training_data_optimizer/*.csv``).

One CSV row is one layer of one synthesised network: a Conv1D, a time-distributed Dense or an
LSTM acting on a sequence, with the reuse factor that was requested (``reuse_factor``) and the
one hls4ml actually used (``correct_reuse_factor_*``, rounded to a valid one). Resource tables
(LUT / FF / DSP / BRAM) and latency tables are separate files whose rows cannot be joined by
model and layer, so each row is its own record, tagged with the table it came from.

Fixed by N-TORC's optimizer (``dropbear_models/optimizer_updated.py``): part xczu7ev-ffvc1156-2-e
(ZCU104), Vivado HLS 2019.1 backend, 4 ns clock, io_stream, ``ap_fixed<16,8,AP_RND,AP_SAT>``,
strategy Resource. Conv1D kernels are 3 wide (its own cost plots scale inputs by 3). The values
are HLS estimates; some cells are means of repeated runs (fractional FF / DSP), which are rounded
and marked ``averaged`` in the result's ``extra``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from typing import Any

from synth_cache._model import SynthResult
from synth_cache._parsers import ImportedRun, ReportParseError

NTORC_PART = "xczu7ev-ffvc1156-2-e"
NTORC_PRECISION = "ap_fixed<16,8,AP_RND,AP_SAT>"
_COMMON = ("model_number", "fit_status", "layer_index", "reuse_factor")
_RESOURCES = ("bram_18k", "lut", "ff", "dsp48e")
_LATENCY = ("latency_min", "latency_max")


def is_ntorc_csv(header: list[str]) -> bool:
    return set(_COMMON) <= set(header) and any(h.startswith("correct_reuse_factor") for h in header)


def _pick(row: dict[str, str], *prefixes: str) -> str:
    """The first column whose name starts with one of ``prefixes`` (N-TORC's names vary by
    table: ``n_inputs_resources``, ``n_inputs_latency``, ...)."""
    for prefix in prefixes:
        for name, value in row.items():
            if name.startswith(prefix) and not name.endswith("_1"):
                return value
    raise ReportParseError(f"no column starting with {prefixes[0]!r}")


def _count(row: dict[str, str], *prefixes: str) -> int:
    text = _pick(row, *prefixes)
    try:
        return int(float(text))
    except ValueError:
        raise ReportParseError(f"{prefixes[0]}: not a number: {text!r}") from None


def _layer(header: list[str], row: dict[str, str]) -> dict[str, Any]:
    seq = _count(row, "sequence_length")
    if any(h.startswith("cnn_filters") for h in header):
        return {
            "class_name": "Conv1D",
            "n_chan": _count(row, "n_inputs"),
            "n_filt": _count(row, "cnn_filters"),
            "seq_len": seq,
            "kernel_size": 3,
        }
    if "lstm_size" in header:
        return {
            "class_name": "LSTM",
            "d_in": _count(row, "n_inputs"),
            "units": _count(row, "lstm_size"),
            "seq_len": seq,
        }
    if any(h.startswith("dense_size") for h in header):
        return {
            "class_name": "Dense",
            "d_in": _count(row, "n_inputs"),
            "d_out": _count(row, "dense_size"),
            "seq_len": seq,
        }
    raise ReportParseError("not an N-TORC table (no cnn_filters, lstm_size or dense_size column)")


def _value(row: dict[str, str], name: str) -> float:
    try:
        value = float(row[name])
    except (KeyError, ValueError):
        value = math.nan
    return value


def _result(row: dict[str, str], table: str) -> SynthResult:
    common: dict[str, Any] = {
        "flow": "vivado",
        "tool": "vivado_hls",
        "tool_version": "2019.1",
        "kind": "hls_estimate",
        "part": NTORC_PART,
        "clock_target_ns": 4.0,
    }
    names = _RESOURCES if table == "resources" else _LATENCY
    values = {n: _value(row, n) for n in names}
    if any(not math.isfinite(v) or v < 0 for v in values.values()):
        return SynthResult(**common, status="failed", error=f"no {table} numbers in the row")
    averaged = any(v != int(v) for v in values.values())
    extra = {"fit_status": row["fit_status"], "table": table, "averaged": averaged}
    if table == "latency":
        lat = (int(round(values["latency_min"])), int(round(values["latency_max"])))
        return SynthResult(**common, latency_min=lat[0], latency_max=lat[1], extra=extra)
    return SynthResult(
        **common,
        lut=int(round(values["lut"])),
        ff=int(round(values["ff"])),
        dsp=int(round(values["dsp48e"])),
        bram_18k=values["bram_18k"],
        extra=extra,
    )


def parse_ntorc_csv(text: str) -> Iterator[ImportedRun]:
    """Rows of one N-TORC table as imported runs (HLS estimates, one layer each)."""
    reader = csv.DictReader(io.StringIO(text))
    header = list(reader.fieldnames or ())
    if not is_ntorc_csv(header):
        raise ReportParseError(
            "not an N-TORC table (needs model_number, fit_status, layer_index, "
            "reuse_factor, correct_reuse_factor_*)"
        )
    table = "latency" if "latency_max" in header else "resources"
    if table == "resources" and not set(_RESOURCES) <= set(header):
        raise ReportParseError(f"N-TORC resource table without {list(_RESOURCES)}")
    correct = next(h for h in header if h.startswith("correct_reuse_factor"))
    for row in reader:
        layer = _layer(header, row)
        design = {
            "source": "n-torc",
            "table": table,
            "model_number": _count(row, "model_number"),
            "layer_index": _count(row, "layer_index"),
            "layers": [layer],
            "precision": NTORC_PRECISION,
            "precision_bits": 16,
            "reuse_factor": _count(row, correct),
            "reuse_factor_requested": int(float(row["reuse_factor"])),
            "strategy": "resource",
            "io_type": "io_stream",
            "target_part": NTORC_PART,
        }
        label = f"model{design['model_number']}-layer{design['layer_index']}-{table}"
        yield ImportedRun(design, (_result(row, table),), label)
