"""Superconducting-qubit readout: simulated dispersive I/Q traces (``hwloop data qubit``) and the
reference classifiers a searched model has to beat. The task itself is an experiment file
(``examples/qubit.toml``): the traces are the user's own data in a file."""

from __future__ import annotations

from hwloop.tasks.qubit._physics import ReadoutConfig, mean_traces, simulate
from hwloop.tasks.qubit._references import (
    REFERENCES,
    Boxcar,
    GaussianMixture,
    MatchedFilter,
    fidelity,
    reference_fidelities,
)

__all__ = [
    "REFERENCES",
    "Boxcar",
    "GaussianMixture",
    "MatchedFilter",
    "ReadoutConfig",
    "fidelity",
    "mean_traces",
    "reference_fidelities",
    "simulate",
]
