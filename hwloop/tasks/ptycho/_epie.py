"""ePIE (Maiden & Rodenburg 2009): the iterative baseline a network is compared against.

One scan (a whole object's raster) is reconstructed from its noisy far-field counts and its scan
positions, starting from a flat object (``T = 1``) and the known probe. For every position, in a
random order each iteration::

    psi   = P * O[window]
    Psi'  = sqrt(I) * Psi / |Psi|,  Psi = FFT(psi)        (modulus constraint)
    dpsi  = IFFT(Psi') - psi
    O[window] += alpha * conj(P) / max|P|^2 * dpsi
    P         += beta * conj(O[window]) / max|O[window]|^2 * dpsi   (from ``probe_start`` on)

The FFT is orthonormal and the probe carries ``sum |P|^2 = photons`` as in the simulation, so
the counts are used as they are (the incident-flux model; with ``flux="detected"`` the scale of
every pattern differs and the amplitude is biased). Defaults: 300 iterations, ``alpha = 1``,
``beta = 0`` (the probe is known exactly and kept fixed: with ``beta = 1`` from iteration 10 on
the errors came out 10-30 % higher on the same scans). With ``beta > 0`` the probe is rescaled
to the known flux after every update, which removes the object-probe scale ambiguity (without
it the amplitude drifted by 0.02-0.04).

Errors are measured over the scanned region (where the summed probe intensity of all positions
reaches ``region_threshold`` of its maximum). A far-field intensity does not fix the object's
global phase, so the phase error is taken after subtracting the mean phase offset between the
reconstruction and the truth (the angle of ``sum exp(i (phi_rec - phi_true))`` over the region);
this is the only place hwloop removes an offset: the network task's phase error does not (its
labels fix the phase, and a network must learn their convention). Amplitudes are compared as
they are.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hwloop.tasks.ptycho._physics import Scan, SimConfig, make_probe

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EpieResult:
    """A reconstruction and its errors against the true object.

    ``obj``: (L, L) complex reconstructed transmission; ``probe``: the final probe;
    ``seconds``: wall time of the iterations; ``iterations``: full passes over all positions;
    ``amp_mae`` / ``phase_mae``: mean absolute error over ``region`` (phase in radians, after
    removing the global phase offset; NaN without a true object); ``start_amp_mae`` /
    ``start_phase_mae``: the same for the flat start; ``fourier_error``: per iteration,
    ``sum (|Psi| - sqrt(I))^2 / sum I`` over all positions.
    """

    obj: NDArray[np.complex128]
    probe: NDArray[np.complex128]
    seconds: float
    iterations: int
    amp_mae: float
    phase_mae: float
    start_amp_mae: float
    start_phase_mae: float
    region: NDArray[np.bool_]
    fourier_error: tuple[float, ...]

    @property
    def mae(self) -> float:
        """Mean of amplitude and phase MAE, as the task's metric."""
        return 0.5 * (self.amp_mae + self.phase_mae)


def scanned_region(
    probe: NDArray[np.complexfloating],
    positions: NDArray[np.integer],
    shape: tuple[int, int],
    threshold: float = 0.1,
) -> NDArray[np.bool_]:
    """Pixels whose summed probe intensity over all positions is >= ``threshold`` of its max."""
    s = probe.shape[-1]
    cover = np.zeros(shape)
    p2 = np.abs(probe) ** 2
    for r, c in positions:
        cover[r : r + s, c : c + s] += p2
    return cover >= threshold * cover.max()


def object_errors(
    obj: NDArray[np.complexfloating],
    amplitude: NDArray[np.floating],
    phase: NDArray[np.floating],
    region: NDArray[np.bool_],
) -> tuple[float, float]:
    """(amplitude MAE, phase MAE in radians) over ``region``; the phase after removing the mean
    phase offset (global phase ambiguity)."""
    rec = obj[region]
    amp_mae = float(np.mean(np.abs(np.abs(rec) - amplitude[region])))
    diff = np.angle(rec * np.exp(-1j * phase[region].astype(np.float64)))
    offset = np.angle(np.sum(np.exp(1j * diff)))
    phase_mae = float(np.mean(np.abs(np.angle(np.exp(1j * (diff - offset))))))
    return amp_mae, phase_mae


def epie(
    counts: NDArray[np.integer] | NDArray[np.floating],
    positions: NDArray[np.integer],
    probe: NDArray[np.complexfloating],
    object_shape: tuple[int, int],
    *,
    iterations: int = 300,
    alpha: float = 1.0,
    beta: float = 0.0,
    probe_start: int = 10,
    seed: int = 0,
    truth: tuple[NDArray[np.floating], NDArray[np.floating]] | None = None,
    region_threshold: float = 0.1,
) -> EpieResult:
    """Reconstruct one scan with ePIE from ``counts`` (P, S, S; zero frequency centred) at
    ``positions`` (P, 2 top-left corners), starting from a flat object and ``probe``.

    ``beta = 0`` keeps the probe fixed; ``truth`` = (amplitude, phase) gives the errors.
    """
    s = probe.shape[-1]
    n = len(positions)
    sqrt_i = np.sqrt(np.fft.ifftshift(np.asarray(counts, np.float64), axes=(-2, -1)))
    total = float(np.sum(sqrt_i**2))
    obj = np.ones(object_shape, np.complex128)
    p = np.array(probe, np.complex128)
    flux = float(np.sum(np.abs(p) ** 2))
    rng = np.random.default_rng(seed)
    eps = 1e-12
    history: list[float] = []
    t0 = time.perf_counter()
    for it in range(iterations):
        update_probe = beta > 0 and it >= probe_start
        p_scale = alpha / float(np.max(np.abs(p) ** 2))
        err = 0.0
        for j in rng.permutation(n):
            r, c = int(positions[j, 0]), int(positions[j, 1])
            o = obj[r : r + s, c : c + s]  # a view: updated in place
            psi = p * o
            spec = np.fft.fft2(psi, norm="ortho")
            mag = np.abs(spec)
            err += float(np.sum((mag - sqrt_i[j]) ** 2))
            spec *= sqrt_i[j] / np.maximum(mag, eps)
            dpsi = np.fft.ifft2(spec, norm="ortho") - psi
            if update_probe:
                o_old = o.copy()
                o += p_scale * np.conj(p) * dpsi
                p += beta / float(np.max(np.abs(o_old) ** 2)) * np.conj(o_old) * dpsi
                p *= np.sqrt(flux / float(np.sum(np.abs(p) ** 2)))  # the incident flux is known
                p_scale = alpha / float(np.max(np.abs(p) ** 2))
            else:
                o += p_scale * np.conj(p) * dpsi
        history.append(err / total)
    seconds = time.perf_counter() - t0
    region = scanned_region(probe, positions, object_shape, region_threshold)
    if truth is None:
        nan = float("nan")
        return EpieResult(obj, p, seconds, iterations, nan, nan, nan, nan, region, tuple(history))
    amp, phase = truth
    amp_mae, phase_mae = object_errors(obj, amp, phase, region)
    start = object_errors(np.ones(object_shape, np.complex128), amp, phase, region)
    log.info(
        "ePIE: %d iterations in %.2f s; amplitude MAE %.4f (flat start %.4f), phase MAE %.4f rad "
        "(flat start %.4f)",
        iterations,
        seconds,
        amp_mae,
        start[0],
        phase_mae,
        start[1],
    )
    return EpieResult(
        obj, p, seconds, iterations, amp_mae, phase_mae, start[0], start[1], region, tuple(history)
    )


def epie_scan(
    scan: Scan,
    cfg: SimConfig,
    *,
    iterations: int = 300,
    alpha: float = 1.0,
    beta: float = 0.0,
    probe_start: int = 10,
    seed: int = 0,
) -> EpieResult:
    """ePIE on one simulated ``scan`` (from ``simulate_scan`` or ``PtychoDataset.scan``) with the
    simulation's probe, errors against the scan's true object."""
    return epie(
        scan.counts,
        scan.positions,
        make_probe(cfg),
        (scan.amplitude.shape[0], scan.amplitude.shape[1]),
        iterations=iterations,
        alpha=alpha,
        beta=beta,
        probe_start=probe_start,
        seed=seed,
        truth=(scan.amplitude, scan.phase),
    )
