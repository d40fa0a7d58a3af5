"""The ``Task`` interface: data, loss and metric of one learning problem."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from numpy.typing import NDArray

from hwloop import HwloopError


@dataclass(frozen=True)
class Split:
    """One split of a dataset as float32 arrays: inputs ``x`` and targets ``y``."""

    x: NDArray[np.float32]
    y: NDArray[np.float32]

    def __len__(self) -> int:
        return int(self.x.shape[0])


@dataclass(frozen=True)
class TaskData:
    train: Split
    val: Split
    test: Split
    description: str = ""


@dataclass(frozen=True)
class SpaceChoice:
    """A search space a task offers: its ``name`` (``--space``), the family ``kind`` that
    ``hwloop.spaces`` builds on the task's input shape and output size (``block``, ``mlp``,
    ``bragg-cnn``, ``deepsets``, ``ptycho-cnn``), a line of ``help``, and the family's options."""

    name: str
    kind: str
    help: str
    options: Mapping[str, Any] = field(default_factory=dict)


class Task(abc.ABC):
    """A supervised task a search optimises for.

    Contract:
    - ``name``, ``input_shape`` (without batch) and ``output_size`` describe the model interface;
    - ``load(limit, seed)`` returns the same train/val/test split for the same arguments, from
      local data only (no network), and raises ``HwloopError`` with a one-line message when data
      is missing or malformed;
    - ``loss(pred, target)`` is a differentiable torch scalar; ``metric(pred, target)`` is the
      float the search minimises (``metric_name`` names it, ``metric_unit`` gives its unit);
      lower is better;
    - ``sample_errors(pred, target)`` is the error of every sample (a 1-D tensor of length N, in
      ``metric_unit``) for the percentiles a search reports (p75, p95); ``metric`` is usually
      its mean (Bragg: the distance of each peak; ptycho: each pattern's mean absolute error).
      Tasks whose metric is not a per-sample error (jets: the error rate) may keep the default,
      which refuses with a one-line ``HwloopError``;
    - ``report(pred, target)`` gives the metrics worth printing beside the main one (a flat
      dict of floats); by default just ``{metric_name: metric}``; ``report_columns`` names the
      ones the search's front table shows (header, report key), e.g. ptycho's two MAEs;
    - ``spaces``: the search spaces it offers (:class:`SpaceChoice`), its default first;
    - ``options``: the keyword arguments the constructor takes that a search passes through
      (ptycho: ``size``); ``no_hardware``: None, or the one-line reason why its models get no
      FPGA design (hardware objectives and constraints are refused with it).
    """

    name: str
    input_shape: tuple[int, ...]
    output_size: int
    metric_name: str
    metric_unit: str = ""
    spaces: ClassVar[tuple[SpaceChoice, ...]] = ()
    report_columns: ClassVar[tuple[tuple[str, str], ...]] = ()
    options: ClassVar[tuple[str, ...]] = ()
    no_hardware: ClassVar[str | None] = None

    @abc.abstractmethod
    def load(self, limit: int | None = None, seed: int = 0, progress: bool = False) -> TaskData:
        """Return the dataset split 80/10/10 (or the task's own split)."""

    @abc.abstractmethod
    def loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Training loss."""

    @abc.abstractmethod
    def metric(self, pred: torch.Tensor, target: torch.Tensor) -> float:
        """Evaluation metric (lower is better)."""

    def sample_errors(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-sample error (N,), in ``metric_unit``; see the class docstring."""
        raise HwloopError(
            f"task {self.name!r} has no per-sample error ({self.metric_name} is not a mean of "
            "one); p75/p95 objectives need one"
        )

    @property
    def has_sample_errors(self) -> bool:
        """Whether ``sample_errors`` answers (a task that overrides it does)."""
        return type(self).sample_errors is not Task.sample_errors

    def report(self, pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
        """Metrics to print beside the main one."""
        return {self.metric_name: self.metric(pred, target)}

    def reference(self, data: TaskData) -> tuple[str, float]:
        """A model-free reference on the validation split (what a front has to beat to mean
        anything): ``(what it predicts, its metric)``. By default every sample gets the mean
        training target (Bragg: about the patch centre); classification tasks override it."""
        mean = torch.as_tensor(data.train.y, dtype=torch.float32).mean(dim=0)
        target = torch.as_tensor(data.val.y, dtype=torch.float32)
        return "the mean training target", self.metric(mean.expand_as(target), target)
