"""Building the Bragg-peak patch dataset from the real peak positions, with an on-disk cache."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from joblib import Parallel, delayed
from numpy.typing import NDArray

from hwloop import HwloopError
from hwloop.runtime import load_arrays, progress_bar, save_arrays
from hwloop.tasks.bragg import _physics as phys

log = logging.getLogger(__name__)

GENERATOR_VERSION = 1
DEFAULT_PEAKS = "../shared/data/braggnn/peaks-exp4train.hdf5"
_REQUIRED = ("peak_row", "peak_col", "npeaks", "deviations", "peak_fidx")
_CHUNK = 500


@dataclass(frozen=True)
class BraggDataset:
    """Rendered patches with labels; arrays are aligned along the first axis.

    ``patches``: (N, 1, 11, 11) float32, min-max normalised; ``labels``: (N, 2) float32, fitted
    peak centre (x = column, y = row) in patch pixels; ``truth``: the rendered (true) centre in the
    same frame; ``fit_error``: distance fit-vs-truth in pixels; ``peak_index``: row in the source
    file; ``split``: 0 train, 1 validation, 2 test (80/10/10 from the seed).
    """

    patches: NDArray[np.float32]
    labels: NDArray[np.float32]
    truth: NDArray[np.float32]
    fit_error: NDArray[np.float32]
    peak_index: NDArray[np.int64]
    split: NDArray[np.int8]
    key: str

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def default_cache_dir() -> Path:
    env = os.environ.get("HWLOOP_CACHE_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hwloop"


def resolve_peaks_file(path: str | os.PathLike[str] | None = None) -> Path:
    """The peaks file: explicit path, else ``$HWLOOP_BRAGG_PEAKS``, else ``../shared/data/...``."""
    p = Path(path or os.environ.get("HWLOOP_BRAGG_PEAKS", DEFAULT_PEAKS))
    if not p.is_file():
        raise HwloopError(
            f"Bragg peaks file not found: {p} (set HWLOOP_BRAGG_PEAKS or pass --peaks-file)"
        )
    return p


def select_peaks(path: Path, limit: int | None, seed: int) -> tuple[NDArray, NDArray, NDArray]:
    """Keep ``npeaks == 1`` and ``0 <= deviations < 1``; optionally a seeded subset of ``limit``."""
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in _REQUIRED if k not in f]
            if missing:
                raise HwloopError(f"{path}: not a BraggNN peaks file (missing {missing})")
            rows = f["peak_row"][:].astype(np.float64)
            cols = f["peak_col"][:].astype(np.float64)
            npeaks = f["npeaks"][:]
            dev = f["deviations"][:]
    except OSError as exc:
        raise HwloopError(f"{path}: cannot read as HDF5 ({exc})") from None
    keep = np.flatnonzero((npeaks == 1) & (dev >= 0) & (dev < 1))
    if limit is not None:
        if limit < 10:
            raise HwloopError(f"--limit must be at least 10 peaks, got {limit}")
        if limit < keep.size:
            rng = np.random.default_rng([seed, 7])
            keep = np.sort(rng.choice(keep, size=limit, replace=False))
    return keep, rows[keep], cols[keep]


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def dataset_key(path: Path, limit: int | None, seed: int, cfg: phys.RenderConfig) -> str:
    doc = {
        "generator": GENERATOR_VERSION,
        "source": _file_digest(path),
        "limit": limit,
        "seed": seed,
        "render": cfg.as_dict(),
        "beam_centre": phys.BEAM_CENTRE,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:20]


def _render_chunk(
    indices: NDArray, rows: NDArray, cols: NDArray, seed: int, cfg: phys.RenderConfig
) -> tuple[NDArray, ...]:
    n = len(indices)
    patches = np.zeros((n, phys.PATCH, phys.PATCH), np.float32)
    labels = np.zeros((n, 2), np.float32)
    truth = np.zeros((n, 2), np.float32)
    for k in range(n):
        rng = np.random.default_rng([seed, int(indices[k])])
        row, col = float(rows[k]), float(cols[k])
        params = phys.sample_params(rng, row, col, cfg)
        r0, c0, grid_r, grid_c = phys.patch_grid(row, col)
        # the rendered centre is the real peak's centre (sampling puts R0, eta0 exactly there)
        img = phys.render(rng, params, grid_r, grid_c, cfg)
        fit_row, fit_col, _ = phys.fit(img, grid_r, grid_c, cfg)
        lo, hi = img.min(), img.max()
        patches[k] = (img - lo) / (hi - lo) if hi > lo else 0.0
        labels[k] = (fit_col - c0, fit_row - r0)
        truth[k] = (col - c0, row - r0)
    return indices, patches, labels, truth


def build_dataset(
    peaks_file: str | os.PathLike[str] | None = None,
    *,
    limit: int | None = None,
    seed: int = 0,
    n_jobs: int = -1,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    cfg: phys.RenderConfig | None = None,
) -> BraggDataset:
    """Render, fit and split the dataset, or load it from the cache under its content hash."""
    cfg = cfg or phys.RenderConfig()
    path = resolve_peaks_file(peaks_file)
    key = dataset_key(path, limit, seed, cfg)
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    target = cache / "bragg" / f"bragg-{key}.npz"
    if target.is_file():
        try:
            return _load(target, key)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring unreadable dataset cache %s (%s); rebuilding", target, exc)
    index, rows, cols = select_peaks(path, limit, seed)
    n = len(index)
    log.info("rendering %d Bragg patches (seed %d) into %s", n, seed, target)
    t0 = time.perf_counter()
    chunks = [slice(i, min(i + _CHUNK, n)) for i in range(0, n, _CHUNK)]
    patches = np.zeros((n, 1, phys.PATCH, phys.PATCH), np.float32)
    labels = np.zeros((n, 2), np.float32)
    truth = np.zeros((n, 2), np.float32)
    pos = {int(index[c.start]): c for c in chunks}
    jobs = (delayed(_render_chunk)(index[c], rows[c], cols[c], seed, cfg) for c in chunks)
    runner = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
    with progress_bar(n, "rendering Bragg patches", enabled=progress) as advance:
        for idx, p, lab, tru in runner(jobs):
            sl = pos[int(idx[0])]
            patches[sl, 0], labels[sl], truth[sl] = p, lab, tru
            advance(len(idx))
    split = np.zeros(n, np.int8)
    order = np.random.default_rng([seed, 11]).permutation(n)
    n_train, n_val = int(round(0.8 * n)), int(round(0.1 * n))
    split[order[n_train : n_train + n_val]] = 1
    split[order[n_train + n_val :]] = 2
    fit_error = np.hypot(*(labels - truth).T).astype(np.float32)
    ds = BraggDataset(patches, labels, truth, fit_error, index.astype(np.int64), split, key)
    log.info(
        "rendered %d patches in %.1f s; fit-vs-truth error median %.4f px, p99 %.4f px",
        n,
        time.perf_counter() - t0,
        float(np.median(fit_error)),
        float(np.quantile(fit_error, 0.99)),
    )
    _save(target, ds)
    return ds


_ARRAYS = ("patches", "labels", "truth", "fit_error", "peak_index", "split")


def _save(target: Path, ds: BraggDataset) -> None:
    save_arrays(target, {n: getattr(ds, n) for n in _ARRAYS})


def _load(target: Path, key: str) -> BraggDataset:
    return BraggDataset(**load_arrays(target, _ARRAYS), key=key)
