"""hls4ml's reuse-factor rule: which reuse factors a layer can realise, and what a requested one
is rounded to.

Copied in behaviour (not code) from hls4ml's ``FPGABackend.get_valid_reuse_factors`` /
``get_closest_reuse_factor`` (hls4ml/backends/fpga/fpga_backend.py): a reuse factor R of a
layer with ``n_in`` inputs per output and ``n_out`` outputs (Conv: ``n_chan * kernel``
inputs, ``n_filt`` outputs; LSTM: ``n_in`` and ``4 * units``) is valid when

- ``ceil(n_in * n_out / min(n_in, R))`` is a multiple of ``n_out``, or ``R >= n_in``;
- ``R`` is a multiple of ``n_in``, or ``R < n_in``;
- ``R`` divides ``n_in * n_out``.

An invalid request becomes the closest valid one (the smaller on a tie). Checked against every
row of N-TORC's tables (tests/surrogates_tests/test_reuse.py): it reproduces the reuse factor
hls4ml actually used on all Conv1D and LSTM rows and on every Dense row with more than one
output; Dense rows with one output kept factors beyond ``n_in * n_out`` in N-TORC's older hls4ml.
"""

from __future__ import annotations

import bisect
import math
from functools import lru_cache


class ReuseFactorError(ValueError):
    """A reuse factor hls4ml cannot realise for a layer (the message says what it rounds to)."""


def _valid(n_in: int, n_out: int, rf: int) -> bool:
    limit = math.ceil(n_in * n_out / min(n_in, rf))
    ok = limit % n_out == 0 or rf >= n_in
    ok = ok and (rf % n_in == 0 or rf < n_in)
    return ok and (n_in * n_out) % rf == 0


@lru_cache(maxsize=4096)
def valid_reuse_factors(n_in: int, n_out: int) -> tuple[int, ...]:
    """Every reuse factor hls4ml accepts for a layer of ``n_in`` x ``n_out`` multiplications."""
    if n_in < 1 or n_out < 1:
        raise ReuseFactorError(f"a layer needs n_in, n_out >= 1, got {n_in}, {n_out}")
    return tuple(r for r in range(1, n_in * n_out + 1) if _valid(n_in, n_out, r))


def closest_reuse_factor(n_in: int, n_out: int, requested: int) -> int:
    """The reuse factor hls4ml uses when ``requested`` is asked for (itself if valid)."""
    if requested < 1:
        raise ReuseFactorError(f"a reuse factor is at least 1, got {requested}")
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


def check_reuse_factor(layer: str, n_in: int, n_out: int, requested: int) -> int:
    """``requested`` if hls4ml can realise it for ``layer``; else :class:`ReuseFactorError`
    naming the factor hls4ml would round it to."""
    used = closest_reuse_factor(n_in, n_out, requested)
    if used != requested:
        raise ReuseFactorError(
            f"layer {layer}: hls4ml cannot realise reuse factor {requested} for {n_in} inputs x "
            f"{n_out} outputs; it would use {used}"
        )
    return used
