"""Which reuse factors hls4ml realises on a layer, and what it rounds a requested one to.

The rule is hls4ml's (``FPGABackend._validate_reuse_factor`` / ``get_closest_reuse_factor``,
hls4ml/backends/fpga/fpga_backend.py, 0.8 to 1.x), reimplemented: a reuse factor R of a layer of
``n_in`` inputs per output and ``n_out`` outputs (Conv: ``n_chan * kernel`` inputs, ``n_filt``
outputs; LSTM: ``n_in`` and ``4 * units``) is valid when

- ``ceil(n_in * n_out / min(n_in, R))`` is a multiple of ``n_out``, or ``R >= n_in``;
- ``R`` is a multiple of ``n_in``, or ``R < n_in``;
- ``R`` divides ``n_in * n_out``.

An invalid request becomes the closest valid one (the smaller on a tie). It lives here, below
``synth_cache`` (importers derive the per-layer factor of published tables) and ``surrogates``
(predictions and the reuse-factor optimiser), because it is a property of the toolflow on a
device, not of either. Checked against N-TORC's and wa-hls4ml's recorded factors in the tests.
"""

from __future__ import annotations

import bisect
from functools import lru_cache


@lru_cache(maxsize=4096)
def valid_reuse_factors(n_in: int, n_out: int) -> tuple[int, ...]:
    """Every reuse factor hls4ml accepts for an ``n_in`` x ``n_out`` layer, ascending."""
    if n_in < 1 or n_out < 1:
        raise ValueError(f"a layer needs n_in, n_out >= 1, got {n_in} x {n_out}")
    n = n_in * n_out
    # every valid factor divides n_in * n_out, so only divisors need checking
    divisors = sorted({d for i in range(1, int(n**0.5) + 1) if n % i == 0 for d in (i, n // i)})
    return tuple(
        rf
        for rf in divisors
        if (-(-n // min(n_in, rf)) % n_out == 0 or rf >= n_in) and (rf % n_in == 0 or rf < n_in)
    )


def closest_reuse_factor(n_in: int, n_out: int, requested: int) -> int:
    """The reuse factor hls4ml uses when ``requested`` is asked for (itself if valid)."""
    if requested < 1:
        raise ValueError(f"a reuse factor is at least 1, got {requested}")
    valid = valid_reuse_factors(n_in, n_out)
    pos = bisect.bisect_left(valid, requested)
    if pos < len(valid) and valid[pos] == requested:
        return requested
    if pos == 0:
        return valid[0]
    if pos == len(valid):
        return valid[-1]
    before, after = valid[pos - 1], valid[pos]
    return after if after - requested < requested - before else before
