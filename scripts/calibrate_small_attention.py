"""Small attention designs for the open-flow calibration (issue 17).

Every attention design of the Bragg block space (11x11 patches, 9x9 maps after the stem) is
above the calibration's median LUT count, so a model trained on the smaller half has never seen
an attention piece, and held out by size it can only extrapolate from nothing. These designs run
the same block space on smaller patches (5x5 to 7x7: 3x3 to 5x5 maps), few channels and narrow
attention, so that attention's pieces (Q/K/V/projection convs, QK^T and SV products, softmax
tables) appear in small designs too. Only designs with at least one attention block are kept.

Resumable: runs already in the cache are skipped; the cache is exported to OUT after every
design. Prints a JSON line at the end.

    python scripts/calibrate_small_attention.py [--n 24] [--cache URL] [--out PARQUET]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from fpga_targets import get_target
from hwloop.spaces import BlockSpace
from hwloop.synth import get_synthesizer
from hwloop.synth._calibrate import CalibrationItem, run_calibration, sample_space
from synth_cache import SqlCache, export_rows, write_export

REPO = Path(__file__).resolve().parents[1]
SIZES = (5, 6, 7)


def items(n: int, seed: int) -> list[CalibrationItem]:
    """``n`` attention designs, spread over the patch sizes, bits 4 / 6 / 8, sparsity 0 / 0.5."""
    out: list[CalibrationItem] = []
    per = -(-n // len(SIZES))
    for k, size in enumerate(SIZES):
        space = BlockSpace("bragg", (1, size, size), 2, channels=(1, 2, 4, 8), widths=(4, 8, 16))
        drawn = sample_space(space, 8 * per, [4, 6, 8], [0.0, 0.5], seed=seed + k)
        keep = [i for i in drawn if any(x.op == "conv_attention" for x in i.arch.layers)]
        out += keep[:per]
    return out[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--seed", type=int, default=500)
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--cache", default=f"sqlite:///{REPO / '.calibration' / 'small-attn.db'}")
    ap.add_argument(
        "--out",
        type=Path,
        default=REPO / "surrogates/data/calibration/open-small-attention.parquet",
    )
    args = ap.parse_args()
    Path(args.cache.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    target = get_target("vu13p")
    synth = get_synthesizer("open", jobs=1)
    todo = items(args.n, args.seed)
    t0 = time.perf_counter()
    counts: dict[str, int] = {}
    for i, item in enumerate(todo):
        summary = run_calibration(
            [item],
            synth,
            args.cache,
            target.part,
            target.clock_period_ns,
            1,
            args.timeout,
            False,
            strategy="distributed_arithmetic",
        )
        for status, c in summary.counts.items():
            counts[status] = counts.get(status, 0) + c
        write_export(export_rows(SqlCache(args.cache), flow="open"), "parquet", args.out)
        print(f"{i + 1}/{len(todo)} {dict(summary.counts)} ({time.perf_counter() - t0:.0f} s)")
    print(json.dumps({"designs": len(todo), **counts, "seconds": round(time.perf_counter() - t0)}))


if __name__ == "__main__":
    main()
