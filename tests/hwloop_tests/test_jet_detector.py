"""The jet generator's detector emulation (hwloop.tasks.jets._detector) on particles whose
fate is known: tracks stay single, neutrals merge into towers, the invisible vanish."""

from __future__ import annotations

import math

import numpy as np

from hwloop.tasks.jets._detector import (
    TOWER,
    TOWER_BOTH,
    TOWER_ECAL,
    TRACK,
    Particle,
    detector_candidates,
    ecal_sigma,
    hcal_sigma,
    track_resolution,
)


def _p(pt: float, eta: float, phi: float, pdg: int, charge: float, m: float = 0.0) -> Particle:
    px, py, pz = pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta)
    return Particle(px, py, pz, math.sqrt(px * px + py * py + pz * pz + m * m), pdg, charge)


def _pt(c: tuple[float, float, float, float, int]) -> float:
    return math.hypot(c[0], c[1])


def test_charged_particles_stay_single_tracks() -> None:
    rng = np.random.default_rng(0)
    pions = [_p(50.0, 0.01, 0.01 * i, 211, 1.0, 0.1396) for i in range(3)]  # one tower's area
    out = detector_candidates(pions, rng)
    assert [c[4] for c in out] == [TRACK] * 3
    assert all(abs(_pt(c) / 50.0 - 1) < 6 * track_resolution("hadron", 50.0, 0.0) for c in out)


def test_neutrals_of_one_tower_merge_and_invisibles_vanish() -> None:
    rng = np.random.default_rng(1)
    photons = [_p(40.0, 0.01, 0.01, 22, 0.0), _p(30.0, 0.02, 0.03, 22, 0.0)]
    neutron = _p(60.0, 0.03, 0.02, 2112, 0.0, 0.9396)
    others = [_p(20.0, 0.5, 1.0, 12, 0.0), _p(20.0, 3.5, 1.0, 22, 0.0)]  # a neutrino, too far
    out = detector_candidates([*photons, neutron, *others], rng)
    assert len(out) == 1 and out[0][4] == TOWER_BOTH  # one tower holds all three
    e_true = sum(p.e for p in (*photons, neutron))
    sigma = math.hypot(
        float(ecal_sigma(np.array([70.0]), np.array([0.0]))[0]),
        float(hcal_sigma(np.array([60.0]))[0]),
    )
    assert abs(out[0][3] - e_true) < 5 * sigma
    eta = math.asinh(out[0][2] / _pt(out[0]))
    assert 0 <= eta < TOWER  # drawn inside the tower


def test_photons_of_different_towers_and_beyond_the_tracker() -> None:
    rng = np.random.default_rng(2)
    a, b = _p(40.0, 0.01, 0.01, 22, 0.0), _p(40.0, 0.01 + 2 * TOWER, 0.01, 22, 0.0)
    far_pion = _p(30.0, 2.7, 0.5, 211, 1.0, 0.1396)  # no track past |eta| 2.5: a tower
    out = detector_candidates([a, b, far_pion], rng)
    kinds = sorted(c[4] for c in out)
    assert kinds.count(TOWER_ECAL) == 2 and TRACK not in kinds and len(out) == 3
