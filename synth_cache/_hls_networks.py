"""Whole-network hls4ml reports whose network is known: the network as layers, and each layer's
own numbers from the C-synthesis report's instance tables.

``data/hls-reports/networks.json`` describes the networks of ``../shared/fixtures/hls-reports``
(keyed by project folder). A described project's run carries the layers (so the layer-level
surrogate can predict and be scored on it, source ``hls-reports``), and every instance the
description maps to a layer becomes a single-layer run of its own (source
``hls-reports-instances``): HLS reports each layer function's LUT / FF / DSP / BRAM and
latency, so these are real per-layer measurements, not a split of the total.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from synth_cache._model import SynthResult
from synth_cache._parsers import ImportedRun, ReportParseError

_KEYS = ("precision", "reuse_factor", "strategy", "io_type")


@functools.cache
def _networks() -> dict[str, Any]:
    text = resources.files("synth_cache").joinpath("data/hls-reports/networks.json").read_text()
    doc: dict[str, Any] = json.loads(text)["networks"]
    return doc


def described_network(root: Path) -> tuple[str, dict[str, Any]] | None:
    """The description of the project at ``root`` (matched on its last folders), if any."""
    path = root.as_posix()
    for key, desc in _networks().items():
        if path == key or path.endswith("/" + key):
            return key, desc
    return None


def _rows(text: str, section: str, width: int) -> dict[str, list[str]]:
    """Module name -> cells of the instance table that follows ``section``'s heading."""
    start = text.find(section)
    if start < 0:
        return {}
    out: dict[str, list[str]] = {}
    for line in text[start:].splitlines()[1:]:
        s = line.strip()
        if s.startswith("* Loop") or s.startswith("+ Detail") and out or s.startswith("=="):
            break
        if s.startswith("|"):
            cells = [c.strip() for c in s.strip("|").split("|")]
            if len(cells) >= width and re.fullmatch(r"\d+|-", cells[2]):
                out.setdefault(cells[1], cells)
    return out


def _int(cell: str) -> int:
    return 0 if cell in ("-", "") else int(float(cell))


def instance_runs(
    key: str, desc: dict[str, Any], result: SynthResult, rpt: str
) -> list[ImportedRun]:
    """One single-layer run per instance of the csynth text report ``rpt`` that ``desc`` maps
    to a layer; ``result`` (the whole network's) gives the tool, part and clock."""
    latency = _rows(rpt, "+ Latency:", 8)
    util = _rows(rpt.split("== Utilization Estimates", 1)[-1], "* Instance:", 7)
    runs = []
    for fragment, index in desc["instances"].items():
        module = next((m for m in util if m.endswith(fragment)), None)
        if module is None or module not in latency:
            raise ReportParseError(f"{key}: no instance {fragment!r} in the csynth report")
        u, lat = util[module], latency[module]
        layer = desc["layers"][int(index)]
        design = {
            "source": "hls-reports-instances",
            "project": key,
            "instance": module,
            "layers": [layer],
            **{k: desc[k] for k in _KEYS},
            "target_part": result.part,
            "clock_period_ns": result.clock_target_ns,
        }
        res = SynthResult(
            flow="vivado",
            tool=result.tool,
            tool_version=result.tool_version,
            kind="hls_estimate",
            part=result.part,
            clock_target_ns=result.clock_target_ns,
            clock_estimated_ns=result.clock_estimated_ns,
            bram_18k=float(_int(u[2])),
            dsp=_int(u[3]),
            ff=_int(u[4]),
            lut=_int(u[5]),
            latency_min=_int(lat[2]),
            latency_max=_int(lat[3]),
            ii_min=_int(lat[6]),
            ii_max=_int(lat[7]),
        )
        runs.append(ImportedRun(design, (res,), f"{key}:{module}"))
    return runs


def network_design(key: str, desc: dict[str, Any], result: SynthResult) -> dict[str, Any]:
    """The layers of the described network, for the project's own run."""
    return {
        "source": "hls-reports",
        "project": key,
        "layers": desc["layers"],
        **{k: desc[k] for k in _KEYS},
        "target_part": result.part,
        "clock_period_ns": result.clock_target_ns,
    }
