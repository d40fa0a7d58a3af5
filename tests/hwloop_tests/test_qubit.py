"""Simulated qubit readout: the physics the docstring promises, the reference classifiers, the
data command, and the example experiment on its data."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from hwloop import HwloopError
from hwloop.cli.main import main
from hwloop.tasks import get_task
from hwloop.tasks.file import random_split
from hwloop.tasks.qubit import (
    Boxcar,
    GaussianMixture,
    MatchedFilter,
    ReadoutConfig,
    fidelity,
    mean_traces,
    reference_fidelities,
    simulate,
)

REPO = Path(__file__).resolve().parents[2]


def test_fidelity_is_one_minus_the_mean_of_the_two_errors() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1])
    pred = np.array([0, 0, 0, 1, 1, 0])  # P(1|0) = 1/4, P(0|1) = 1/2
    assert fidelity(pred, labels) == pytest.approx(1 - (0.25 + 0.5) / 2)


def test_traces_follow_the_readout_model() -> None:
    cfg = ReadoutConfig(prep_error=0.05)
    x, y, meta = simulate(cfg, 4000, seed=3)
    assert x.shape == (4000, 2 * cfg.samples) and x.dtype == np.float32
    assert y.sum() == 2000  # half asked for |1>
    flipped = float((meta["state"] != y).mean())
    assert 0.035 < flipped < 0.065  # state preparation fails at 5 %
    assert np.isinf(meta["decay_ns"][meta["state"] == 0]).all()
    decays = meta["decay_ns"][meta["state"] == 1]
    assert np.mean(decays) == pytest.approx(cfg.t1_us * 1e3, rel=0.1)  # exponential, mean T1
    # ground traces average to the ground pointer's ring-up; noise is unit white noise
    g0, e0 = mean_traces(cfg)
    scale = cfg.snr / abs(g0[-1] - e0[-1]) * np.exp(1j * math.radians(cfg.phase_deg))
    ground = x[meta["state"] == 0]
    mean = ground[:, 0::2].mean(axis=0) + 1j * ground[:, 1::2].mean(axis=0)
    assert np.abs(mean - g0 * scale).max() < 5 / math.sqrt(len(ground))
    resid = ground[:, 0::2] - (g0 * scale).real
    assert resid.std() == pytest.approx(1.0, rel=0.02)
    # it rings up with time constant 2 / kappa: the transient is down to 1/e after 2 / kappa
    tau = 2 / (2 * math.pi * cfg.kappa_mhz * 1e-3)
    k = int(round(tau / cfg.dt_ns)) - 1
    transient = abs(g0[k] - g0[-1]) / abs(g0[-1])
    assert transient == pytest.approx(math.exp(-(k + 1) * cfg.dt_ns / tau), abs=1e-3)
    assert transient == pytest.approx(math.exp(-1), abs=0.02)
    # 2 chi = kappa: the pointer states are 90 degrees apart
    assert abs(np.angle(e0[-1] / g0[-1], deg=True)) == pytest.approx(90, abs=0.5)


def test_references_reach_a_qicklike_fidelity_and_a_decay_costs_them() -> None:
    cfg = ReadoutConfig()
    x, y, meta = simulate(cfg, 8000, seed=0)
    s = random_split(len(x), (0.8, 0.1, 0.1), 0)
    fids = reference_fidelities(x[s == 0], y[s == 0], x[s == 1], y[s == 1])
    assert 0.90 <= fids["matched_filter"] <= 0.97, fids
    assert fids["boxcar"] > 0.9 and fids["gaussian_mixture"] > 0.9
    mf = MatchedFilter().fit(x[s == 0], y[s == 0])
    early = (meta["state"] == 1) & (meta["decay_ns"] < 200)
    assert early.any() and mf.predict(x[early]).mean() < 0.2  # an early decay reads as |0>
    no_noise = ReadoutConfig(snr=50.0, t1_us=1e6, prep_error=0.0)
    xc, yc, _ = simulate(no_noise, 400, seed=1)
    for cls in (Boxcar, MatchedFilter, GaussianMixture):
        assert fidelity(cls().fit(xc, yc).predict(xc), yc) == 1.0, cls.__name__


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(HwloopError, match="t1_us = -1"):
        ReadoutConfig(t1_us=-1)
    with pytest.raises(HwloopError, match="prep_error = 0.7"):
        ReadoutConfig(prep_error=0.7)


def test_data_command_and_the_example_experiment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "qubit.npz"
    assert main(["data", "qubit", "-o", str(out), "--n", "400", "--seed", "2"]) == 0
    printed = capsys.readouterr().out
    assert "matched filter" in printed and "fidelity" in printed
    with np.load(out) as f:
        assert {"x", "y", "state", "decay_ns", "config"} <= set(f.files)
        assert f["x"].shape == (400, 1000)
    assert main(["data", "qubit", "-o", str(out), "--snr", "0"]) == 2
    shutil.copy(REPO / "examples" / "qubit.toml", tmp_path)
    task = get_task(str(tmp_path / "qubit.toml"))
    assert task.input_shape == (50, 2) and task.output_size == 2  # 40 ns windows of I and Q


def test_zynq_targets_borrow_the_open_model_of_their_family_and_clock(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The XCZU49DR has no shipped model: the VU13P's answers (same fabric, same clock), while
    utilisation is against the XCZU49DR's own capacities (a quarter of the VU13P's LUTs)."""
    import json

    assert main(["predict", "nac-tiny", "--bits", "4", "--json"]) == 0
    vu13p = json.loads(capsys.readouterr().out)
    assert main(["predict", "nac-tiny", "--bits", "4", "--target", "xczu49dr", "--json"]) == 0
    zynq = json.loads(capsys.readouterr().out)
    assert zynq["model"] == vu13p["model"] and zynq["lut"] == vu13p["lut"]
    ratio = zynq["utilisation_pct"]["lut"] / vu13p["utilisation_pct"]["lut"]
    assert ratio == pytest.approx(1_728_000 / 425_280, rel=1e-6)


def test_infinite_parameters_are_refused() -> None:
    for kw in ({"duration_ns": float("inf")}, {"snr": float("inf")}):
        with pytest.raises(HwloopError, match="out of range"):
            ReadoutConfig(**kw)
