"""Dense wide conv rows on the stem's wide outputs, synthesised on their own (issue 17: a piece
library for convolutions).

The block space (and NAC) start with a 3x3 ``stem`` conv without activation, so the first block
conv reads its accumulator-wide outputs (12 bits at 4-bit weights) and cuts each output's
3 x 3 x C inputs into row pieces of up to 96. Held out, nac-medium 4b over-predicted such pieces
by 17 %: at no sparsity a 4-bit weight matrix is 88 % non-zero, da4ml shares its few odd
multiples across more outputs as density grows, and no calibration design held a 96-input row
piece on 12-bit inputs denser than 0.54 (the sampled block designs that had them were pruned).
These designs are the smallest that hold such pieces: a 1-channel 5x5 input, the stem to C
channels, one 3x3 conv to ``out`` channels (1x1 map), a 2-output linear head, at no sparsity
(and, so that density is learnt on these shapes, pruned to 50 and 75 %).
The piece-level surrogate learns from their pieces (family ``convlib``) but never scores them as
designs.

Resumable: runs already in the cache are skipped; the cache is exported to OUT after every
design. Prints a JSON line at the end.

    python scripts/calibrate_conv_pieces.py [--cache URL] [--out PARQUET]
"""

from __future__ import annotations

from _calibrate_each import library_main  # scripts/ is on sys.path when run
from hwloop.archs import ArchSpec, Conv2d, Flatten, Linear
from hwloop.synth import CalibrationItem

# (stem channels C, conv outputs, activation of the conv): 3 x 3 x C = 108 ... 288 inputs
SHAPES = ((16, 16, "gelu"), (24, 8, "relu"), (32, 16, "relu"), (12, 24, "gelu"), (24, 16, None))
BITS = (4, 6, 8)


def arch(channels: int, out: int, act: str | None) -> ArchSpec:
    spec = ArchSpec(
        (1, 5, 5),
        (
            Conv2d("stem", channels, 3),
            Conv2d("conv", out, 3, act=act),  # type: ignore[arg-type]
            Flatten("flatten"),
            Linear("out", 2),
        ),
        task="bragg",
    )
    return spec.with_name(f"convlib-{spec.digest[:8]}")


def items() -> list[CalibrationItem]:
    """At no sparsity: 4 and 6 bits first (where the dense pieces were missed), 8 bits last.
    Then the same shapes pruned to 75 % and 50 % at 4 and 6 bits: dense rows alone taught the
    trees to over-predict the pruned rows of the same shapes (held out by size, LUT SMAPE of
    the block designs 5.8 -> 6.5 %)."""
    dense = [CalibrationItem(arch(c, o, a), b, 0.0, seed=0) for b in BITS for c, o, a in SHAPES]
    pruned = [
        CalibrationItem(arch(c, o, a), b, sparsity, seed=0)
        for sparsity in (0.75, 0.5)
        for b in BITS[:2]
        for c, o, a in SHAPES
    ]
    return dense + pruned


def main() -> None:
    library_main(__doc__ or "", items, "convlib.db", "open-conv-pieces.parquet")


if __name__ == "__main__":
    main()
