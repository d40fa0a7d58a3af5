from __future__ import annotations

import math

import pytest

from hwloop import HwloopError
from hwloop.archs import ArchSpec, Conv2d, Flatten, Linear, build_model, builtin_archs
from hwloop.tasks import get_task
from hwloop.training import TrainConfig, train


@pytest.fixture(scope="module")
def data():  # type: ignore[no-untyped-def]
    return get_task("bragg").load(limit=600, seed=0)


def test_training_learns_and_is_deterministic(data) -> None:  # type: ignore[no-untyped-def]
    task = get_task("bragg")
    spec = ArchSpec(
        (1, 11, 11),
        (Conv2d("c", 8, 3, act="relu"), Flatten("f"), Linear("h", 32, act="relu"), Linear("o", 2)),
    )
    cfg = TrainConfig(epochs=8, batch_size=32, lr=3e-3, seed=1)
    first = train(build_model(spec), task, data, cfg)
    second = train(build_model(spec), task, data, cfg)
    # predicting the patch centre (5.5, 5.5) is about 0.38 px off; a trained model does better
    assert first.val_metric < 0.35
    assert first.history[-1] < first.history[0]
    assert math.isfinite(first.test_metric)
    assert first.val_metric == second.val_metric  # same seed, same result
    assert first.best_epoch < first.epochs_run <= 8


def test_early_stopping_and_bad_config(data) -> None:  # type: ignore[no-untyped-def]
    task = get_task("bragg")
    cfg = TrainConfig(epochs=30, batch_size=64, lr=0.0, patience=1, seed=0)
    result = train(build_model(builtin_archs()["nac-tiny"]), task, data, cfg)
    assert result.epochs_run < 30  # lr 0 never improves: stops after `patience` epochs
    with pytest.raises(HwloopError, match="optimizer"):
        TrainConfig(optimizer="lion")
    with pytest.raises(HwloopError, match="epochs"):
        TrainConfig(epochs=0)


def test_plateau_schedule_divides_the_rate_by_ten(data) -> None:  # type: ignore[no-untyped-def]
    """nac-opt's schedule: the rate drops tenfold once the validation loss has not improved
    (by ReduceLROnPlateau's relative 1e-4) for more than ``plateau`` epochs; SGD at 1e-9
    leaves the loss of a model without batch norm flat after epoch 2, so the drops come every
    second epoch, and each restarts the early-stopping count (else patience 2 ends it at 5)."""
    task = get_task("bragg")
    spec = ArchSpec((1, 11, 11), (Flatten("f"), Linear("h", 8, act="relu"), Linear("o", 2)))
    cfg = TrainConfig(
        epochs=6, batch_size=64, lr=1e-9, optimizer="sgd", cosine=False, plateau=1, patience=2
    )
    result = train(build_model(spec), task, data, cfg)
    assert result.epochs_run == 6
    assert result.lrs == pytest.approx((1e-9, 1e-9, 1e-10, 1e-10, 1e-11, 1e-11), rel=1e-6)
    cosine = TrainConfig(epochs=6, batch_size=64, lr=1e-9, optimizer="sgd", patience=2)
    annealed = train(build_model(spec), task, data, cosine)
    assert annealed.lrs[-1] < annealed.lrs[0]  # cosine anneals every epoch ...
    assert annealed.epochs_run < 6  # ... and that restarts no early-stopping count
    with pytest.raises(HwloopError, match="choose one"):
        TrainConfig(plateau=3)  # cosine is on by default
    with pytest.raises(HwloopError, match="plateau"):
        TrainConfig(plateau=-1, cosine=False)
