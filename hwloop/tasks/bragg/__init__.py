"""Bragg-peak localisation: rendered patches around the real BraggNN peak positions."""

from __future__ import annotations

from hwloop.tasks.bragg._dataset import BraggDataset, build_dataset, default_cache_dir
from hwloop.tasks.bragg._physics import RenderConfig
from hwloop.tasks.bragg.task import BraggTask

__all__ = ["BraggDataset", "BraggTask", "RenderConfig", "build_dataset", "default_cache_dir"]
