"""Does the W / Z production decide how well W and Z tag? (issue 19, a probe)

    python scripts/probe_jet_resonances.py [--per-class 8000] [--jobs 2] [--splits 0,1,2]

The task's W and Z jets (since generator det2) come from a 2 TeV W' -> W Z with longitudinal decay
angles (``_generate.PROCESSES``); det1 made them with Pythia's SM dibosons
(``WeakDoubleBoson:ffbar2WW`` / ``ffbar2gmZgmZ``: bosons mostly transverse, pT-hat 900-1100
GeV). This generates det1's diboson W and Z jets again through the same detector, clustering,
selection and matching (``generate_shard`` with the diboson settings; cached per shard under
``--cache``) and trains the seed's baseline Deep Set (``probe_jet_constituents``: batch 1024,
Adam 3.2e-3, patience 7) on two sets of equal size: q, g and t from the committed shards with
the diboson W and Z (A), and every class from the committed shards (B, the resonance), each
with the task's constituents (merged at R = 0.07, 8 hardest above 2 GeV, robust scaling) and
``--splits`` random 80/10/10 splits. Prints test accuracy, per-class AUC and the W / Z
8-constituent mass of both productions, and one JSON line (prefix ``PROBE_JSON``).
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hwloop.tasks.jets import CLASSES
from hwloop.tasks.jets._dataset import JetSet, exported_dir, split_and_scale
from hwloop.tasks.jets._merge import merge_candidates

# det1's W and Z: Pythia's SM dibosons, both bosons to hadrons
SETTINGS = {
    "W": ("WeakDoubleBoson:ffbar2WW = on", "24:onMode = off", "24:onIfAny = 1 2 3 4 5"),
    "Z": (
        "WeakDoubleBoson:ffbar2gmZgmZ = on",
        "WeakZ0:gmZmode = 2",
        "23:onMode = off",
        "23:onIfAny = 1 2 3 4 5",
    ),
}
SHARD = 200


def _shard(label: str, seed: int, cache: Path) -> Path:
    """One shard of diboson jets of ``label``, generated once."""
    from hwloop.tasks.jets import _generate

    path = cache / f"{label}-{seed}.npz"
    if path.exists():
        return path
    _generate.PROCESSES[label] = SETTINGS[label]  # this worker process only
    shard = _generate.generate_shard(label, seed, SHARD)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, cand=shard.cand, jet=shard.jet, tried=shard.tried)
    tmp.replace(path)
    return path


def diboson_jets(label: str, n: int, jobs: int, cache: Path) -> tuple[np.ndarray, float]:
    """``n`` jets' 32 candidates of ``label`` and the fraction of events kept."""
    cache.mkdir(parents=True, exist_ok=True)
    seeds = [900_000 + 1000 * CLASSES.index(label) + i for i in range(-(-n // SHARD))]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(jobs) as pool:
        paths = list(pool.map(_shard, [label] * len(seeds), seeds, [cache] * len(seeds)))
    cands, tried = [], 0
    for p in paths:
        with np.load(p) as z:
            cands.append(z["cand"])
            tried += int(z["tried"])
    cand = np.concatenate(cands)[:n]
    print(f"{label}: {len(cand)} diboson jets ({time.perf_counter() - t0:.0f} s this run)")
    return cand, len(np.concatenate(cands)) / max(tried, 1)


def committed(label: str, n: int) -> np.ndarray:
    out, have = [], 0
    for f in sorted(exported_dir().glob(f"{label}-*.npz")):
        with np.load(f) as z:
            out.append(z["cand"].astype(np.float32))
        have += len(out[-1])
        if have >= n:
            break
    return np.concatenate(out)[:n]


def mass(x: np.ndarray) -> np.ndarray:
    """Invariant mass of each jet's constituents (pT, y, φ; massless)."""
    pt, y, phi = x[..., 0], x[..., 1], x[..., 2]
    e, pz = (pt * np.cosh(y)).sum(1), (pt * np.sinh(y)).sum(1)
    px, py = (pt * np.cos(phi)).sum(1), (pt * np.sin(phi)).sum(1)
    return np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0))


def train(xs: dict[str, np.ndarray], split: int) -> dict[str, Any]:
    from probe_jet_constituents import run

    x = np.concatenate([xs[c] for c in CLASSES])
    y = np.concatenate([np.full(len(xs[c]), i) for i, c in enumerate(CLASSES)])
    jets = JetSet(x, y.astype(np.int64), np.zeros((len(y), 3), np.float32), "probe")
    parts, _ = split_and_scale(jets, split)
    n_train, n_val = len(parts[0][1]), len(parts[1][1])
    X = torch.from_numpy(np.concatenate([p[0] for p in parts]))
    Y = torch.from_numpy(np.concatenate([p[1] for p in parts]).reshape(-1)).long()
    return dict(run(X, Y, n_train, n_val, 100))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-class", type=int, default=8000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--splits", default="0,1,2")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/hwloop-jets-dibosons"))
    args = ap.parse_args()
    n = args.per_class
    new = {c: merge_candidates(committed(c, n)) for c in CLASSES}
    old = dict(new)
    kept: dict[str, float] = {}
    for label in ("W", "Z"):
        cand, kept[label] = diboson_jets(label, n, args.jobs, args.cache)
        old[label] = merge_candidates(cand)
    masses: dict[str, tuple[float, float]] = {}
    for name, xs in (("diboson", old), ("resonance", new)):
        for label in ("W", "Z"):
            m = mass(xs[label])
            masses[f"{label} {name}"] = (float(np.median(m)), float(((m > 65) & (m < 105)).mean()))
            print(
                f"{label} ({name}): 8-constituent mass median {masses[f'{label} {name}'][0]:.1f}"
                f" GeV, in 65-105 GeV {100 * masses[f'{label} {name}'][1]:.1f} %"
            )
    rows: list[dict[str, Any]] = []
    for split in (int(s) for s in args.splits.split(",")):
        for name, xs in (("A diboson", old), ("B resonance", new)):
            row: dict[str, Any] = {"set": name, "split": split, **train(xs, split)}
            rows.append(row)
            text = " ".join(f"{c} {v:.3f}" for c, v in row["auc"].items())
            print(f"{name}, split {split}: test {100 * row['accuracy']:.2f} %, AUC {text}")
    for name in ("A diboson", "B resonance"):
        mine = [r for r in rows if r["set"] == name]
        acc = np.mean([r["accuracy"] for r in mine])
        mean_auc = {c: float(np.mean([r["auc"][c] for r in mine])) for c in CLASSES}
        text = " ".join(f"{c} {v:.3f}" for c, v in mean_auc.items())
        print(f"{name}, mean of {len(mine)} splits: test {100 * acc:.2f} %, AUC {text}")
    print(
        "PROBE_JSON "
        + json.dumps({"per_class": n, "kept_fraction": kept, "masses": masses, "rows": rows})
    )


if __name__ == "__main__":
    main()
