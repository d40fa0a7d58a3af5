from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from hwloop import HwloopError
from hwloop.tasks import Task, get_task
from hwloop.tasks.ptycho import (
    PtychoTask,
    SimConfig,
    build_dataset,
    epie_scan,
    exit_wave,
    far_field,
    log_scale,
    make_object,
    make_probe,
    poisson_counts,
    raster_positions,
    simulate_scan,
)

SMALL = SimConfig(size=32)


def test_forward_model_conserves_energy() -> None:
    """Parseval: sum |probe * window|^2 == sum of the far-field intensity (orthonormal FFT)."""
    rng = np.random.default_rng(0)
    probe = make_probe(SMALL)
    assert np.sum(np.abs(probe) ** 2) == pytest.approx(SMALL.photons, rel=1e-12)
    amp, phase, sources = make_object(rng, SMALL)
    assert sources[0] != sources[1] or sources[0].startswith("texture")
    obj = amp * np.exp(1j * phase)
    positions = raster_positions(rng, SMALL)
    psi = exit_wave(probe, obj, positions)
    assert psi.dtype == np.complex128 and psi.shape == (64, 32, 32)
    intensity = far_field(psi)
    assert intensity.dtype == np.float64
    np.testing.assert_allclose(
        intensity.sum(axis=(1, 2)), (np.abs(psi) ** 2).sum(axis=(1, 2)), rtol=1e-10
    )
    # absorption: the detected total is below the incident flux, above amp_min^2 of it
    totals = intensity.sum(axis=(1, 2))
    assert np.all(totals <= SMALL.photons * (1 + 1e-9))
    assert np.all(totals >= SMALL.photons * SMALL.amp_range[0] ** 2 * 0.99)
    # the zero frequency is centred: a flat object's pattern peaks at (S/2, S/2)
    flat = far_field(probe[None] * 0 + 1.0)[0]
    assert np.unravel_index(np.argmax(flat), flat.shape) == (16, 16)


def test_friedel_symmetry_for_real_object_and_probe() -> None:
    """A real exit wave has I(k) == I(-k); with fftshift, index i holds frequency i - S/2, so -k
    sits at (S - i) % S."""
    rng = np.random.default_rng(1)
    s = 32
    probe = np.abs(make_probe(SMALL))  # real probe
    obj = rng.uniform(0.5, 1.0, (s, s))  # real object
    intensity = far_field(probe[None] * obj[None])[0]
    idx = (s - np.arange(s)) % s
    np.testing.assert_allclose(intensity, intensity[np.ix_(idx, idx)], rtol=1e-10, atol=1e-9)
    # a complex object breaks it
    cplx = far_field(make_probe(SMALL)[None] * np.exp(1j * obj)[None])[0]
    assert not np.allclose(cplx, cplx[np.ix_(idx, idx)], rtol=1e-3)


def test_noise_and_log_scaling() -> None:
    rng = np.random.default_rng(2)
    lam = np.full((3, 8, 8), 5.0)
    counts = poisson_counts(rng, lam, photons=1000.0)
    assert counts.dtype == np.int32
    assert abs(counts.sum(axis=(1, 2)).mean() - 1000) < 100
    x = log_scale(np.array([0, 9, 10**6, 10**7]), 1e6)
    np.testing.assert_allclose(x, [0.0, 1 / math.log10(1 + 1e6), 1.0, 1.0], rtol=1e-6)
    with pytest.raises(HwloopError, match="even"):
        SimConfig(size=33)
    with pytest.raises(HwloopError, match="aperture"):
        SimConfig(size=16)


def test_same_seed_same_data() -> None:
    a, b = simulate_scan(3, 7, SMALL), simulate_scan(3, 7, SMALL)
    for f in ("amplitude", "phase", "positions", "counts"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    c = simulate_scan(3, 8, SMALL)
    assert not np.array_equal(a.counts, c.counts)
    assert not np.array_equal(a.amplitude, c.amplitude)
    lo, hi = SMALL.amp_range
    assert a.amplitude.min() >= lo - 1e-6 and a.amplitude.max() <= hi + 1e-6
    assert np.abs(a.phase).max() <= SMALL.phase_max + 1e-6
    assert not np.allclose(np.corrcoef(a.amplitude.ravel(), a.phase.ravel())[0, 1], 1.0)


def test_dataset_split_cache_and_determinism(tmp_path: Path) -> None:
    cfg = replace(SMALL, scan=4)  # 16 positions per object
    a = build_dataset(limit=200, seed=5, cfg=cfg, n_jobs=1, cache_dir=tmp_path, progress=False)
    assert len(a) == 200 and a.n_objects == 13  # the last object has 8 of its 16 patterns
    files = list((tmp_path / "ptycho").glob("*.npz"))
    assert len(files) == 1
    # whole objects apart: no object in two splits
    split = a.split
    for obj in range(a.n_objects):
        assert len(set(split[a.object_id == obj].tolist())) == 1
    assert np.bincount(a.object_split, minlength=3).tolist() == [11, 1, 1]
    # labels are the true object in each window
    amp, phase = a.labels(np.array([17]))
    r, c = a.positions[17]
    np.testing.assert_array_equal(amp[0], a.amplitude[a.object_id[17], r : r + 32, c : c + 32])
    np.testing.assert_array_equal(phase[0], a.phase[a.object_id[17], r : r + 32, c : c + 32])
    # the cache: the second build loads the file and equals the first
    b = build_dataset(limit=200, seed=5, cfg=cfg, cache_dir=tmp_path, progress=False)
    assert b.key == a.key
    for f in ("counts", "positions", "object_id", "amplitude", "phase", "object_split", "probe"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    # parallel build elsewhere: bitwise the same; another seed: different data and key
    c = build_dataset(
        limit=200, seed=5, cfg=cfg, n_jobs=2, cache_dir=tmp_path / "other", progress=False
    )
    np.testing.assert_array_equal(a.counts, c.counts)
    np.testing.assert_array_equal(a.amplitude, c.amplitude)
    d = build_dataset(limit=200, seed=6, cfg=cfg, n_jobs=1, cache_dir=tmp_path, progress=False)
    assert d.key != a.key and not np.array_equal(d.counts, a.counts)
    # an unreadable cache file is rebuilt
    files[0].write_bytes(b"not a zip")
    e = build_dataset(limit=200, seed=5, cfg=cfg, n_jobs=1, cache_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(a.counts, e.counts)


def test_bad_limit() -> None:
    with pytest.raises(HwloopError, match="at least 192 patterns"):
        build_dataset(limit=100, cfg=SMALL, progress=False)
    with pytest.raises(HwloopError, match="at least 48 patterns"):
        build_dataset(limit=47, cfg=replace(SMALL, scan=4), progress=False)


def test_task_load_metric_and_report(tmp_path: Path) -> None:
    assert PtychoTask().phase_reference == "probe"  # the default: what one pattern determines
    task = get_task(
        "ptycho", size=32, n_jobs=1, cache_dir=str(tmp_path), phase_reference="absolute"
    )
    assert isinstance(task, PtychoTask) and isinstance(task, Task)
    assert task.input_shape == (1, 32, 32) and task.output_size == 2 * 32 * 32
    data = task.load(limit=640, seed=1)
    assert len(data.train) + len(data.val) + len(data.test) == 640
    assert (len(data.train), len(data.val), len(data.test)) == (512, 64, 64)
    assert data.train.x.shape == (512, 1, 32, 32) and data.train.x.dtype == np.float32
    assert data.train.y.shape == (512, 2048) and data.train.y.dtype == np.float32
    assert 0.0 <= data.train.x.min() and data.train.x.max() <= 1.0 and data.train.x.max() > 0.5
    amp, phase = data.test.y[:, :1024], data.test.y[:, 1024:] * math.pi
    assert 0.6 - 1e-6 <= amp.min() and amp.max() <= 1.0 + 1e-6
    assert np.abs(phase).max() <= math.pi / 2 + 1e-5 and np.abs(phase).max() > 1.0
    again = task.load(limit=640, seed=1)  # from the cache, the same split
    np.testing.assert_array_equal(again.test.x, data.test.x)

    y = torch.from_numpy(data.test.y)
    assert task.metric(y, y) == 0.0
    assert float(task.loss(y, y)) == 0.0
    assert task.report(y, y) == {"mae": 0.0, "amp_mae": 0.0, "phase_mae": 0.0}
    pred = y.clone()
    pred[:, :1024] += 0.1  # amplitude off by 0.1
    pred[:, 1024:] -= 0.2 / math.pi  # phase off by 0.2 rad
    rep = task.report(pred, y)
    assert rep["amp_mae"] == pytest.approx(0.1, rel=1e-4)
    assert rep["phase_mae"] == pytest.approx(0.2, rel=1e-4)
    assert rep["mae"] == pytest.approx(0.15, rel=1e-4) == task.metric(pred, y)
    assert float(task.loss(pred, y)) == pytest.approx(0.3, rel=1e-4)  # PtychoNN's L1 sum
    errs = task.sample_errors(pred, y)
    assert errs.shape == (64,) and torch.allclose(errs, torch.full((64,), 0.15), rtol=1e-4)
    pred[0, 1024:] += 1.0 / math.pi  # one pattern's phase off by 1 more radian
    errs = task.sample_errors(pred, y)
    assert float(errs[0]) == pytest.approx(0.5 * (0.1 + 0.8), rel=1e-4)
    assert float(errs.mean()) == pytest.approx(task.metric(pred, y))
    # phase labels relative to the probe-weighted mean phase of each window
    rel = PtychoTask(size=32, n_jobs=1, cache_dir=str(tmp_path), phase_reference="probe")
    rel_test = rel.load(limit=640, seed=1).test
    np.testing.assert_array_equal(rel_test.y[:, :1024], data.test.y[:, :1024])
    w = (np.abs(make_probe(SMALL)) ** 2).ravel()
    offsets = (rel_test.y[:, 1024:] * math.pi) @ (w / w.sum())
    np.testing.assert_allclose(offsets, 0.0, atol=1e-5)
    with pytest.raises(HwloopError, match="phase_reference"):
        PtychoTask(phase_reference="mean")  # type: ignore[arg-type]
    grad = pred.clone().requires_grad_(True)
    task.loss(grad, y).backward()
    assert grad.grad is not None and torch.isfinite(grad.grad).all()


def test_epie_reconstructs_one_scan() -> None:
    """Flat start, known probe, 4 x 4 positions of a 32 px window at 1e7 photons."""
    cfg = SimConfig(size=32, scan=4, photons=1e7)
    scan = simulate_scan(0, 4, cfg)
    res = epie_scan(scan, cfg, iterations=400)  # about 1 s
    assert res.iterations == 400 and res.seconds < 20
    assert res.obj.shape == scan.amplitude.shape and res.region.any()
    assert res.amp_mae < 0.3 * res.start_amp_mae
    assert res.phase_mae < 0.3 * res.start_phase_mae
    assert res.fourier_error[-1] < 0.1 * res.fourier_error[0]
    # a global phase offset of the reconstruction changes nothing
    from hwloop.tasks.ptycho import object_errors

    shifted = object_errors(res.obj * np.exp(0.7j), scan.amplitude, scan.phase, res.region)
    assert shifted == pytest.approx((res.amp_mae, res.phase_mae), rel=1e-9)
    # probe updates (beta) run and stay at the known flux
    upd = epie_scan(scan, cfg, iterations=30, beta=1.0, probe_start=5)
    assert np.sum(np.abs(upd.probe) ** 2) == pytest.approx(cfg.photons, rel=1e-9)
    assert upd.amp_mae < upd.start_amp_mae


def test_cli_data_ptycho(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hwloop.cli.main import main

    args = ["data", "ptycho", "--size", "32", "--jobs", "1", "--cache-dir", str(tmp_path)]
    assert main([*args, "--limit", "192", "--photons", "1e5"]) == 0
    out = capsys.readouterr().out
    assert "192 patterns of 32x32 from 3 objects" in out
    assert "objects [1, 1, 1], patterns [64, 64, 64]" in out
    assert "1e+05 incident per pattern" in out
    assert main([*args, "--limit", "10"]) == 2
    assert "at least 192 patterns" in capsys.readouterr().err


def test_errors_count_the_object_under_the_beam() -> None:
    task = PtychoTask(size=32)
    mask = task.beam_mask()
    assert mask.shape == (32 * 32,) and 0.1 < float(mask.float().mean()) < 0.5
    assert bool(mask.view(32, 32)[16, 16]) and not bool(mask.view(32, 32)[0, 0])
    target = torch.zeros(2, 2 * 32 * 32)
    outside = target.clone()
    outside[:, : 32 * 32][:, ~mask] = 0.5  # wrong only where the beam does not reach
    assert task.metric(outside, target) == 0.0
    inside = target.clone()
    inside[:, : 32 * 32][:, mask] = 0.5
    assert task.report(inside, target)["amp_mae"] == pytest.approx(0.5)
    whole = PtychoTask(size=32, region="window")
    assert bool(whole.beam_mask().all())
    assert whole.metric(outside, target) > 0
