"""hls4ml's reuse-factor rule against the reuse factors hls4ml actually used in N-TORC's runs."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from surrogates import (
    ReuseFactorError,
    check_reuse_factor,
    closest_reuse_factor,
    valid_reuse_factors,
)

NTORC = Path(__file__).resolve().parents[2] / "../shared/fixtures/n-torc"


def test_valid_factors_of_a_small_dense_layer() -> None:
    # 4 inputs x 3 outputs: below n_in anything dividing 12 whose multiplier count is a
    # multiple of n_out; from n_in on only multiples of n_in dividing 12
    assert valid_reuse_factors(4, 3) == (1, 2, 4, 12)
    assert closest_reuse_factor(4, 3, 3) == 2  # a tie between 2 and 4 takes the smaller
    assert closest_reuse_factor(4, 3, 7) == 4
    assert closest_reuse_factor(4, 3, 100) == 12


@pytest.mark.parametrize(
    ("table", "shape"),
    [
        (
            "collapsed_conv_resources",
            lambda r: (3 * int(r["n_inputs_resources"]), int(r["cnn_filters_resources"])),
        ),
        (
            "lstm_resources_collapsed",
            lambda r: (int(r["n_inputs_resources"]), 4 * int(r["lstm_size"])),
        ),
        (
            "dense_resources_collapsed",
            lambda r: (int(r["n_inputs_resources"]), int(r["dense_size_resource"])),
        ),
    ],
)
def test_rounding_matches_ntorc(table: str, shape) -> None:  # type: ignore[no-untyped-def]
    rows = list(csv.DictReader((NTORC / f"{table}.csv").open()))
    used = next(k for k in rows[0] if k.startswith("correct_reuse_factor"))
    hits = misses = 0
    for r in rows:
        n_in, n_out = shape(r)
        if n_out == 1:  # N-TORC's older hls4ml kept factors beyond n_in for one-output layers
            continue
        ok = closest_reuse_factor(n_in, n_out, int(r["reuse_factor"])) == int(r[used])
        hits, misses = hits + ok, misses + (not ok)
    assert hits > 300 and misses == 0


def test_unrealisable_factor_names_the_rounding() -> None:
    assert check_reuse_factor("fc1", 16, 8, 4) == 4
    with pytest.raises(ReuseFactorError, match="layer stem: .* reuse factor 4 .* it would use 3"):
        check_reuse_factor("stem", 9, 16, 4)
    with pytest.raises(ReuseFactorError, match="layer x: a reuse factor is at least 1"):
        check_reuse_factor("x", 9, 16, 0)
    with pytest.raises(ValueError, match="at least 1"):
        closest_reuse_factor(9, 16, 0)
