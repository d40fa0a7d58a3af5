"""The reuse-factor ILP against exhaustive search, and its refusals."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from surrogates import (
    AssignmentError,
    ReuseOption,
    assign_reuse_factors,
    capacity_weights,
)


def _layer(rng: np.random.Generator, n_in: int, n_out: int) -> list[ReuseOption]:
    """Options shaped like a dense layer's: resources fall roughly as 1/R, latency grows as R."""
    mults = n_in * n_out
    divisors = [r for r in range(1, mults + 1) if mults % r == 0][:6]
    return [
        ReuseOption(
            r,
            latency=r + 2 + rng.integers(0, 3),
            lut=mults * 30 / r * rng.uniform(0.8, 1.2),
            ff=mults * 20 / r,
            dsp=math.ceil(mults / r),
        )
        for r in divisors
    ]


def _brute(options: dict[str, list[ReuseOption]], bound: float, w: dict[str, float]) -> float:
    best = np.inf
    for combo in itertools.product(*options.values()):
        if sum(o.latency for o in combo) <= bound:
            best = min(best, sum(o.cost(w) for o in combo))
    return float(best)


@pytest.mark.parametrize("seed", range(6))
def test_ilp_matches_exhaustive_search(seed: int) -> None:
    rng = np.random.default_rng(seed)
    options = {f"fc{i}": _layer(rng, int(rng.integers(4, 40)), 16) for i in range(4)}
    w = capacity_weights({"lut": 1.7e6, "ff": 3.4e6, "dsp": 12288, "bram_18k": 5376})
    fastest = sum(min(o.latency for o in opts) for opts in options.values())
    slowest = sum(max(o.latency for o in opts) for opts in options.values())
    bound = float(rng.uniform(fastest, slowest))
    got = assign_reuse_factors(options, bound, w)
    assert got.latency <= bound
    assert got.cost == pytest.approx(_brute(options, bound, w), rel=1e-9)
    assert set(got.reuse_factors) == set(options)
    chosen = [
        next(o for o in options[n] if o.reuse_factor == r) for n, r in got.reuse_factors.items()
    ]
    assert got.resources["dsp"] == pytest.approx(sum(o.dsp for o in chosen))


def test_looser_bound_never_costs_more() -> None:
    rng = np.random.default_rng(7)
    options = {f"fc{i}": _layer(rng, 32, 32) for i in range(3)}
    w = {"lut": 1.0}
    costs = [assign_reuse_factors(options, b, w).cost for b in (15, 20, 40, 200)]
    assert costs == sorted(costs, reverse=True)
    assert costs[0] > costs[-1]


def test_refusals_name_the_problem() -> None:
    opts = {"fc1": [ReuseOption(1, latency=5, lut=100), ReuseOption(2, latency=7, lut=60)]}
    with pytest.raises(AssignmentError, match="fastest assignment takes 5"):
        assign_reuse_factors(opts, 4, {"lut": 1.0})
    with pytest.raises(AssignmentError, match="layer fc2 has no realisable reuse factor"):
        assign_reuse_factors({**opts, "fc2": []}, 10, {"lut": 1.0})
    with pytest.raises(AssignmentError, match="unknown resource"):
        assign_reuse_factors(opts, 10, {"luts": 1.0})
    with pytest.raises(AssignmentError, match="positive"):
        assign_reuse_factors(opts, float("nan"), {"lut": 1.0})
    assert capacity_weights({"lut": 100, "dsp": 0}) == {"lut": 0.01}
