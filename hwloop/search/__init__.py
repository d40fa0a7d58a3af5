"""Architecture search (global stage): NSGA-II (or another Optuna sampler) over a search space,
scored on the task metric, BOPs and the hardware objectives a surrogate predicts (with real
synthesis of the front in the loop: hwloop.search._loop). ``SAMPLERS``, ``SCALARIZATIONS`` and
``parse_objectives`` / ``objectives_help`` (the objectives' registry,
``hwloop.search.objectives``) are what the CLI builds its options from."""

from __future__ import annotations

from hwloop.search._config import (
    SAMPLERS,
    SCALARIZATIONS,
    FrontMember,
    SearchConfig,
    SearchResult,
)
from hwloop.search._hardware import HardwareScorer, real_values
from hwloop.search._nas import (
    load_existing_study,
    open_study,
    pareto_front,
    run_search,
    session_seed,
)
from hwloop.search._record import TrialRecord
from hwloop.search._weights import load_trial_model, weights_store
from hwloop.search.objectives import needs_of, objectives_help, parse_objectives

__all__ = [
    "HardwareScorer",
    "SAMPLERS",
    "SCALARIZATIONS",
    "parse_objectives",
    "objectives_help",
    "needs_of",
    "FrontMember",
    "SearchConfig",
    "SearchResult",
    "TrialRecord",
    "load_existing_study",
    "open_study",
    "pareto_front",
    "run_search",
    "session_seed",
    "load_trial_model",
    "real_values",
    "weights_store",
]
