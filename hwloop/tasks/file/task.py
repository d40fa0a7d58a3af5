"""A task built from an experiment file: the user's own data, classification or regression."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from hwloop import HwloopError
from hwloop.experiment import Experiment, load_experiment
from hwloop.tasks._base import Split, Task, TaskData
from hwloop.tasks._metrics import one_vs_rest_auc
from hwloop.tasks.file._data import Arrays, Scaling, read_arrays


class FileTask(Task):
    """The ``data`` and ``task`` sections of an experiment file as a :class:`Task`.

    Classification: cross-entropy; the metric is the error rate, the report adds accuracy and
    one-vs-rest ROC AUC per class. Regression: the metric is the MAE, the MSE or the mean
    Euclidean distance of the output vector; the search reports p75 / p95 of the per-sample
    error. With ``data.normalize_targets`` the model learns standardised targets while every
    metric stays in the data's own units. The data is read (and checked) when the task is made,
    so a bad file fails before any work.
    """

    def __init__(self, experiment: Experiment | str | Path, sets: tuple[str, ...] = ()) -> None:
        exp = (
            experiment if isinstance(experiment, Experiment) else load_experiment(experiment, sets)
        )
        self.experiment = exp
        self.path = str(exp.source) if exp.source else exp.name
        self.name = exp.task.name or exp.name
        self.kind = exp.task.kind
        self.metric_name = exp.task.metric_name
        self.metric_unit = ""
        self.arrays: Arrays = read_arrays(exp)
        self.input_shape = tuple(int(s) for s in self.arrays.x.shape[1:])
        if self.kind == "classification":
            self.output_size = int(exp.task.classes or 0)
            self.class_names = exp.task.class_names or [str(c) for c in range(self.output_size)]
        else:
            self.output_size = int(self.arrays.y.shape[1])
            self.class_names = []
        train = self.arrays.split == 0
        norm = exp.data.normalize
        self.x_scaling = (
            Scaling.fit(self.arrays.x[train], per_element=norm == "standard")
            if norm != "none"
            else None
        )
        self.y_scaling = (
            Scaling.fit(self.arrays.y[train])
            if exp.data.normalize_targets and self.kind == "regression"
            else None
        )
        self._y_std = torch.as_tensor(self.y_scaling.std if self.y_scaling else 1.0)

    # -- data ---------------------------------------------------------------------------
    def load(self, limit: int | None = None, seed: int = 0, progress: bool = False) -> TaskData:
        """The experiment's split (``seed`` is the search's; the split keeps ``data.seed``);
        ``limit`` keeps that many samples, picked at random with ``data.seed``."""
        a = self.arrays
        keep = np.arange(len(a.x))
        if limit is not None and limit < len(keep):
            # a stream of its own: the split's permutation would pick its training part only
            rng = np.random.default_rng((self.experiment.data.seed, 1))
            keep = np.sort(rng.permutation(keep)[:limit])
        x, y, split = a.x[keep], a.y[keep], a.split[keep]
        if self.x_scaling is not None:
            x = self.x_scaling.apply(x)
        if self.y_scaling is not None:
            y = self.y_scaling.apply(y)
        parts = [Split(x[split == s], y[split == s]) for s in (0, 1, 2)]
        counts = [len(p) for p in parts]
        if limit is not None and (not counts[0] or not counts[1]):
            raise HwloopError(f"--limit {limit} leaves an empty part (train / val / test {counts})")
        return TaskData(
            parts[0],
            parts[1],
            parts[2],
            description=f"{self.name}: {len(x)} samples of {list(self.input_shape)} from "
            f"{a.source}, train / val / test {counts}",
        )

    def scaling(self) -> dict[str, Any]:
        """The normalisation a deployed model needs in front of it (and behind, for targets)."""
        out: dict[str, Any] = {}
        if self.x_scaling is not None:
            out["inputs"] = {"mode": self.experiment.data.normalize, **self.x_scaling.to_json()}
        if self.y_scaling is not None:
            out["targets"] = self.y_scaling.to_json()
        return out

    # -- training and metrics ---------------------------------------------------------------
    def loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.kind == "classification":
            return torch.nn.functional.cross_entropy(pred, target.long())
        if self.metric_name == "mae":
            return torch.nn.functional.l1_loss(pred, target)
        return torch.nn.functional.mse_loss(pred, target)

    def metric(self, pred: torch.Tensor, target: torch.Tensor) -> float:
        if self.kind == "classification":
            return 1.0 - float((pred.argmax(dim=1) == target.long()).float().mean())
        return float(self.sample_errors(pred, target).mean())

    def sample_errors(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.kind == "classification":
            return super().sample_errors(pred, target)
        diff = (pred - target) * self._y_std.to(pred.dtype)  # in the data's own units
        if self.metric_name == "mae":
            return diff.abs().mean(dim=1)
        if self.metric_name == "mse":
            return diff.square().mean(dim=1)
        return torch.linalg.vector_norm(diff, dim=1)

    @property
    def has_sample_errors(self) -> bool:
        return self.kind == "regression"

    def report(self, pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
        out = {self.metric_name: self.metric(pred, target)}
        if self.kind == "classification":
            out["accuracy"] = 1.0 - out[self.metric_name]
            out["balanced_accuracy"] = balanced_accuracy(pred, target, self.output_size)
            if self.output_size == 2:  # a qubit readout's assignment fidelity, 1 - (P01 + P10) / 2
                out["fidelity"] = out["balanced_accuracy"]
            for name, auc in roc_auc(pred, target, self.class_names).items():
                out[f"auc_{name}"] = auc
        return out

    def reference(self, data: TaskData) -> tuple[str, float]:
        if self.kind == "regression":
            return super().reference(data)
        counts = np.bincount(data.train.y.astype(np.int64), minlength=self.output_size)
        logits = torch.zeros(len(data.val), self.output_size)
        logits[:, int(counts.argmax())] = 1.0
        return "the most frequent class", self.metric(logits, torch.as_tensor(data.val.y))


def balanced_accuracy(pred: torch.Tensor, target: torch.Tensor, classes: int) -> float:
    """The mean over the classes present of the fraction of that class classified right."""
    hit = pred.argmax(dim=1) == target.long()
    recalls = [float(hit[target.long() == c].float().mean()) for c in range(classes)]
    present = [r for c, r in enumerate(recalls) if bool((target.long() == c).any())]
    return sum(present) / max(len(present), 1)


def roc_auc(pred: torch.Tensor, target: torch.Tensor, names: list[str]) -> dict[str, float]:
    """One-vs-rest ROC AUC of every class; a binary task reports the positive class only."""
    auc = one_vs_rest_auc(pred, target, names)
    return {names[1]: auc[names[1]]} if len(names) == 2 else auc
