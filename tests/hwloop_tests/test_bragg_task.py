from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hwloop import HwloopError
from hwloop.tasks import Task, get_task
from hwloop.tasks.bragg import RenderConfig, build_dataset
from hwloop.tasks.bragg import _physics as phys
from hwloop.tasks.bragg._dataset import select_peaks


def test_selection_matches_braggnn(peaks_file: Path) -> None:
    keep, rows, cols = select_peaks(peaks_file, None, 0)
    assert len(keep) == 69_347
    assert rows.min() > 100 and cols.max() < 2048 - 100


def test_render_fit_round_trip(peaks_file: Path) -> None:
    """Rendering then fitting the same model recovers the real centre (median < 0.05 px)."""
    _, rows, cols = select_peaks(peaks_file, 300, 3)
    cfg = RenderConfig()
    errors, zero_fraction = [], []
    for i, (row, col) in enumerate(zip(rows, cols, strict=True)):
        rng = np.random.default_rng([3, i])
        params = phys.sample_params(rng, row, col, cfg)
        r0, c0, grid_r, grid_c = phys.patch_grid(row, col)
        assert (r0, c0) == (int(row) - 5, int(col) - 5)
        image = phys.render(rng, params, grid_r, grid_c, cfg)
        assert image.shape == (11, 11)
        # the brightest pixel sits next to the real centre
        peak = np.unravel_index(np.argmax(image), image.shape)
        assert abs(peak[0] + r0 - row) <= 2 and abs(peak[1] + c0 - col) <= 2
        fit_row, fit_col, _ = phys.fit(image, grid_r, grid_c, cfg)
        errors.append(np.hypot(fit_row - row, fit_col - col))
        zero_fraction.append(np.mean(image == 0))
    assert np.median(errors) < 0.05
    assert np.quantile(errors, 0.95) < 0.3
    assert np.median(zero_fraction) > 0.5  # most pixels are zero, as in the real patches


def test_polar_cartesian_round_trip() -> None:
    r, eta = phys.polar(np.float64(700.25), np.float64(333.5))
    assert phys.to_cartesian(float(r), float(eta)) == pytest.approx((700.25, 333.5))


@pytest.mark.slow
def test_dataset_deterministic_cached_and_split(tmp_path: Path, peaks_file: Path) -> None:
    a = build_dataset(peaks_file, limit=120, seed=5, n_jobs=1, cache_dir=tmp_path, progress=False)
    files = list((tmp_path / "bragg").glob("*.npz"))
    assert len(files) == 1
    b = build_dataset(
        peaks_file, limit=120, seed=5, n_jobs=2, cache_dir=tmp_path / "other", progress=False
    )
    assert a.key == b.key
    np.testing.assert_array_equal(a.patches, b.patches)  # parallelism does not change the data
    np.testing.assert_array_equal(a.labels, b.labels)
    c = build_dataset(peaks_file, limit=120, seed=5, cache_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(a.labels, c.labels)  # from the cache
    assert a.patches.shape == (120, 1, 11, 11) and a.patches.dtype == np.float32
    assert a.patches.min() == 0.0 and a.patches.max() == 1.0
    assert np.bincount(a.split).tolist() == [96, 12, 12]
    assert ((a.labels > 4) & (a.labels < 7)).all()  # centre inside the BraggNN crop
    assert np.median(a.fit_error) < 0.05
    d = build_dataset(peaks_file, limit=120, seed=6, cache_dir=tmp_path, progress=False)
    assert d.key != a.key


def test_corrupt_cache_is_rebuilt(tmp_path: Path, peaks_file: Path) -> None:
    a = build_dataset(peaks_file, limit=30, seed=1, cache_dir=tmp_path, progress=False)
    (cached,) = (tmp_path / "bragg").glob("*.npz")
    cached.write_bytes(b"garbage")
    b = build_dataset(peaks_file, limit=30, seed=1, cache_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(a.labels, b.labels)


def test_bad_inputs(tmp_path: Path, peaks_file: Path) -> None:
    with pytest.raises(HwloopError, match="not found"):
        build_dataset(tmp_path / "missing.h5", limit=20, cache_dir=tmp_path)
    bogus = tmp_path / "bogus.h5"
    bogus.write_text("not hdf5")
    with pytest.raises(HwloopError, match="cannot read as HDF5"):
        build_dataset(bogus, limit=20, cache_dir=tmp_path)
    with pytest.raises(HwloopError, match="at least 10"):
        build_dataset(peaks_file, limit=3, cache_dir=tmp_path)


# ---- the Task contract, run for every task ---------------------------------------------------
TASKS = ["bragg"]


@pytest.mark.parametrize("name", TASKS)
def test_task_contract(name: str) -> None:
    import torch

    task = get_task(name)
    assert isinstance(task, Task)
    data = task.load(limit=60, seed=0)
    again = task.load(limit=60, seed=0)
    for split, other in zip(
        (data.train, data.val, data.test), (again.train, again.val, again.test), strict=True
    ):
        assert split.x.shape[1:] == task.input_shape
        assert split.y.shape[1:] == (task.output_size,)
        assert split.x.dtype == np.float32 and split.y.dtype == np.float32
        np.testing.assert_array_equal(split.y, other.y)
    assert len(data.train) + len(data.val) + len(data.test) == 60
    y = torch.from_numpy(data.val.y)
    assert task.metric(y, y) == 0.0
    assert task.metric(y + 0.1, y) > 0.0
    pred = torch.zeros_like(y, requires_grad=True)
    task.loss(pred, y).backward()
    assert pred.grad is not None


def test_bragg_metric_is_in_pixels() -> None:
    import torch

    task = get_task("bragg")
    target = torch.tensor([[5.0, 5.0]]) / 11
    pred = torch.tensor([[8.0, 9.0]]) / 11
    assert task.metric(pred, target) == pytest.approx(5.0, rel=1e-6)


def test_unknown_task() -> None:
    with pytest.raises(HwloopError, match="unknown task"):
        get_task("mnist")
