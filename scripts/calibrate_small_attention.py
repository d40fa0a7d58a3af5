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
from pathlib import Path

from _calibrate_each import calibrate_each  # scripts/ is on sys.path when run
from hwloop.spaces import BlockSpace
from hwloop.synth import CalibrationItem, sample_space

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
    calibrate_each(items(args.n, args.seed), args.cache, args.out, args.timeout)


if __name__ == "__main__":
    main()
