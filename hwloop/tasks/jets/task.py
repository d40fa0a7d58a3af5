"""The jet-tagging task (seed 002's second case study): q / g / W / Z / t from 8 constituents."""

from __future__ import annotations

import numpy as np
import torch

from hwloop.tasks._base import SpaceChoice, Split, Task, TaskData
from hwloop.tasks._metrics import one_vs_rest_auc
from hwloop.tasks.jets._dataset import load_jets, split_and_scale
from hwloop.tasks.jets._generate import CLASSES, FEATURES, N_CONSTITUENTS


class JetsTask(Task):
    """(8 constituents x (pT, η_rel, φ_rel)), robust-scaled -> one of q, g, W, Z, t.

    The metric the search minimises is the error rate, 1 - accuracy (``accuracy`` and
    ``roc_auc`` report the usual numbers). Without generated jets in the cache, ``load`` uses
    the sample shipped with hwloop (``hwloop data jets --n N`` generates more).
    """

    name = "jets"
    input_shape = (N_CONSTITUENTS, len(FEATURES))
    output_size = len(CLASSES)
    spaces = (
        SpaceChoice("deepsets", "deepsets", "Deep Sets (phi, aggregation, rho; seed Table 8)"),
        SpaceChoice("mlp", "mlp", "an MLP over the flattened constituents"),
    )
    metric_name = "error_rate"
    metric_unit = ""

    def __init__(self, gen_seed: int = 0) -> None:
        self.gen_seed = gen_seed

    def load(self, limit: int | None = None, seed: int = 0, progress: bool = False) -> TaskData:
        js = load_jets(limit, gen_seed=self.gen_seed)
        splits, stats = split_and_scale(js, seed)
        train, val, test = (Split(x, y.astype(np.float32)) for x, y in splits)
        return TaskData(
            train,
            val,
            test,
            description=f"jets: {len(js)} from {js.source}; robust scaling median "
            f"{stats[0].round(3).tolist()}, 5-95 % range {stats[1].round(3).tolist()}",
        )

    def loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(pred, target.long())

    def metric(self, pred: torch.Tensor, target: torch.Tensor) -> float:
        return 1.0 - accuracy(pred, target)

    def reference(self, data: TaskData) -> tuple[str, float]:
        counts = np.bincount(data.train.y.astype(np.int64), minlength=len(CLASSES))
        logits = torch.zeros(len(data.val), len(CLASSES))
        logits[:, int(counts.argmax())] = 1.0
        target = torch.as_tensor(data.val.y)
        return "the most frequent class", self.metric(logits, target)


def accuracy(pred: torch.Tensor, target: torch.Tensor) -> float:
    return float((pred.argmax(dim=1) == target.long()).float().mean())


def roc_auc(pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """One-vs-rest ROC AUC of every class from the softmax scores (Mann-Whitney U)."""
    return one_vs_rest_auc(pred, target, CLASSES)
