"""The vivado flow: hls4ml writes the HLS project of a design, Vitis HLS synthesises it (C
synthesis, then Vivado logic synthesis with ``vsynth``), and the reports are parsed.

The tools are run as hls4ml's ``build()`` would, but through ``subprocess`` with an argument
list, the project directory as ``cwd`` and a timeout (hls4ml itself uses ``os.system`` and
``os.chdir``): ``vitis-run --tcl build_prj.tcl --mode hls`` (Vitis >= 2024.2), else
``vitis_hls -f build_prj.tcl``; the options go in ``build_opt.tcl`` as hls4ml's Vitis backend
writes them. ``HWLOOP_VITIS`` names the executable explicitly.

A run gives two results sharing one key: ``hls_estimate`` (from ``<name>_csynth.xml``) and,
with ``vsynth``, ``post_synthesis`` (from ``vivado_synth.rpt``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import replace
from functools import cache
from pathlib import Path

from hwloop.archs import Conv1d, Conv2d, Linear, build_model
from hwloop.synth._base import Synthesizer, raise_if_interrupted
from hwloop.synth._design import Design
from hwloop.synth._from_model import load_design_weights
from hwloop.synth._hls4ml import convert, hls4ml_unsupported
from synth_cache import ReportParseError, SynthResult, parse_csynth_xml, parse_utilization_rpt

PROJECT = "myproject"  # hls4ml's default project name
EXECUTABLES = ("vitis-run", "vitis_hls")


def vitis_command() -> list[str] | None:
    """The HLS tool to run, or None: ``$HWLOOP_VITIS``, else vitis-run / vitis_hls on PATH."""
    explicit = os.environ.get("HWLOOP_VITIS")
    if explicit:
        path = shutil.which(explicit)
        return [path] if path else None
    for name in EXECUTABLES:
        path = shutil.which(name)
        if path:
            return [path]
    return None


@cache
def _version(executable: str) -> str:
    try:
        out = subprocess.run(
            [executable, "-version"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=Path(executable).parent,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    m = re.search(r"v(\d{4}\.\d+(?:\.\d+)?)", out)
    return m.group(1) if m else "unknown"


class VivadoSynthesizer(Synthesizer):
    """hls4ml 1.3 (Vitis backend) + Vitis HLS (+ Vivado with ``vsynth``)."""

    flow = "vivado"
    tool = "vivado"

    def __init__(self, vsynth: bool = True) -> None:
        self.vsynth = vsynth

    def _command(self) -> list[str]:
        cmd = vitis_command()
        if cmd is None:
            raise RuntimeError("no Vitis HLS on PATH")
        return cmd

    def tool_version(self) -> str:
        cmd = vitis_command()
        return _version(cmd[0]) if cmd else "absent"

    def available(self) -> str | None:
        if vitis_command() is None:
            return (
                "Vitis HLS not found: put vitis-run or vitis_hls on PATH (or set HWLOOP_VITIS); "
                "use --flow open on machines without AMD tools"
            )
        if self.vsynth and shutil.which("vivado") is None:
            return "vivado not found on PATH (needed for logic synthesis; or pass vsynth=False)"
        return None

    def unsupported(self, design: Design) -> str | None:
        reason = hls4ml_unsupported(design)
        if reason:
            return reason
        for layer in design.arch.layers:
            if getattr(layer, "norm", None) == "layer":
                return f"layer {layer.name}: layer norm is not wired into the vivado flow yet"
        return None

    def run(self, design: Design, workdir: Path, timeout_s: float) -> tuple[SynthResult, ...]:
        t0 = time.perf_counter()
        # batch norms are already folded into the design's weights: convert the model without
        spec = replace(
            design.arch,
            layers=tuple(
                replace(layer, norm=None)
                if isinstance(layer, (Conv2d, Conv1d, Linear)) and layer.norm == "batch"
                else layer
                for layer in design.arch.layers
            ),
        )
        model = load_design_weights(build_model(spec).eval(), design)
        prj = workdir / "hls4ml_prj"
        try:
            convert(design, model, prj).write()
        except Exception as exc:  # hls4ml refuses what it cannot convert
            return (self._status_result(design, "failed", f"hls4ml: {exc}"),)
        (prj / "build_opt.tcl").write_text(
            "array set opt {\n    reset 0\n    csim 0\n    synth 1\n    cosim 0\n"
            f"    validation 0\n    export 0\n    vsynth {int(self.vsynth)}\n    fifo_opt 0\n}}\n"
        )
        cmd = self._command()
        args = (
            [*cmd, "--tcl", "build_prj.tcl", "--mode", "hls"]
            if Path(cmd[0]).name.startswith("vitis-run")
            else [*cmd, "-f", "build_prj.tcl"]
        )
        log = workdir / "build.log"
        try:
            with log.open("w") as out:
                proc = subprocess.run(
                    args, cwd=prj, stdout=out, stderr=subprocess.STDOUT, timeout=timeout_s
                )
        except subprocess.TimeoutExpired:
            return (self._status_result(design, "timeout", f"no result in {timeout_s:.0f} s"),)
        except OSError as exc:
            return (self._status_result(design, "failed", f"cannot run {cmd[0]}: {exc}"),)
        raise_if_interrupted(proc.returncode, cmd[0])
        return self._parse(design, prj, proc.returncode, log, time.perf_counter() - t0)

    def _parse(
        self, design: Design, prj: Path, code: int, log: Path, wall: float
    ) -> tuple[SynthResult, ...]:
        tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
        csynth = prj / f"{PROJECT}_prj" / "solution1" / "syn" / "report" / f"{PROJECT}_csynth.xml"
        vsynth = prj / "vivado_synth.rpt"
        results: list[SynthResult] = []
        try:
            if csynth.is_file():
                results.append(parse_csynth_xml(csynth.read_text(errors="replace")))
            if self.vsynth and vsynth.is_file():
                results.append(parse_utilization_rpt(vsynth.read_text(errors="replace")))
        except ReportParseError as exc:
            return (self._status_result(design, "failed", f"unreadable report: {exc}"),)
        if code != 0 or not results:
            why = f"exit code {code}" if code != 0 else "no report written"
            return (self._status_result(design, "failed", f"{why}: {tail}"),)
        hls = next((r for r in results if r.kind == "hls_estimate"), None)
        out = []
        for r in results:
            if r.kind == "post_synthesis" and hls is not None:  # the schedule is the HLS one
                r = r.with_(
                    latency_min=hls.latency_min,
                    latency_max=hls.latency_max,
                    ii_min=hls.ii_min,
                    ii_max=hls.ii_max,
                    clock_estimated_ns=hls.clock_estimated_ns,
                )
            out.append(
                r.with_(
                    flow=self.flow,
                    part=r.part or design.hw.part,
                    clock_target_ns=r.clock_target_ns or design.hw.clock_period_ns,
                    wall_s=round(wall, 3),
                )
            )
        if self.vsynth and not any(r.kind == "post_synthesis" for r in out):
            out.append(self._status_result(design, "failed", f"no vivado_synth.rpt: {tail}"))
        return tuple(out)
