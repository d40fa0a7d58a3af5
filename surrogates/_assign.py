"""Per-layer reuse factors that minimise resources under a latency bound (N-TORC's ILP).

hls4ml lets every layer trade resources for latency through its reuse factor: a layer at reuse
factor R shares each multiplier R times, so it needs about 1/R of the DSPs and LUTs and takes
about R more cycles. Choosing one reuse factor per layer so that the network meets a latency
bound at the least cost is a multiple-choice knapsack problem; like N-TORC we solve it exactly as
a mixed-integer linear programme (scipy's ``milp``, HiGHS), not with a heuristic:

    minimise    sum_l sum_j cost[l, j] * x[l, j]
    subject to  sum_j x[l, j] = 1                   for every layer l   (one option each)
                sum_l sum_j latency[l, j] * x[l, j] <= bound             (layers run in sequence)
                x[l, j] in {0, 1}

``cost`` is a weighted sum of the option's resources; by default each resource is weighted by
the inverse of the target's capacity, so the cost is the sum of utilisation fractions. The
options' numbers come from whatever predicts them (the layer-level surrogate, a cache, a report):
this module only optimises.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

RESOURCES = ("lut", "ff", "dsp", "bram_18k")


class AssignmentError(ValueError):
    """No assignment exists (one-line message naming why)."""


@dataclass(frozen=True)
class ReuseOption:
    """One realisable reuse factor of a layer with its predicted resources and latency (cycles)."""

    reuse_factor: int
    latency: float
    lut: float = 0.0
    ff: float = 0.0
    dsp: float = 0.0
    bram_18k: float = 0.0

    def cost(self, weights: Mapping[str, float]) -> float:
        return float(sum(w * getattr(self, r) for r, w in weights.items()))


@dataclass(frozen=True)
class Assignment:
    """The chosen reuse factor of every layer, and the totals it gives."""

    reuse_factors: dict[str, int]
    latency: float
    cost: float
    resources: dict[str, float]


def capacity_weights(capacities: Mapping[str, float]) -> dict[str, float]:
    """Weights that make the cost the sum of utilisation fractions (resources the target lacks,
    with capacity 0 or missing, are left out)."""
    return {r: 1.0 / float(c) for r in RESOURCES if (c := capacities.get(r, 0.0)) and c > 0}


def assign_reuse_factors(
    options: Mapping[str, Sequence[ReuseOption]],
    latency_bound: float,
    weights: Mapping[str, float],
    time_limit_s: float = 30.0,
) -> Assignment:
    """The cheapest choice of one option per layer whose summed latency is at most
    ``latency_bound``. ``options`` maps layer names (in network order) to their realisable reuse
    factors; ``weights`` maps resource names (of :data:`RESOURCES`) to cost weights."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    unknown = set(weights) - set(RESOURCES)
    if unknown:
        raise AssignmentError(f"unknown resource(s) {sorted(unknown)}; known: {RESOURCES}")
    if not options:
        raise AssignmentError("no layers to assign reuse factors to")
    empty = [name for name, opts in options.items() if not opts]
    if empty:
        raise AssignmentError(f"layer {empty[0]} has no realisable reuse factor")
    if not math.isfinite(latency_bound) or latency_bound <= 0:
        raise AssignmentError(f"the latency bound must be a positive number, got {latency_bound}")
    names = list(options)
    flat = [(li, opt) for li, name in enumerate(names) for opt in options[name]]
    fastest = sum(min(o.latency for o in options[n]) for n in names)
    if fastest > latency_bound:
        raise AssignmentError(
            f"no reuse factors meet {latency_bound:g} cycles: the fastest assignment takes "
            f"{fastest:g}"
        )
    cost = np.array([o.cost(weights) for _, o in flat])
    latency = np.array([o.latency for _, o in flat])
    one_each = np.zeros((len(names), len(flat)))
    for j, (li, _) in enumerate(flat):
        one_each[li, j] = 1.0
    res = milp(
        cost,
        integrality=np.ones(len(flat)),
        bounds=Bounds(0, 1),
        constraints=[
            LinearConstraint(one_each, 1, 1),
            LinearConstraint(latency[None, :], -np.inf, latency_bound),
        ],
        options={"time_limit": time_limit_s},
    )
    if res.x is None:
        raise AssignmentError(f"the reuse-factor ILP found no solution: {res.message}")
    chosen = [flat[j] for j in np.flatnonzero(np.round(res.x) > 0.5)]
    picks = {names[li]: opt for li, opt in chosen}
    return Assignment(
        reuse_factors={n: picks[n].reuse_factor for n in names},
        latency=float(sum(p.latency for p in picks.values())),
        cost=float(sum(p.cost(weights) for p in picks.values())),
        resources={r: float(sum(getattr(p, r) for p in picks.values())) for r in RESOURCES},
    )
