"""Layer-norm statistics synthesised on their own (issue 17: a piece library for layer norms).

A layer norm's statistics piece (the sums of z and z^2 over a block of up to 96 of the layer's
outputs) holds no constants: it is fixed by its inputs and their format, and every copy
synthesises the same. It grows with the layer (a block is min(96, outputs) elements), so designs
below the calibration's median LUT rarely hold the full 96-element blocks that large designs are
made of, and a model trained on small designs extrapolated them: held out by size, the 96-input
statistics of the block space were predicted at 1.6-2x their real LUTs. These designs are the
smallest that hold each: a 1-channel m x m input, one 3x3 conv to C channels with a layer norm
and ReLU over its C x (m-2)^2 outputs (16 ... 96 elements, one block), a 2-output linear head, at
4 / 6 / 8 bits. The piece-level surrogate learns from their pieces (family ``normlib``) but never
scores them as designs.

Resumable: runs already in the cache are skipped; the cache is exported to OUT after every
design. Prints a JSON line at the end.

    python scripts/calibrate_norm_pieces.py [--cache URL] [--out PARQUET]
"""

from __future__ import annotations

from _calibrate_each import library_main  # scripts/ is on sys.path when run
from hwloop.archs import ArchSpec, Conv2d, Flatten, Linear
from hwloop.synth import CalibrationItem

# (channels C, map m): C x (m - 2)^2 = 96, 81, 64, 49, 36, 25, 16 normalised elements
SHAPES = ((6, 6), (1, 11), (4, 6), (1, 9), (1, 8), (1, 7), (1, 6))
BITS = (4, 6, 8)


def arch(channels: int, m: int) -> ArchSpec:
    spec = ArchSpec(
        (1, m, m),
        (
            Conv2d("conv", channels, 3, norm="layer", act="relu"),
            Flatten("flatten"),
            Linear("out", 2),
        ),
        task="bragg",
    )
    return spec.with_name(f"normlib-{spec.digest[:8]}")


def items() -> list[CalibrationItem]:
    """The full 96-element block first (what large designs are made of), at every bit width."""
    return [CalibrationItem(arch(c, m), b, 0.0, seed=0) for c, m in SHAPES for b in BITS]


def main() -> None:
    library_main(__doc__ or "", items, "normlib.db", "open-norm-pieces.parquet")


if __name__ == "__main__":
    main()
