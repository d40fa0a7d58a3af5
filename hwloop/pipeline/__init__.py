"""Experiments end to end: ``hwloop init`` (an experiment file from a data file) and
``hwloop run`` (global search, local search, real synthesis; resumable)."""

from __future__ import annotations

from hwloop.pipeline._init import Inferred, experiment_name, experiment_text, infer
from hwloop.pipeline._result import RunResult, Synthesised
from hwloop.pipeline._run import (
    best_members,
    claim_output,
    compress_config,
    run_experiment,
    search_config,
    synthesize_member,
)

__all__ = [
    "Inferred",
    "RunResult",
    "Synthesised",
    "best_members",
    "claim_output",
    "compress_config",
    "experiment_name",
    "experiment_text",
    "infer",
    "run_experiment",
    "search_config",
    "synthesize_member",
]
