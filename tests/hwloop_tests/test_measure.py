"""hwloop.measure: measured latency (torch eager, ONNX Runtime INT8, CUDA) and hardware energy.

This machine has no RAPL and no GPU: the refusal is tested for real, RAPL's parsing on a fake
powercap tree (the real one can't be read here), the NVML and CUDA paths where a GPU is present.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from hwloop import HwloopError
from hwloop.archs import build_model, builtin_archs
from hwloop.measure import (
    BACKENDS,
    EnergyCounter,
    LatencyMeasurement,
    NvmlCounter,
    RaplCounter,
    available_backends,
    calibration_batches,
    energy_counter,
    energy_unavailable_reason,
    fixed_batch,
    measure_latency,
)

CUDA = torch.cuda.is_available()


def _rapl_here() -> bool:
    try:
        RaplCounter()
    except HwloopError:
        return False
    return True


def _patches(n: int, seed: int = 0) -> np.ndarray:
    """Bragg-like 11x11 patches: a Gaussian peak at a random sub-pixel position, plus noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:11, 0:11]
    centre = rng.uniform(3.5, 6.5, size=(n, 2))
    width = rng.uniform(0.8, 1.6, size=(n, 1, 1))
    img = np.exp(
        -((yy - centre[:, 0, None, None]) ** 2 + (xx - centre[:, 1, None, None]) ** 2)
        / (2 * width**2)
    )
    img = img + rng.normal(0, 0.02, size=img.shape)
    return (img / img.max(axis=(1, 2), keepdims=True)).astype(np.float32)[:, None]


@pytest.fixture(scope="module")
def braggnn() -> nn.Module:
    torch.manual_seed(0)
    return build_model(builtin_archs()["braggnn"])


def _check_spread(m: LatencyMeasurement, backend: str, repeats: int) -> None:
    assert m.backend == backend
    assert m.batch == 32
    assert m.repeats == repeats
    assert m.threads == 1
    assert m.device
    for v in (m.median_ms, m.p10_ms, m.p90_ms, m.min_ms, m.max_ms, m.mean_ms):
        assert math.isfinite(v) and v > 0
    assert m.min_ms <= m.p10_ms <= m.median_ms <= m.p90_ms <= m.max_ms
    assert m.std_ms >= 0 and m.spread_ms == pytest.approx(m.p90_ms - m.p10_ms)
    assert m.per_sample_ms == pytest.approx(m.median_ms / 32)
    assert m.energy_mj is None and m.energy_spread_mj is None and m.counter is None
    assert m.load_avg is not None and m.load_avg >= 0
    doc = json.loads(json.dumps(m.to_json()))
    assert doc["median_ms"] == m.median_ms and doc["backend"] == backend


def test_torch_and_int8_latency(braggnn: nn.Module) -> None:
    x = _patches(200, seed=1)
    calib = _patches(96, seed=2)
    with torch.inference_mode():
        ref = braggnn.eval()(torch.from_numpy(x[:32])).numpy()
    scale = float(np.abs(ref).max())
    training = braggnn.train()
    # one thread: on 2 busy cores a second OpenMP thread makes runs 100x slower at random
    eager = measure_latency(braggnn, x, "torch", warmup=3, repeats=20, threads=1)
    assert training.training, "the caller's model is left as it was"
    _check_spread(eager, "torch", 20)
    assert eager.max_abs_diff == 0.0
    fp32 = measure_latency(braggnn, x, "ort", warmup=3, repeats=20, threads=1)
    _check_spread(fp32, "ort", 20)
    assert fp32.max_abs_diff < 1e-4 * max(scale, 1.0)
    int8 = measure_latency(braggnn, x, "ort-int8", warmup=3, repeats=25, threads=1, calib=calib)
    _check_spread(int8, "ort-int8", 25)
    assert 0 < int8.max_abs_diff < 0.1 * scale, (int8.max_abs_diff, scale)


def test_threads_are_set_recorded_and_restored() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(121, 8), nn.ReLU(), nn.Linear(8, 2))
    before = torch.get_num_threads()
    m = measure_latency(model, torch.rand(5, 1, 11, 11), threads=1, warmup=1, repeats=5)
    assert m.threads == 1 and m.repeats == 5
    assert torch.get_num_threads() == before


def test_fixed_batch_and_calibration_batches() -> None:
    x = np.arange(5 * 3, dtype=np.float64).reshape(5, 3)
    b = fixed_batch(x, 32)
    assert b.shape == (32, 3) and b.dtype == np.float32
    assert np.array_equal(b[5], b[0]) and np.array_equal(b[:5], x)
    assert np.array_equal(fixed_batch(torch.from_numpy(x), 2), x[:2])
    batches = calibration_batches(np.zeros((70, 1, 11, 11)), 32)
    assert [a.shape[0] for a in batches] == [32, 32, 32]  # 70 samples, the last batch topped up
    with pytest.raises(HwloopError, match="batch"):
        fixed_batch(np.zeros((0, 3)), 32)


def test_bad_backend_and_cuda_refused_without_gpu() -> None:
    model = nn.Linear(4, 2)
    with pytest.raises(HwloopError, match="unknown backend 'tensorrt'"):
        measure_latency(model, np.zeros((4, 4)), backend="tensorrt")
    assert set(available_backends()) >= {"torch", "ort", "ort-int8"}
    assert set(available_backends()) <= set(BACKENDS)
    if not CUDA:
        with pytest.raises(HwloopError, match="needs an NVIDIA GPU"):
            measure_latency(model, np.zeros((4, 4)), backend="torch-cuda")


class _Exploding(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise AssertionError("the model must not run when energy is refused")


@pytest.mark.skipif(_rapl_here(), reason="this machine has a readable RAPL counter")
def test_energy_refused_without_rapl() -> None:
    reason = energy_unavailable_reason("torch")
    assert reason is not None and "\n" not in reason
    assert "/sys/class/powercap" in reason and "does not estimate" in reason
    assert energy_unavailable_reason("ort-int8") == reason.replace("'torch'", "'ort-int8'")
    with pytest.raises(HwloopError) as err:
        measure_latency(_Exploding(), np.zeros((4, 3)), backend="torch", energy=True)
    assert str(err.value) == reason
    with pytest.raises(HwloopError, match="no RAPL package domain"):
        energy_counter("torch")
    if not CUDA:
        cuda_reason = energy_unavailable_reason("torch-cuda")
        assert cuda_reason is not None and "NVML" in cuda_reason and "\n" not in cuda_reason


def _zone(path: Path, name: str, energy_uj: int, max_uj: int = 262_143_328_850) -> Path:
    path.mkdir(parents=True)
    (path / "name").write_text(f"{name}\n")
    (path / "energy_uj").write_text(f"{energy_uj}\n")
    (path / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return path


@pytest.fixture
def fake_powercap(tmp_path: Path) -> Path:
    """A powercap tree as a two-socket Intel server shows it (the real one can't be read here):
    two packages with core/dram subzones, an MMIO view of package 0 and a platform (psys) zone,
    which must not be counted again."""
    root = tmp_path / "powercap"
    _zone(root / "intel-rapl:0", "package-0", 1_000_000, max_uj=10_000_000)
    _zone(root / "intel-rapl:0" / "intel-rapl:0:0", "core", 900_000)
    _zone(root / "intel-rapl:0" / "intel-rapl:0:1", "dram", 50_000)
    _zone(root / "intel-rapl:0:0", "core", 900_000)  # the kernel also links subzones flat
    _zone(root / "intel-rapl:1", "package-1", 2_000_000)
    _zone(root / "intel-rapl:2", "psys", 9_000_000)
    _zone(root / "intel-rapl-mmio:0", "package-0", 1_000_000)
    return root


def _set(root: Path, zone: str, energy_uj: int) -> None:
    (root / zone / "energy_uj").write_text(f"{energy_uj}\n")


def test_rapl_sums_packages_only(fake_powercap: Path) -> None:
    counter = RaplCounter(fake_powercap)
    assert counter.name == "rapl:intel-rapl:0+intel-rapl:1"
    assert counter.read_mj() == pytest.approx(3_000.0)  # (1e6 + 2e6) uJ
    _set(fake_powercap, "intel-rapl:0", 1_500_000)
    _set(fake_powercap, "intel-rapl:0:0", 5_000_000)  # subzones change nothing
    _set(fake_powercap, "intel-rapl:2", 99_000_000)
    assert counter.read_mj() == pytest.approx(3_500.0)
    assert energy_unavailable_reason("torch", powercap=fake_powercap) is None
    assert isinstance(energy_counter("ort-int8", powercap=fake_powercap), RaplCounter)


def test_rapl_wraparound(fake_powercap: Path) -> None:
    counter = RaplCounter(fake_powercap)
    start = counter.read_mj()
    _set(fake_powercap, "intel-rapl:0", 9_900_000)  # +8.9 J, just below the 10 J range
    assert counter.read_mj() - start == pytest.approx(8_900.0)
    _set(fake_powercap, "intel-rapl:0", 400_000)  # wrapped: +0.1 J to the top, +0.4 J after
    assert counter.read_mj() - start == pytest.approx(9_400.0)
    assert counter.read_mj() - start == pytest.approx(9_400.0)  # monotonic, nothing re-added


def test_rapl_unreadable_or_missing(
    fake_powercap: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(HwloopError, match="no RAPL package domain under .*this machine"):
        RaplCounter(tmp_path / "nowhere")
    target = fake_powercap / "intel-rapl:1" / "energy_uj"
    if os.geteuid() == 0:  # root reads mode-0400 files anyway: fail that one read as a user's
        real = Path.read_text

        def read_text(self: Path, *args: object, **kwargs: object) -> str:
            if self == target:
                raise PermissionError(13, "Permission denied", str(self))
            return real(self, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(Path, "read_text", read_text)
    else:
        target.chmod(0o200)
    with pytest.raises(HwloopError, match="not readable.*root-only") as err:
        RaplCounter(fake_powercap)
    assert "\n" not in str(err.value) and str(target) in str(err.value)
    reason = energy_unavailable_reason("torch", powercap=fake_powercap)
    assert reason is not None and "root-only" in reason


class _ClockCounter(EnergyCounter):
    """A 10 W load read from the clock: checks the block arithmetic, not a measurement."""

    name = "clock-10W"
    resolution_s = 0.001

    def read_mj(self) -> float:
        return time.perf_counter() * 10_000.0  # 10 W = 10 mJ per ms


def test_energy_blocks_with_a_counter() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(121, 64), nn.ReLU(), nn.Linear(64, 2))
    m = measure_latency(
        model, torch.rand(8, 1, 11, 11), warmup=2, repeats=10, counter=_ClockCounter()
    )
    assert m.threads == torch.get_num_threads()  # the default: torch's current setting
    assert m.counter == "clock-10W" and len(m.energy_blocks_mj) == 5
    assert len(m.energy_runs) == 5 and min(m.energy_runs) >= m.repeats
    assert m.energy_mj is not None and m.energy_spread_mj is not None and m.power_w is not None
    assert m.power_w == pytest.approx(10.0, rel=0.01)
    assert m.energy_mj == pytest.approx(np.median(m.energy_blocks_mj))
    assert min(m.energy_blocks_mj) <= m.energy_mj <= max(m.energy_blocks_mj)
    assert m.energy_spread_mj >= 0
    # every block ran at least 0.2 s: at 10 W, 2 J or more a block
    for per_run, runs in zip(m.energy_blocks_mj, m.energy_runs, strict=True):
        assert per_run * runs >= 2_000.0
    doc = json.loads(json.dumps(m.to_json()))
    assert doc["energy_blocks_mj"] == list(m.energy_blocks_mj)
    assert doc["energy_runs"] == list(m.energy_runs)


@pytest.mark.skipif(CUDA, reason="an NVIDIA GPU is present: the real NVML test runs")
def test_nvml_refused_without_gpu() -> None:
    with pytest.raises(HwloopError, match="nvidia-ml-py|no NVIDIA GPU") as err:
        NvmlCounter()
    assert "\n" not in str(err.value)


@pytest.mark.skipif(not CUDA, reason="no NVIDIA GPU here")
def test_nvml_and_cuda_latency(braggnn: nn.Module) -> None:
    pytest.importorskip("pynvml", reason="NVML needs nvidia-ml-py (pip install nvidia-ml-py)")
    counter = energy_counter("torch-cuda")
    assert counter.name.startswith("nvml:")
    first = counter.read_mj()
    time.sleep(0.3)
    assert counter.read_mj() >= first
    x = _patches(64)
    m = measure_latency(braggnn, x, "torch-cuda", warmup=10, repeats=30, energy=True)
    assert m.backend == "torch-cuda" and m.batch == 32 and m.device
    assert 0 < m.min_ms <= m.median_ms <= m.max_ms
    assert m.max_abs_diff < 1e-2
    assert m.counter is not None and m.counter.startswith("nvml:")
    assert m.energy_mj is not None and m.energy_mj > 0 and m.energy_spread_mj is not None
    assert m.power_w is not None and m.power_w > 1
    if "ort-int8-cuda" in available_backends():
        q = measure_latency(braggnn, x, "ort-int8-cuda", warmup=5, repeats=20)
        assert q.median_ms > 0 and q.max_abs_diff < 1.0
