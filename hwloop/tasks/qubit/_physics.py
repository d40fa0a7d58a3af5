"""Dispersive readout of a transmon, simulated: the I/Q traces a QICK-style readout chain records.

A readout resonator of linewidth κ is driven on resonance with the bare cavity; the qubit pulls
it by ±χ (ground: -χ, excited: +χ). Its field α in the drive's frame obeys

    dα/dt = -(κ/2 + i Δ) α + ε,        Δ = -χ (ground) or +χ (excited),

so from α(0) = 0 it rings up, with time constant 2/κ, to the state's pointer state
α_ss = ε / (κ/2 + i Δ). With 2χ = κ the two pointer states are 90° apart, as far apart as a
given photon number allows. An excited qubit relaxes at an exponentially distributed time
(mean T1); from then on the field follows the ground state's equation from wherever it was.
State preparation fails with probability ``prep_error`` (a thermal excitation of |0>, a missed
π pulse for |1>): the label is the state asked for, the physics the state obtained. The
recorded signal is α sampled every ``dt_ns``, scaled so that the pointer states are ``snr``
noise standard deviations apart, plus white Gaussian amplifier noise of unit variance on I and
on Q, interleaved as I0, Q0, I1, Q1, ...

The defaults resemble a QICK setup (2 µs readout, 4 ns samples) and give a matched filter an
assignment fidelity near 0.95 (``scripts/bench_qubit.py`` measures it).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hwloop import HwloopError


@dataclass(frozen=True)
class ReadoutConfig:
    """Parameters of the simulated readout (frequencies as f/2π in MHz, times in ns / µs)."""

    duration_ns: float = 2000.0  # readout window
    dt_ns: float = 4.0  # sample period after the readout chain's decimation
    kappa_mhz: float = 1.5  # resonator linewidth κ/2π
    chi_mhz: float = 0.75  # dispersive shift χ/2π (2χ = κ: pointer states 90° apart)
    t1_us: float = 15.0  # excited-state lifetime
    snr: float = 0.4  # pointer-state separation / noise sd of one sample of one quadrature
    prep_error: float = 0.01  # probability that state preparation yields the other state
    phase_deg: float = 30.0  # rotation of the I/Q plane by the cables and mixers

    def __post_init__(self) -> None:
        checks = {
            "duration_ns": self.duration_ns > 0,
            "dt_ns": 0 < self.dt_ns <= self.duration_ns,
            "kappa_mhz": self.kappa_mhz > 0,
            "chi_mhz": self.chi_mhz > 0,
            "t1_us": self.t1_us > 0,
            "snr": self.snr > 0,
            "prep_error": 0 <= self.prep_error < 0.5,
        }
        bad = [k for k, v in asdict(self).items() if not math.isfinite(v)]
        bad += [k for k, ok in checks.items() if not ok and k not in bad]
        if bad:
            raise HwloopError(f"qubit readout: {bad[0]} = {getattr(self, bad[0])} is out of range")
        if self.samples > 100_000:
            raise HwloopError(f"qubit readout: {self.samples} samples per trace; at most 100,000")

    @property
    def samples(self) -> int:
        return int(round(self.duration_ns / self.dt_ns))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _pointer(cfg: ReadoutConfig, delta: float) -> complex:
    kappa = 2 * math.pi * cfg.kappa_mhz * 1e-3  # per ns
    return 1.0 / complex(kappa / 2, delta)  # drive ε = 1


def mean_traces(cfg: ReadoutConfig) -> tuple[NDArray[np.complex128], NDArray[np.complex128]]:
    """The noiseless field of |0> and of a |1> that never decays (before scaling)."""
    t = (np.arange(cfg.samples) + 1) * cfg.dt_ns
    out = []
    for sign in (-1.0, 1.0):
        delta = sign * 2 * math.pi * cfg.chi_mhz * 1e-3
        rate = complex(math.pi * cfg.kappa_mhz * 1e-3, delta)
        out.append(_pointer(cfg, delta) * (1 - np.exp(-rate * t)))
    return out[0], out[1]


def simulate(
    cfg: ReadoutConfig, n: int, seed: int = 0
) -> tuple[NDArray[np.float32], NDArray[np.int64], dict[str, NDArray[Any]]]:
    """``n`` traces, half asked for |0> and half |1> (shuffled): inputs (n, 2 x samples) with I and
    Q interleaved, labels (the state asked for), and per trace the state obtained and its decay
    time in ns (inf: none within the window)."""
    if n < 2:
        raise HwloopError(f"qubit readout: need at least 2 traces, got {n}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % 2).astype(np.int64)
    state = np.where(rng.random(n) < cfg.prep_error, 1 - labels, labels)
    decay = np.where(state == 1, rng.exponential(cfg.t1_us * 1e3, n), np.inf)
    m = cfg.samples
    t = (np.arange(m) + 1) * cfg.dt_ns  # the sample at the end of each period
    kappa = 2 * math.pi * cfg.kappa_mhz * 1e-3
    chi = 2 * math.pi * cfg.chi_mhz * 1e-3
    a0, a1 = _pointer(cfg, -chi), _pointer(cfg, chi)
    r0, r1 = complex(kappa / 2, -chi), complex(kappa / 2, chi)
    excited = (a1 * (1 - np.exp(-r1 * t)))[None, :]  # before any decay
    ground = (a0 * (1 - np.exp(-r0 * t)))[None, :]
    field = np.where(state[:, None] == 1, excited, ground)
    decays = np.isfinite(decay) & (decay < t[-1])
    if decays.any():
        tau = decay[decays][:, None]
        at_tau = a1 * (1 - np.exp(-r1 * tau))  # the field when the qubit relaxes
        after = a0 + (at_tau - a0) * np.exp(-r0 * np.clip(t[None, :] - tau, 0, None))
        field[decays] = np.where(t[None, :] >= tau, after, excited)
    scale = cfg.snr / abs(a1 - a0) * np.exp(1j * math.radians(cfg.phase_deg))
    signal = field * scale
    x = np.empty((n, 2 * m), np.float32)
    x[:, 0::2] = signal.real + rng.standard_normal((n, m))
    x[:, 1::2] = signal.imag + rng.standard_normal((n, m))
    return x, labels, {"state": state.astype(np.int8), "decay_ns": decay.astype(np.float32)}
