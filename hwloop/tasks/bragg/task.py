"""The Bragg-peak localisation task (BraggNN / NAC)."""

from __future__ import annotations

import torch

from hwloop.tasks._base import SpaceChoice, Split, Task, TaskData
from hwloop.tasks.bragg._dataset import build_dataset


class BraggTask(Task):
    """11x11 patch -> (x, y) of the peak centre; metric: mean Euclidean distance in pixels.

    Targets are scaled by 1/11 for training (as BraggNN does); ``metric`` undoes the scaling.
    """

    name = "bragg"
    input_shape = (1, 11, 11)
    output_size = 2
    spaces = (
        SpaceChoice("block", "block", "NAC's hierarchical conv / attention blocks + MLP head"),
        SpaceChoice(
            "mlp",
            "mlp",
            "mlpBragg: hidden layers, units per layer; batch size, lr, epochs",
            {"train": True},
        ),
        SpaceChoice(
            "cnn", "bragg-cnn", "cnnBragg: conv layers, filters per layer; batch size, lr, epochs"
        ),
    )
    metric_name = "mean_distance_px"
    metric_unit = "px"
    scale = 11.0

    def __init__(self, peaks_file: str | None = None, n_jobs: int = -1) -> None:
        self.peaks_file = peaks_file
        self.n_jobs = n_jobs

    def load(self, limit: int | None = None, seed: int = 0, progress: bool = False) -> TaskData:
        ds = build_dataset(
            self.peaks_file, limit=limit, seed=seed, n_jobs=self.n_jobs, progress=progress
        )
        train, val, test = (
            Split(ds.patches[ds.split == s], ds.labels[ds.split == s] / self.scale)
            for s in (0, 1, 2)
        )
        return TaskData(train, val, test, description=f"bragg dataset {ds.key}, {len(ds)} patches")

    def loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.mse_loss(pred, target)

    def metric(self, pred: torch.Tensor, target: torch.Tensor) -> float:
        return float(self.sample_errors(pred, target).mean())

    def sample_errors(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.linalg.vector_norm((pred - target) * self.scale, dim=1)
