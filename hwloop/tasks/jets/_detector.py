"""A simplified detector between Pythia's particles and the jet clustering (issue 19).

The hls4ml LHC jet data were made with a Delphes detector: jets are clustered from detector
candidates, not particles. Without it every photon of a π⁰ and every neutral hadron is its own
constituent, so the 8 hardest constituents of a W or Z jet miss most of its prongs. Here:

- **Tracks.** Charged particles with |η| ≤ 2.5 stay individual; their pT is smeared with the
  CMS card's resolution σ(pT)/pT = sqrt(a² + (b pT)²) (charged hadrons; electrons and muons
  with their own a, b), in three |η| ranges. Charged particles beyond the tracker go to the
  calorimeters like neutral ones.
- **Towers.** Photons and electrons (beyond the tracker) deposit all their energy in the ECAL,
  neutral hadrons in the HCAL, K⁰s and Λ 30 % / 70 %, muons and neutrinos nothing. Deposits are
  summed in towers of 0.087 x 0.087 in η-φ (the CMS HCAL granularity of ``|η| < 1.6``; 72 φ
  bins), |η| < 3. Each tower's ECAL and HCAL sums are smeared with their resolutions, kept
  above 0.5 / 1.0 GeV and 2 σ, and the tower becomes one massless candidate at a point drawn
  uniformly in the tower (the card's ``SmearTowerCenter``).

Parameters are those of Delphes' ``cards/delphes_card_CMS.tcl`` (ChargedHadron / Electron /
MuonMomentumSmearing, ECal and HCal ResolutionFormula, EnergyMin, EnergySignificanceMin,
EnergyFraction), with a Gaussian instead of Delphes' log-normal smearing and the HCAL tower
size for both calorimeters. Not emulated: tracking efficiency, pile-up, the ECAL's finer
towers, particle-flow's track-tower linking.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

TRACKER_ETA = 2.5
CALO_ETA = 3.0
TOWER = 0.087  # η and φ size of a tower
N_PHI = 72  # 2π / 72 = 0.0873
ECAL_MIN, HCAL_MIN, SIGNIFICANCE = 0.5, 1.0, 2.0
TRACK, TOWER_ECAL, TOWER_HCAL, TOWER_BOTH = 1, 2, 3, 4  # candidate types

# σ(pT)/pT = sqrt(a² + (b pT)²) for |η| <= 0.5, <= 1.5, <= 2.5
_TRACK_RES = {
    "hadron": ((0.01, 1.5e-4), (0.015, 2.5e-4), (0.025, 5.5e-4)),
    "electron": ((0.03, 1.3e-3), (0.05, 1.7e-3), (0.15, 3.1e-3)),
    "muon": ((0.01, 1.0e-4), (0.015, 1.5e-4), (0.025, 3.5e-4)),
}
_INVISIBLE = frozenset((12, 13, 14, 16))  # neutrinos and muons leave no calorimeter energy
_ECAL_ONLY = frozenset((11, 22, 111))
_ECAL_SHARE = {310: 0.3, 3122: 0.3}  # K0s, Lambda


@dataclass(frozen=True)
class Particle:
    """A stable visible particle: four-momentum, |PDG id| and charge."""

    px: float
    py: float
    pz: float
    e: float
    pdg: int
    charge: float


def track_resolution(kind: str, pt: float, eta: float) -> float:
    """σ(pT)/pT of a track of ``kind`` (hadron, electron, muon)."""
    i = 0 if abs(eta) <= 0.5 else 1 if abs(eta) <= 1.5 else 2
    a, b = _TRACK_RES[kind][i]
    return math.hypot(a, b * pt)


def ecal_sigma(energy: NDArray[np.float64], eta: NDArray[np.float64]) -> NDArray[np.float64]:
    base = np.sqrt(energy**2 * 0.008**2 + energy * 0.11**2 + 0.40**2)
    a = np.abs(eta)
    barrel = (1 + 0.64 * eta**2) * base
    endcap = (2.16 + 5.6 * (a - 2) ** 2) * base
    forward = np.sqrt(energy**2 * 0.107**2 + energy * 2.08**2)
    return np.where(a <= 1.5, barrel, np.where(a <= 2.5, endcap, forward))


def hcal_sigma(energy: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.sqrt(energy**2 * 0.050**2 + energy * 1.50**2)


def _eta_phi(px: float, py: float, pz: float) -> tuple[float, float, float]:
    pt = math.hypot(px, py)
    eta = math.asinh(pz / pt) if pt > 0 else math.copysign(99.0, pz)
    return pt, eta, math.atan2(py, px)


def _massless(pt: float, eta: float, phi: float) -> tuple[float, float, float, float]:
    return pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta), pt * math.cosh(eta)


def detector_candidates(
    particles: Iterable[Particle], rng: np.random.Generator
) -> list[tuple[float, float, float, float, int]]:
    """Tracks and towers (px, py, pz, E, type) of an event's stable visible particles."""
    out: list[tuple[float, float, float, float, int]] = []
    ecal: dict[tuple[int, int], float] = {}
    hcal: dict[tuple[int, int], float] = {}
    for p in particles:
        pt, eta, phi = _eta_phi(p.px, p.py, p.pz)
        if p.charge != 0 and abs(eta) <= TRACKER_ETA and pt > 0.1:
            kind = "electron" if p.pdg == 11 else "muon" if p.pdg == 13 else "hadron"
            smeared = pt * max(0.0, 1 + rng.normal(0.0, track_resolution(kind, pt, eta)))
            if smeared > 0:
                scale = smeared / pt  # a track keeps its direction and its mass
                m2 = max(p.e**2 - p.px**2 - p.py**2 - p.pz**2, 0.0)
                px, py, pz = p.px * scale, p.py * scale, p.pz * scale
                out.append((px, py, pz, math.sqrt(px * px + py * py + pz * pz + m2), TRACK))
            continue
        if p.pdg in _INVISIBLE or abs(eta) >= CALO_ETA:
            continue
        cell = (math.floor(eta / TOWER), math.floor((phi + math.pi) / (2 * math.pi) * N_PHI))
        share = 1.0 if p.pdg in _ECAL_ONLY else _ECAL_SHARE.get(p.pdg, 0.0)
        ecal[cell] = ecal.get(cell, 0.0) + share * p.e
        hcal[cell] = hcal.get(cell, 0.0) + (1 - share) * p.e
    out.extend(_towers(ecal, hcal, rng))
    return out


def _towers(
    ecal: dict[tuple[int, int], float], hcal: dict[tuple[int, int], float], rng: np.random.Generator
) -> list[tuple[float, float, float, float, int]]:
    cells = sorted(set(ecal) | set(hcal))
    if not cells:
        return []
    idx = np.asarray(cells, dtype=np.float64)
    eta_c = (idx[:, 0] + 0.5) * TOWER
    e_true = np.asarray([ecal.get(c, 0.0) for c in cells])
    h_true = np.asarray([hcal.get(c, 0.0) for c in cells])
    e_sig, h_sig = ecal_sigma(e_true, eta_c), hcal_sigma(h_true)
    e = np.maximum(e_true + rng.normal(size=len(cells)) * e_sig, 0.0)
    h = np.maximum(h_true + rng.normal(size=len(cells)) * h_sig, 0.0)
    e = np.where((e > ECAL_MIN) & (e > SIGNIFICANCE * e_sig), e, 0.0)
    h = np.where((h > HCAL_MIN) & (h > SIGNIFICANCE * h_sig), h, 0.0)
    # a point drawn in the tower, as the card's SmearTowerCenter
    eta = (idx[:, 0] + rng.uniform(size=len(cells))) * TOWER
    phi = (idx[:, 1] + rng.uniform(size=len(cells))) * (2 * math.pi / N_PHI) - math.pi
    out = []
    for i in np.flatnonzero(e + h > 0):
        energy = float(e[i] + h[i])
        kind = TOWER_BOTH if e[i] > 0 and h[i] > 0 else TOWER_ECAL if e[i] > 0 else TOWER_HCAL
        pt = energy / math.cosh(float(eta[i]))
        out.append((*_massless(pt, float(eta[i]), float(phi[i])), kind))
    return out
