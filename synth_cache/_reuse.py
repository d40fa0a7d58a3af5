"""The reuse factor hls4ml actually uses for a dense-like layer.

hls4ml (``FPGABackend._validate_reuse_factor`` / ``get_closest_reuse_factor``, 0.8 to 1.x)
replaces a requested reuse factor it cannot realise with the closest valid one (the smaller on a
tie). Published tables often give only the requested model-level value, so importers derive the
per-layer one with this rule; it reproduces every per-layer ``reuse_factor`` in the wa-hls4ml
JSON fixtures (checked in tests).
"""

from __future__ import annotations

import bisect


def valid_reuse_factors(n_in: int, n_out: int) -> list[int]:
    """Reuse factors hls4ml accepts for an ``n_in`` x ``n_out`` multiplication, ascending."""
    if n_in < 1 or n_out < 1:
        raise ValueError(f"layer sizes must be positive, got {n_in} x {n_out}")
    n = n_in * n_out
    # every valid factor divides n_in * n_out, so only divisors need checking
    divisors = sorted({d for i in range(1, int(n**0.5) + 1) if n % i == 0 for d in (i, n // i)})
    valid = []
    for rf in divisors:
        mult_limit = -(-n // min(n_in, rf))
        if (mult_limit % n_out == 0 or rf >= n_in) and (rf % n_in == 0 or rf < n_in):
            valid.append(rf)
    return valid


def used_reuse_factor(n_in: int, n_out: int, requested: int) -> int:
    """The reuse factor hls4ml uses when ``requested`` is asked for this layer."""
    if requested < 1:
        raise ValueError(f"a reuse factor is a positive integer, got {requested}")
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
