"""Building the simulated ptychography dataset, split by object, with an on-disk cache."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from joblib import Parallel, delayed
from numpy.typing import NDArray

from hwloop import HwloopError
from hwloop.runtime import load_arrays, progress_bar, save_arrays
from hwloop.tasks.bragg._dataset import default_cache_dir
from hwloop.tasks.ptycho import _physics as phys

log = logging.getLogger(__name__)

GENERATOR_VERSION = 1
DEFAULT_LIMIT = 16_000  # patterns: 250 objects of 8 x 8 positions
_CHUNK = 4  # objects per job


@dataclass(frozen=True)
class PtychoDataset:
    """Simulated scans; pattern arrays are aligned along the first axis.

    ``counts``: (N, S, S) int32 noisy far-field photon counts, zero frequency at
    ``(S // 2, S // 2)``; ``positions``: (N, 2) int32 top-left (row, column) of each pattern's
    window in its object; ``object_id``: (N,) int32; ``amplitude`` / ``phase``: (n_objects, L,
    L) float32 true objects (phase in radians); ``object_split``: (n_objects,) int8, 0 train,
    1 validation, 2 test; ``probe``: (S, S) complex128 with ``sum |P|^2 = photons``.
    Objects are numbered 0, 1, ... and object ``k`` is ``simulate_scan(k, seed, cfg)``; the last
    object may have fewer than ``scan**2`` patterns when ``limit`` is not a multiple.
    """

    counts: NDArray[np.int32]
    positions: NDArray[np.int32]
    object_id: NDArray[np.int32]
    amplitude: NDArray[np.float32]
    phase: NDArray[np.float32]
    object_split: NDArray[np.int8]
    probe: NDArray[np.complex128]
    cfg: phys.SimConfig
    seed: int
    key: str

    def __len__(self) -> int:
        return int(self.counts.shape[0])

    @property
    def n_objects(self) -> int:
        return int(self.amplitude.shape[0])

    @property
    def split(self) -> NDArray[np.int8]:
        """(N,) split of every pattern: its object's."""
        return self.object_split[self.object_id]

    def inputs(self, index: NDArray[np.integer] | slice = slice(None)) -> NDArray[np.float32]:
        """Network input (n, 1, S, S): log-scaled counts (``_physics.log_scale``)."""
        return phys.log_scale(self.counts[index], self.cfg.photons)[:, None]

    def labels(
        self, index: NDArray[np.integer] | slice = slice(None)
    ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """True amplitude and phase (radians) in each pattern's window: two (n, S, S) arrays."""
        ids = self.object_id[index]
        pos = self.positions[index]
        s = self.cfg.size
        ar = np.arange(s)
        r = pos[:, 0, None, None] + ar[None, :, None]
        c = pos[:, 1, None, None] + ar[None, None, :]
        o = ids[:, None, None]
        return self.amplitude[o, r, c], self.phase[o, r, c]

    def targets(
        self,
        index: NDArray[np.integer] | slice = slice(None),
        phase_reference: Literal["absolute", "probe"] = "absolute",
    ) -> NDArray[np.float32]:
        """Flat targets (n, 2 S^2): amplitude map, then phase map / pi (row-major each).

        ``phase_reference="probe"`` subtracts from each window's phase its mean weighted by the
        probe intensity (the offset a single pattern cannot see); the default keeps the phase
        as it is."""
        amp, phase = self.labels(index)
        if phase_reference == "probe":
            w = (np.abs(self.probe) ** 2).astype(np.float64)
            offset = np.einsum("nij,ij->n", phase.astype(np.float64), w / w.sum())
            phase = (phase - offset[:, None, None]).astype(np.float32)
        elif phase_reference != "absolute":
            raise HwloopError(f"phase_reference must be 'absolute' or 'probe': {phase_reference!r}")
        n = amp.shape[0]
        out = np.empty((n, 2 * amp.shape[1] * amp.shape[2]), np.float32)
        half = out.shape[1] // 2
        out[:, :half] = amp.reshape(n, -1)
        out[:, half:] = phase.reshape(n, -1) / np.float32(math.pi)
        return out

    def scan(self, obj: int) -> phys.Scan:
        """The whole scan of object ``obj`` (for ePIE)."""
        sel = self.object_id == obj
        return phys.Scan(
            obj, self.amplitude[obj], self.phase[obj], self.positions[sel], self.counts[sel]
        )


def n_objects_for(limit: int, cfg: phys.SimConfig) -> int:
    """Objects needed for ``limit`` patterns; at least 3 whole ones (one per split)."""
    per = cfg.positions_per_object
    if limit < 3 * per:
        raise HwloopError(
            f"--limit must be at least {3 * per} patterns (3 objects x {per} scan positions: the "
            f"split keeps whole objects apart, one at least per split), got {limit}"
        )
    return -(-limit // per)


def split_objects(n_objects: int, seed: int) -> NDArray[np.int8]:
    """80/10/10 of the objects (at least one each for validation and test), seeded."""
    n_val = max(1, int(round(0.1 * n_objects)))
    n_test = max(1, int(round(0.1 * n_objects)))
    n_train = n_objects - n_val - n_test
    order = np.random.default_rng([seed, 11]).permutation(n_objects)
    split = np.zeros(n_objects, np.int8)
    split[order[n_train : n_train + n_val]] = 1
    split[order[n_train + n_val :]] = 2
    return split


def dataset_key(limit: int, seed: int, cfg: phys.SimConfig) -> str:
    doc = {
        "generator": GENERATOR_VERSION,
        "limit": limit,
        "seed": seed,
        "sim": cfg.as_dict(),
        "skimage": importlib.metadata.version("scikit-image"),  # the bundled images
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:20]


def _simulate_chunk(
    indices: list[int], seed: int, cfg: phys.SimConfig, probe: NDArray[np.complex128]
) -> list[phys.Scan]:
    return [phys.simulate_scan(i, seed, cfg, probe) for i in indices]


def build_dataset(
    *,
    limit: int | None = None,
    seed: int = 0,
    cfg: phys.SimConfig | None = None,
    n_jobs: int = 1,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> PtychoDataset:
    """Simulate ``limit`` patterns (default 16,000) and split them by object, or load them from
    the cache (``<cache>/ptycho/ptycho-<hash>.npz``) under the hash of every setting.

    ``n_jobs`` joblib workers (-1: all cores); the default is 1 because a worker's start-up
    (importing torch through ``hwloop.tasks``, ~5 s) costs more than it saves for sets of this
    size on a 2-core machine (16,000 patterns at S = 64 take about 7 s in one process)."""
    cfg = cfg or phys.SimConfig()
    limit = DEFAULT_LIMIT if limit is None else int(limit)
    n_obj = n_objects_for(limit, cfg)
    key = dataset_key(limit, seed, cfg)
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    target = cache / "ptycho" / f"ptycho-{key}.npz"
    if target.is_file():
        try:
            return _load(target, key, cfg, seed)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring unreadable dataset cache %s (%s); rebuilding", target, exc)
    for name in cfg.images:  # a missing image fails here in one line, not in a worker
        phys.bundled_image(name)
    s, side, per = cfg.size, cfg.object_side, cfg.positions_per_object
    log.info(
        "simulating %d ptychography patterns (%d objects of %d x %d px, %d positions, S=%d, "
        "seed %d) into %s",
        limit,
        n_obj,
        side,
        side,
        per,
        s,
        seed,
        target,
    )
    t0 = time.perf_counter()
    probe = phys.make_probe(cfg)
    counts = np.zeros((n_obj * per, s, s), np.int32)
    positions = np.zeros((n_obj * per, 2), np.int32)
    amplitude = np.zeros((n_obj, side, side), np.float32)
    phase = np.zeros((n_obj, side, side), np.float32)
    chunks = [list(range(i, min(i + _CHUNK, n_obj))) for i in range(0, n_obj, _CHUNK)]
    jobs = (delayed(_simulate_chunk)(c, seed, cfg, probe) for c in chunks)
    runner = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
    with progress_bar(limit, "simulating ptychography patterns", enabled=progress) as advance:
        for scans in runner(jobs):
            for sc in scans:
                sl = slice(sc.index * per, (sc.index + 1) * per)
                counts[sl], positions[sl] = sc.counts, sc.positions
                amplitude[sc.index], phase[sc.index] = sc.amplitude, sc.phase
                advance(max(0, min(per, limit - sc.index * per)))
    object_id = np.repeat(np.arange(n_obj, dtype=np.int32), per)
    ds = PtychoDataset(
        counts[:limit],
        positions[:limit],
        object_id[:limit],
        amplitude,
        phase,
        split_objects(n_obj, seed),
        probe,
        cfg,
        seed,
        key,
    )
    dt = time.perf_counter() - t0
    log.info(
        "simulated %d patterns in %.1f s (%.0f patterns/s); counts per pattern: mean %.0f",
        limit,
        dt,
        limit / dt,
        float(ds.counts.sum(axis=(1, 2)).mean()),
    )
    _save(target, ds)
    return ds


_ARRAYS = ("counts", "positions", "object_id", "amplitude", "phase", "object_split", "probe")


def _save(target: Path, ds: PtychoDataset) -> None:
    save_arrays(target, {n: getattr(ds, n) for n in _ARRAYS})


def _load(target: Path, key: str, cfg: phys.SimConfig, seed: int) -> PtychoDataset:
    return PtychoDataset(**load_arrays(target, _ARRAYS), cfg=cfg, seed=seed, key=key)
