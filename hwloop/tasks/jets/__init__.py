"""Jet tagging on simulated jets (Pythia 8 + FastJet): data generation, the shipped sample, the
task. See docs/jets.md."""

from __future__ import annotations

from hwloop.tasks.jets._dataset import GENERATOR, JetSet, cache_dir, generate, load_jets
from hwloop.tasks.jets._generate import CLASSES, FEATURES, N_CONSTITUENTS
from hwloop.tasks.jets.task import JetsTask, accuracy, roc_auc

__all__ = [
    "CLASSES",
    "FEATURES",
    "GENERATOR",
    "N_CONSTITUENTS",
    "JetSet",
    "JetsTask",
    "accuracy",
    "cache_dir",
    "generate",
    "load_jets",
    "roc_auc",
]
