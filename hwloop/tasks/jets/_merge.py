"""The constituents a tagger sees: each jet's stored detector candidates merged offline.

A det1 shard stores its jets' 32 hardest candidates (``cand``: tracks and calorimeter towers,
issue 19). Alone, the 8 hardest of them carry too little of a boosted W / Z (their mass misses
the boson window for most jets), while the original data's 8 constituents reach the published
accuracy. Reclustering each jet's candidates with anti-kt of radius :data:`MERGE_RADIUS` merges
candidates closer than that into one constituent, as a coarser calorimeter / e-flow would; the
:data:`~hwloop.tasks.jets._generate.N_CONSTITUENTS` hardest merged objects above 2 GeV are the
task's constituents (pT, y - y_jet, Δφ). docs/jets.md has the measurements that chose the radius.

Merging a shard takes about 25 ms per 200 jets, so merged shards are cached beside the user's
jet cache (``<cache>/merged-antikt-<R>/``), keyed by the shard's name and size.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hwloop.runtime import atomic_path
from hwloop.tasks.jets._generate import MIN_CONSTITUENT_PT, N_CONSTITUENTS, _silence_banner

log = logging.getLogger(__name__)
MERGE_RADIUS = 0.07


def merge_candidates(
    cand: NDArray[Any], radius: float = MERGE_RADIUS, n: int = N_CONSTITUENTS
) -> NDArray[np.float32]:
    """(jets, k, >=3) candidates (pT, η, φ relative to the jet; pT 0 = padding) -> (jets, n, 3)
    anti-kt subjets of ``radius``, hardest first, those under 2 GeV and missing ones zero."""
    import fastjet

    _silence_banner(fastjet)
    jetdef = fastjet.JetDefinition(fastjet.antikt_algorithm, radius)
    out = np.zeros((len(cand), n, 3), np.float32)
    for j, jet in enumerate(np.asarray(cand, np.float64)):
        pt, eta, phi = jet[jet[:, 0] > 0, :3].T
        inputs = [
            fastjet.PseudoJet(p * np.cos(f), p * np.sin(f), p * np.sinh(e), p * np.cosh(e))
            for p, e, f in zip(pt, eta, phi, strict=True)
        ]
        cs = fastjet.ClusterSequence(inputs, jetdef)
        subjets = sorted(cs.inclusive_jets(MIN_CONSTITUENT_PT), key=_minus_pt)
        for k, s in enumerate(subjets[:n]):
            out[j, k] = (s.pt(), s.rap(), s.phi_std())
    return out


def _minus_pt(s: Any) -> float:
    return -float(s.pt())


def merged_shard(path: Path, cand: NDArray[Any], cache: Path) -> NDArray[np.float32]:
    """:func:`merge_candidates` of shard ``path`` (its ``cand``), cached under ``cache``."""
    stored = cache / f"merged-antikt-{MERGE_RADIUS:g}" / f"{path.stem}-{len(cand)}.npy"
    if stored.is_file():
        try:
            x = np.load(stored, allow_pickle=False)
            if x.shape == (len(cand), N_CONSTITUENTS, 3):
                return np.asarray(x, np.float32)
        except (OSError, ValueError):
            log.warning("re-merging %s: its cached copy %s is unreadable", path, stored)
    x = merge_candidates(cand)
    try:
        stored.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(stored) as tmp, tmp.open("wb") as f:
            np.save(f, x, allow_pickle=False)
    except OSError as e:  # a read-only cache costs time, not correctness
        log.warning("could not cache merged constituents at %s: %s", stored, e)
    return x
