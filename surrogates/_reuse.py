"""A reuse factor a user asks for, checked against what hls4ml realises for a layer
(the rule itself: :mod:`fpga_targets._reuse`, exported as ``fpga_targets.closest_reuse_factor``).

Checked against every row of N-TORC's tables (tests/surrogates_tests/test_reuse.py): the rule
reproduces the reuse factor hls4ml actually used on all Conv1D and LSTM rows and on every Dense
row with more than one output; Dense rows with one output kept factors beyond ``n_in * n_out``
in N-TORC's older hls4ml.
"""

from __future__ import annotations

from fpga_targets import closest_reuse_factor, valid_reuse_factors

__all__ = ["ReuseFactorError", "check_reuse_factor", "closest_reuse_factor", "valid_reuse_factors"]


class ReuseFactorError(ValueError):
    """A reuse factor hls4ml cannot realise for a layer (the message says what it rounds to)."""


def check_reuse_factor(layer: str, n_in: int, n_out: int, requested: int) -> int:
    """``requested`` if hls4ml can realise it for ``layer``; else :class:`ReuseFactorError`
    naming the factor hls4ml would round it to."""
    try:
        used = closest_reuse_factor(n_in, n_out, requested)
    except ValueError as exc:
        raise ReuseFactorError(f"layer {layer}: {exc}") from None
    if used != requested:
        raise ReuseFactorError(
            f"layer {layer}: hls4ml cannot realise reuse factor {requested} for {n_in} inputs x "
            f"{n_out} outputs; it would use {used}"
        )
    return used
