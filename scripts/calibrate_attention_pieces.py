"""Attention's weight-free pieces, synthesised on their own (issue 17: the piece library).

Attention's QK^T, softmax and SV pieces hold no constants: each is fixed by its kind, its
inputs (2 x hidden for a score, n for a softmax row over an n-position map, 2n for an SV sum)
and the block's result format, and every copy synthesises the same. Unlike matrix pieces they
grow with the map (a softmax over 81 positions, an SV sum of 162 inputs), so designs below the
calibration's median LUT never hold the large ones, and a model trained on small designs could
only extrapolate. These designs are the smallest that hold each one: a 1-channel m x m input,
one ``conv_attention`` block, a 2-output linear head, for maps of 2x2 to 11x11 positions
(n = 4 ... 121; the Bragg block space makes 9, 25, 49, 81), hidden 1-32, bits 4 / 6 / 8. The
open flow synthesises each unique piece once, so a design whose total is millions of LUTs takes
a minute or two. The piece-level surrogate learns from their pieces (family ``attnlib``) but
never scores them as designs (they are not what a search samples).

Resumable: runs already in the cache are skipped; the cache is exported to OUT after every
design. Prints a JSON line at the end.

    python scripts/calibrate_attention_pieces.py [--cache URL] [--out PARQUET]
"""

from __future__ import annotations

from _calibrate_each import library_main  # scripts/ is on sys.path when run
from hwloop.archs import ArchSpec, ConvAttention, Flatten, Linear
from hwloop.spaces._block import ATTN_HIDDEN
from hwloop.synth import CalibrationItem

MAPS = (9, 7, 5, 3, 11, 10, 8, 6, 4, 2)  # the block space's maps first
BITS = (4, 6, 8)


def arch(m: int, hidden: int) -> ArchSpec:
    spec = ArchSpec(
        (1, m, m),
        (ConvAttention("attn", hidden, act="leaky_relu"), Flatten("flatten"), Linear("out", 2)),
        task="bragg",
    )
    return spec.with_name(f"attnlib-{spec.digest[:8]}")


def items() -> list[CalibrationItem]:
    """Every map size at every bit width; the hidden widths rotate so that each meets each
    bit width."""
    out = []
    for j, bits in enumerate(BITS):
        for i, m in enumerate(MAPS):
            hidden = ATTN_HIDDEN[(i + 2 * j) % len(ATTN_HIDDEN)]
            out.append(CalibrationItem(arch(m, hidden), bits, 0.0, seed=0))
    return out


def main() -> None:
    library_main(__doc__ or "", items, "attnlib.db", "open-attention-pieces.parquet")


if __name__ == "__main__":
    main()
