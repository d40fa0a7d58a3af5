"""The jet dataset: generated shards cached on disk, the shipped sample, splits and scaling.

``generate(n, jobs, seed)`` makes sure ``n`` jets (``n / 5`` per class) exist as shards of
:data:`SHARD` jets under ``<cache>/jets/<GENERATOR>/``; shards already there (or committed to the
repository under ``data/jets/<GENERATOR>/``) are kept, so an interrupted generation resumes where
it stopped. Each shard is written atomically as it arrives. ``load_jets(n, seed)`` assembles the
first ``n / 5`` jets of every class (from the cache or the committed shards, else from the sample
shipped in the package), their constituents the stored candidates merged by anti-kt
(``_merge.py``), splits them 80/10/10 at random (``seed``)
and robust-scales each feature with the training split's median and 5-95 % range over real
(non-padded) constituents; padded constituents stay 0.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from importlib import resources as ilr
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hwloop import HwloopError
from hwloop.runtime import atomic_path, progress_bar
from hwloop.tasks.jets._generate import CLASSES, generate_shard
from hwloop.tasks.jets._merge import MERGE_RADIUS, merged_shard

log = logging.getLogger(__name__)
GENERATOR = "pythia8317-fastjet352-det3"  # change when the physics of a shard changes
SHARD = 200  # jets per shard
SAMPLE = "jets-sample.npz"  # shipped: SAMPLE_PER_CLASS jets of each class
SEED_STRIDE = 100_000  # shard i of class c under run seed s: s*5*STRIDE + c*STRIDE + i + 1


def cache_dir() -> Path:
    base = os.environ.get("HWLOOP_CACHE_DIR", "~/.cache/hwloop")
    return Path(base).expanduser() / "jets" / GENERATOR


def exported_dir() -> Path:
    """Shards committed to the repository (``scripts/export_jets.py``), read where the cache has
    none: a checkout needs no regeneration. Absent in an installed wheel."""
    return Path(__file__).resolve().parents[3] / "data" / "jets" / GENERATOR


def _folders(root: Path | None) -> tuple[Path, ...]:
    """Where shards are looked for: an explicit ``root`` only; by default the user's cache, then
    the shards committed to the repository."""
    return (root,) if root is not None else (cache_dir(), exported_dir())


def _find_shard(folders: tuple[Path, ...], label: str, seed: int) -> Path | None:
    for folder in folders:
        path = _shard_path(folder, label, seed)
        if path.is_file():
            return path
    return None


def _shard_seed(seed: int, cls: int, i: int) -> int:
    value = seed * len(CLASSES) * SEED_STRIDE + cls * SEED_STRIDE + i + 1
    if value > 900_000_000:  # Pythia's seed range
        raise HwloopError(f"--seed {seed} is too large for the jet generator")
    return value


def _shard_path(root: Path, label: str, seed: int) -> Path:
    return root / f"{label}-{seed:09d}.npz"


def _generate_one(label: str, seed: int, n: int) -> tuple[str, int, dict[str, NDArray[Any]]]:
    shard = generate_shard(label, seed, n)
    # the 32 candidates in half precision (pT to 0.05 %): a third of a shard's bytes, committed
    cand = shard.cand.astype(np.float16)
    arrays: dict[str, NDArray[Any]] = {
        "x": shard.x,
        "jet": shard.jet,
        "cand": cand,
        "tried": np.array(shard.tried),
    }
    return label, seed, arrays


def generate(
    n: int, jobs: int = 1, seed: int = 0, root: Path | None = None, progress: bool = True
) -> Path:
    """Make sure ``n`` jets (balanced over the classes) are cached; return the cache folder."""
    if n < len(CLASSES):
        raise HwloopError(f"--n must be at least {len(CLASSES)} (one jet per class), got {n}")
    folders = _folders(root)
    root = folders[0]
    root.mkdir(parents=True, exist_ok=True)
    per_class = -(-n // len(CLASSES))
    shards = -(-per_class // SHARD)
    todo = [
        (label, _shard_seed(seed, c, i))
        for i in range(shards)
        for c, label in enumerate(CLASSES)
        if _find_shard(folders, label, _shard_seed(seed, c, i)) is None
    ]
    total = shards * len(CLASSES)
    if total * SHARD > n:  # jets come in whole shards (cached and committed as such)
        log.info("%d jets asked for, %d made: shards of %d per class", n, total * SHARD, SHARD)
    with progress_bar(total * SHARD, f"generating jets (shards of {SHARD})", progress) as advance:
        advance((total - len(todo)) * SHARD)
        if not todo:
            return root
        from joblib import Parallel, delayed

        tasks = (delayed(_generate_one)(label, s, SHARD) for label, s in todo)
        runner = Parallel(n_jobs=jobs, return_as="generator_unordered")
        for label, s, arrays in runner(tasks):
            with atomic_path(_shard_path(root, label, s), suffix=".npz") as tmp:
                np.savez_compressed(tmp, **arrays)
            advance(SHARD, description=f"generating jets ({label})")
    return root


@dataclass(frozen=True)
class JetSet:
    # (n, 8, 3) unscaled: pT [GeV], eta_rel, phi_rel of the merged candidates (_merge.py)
    x: NDArray[np.float32]
    y: NDArray[np.int64]  # class index into CLASSES
    jet: NDArray[np.float32]  # (n, 3) jet pT, eta, mass
    source: str

    def __len__(self) -> int:
        return int(len(self.y))


def _read(path: Path) -> dict[str, NDArray[np.float32]]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def _from_shards(folders: tuple[Path, ...], per_class: int, seed: int) -> JetSet | None:
    xs, ys, jets = [], [], []
    used: set[Path] = set()
    merged = False
    for c, label in enumerate(CLASSES):
        got = 0
        i = 0
        while got < per_class:
            path = _find_shard(folders, label, _shard_seed(seed, c, i))
            if path is None:
                return None
            used.add(path.parent)
            arr = _read(path)
            take = min(per_class - got, len(arr["x"]))
            # a shard without candidates holds its constituents as they are (tests, exports)
            x = merged_shard(path, arr["cand"], cache_dir()) if "cand" in arr else arr["x"]
            merged |= "cand" in arr
            xs.append(x[:take])
            jets.append(arr["jet"][:take])
            ys.append(np.full(take, c, np.int64))
            got += take
            i += 1
    where = " + ".join(sorted({str(p) for p in used}))
    source = f"{where} (candidates merged by anti-kt R = {MERGE_RADIUS:g})" if merged else where
    return JetSet(np.concatenate(xs), np.concatenate(ys), np.concatenate(jets), source)


def sample_path() -> Path:
    return Path(str(ilr.files("hwloop.tasks.jets").joinpath("data", SAMPLE)))


def load_sample() -> JetSet:
    arr = _read(sample_path())
    return JetSet(arr["x"], arr["y"].astype(np.int64), arr["jet"], f"shipped sample {SAMPLE}")


def load_jets(n: int | None, gen_seed: int = 0, root: Path | None = None) -> JetSet:
    """``n`` jets (None: the whole shipped sample), balanced over the classes."""
    sample = load_sample()
    per_sample = len(sample) // len(CLASSES)
    if n is not None:
        per_class = -(-n // len(CLASSES))
        found = _from_shards(_folders(root), per_class, gen_seed)
        if found is not None:
            return found
        if per_class > per_sample:
            raise HwloopError(
                f"{n} jets asked for, the shipped sample has {len(sample)} and the cache "
                f"{root or cache_dir()} too few: run `hwloop data jets --n {n}`"
            )
        keep = np.concatenate(
            [np.flatnonzero(sample.y == c)[:per_class] for c in range(len(CLASSES))]
        )
        return JetSet(sample.x[keep], sample.y[keep], sample.jet[keep], sample.source)
    return sample


def split_and_scale(
    js: JetSet, seed: int
) -> tuple[list[tuple[NDArray[np.float32], NDArray[np.int64]]], NDArray[np.float32]]:
    """80/10/10 random split; robust scaling fitted on the training split, as the original
    data's preprocessing: each feature minus its median, over its 5-95 % range (real
    constituents only). Returns the three (x, y) splits and the (2, 3) median / range table."""
    order = np.random.default_rng(seed).permutation(len(js))
    n_train, n_val = int(0.8 * len(js)), int(0.1 * len(js))
    parts = (order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :])
    train_x = js.x[parts[0]]
    real = train_x[..., 0] > 0
    stats = np.zeros((2, 3), np.float32)
    for f in range(3):
        v = train_x[..., f][real]
        q05, q50, q95 = np.quantile(v, [0.05, 0.5, 0.95]) if v.size else (0.0, 0.0, 1.0)
        stats[:, f] = (q50, max(q95 - q05, 1e-6))
    out = []
    for idx in parts:
        x = js.x[idx].copy()
        mask = x[..., 0] > 0
        x = np.where(mask[..., None], (x - stats[0]) / stats[1], 0.0).astype(np.float32)
        out.append((x, js.y[idx]))
    return out, stats
