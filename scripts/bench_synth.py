"""Benchmark the open synthesis flow (da4ml + yosys) on the built-in Bragg archs and MLPs.

Prints per design: status, LUT / FF / CARRY / DSP, pipeline latency, da4ml's LUT estimate vs the
yosys count, seconds per run; then one JSON line (prefix ``BENCH_JSON``). Designs use seeded
random weights pruned to ``--sparsity``; results go to a throw-away cache unless ``--cache``.

    python scripts/bench_synth.py [--bits 4,8] [--strategy distributed_arithmetic,latency]
        [--builtin-bits 4] [--timeout 1800] [--skip-builtins] [--jobs N]

MLPs run at every ``--bits`` and ``--strategy``; the built-in Bragg archs (large: hundreds of
thousands of LUTs) at ``--builtin-bits`` with the multiplierless strategy only.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

from hwloop.archs import ArchSpec, Linear, builtin_archs
from hwloop.synth import HardwareConfig, random_design, synthesize
from hwloop.synth._open import OpenSynthesizer
from synth_cache import SqlCache

PART = "xcvu13p-flga2577-2-e"
STRAT = {"distributed_arithmetic": "da", "latency": "dsp", "resource": "res"}
MLPS = [(16, 32, 5), (32, 32, 5), (64, 32, 5), (16, 64, 32, 5)]


def mlp(sizes: tuple[int, ...]) -> ArchSpec:
    layers = [Linear(f"fc{i}", n, act="relu") for i, n in enumerate(sizes[1:-1])]
    layers.append(Linear("out", sizes[-1]))
    return ArchSpec((sizes[0],), tuple(layers), name="mlp-" + "-".join(map(str, sizes)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bits", default="4,8")
    ap.add_argument("--builtin-bits", default="4")
    ap.add_argument("--strategy", default="distributed_arithmetic,latency")
    ap.add_argument("--sparsity", type=float, default=0.0)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--cache", default=None)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--skip-builtins", action="store_true")
    args = ap.parse_args()
    synth = OpenSynthesizer(jobs=args.jobs)
    cache = SqlCache(args.cache or f"sqlite:///{tempfile.mkdtemp()}/bench.db")
    print(f"open flow {synth.tool_version()}, part {PART}, 5 ns, sparsity {args.sparsity}")
    runs = [
        (mlp(s), int(b), st)
        for st in args.strategy.split(",")
        for b in args.bits.split(",")
        for s in MLPS
    ]
    if not args.skip_builtins:
        runs += [
            (a, int(b), "distributed_arithmetic")
            for b in args.builtin_bits.split(",")
            for a in builtin_archs().values()
            if a.task == "bragg"
        ]
    header = (
        f"{'design':<20} {'bits':>4} {'strat':<5} {'status':<11} {'LUT':>8} {'est':>8} "
        f"{'err%':>6} {'FF':>7} {'CARRY':>6} {'DSP':>4} {'cyc':>4} {'ltp':>4} {'pcs':>7} {'s':>7}"
    )
    print(header)
    rows = []
    for spec, bits, strategy in runs:
        hw = HardwareConfig.uniform(PART, bits, strategy=strategy)
        design = random_design(spec, hw, seed=0, sparsity=args.sparsity)
        t0 = time.perf_counter()
        (r,) = synthesize(design, synth, cache, timeout_s=args.timeout).entry.results[:1]
        dt = time.perf_counter() - t0
        est = r.extra.get("da4ml_cost")
        err = 100 * (r.lut - est) / est if r.ok and est and r.lut is not None else None
        row = {
            "design": spec.name,
            "bits": bits,
            "strategy": strategy,
            "status": r.status,
            "lut": r.lut,
            "da4ml_estimate": est,
            "ff": r.ff,
            "carry": r.carry,
            "dsp": r.dsp,
            "latency_cycles": r.latency_max,
            "ltp": r.extra.get("longest_path_cells"),
            "pieces": r.extra.get("pieces"),
            "pieces_synthesised": r.extra.get("pieces_synthesised"),
            "seconds": round(dt, 1),
            "error": r.error,
        }
        rows.append(row)

        def f(v: object, w: int) -> str:
            return f"{v:>{w}}" if v is not None else f"{'-':>{w}}"

        pcs = f"{row['pieces_synthesised']}/{row['pieces']}" if r.ok else "-"
        print(
            f"{spec.name:<20} {bits:>4} {STRAT[strategy]:<5} {r.status:<11} {f(r.lut, 8)} "
            f"{f(None if est is None else round(est), 8)} "
            f"{f(None if err is None else round(err, 1), 6)} {f(r.ff, 7)} {f(r.carry, 6)} "
            f"{f(r.dsp, 4)} {f(r.latency_max, 4)} {f(row['ltp'], 4)} {pcs:>7} {dt:7.1f}",
            flush=True,
        )
        if not r.ok:
            print(f"{'':<20} {r.error}")
    print(
        "BENCH_JSON "
        + json.dumps(
            {"bench": "synth", "flow": "open", "tool_version": synth.tool_version(), "rows": rows}
        )
    )


if __name__ == "__main__":
    main()
