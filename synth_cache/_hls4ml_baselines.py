"""hls4ml's single-layer synthesis baselines (``test/pytest/baselines/<Backend>/<version>/``).

Each baseline is the C-synthesis summary hls4ml's CI compares against (Apache-2.0, from
fastmachinelearning/hls4ml). A file holds numbers only; the network it measured is written in
the pytest case that names it, so ``data/hls4ml-baselines/layers.json`` maps each file name
(backend as ``{backend}``) to the layers, precision, reuse factor, strategy and io type read
off that test. The tool version is the folder name; Vivado baselines come from Vivado HLS,
Vitis ones from Vitis HLS. A file with no description is refused, never guessed.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any

from synth_cache._model import SynthResult
from synth_cache._parsers import ImportedRun, ReportParseError

BACKENDS = {"Vivado": "vivado_hls", "Vitis": "vitis_hls"}
_SUMMARY = "CSynthesisReport"


@functools.cache
def baseline_descriptions() -> dict[str, Any]:
    """The bundled layer descriptions (``layers.json``), parsed once."""
    text = resources.files("synth_cache").joinpath("data/hls4ml-baselines/layers.json")
    doc: dict[str, Any] = json.loads(text.read_text())
    return doc


def is_hls4ml_baseline(path: Path, text: str) -> bool:
    """A JSON file under ``<Vivado|Vitis>/<version>/`` holding a C-synthesis summary."""
    return path.parent.parent.name in BACKENDS and f'"{_SUMMARY}"' in text


def _num(report: dict[str, Any], name: str) -> float:
    try:
        return float(report[name])
    except (KeyError, TypeError, ValueError):
        raise ReportParseError(f"{_SUMMARY}.{name}: missing or not a number") from None


def parse_hls4ml_baseline(text: str, name: str, backend: str, version: str) -> ImportedRun:
    """One baseline file (``name``, from ``backend``'s ``version`` folder) as an imported run."""
    if backend not in BACKENDS:
        raise ReportParseError(f"backend {backend!r} is not one of {sorted(BACKENDS)}")
    try:
        report = json.loads(text)[_SUMMARY]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise ReportParseError(f"not an hls4ml baseline (no {_SUMMARY} object)") from None
    doc = baseline_descriptions()
    desc = doc["baselines"].get(name.replace(backend, "{backend}"))
    if desc is None:
        raise ReportParseError(f"no layer description for baseline {name!r} in layers.json")
    part = str(doc["part"])
    design = {
        "source": "hls4ml-baselines",
        "test": desc["test"],
        "hls4ml_backend": backend,
        "layers": desc["layers"],
        "precision": desc["precision"],
        "reuse_factor": desc["reuse_factor"],
        "reuse_factor_requested": desc["reuse_factor"],
        "strategy": desc["strategy"],
        "io_type": desc["io_type"],
        "target_part": part,
    }
    n = functools.partial(_num, report)
    result = SynthResult(
        flow="vivado",
        tool=BACKENDS[backend],
        tool_version=version,
        kind="hls_estimate",
        part=part,
        clock_target_ns=n("TargetClockPeriod"),
        clock_estimated_ns=n("EstimatedClockPeriod"),
        lut=int(n("LUT")),
        ff=int(n("FF")),
        dsp=int(n("DSP")),
        bram_18k=n("BRAM_18K"),
        uram=int(n("URAM")),
        latency_min=int(n("BestLatency")),
        latency_max=int(n("WorstLatency")),
        ii_min=int(n("IntervalMin")),
        ii_max=int(n("IntervalMax")),
        extra={"hls4ml_backend": backend, "available_lut": int(n("AvailableLUT"))},
    )
    return ImportedRun(design, (result,), f"{backend}/{version}/{name}")
