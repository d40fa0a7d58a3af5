"""Training any (task, arch) on the CPU: deterministic, early-stopped, budgeted in epochs."""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from hwloop import HwloopError, runtime
from hwloop.tasks import Split, Task, TaskData

log = logging.getLogger(__name__)

OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")


@dataclass(frozen=True)
class TrainConfig:
    """Training hyperparameters. ``epochs`` is the budget; early stopping may end sooner.

    Learning-rate schedule: ``cosine`` anneals to zero over the ``epochs`` budget; ``plateau``
    (N > 0) instead divides it by 10 after N epochs without a better validation loss, as
    nac-opt trains its Deep Sets (``ReduceLROnPlateau(factor=0.1, patience=3)``), and each drop
    gives the lower rate ``patience`` more epochs before early stopping; neither: a constant
    rate."""

    epochs: int = 20
    batch_size: int = 256
    lr: float = 1.5e-3
    weight_decay: float = 0.0
    optimizer: str = "adam"
    cosine: bool = True
    patience: int = 5
    seed: int = 0
    threads: int | None = None
    plateau: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise HwloopError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise HwloopError(f"batch size must be at least 1, got {self.batch_size}")
        if self.optimizer not in OPTIMIZERS:
            raise HwloopError(f"unknown optimizer {self.optimizer!r}; known: {OPTIMIZERS}")
        if self.plateau < 0:
            raise HwloopError(f"plateau must be 0 (off) or a number of epochs, got {self.plateau}")
        if self.plateau and self.cosine:
            raise HwloopError("cosine and plateau are two learning-rate schedules: choose one")


@dataclass(frozen=True)
class TrainResult:
    val_metric: float
    test_metric: float
    best_epoch: int
    epochs_run: int
    seconds: float
    history: tuple[float, ...] = field(default_factory=tuple)
    lrs: tuple[float, ...] = field(default_factory=tuple)  # the learning rate after each epoch


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))


def _optimizer(cfg: TrainConfig, params: list[nn.Parameter]) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)


@torch.no_grad()
def _predict(model: nn.Module, split: Split, batch_size: int = 4096) -> torch.Tensor:
    model.eval()
    x = torch.from_numpy(split.x)
    return torch.cat([model(x[i : i + batch_size]) for i in range(0, len(split), batch_size)])


def evaluate(model: nn.Module, task: Task, split: Split, batch_size: int = 4096) -> float:
    return task.metric(_predict(model, split, batch_size), torch.from_numpy(split.y))


def reset_parameters(model: nn.Module, seed: int) -> None:
    """Re-initialise every layer from ``seed`` so a run does not depend on earlier RNG use."""
    seed_everything(seed)
    for module in model.modules():
        reset = getattr(module, "reset_parameters", None)
        if callable(reset):
            reset()


def train(
    model: nn.Module,
    task: Task,
    data: TaskData,
    cfg: TrainConfig,
    init: bool = True,
    after_step: Callable[[], None] | None = None,
    on_epoch: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train ``model`` in place; keep the weights of the best validation epoch.

    With ``init`` (the default) the weights are first re-initialised from ``cfg.seed``, so the
    same (arch, data, config) always gives the same result; ``init=False`` fine-tunes, and the
    starting weights count as a candidate (``best_epoch`` -1 when no epoch beat them).
    ``after_step()`` runs after every optimiser step (pruning masks use it); ``on_epoch(epoch,
    val_metric)`` after every epoch's validation, and may raise to end the run (Optuna's
    pruning does).

    A diverging run (non-finite loss) stops early and reports a non-finite metric, which a search
    treats as a failed trial.
    """
    if len(data.train) == 0 or len(data.val) == 0:
        raise HwloopError("the dataset has an empty train or validation split; raise --limit")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if init:
        reset_parameters(model, cfg.seed)
    seed_everything(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    x, y = torch.from_numpy(data.train.x), torch.from_numpy(data.train.y)
    opt = _optimizer(cfg, list(model.parameters()))
    steps = math.ceil(len(data.train) / cfg.batch_size)
    sched = (
        torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.epochs * steps) if cfg.cosine else None
    )
    plateau = (
        # eps 0: torch skips a drop smaller than its eps (1e-8), which would end the schedule
        # silently at small rates
        torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.1, patience=cfg.plateau, eps=0)
        if cfg.plateau
        else None
    )
    best, best_epoch, best_state = math.inf, -1, copy.deepcopy(model.state_dict())
    if not init:  # fine-tuning: the starting weights compete with every epoch's
        start = evaluate(model, task, data.val)
        if math.isfinite(start):
            best = start
    history: list[float] = []
    lrs: list[float] = []
    last_drop = -1  # a lower rate gets its own `patience` epochs to improve
    t0 = time.perf_counter()
    epoch = 0
    for epoch in range(cfg.epochs):
        model.train()
        order = torch.randperm(len(data.train), generator=gen)
        diverged = False
        for i in range(0, len(order), cfg.batch_size):
            runtime.check()  # a requested Ctrl-C stops here, not inside a finalizer
            idx = order[i : i + cfg.batch_size]
            if len(idx) < 2:  # BatchNorm needs two samples
                continue
            loss = task.loss(model(x[idx]), y[idx])
            if not torch.isfinite(loss):
                diverged = True
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if after_step is not None:
                after_step()
            if sched is not None:
                sched.step()
        val = math.nan
        if not diverged:
            pred, target = _predict(model, data.val), torch.from_numpy(data.val.y)
            val = task.metric(pred, target)
            if plateau is not None and math.isfinite(val):
                # the loss, not the metric: an error rate moves in steps and drops the rate early
                plateau.step(float(task.loss(pred, target)))
        history.append(val)
        log.debug("epoch %d: val %s %.4f", epoch, task.metric_name, val)
        if on_epoch is not None:
            on_epoch(epoch, val)
        if not math.isfinite(val):
            break
        lrs.append(float(opt.param_groups[0]["lr"]))
        if plateau is not None and len(lrs) > 1 and lrs[-1] < lrs[-2]:
            last_drop = epoch  # (cosine lowers the rate every epoch: no restart)
        if val < best:
            best, best_epoch, best_state = val, epoch, copy.deepcopy(model.state_dict())
        elif epoch - max(best_epoch, last_drop) >= cfg.patience:
            break
    if not math.isfinite(best):
        return TrainResult(
            math.nan, math.nan, -1, epoch + 1, time.perf_counter() - t0, tuple(history), tuple(lrs)
        )
    model.load_state_dict(best_state)
    test = evaluate(model, task, data.test) if len(data.test) else math.nan
    seconds = time.perf_counter() - t0
    return TrainResult(best, test, best_epoch, epoch + 1, seconds, tuple(history), tuple(lrs))
