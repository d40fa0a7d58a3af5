"""Model-size objectives: bit operations (hwloop.bops) and the parameter count."""

from __future__ import annotations

from hwloop.search.objectives import Objective, TrialOutcome, register


def _bops(o: TrialOutcome) -> float:
    return o.bops


def _params(o: TrialOutcome) -> float:
    return float(o.parameters)


register(Objective("bops", "bit operations at --bits", _bops, rank=10))
register(Objective("params", "model size in parameters", _params, rank=20))
