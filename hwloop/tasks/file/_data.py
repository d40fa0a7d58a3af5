"""Reading an experiment's data file: .npz, .npy pairs, HDF5 or Parquet; checks that name the
problem in one line; the split; windows; normalisation from the training split only."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hwloop import HwloopError
from hwloop.experiment import Experiment, Window

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Arrays:
    """A data file's samples after reshaping and windowing: inputs, targets and the split of
    each sample (0 train, 1 val, 2 test)."""

    x: NDArray[np.float32]
    y: NDArray[np.float32]
    split: NDArray[np.int8]
    source: str
    notes: dict[str, Any] = field(default_factory=dict)


def read_arrays(exp: Experiment) -> Arrays:
    """The experiment's data, checked: ``HwloopError`` naming the file and key otherwise."""
    d = exp.data
    path = exp.resolve(d.path)
    if not path.is_file():
        raise HwloopError(f"data.path: {path} does not exist")
    x, y, split = _read(exp, path)
    name = f"data file {path}"
    x, y = np.asarray(x), np.asarray(y)
    if y.ndim < 1:
        raise HwloopError(f"{name}: targets {exp.data.y!r} are a single value, not one per sample")
    if x.ndim < 2:
        raise HwloopError(f"{name}: inputs {d.x!r} have shape {x.shape}; need (samples, ...)")
    if len(x) != len(y):
        raise HwloopError(
            f"{name}: {len(x)} input samples but {len(y)} targets ({d.x!r} vs {d.y!r})"
        )
    if len(x) < 3:
        raise HwloopError(f"{name}: {len(x)} samples; a train / val / test split needs more")
    x = _as_float(x, name, str(d.x))
    if d.shape is not None:
        per = int(np.prod(x.shape[1:]))
        if int(np.prod(d.shape)) != per:
            raise HwloopError(
                f"data.shape: {d.shape} holds {int(np.prod(d.shape))} values, a sample of "
                f"{name} has {per} (shape {list(x.shape[1:])})"
            )
        x = x.reshape(len(x), *d.shape)
    if d.window is not None:
        x = window(x, d.window)
    _finite(x, name, str(d.x))
    y = _targets(exp, y, name)
    if split is None:
        split = random_split(len(x), d.fractions, d.seed)
    counts = np.bincount(split, minlength=3)
    if (counts == 0).any():
        empty = [s for s, c in zip(SPLITS, counts, strict=True) if c == 0]
        raise HwloopError(
            f"data.split: the {' and '.join(empty)} part of {name} is empty "
            f"(train / val / test: {counts.tolist()})"
        )
    return Arrays(x, y, split.astype(np.int8), str(path))


def _read(exp: Experiment, path: Path) -> tuple[Any, Any, NDArray[np.int8] | None]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as f:
                return _from_mapping(exp, path, {k: f[k] for k in f.files})
        if suffix == ".npy":
            if exp.data.y_path is None:
                raise HwloopError("data.y_path: a .npy input file needs its targets' .npy file")
            y_path = exp.resolve(exp.data.y_path)
            if not y_path.is_file():
                raise HwloopError(f"data.y_path: {y_path} does not exist")
            if exp.data.split != "random":
                raise HwloopError("data.split: a .npy pair has no split; use split = 'random'")
            return np.load(path, allow_pickle=False), np.load(y_path, allow_pickle=False), None
        if suffix in (".h5", ".hdf5"):
            import h5py

            with h5py.File(path, "r") as f:
                keys = [k for k in f if isinstance(f[k], h5py.Dataset)]
                return _from_mapping(exp, path, {k: f[k][()] for k in keys})
        return _from_mapping(exp, path, _parquet(exp, path))
    except HwloopError:
        raise
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise HwloopError(f"cannot read data file {path}: {first}") from None


def _parquet(exp: Experiment, path: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    cols = {c: table.column(c) for c in table.column_names}
    out: dict[str, Any] = {}
    x = exp.data.x
    names = x if isinstance(x, list) else [x]
    missing = [c for c in names if c not in cols]
    if missing:
        raise HwloopError(
            f"data.x: no column {missing[0]!r} in {path} (columns: {', '.join(cols)})"
        )
    if isinstance(x, list):  # one feature per column
        out["__x__"] = np.stack([cols[c].to_numpy() for c in names], axis=1)
    else:  # a column of equal-length lists
        try:
            out["__x__"] = np.array(cols[x].to_pylist(), dtype=np.float64)
        except ValueError:
            raise HwloopError(
                f"data.x: column {x!r} of {path} holds lists of unequal length"
            ) from None
    for c in (exp.data.y, exp.data.split_key):
        if c in cols:
            out[c] = np.array(cols[c].to_pylist())
    return out


def _from_mapping(
    exp: Experiment, path: Path, arrays: dict[str, Any]
) -> tuple[Any, Any, NDArray[np.int8] | None]:
    d = exp.data
    xkey = "__x__" if "__x__" in arrays else d.x
    if isinstance(xkey, list):
        raise HwloopError("data.x: a list of columns is for .parquet files; give one key")

    def get(key: str, what: str) -> Any:
        if key not in arrays:
            known = ", ".join(k for k in arrays if k != "__x__") or "none"
            raise HwloopError(f"data.{what}: no array {key!r} in {path} (it has: {known})")
        return arrays[key]

    if d.split == "suffix":
        xs = [np.asarray(get(f"{xkey}_{s}", "x")) for s in SPLITS]
        ys = [np.asarray(get(f"{d.y}_{s}", "y")) for s in SPLITS]
        for s, a, b in zip(SPLITS, xs, ys, strict=True):
            if len(a) != len(b):
                raise HwloopError(
                    f"{path}: {len(a)} {s} inputs but {len(b)} {s} targets "
                    f"({xkey}_{s} vs {d.y}_{s})"
                )
            if a.shape[1:] != xs[0].shape[1:]:
                raise HwloopError(
                    f"{path}: {xkey}_{s} samples have shape {list(a.shape[1:])}, "
                    f"{xkey}_train's {list(xs[0].shape[1:])}"
                )
        split = np.concatenate([np.full(len(a), i, np.int8) for i, a in enumerate(xs)])
        return np.concatenate(xs), np.concatenate(ys), split
    x, y = np.asarray(get(xkey, "x")), np.asarray(get(d.y, "y"))
    if d.split == "key":
        return x, y, _split_column(np.asarray(get(d.split_key, "split_key")), len(x), path)
    return x, y, None


def _split_column(col: NDArray[Any], n: int, path: Path) -> NDArray[np.int8]:
    if col.shape != (n,):
        raise HwloopError(f"data.split_key: {path} gives {col.shape} split labels for {n} samples")
    if col.dtype.kind in "US":
        names = {s: i for i, s in enumerate(SPLITS)}
        bad = sorted(set(col.astype(str).tolist()) - set(names))
        if bad:
            raise HwloopError(f"data.split_key: labels must be train / val / test, got {bad[:3]}")
        return np.array([names[s] for s in col.astype(str)], dtype=np.int8)
    if col.dtype.kind not in "iuf" or not np.isin(col, (0, 1, 2)).all():
        raise HwloopError("data.split_key: labels must be 0 (train), 1 (val) or 2 (test)")
    return col.astype(np.int8)


def _as_float(a: Any, name: str, key: str) -> NDArray[np.float32]:
    if a.dtype.kind not in "biuf":
        raise HwloopError(f"{name}: {key!r} holds {a.dtype} values, not numbers")
    return np.ascontiguousarray(a, dtype=np.float32)


def _finite(a: NDArray[Any], name: str, key: str) -> None:
    bad = ~np.isfinite(a.reshape(len(a), -1)).all(axis=1)
    if bad.any():
        raise HwloopError(
            f"{name}: {int(bad.sum())} samples of {key!r} hold NaN or inf "
            f"(the first is sample {int(np.argmax(bad))})"
        )


def window(x: NDArray[np.float32], w: Window) -> NDArray[np.float32]:
    """The slice ``w`` of one sample axis (``w.axis`` counts from the first axis after the
    samples; negative from the last)."""
    rank = x.ndim - 1
    if not -rank <= w.axis < rank:
        raise HwloopError(f"data.window.axis: {w.axis} is not an axis of samples of rank {rank}")
    ax = (w.axis % rank) + 1
    size = x.shape[ax]
    stop = size if w.stop is None else w.stop
    if stop > size or w.start >= size:
        raise HwloopError(f"data.window: {w.start}:{stop} is outside the axis's {size} values")
    x = np.take(x, np.arange(w.start, stop), axis=ax)
    if w.step == 1:
        return x
    if not w.average:
        return np.ascontiguousarray(np.take(x, np.arange(0, x.shape[ax], w.step), axis=ax))
    blocks = x.shape[ax] // w.step
    if blocks < 1:
        raise HwloopError(f"data.window: step {w.step} is longer than the window ({x.shape[ax]})")
    x = np.take(x, np.arange(blocks * w.step), axis=ax)
    shape = (*x.shape[:ax], blocks, w.step, *x.shape[ax + 1 :])
    return np.ascontiguousarray(x.reshape(shape).mean(axis=ax + 1), dtype=np.float32)


def _targets(exp: Experiment, y: Any, name: str) -> NDArray[np.float32]:
    t = exp.task
    if y.dtype.kind not in "biuf":
        raise HwloopError(f"{name}: targets {exp.data.y!r} hold {y.dtype} values, not numbers")
    y = np.asarray(y, dtype=np.float64)
    _finite(y.reshape(len(y), -1), name, exp.data.y)
    if t.kind == "regression":
        return y.reshape(len(y), -1).astype(np.float32)
    classes = int(t.classes or 0)
    if (
        y.ndim == 2
        and y.shape[1] == classes
        and np.isin(y, (0, 1)).all()
        and (y.sum(axis=1) == 1).all()
    ):
        y = y.argmax(axis=1)  # one-hot labels
    if y.ndim != 1:
        raise HwloopError(
            f"{name}: class labels {exp.data.y!r} have shape {list(y.shape)}; need one integer "
            f"per sample (or one-hot rows of {classes})"
        )
    out = (y != np.round(y)) | (y < 0) | (y >= classes)
    if out.any():
        i = int(np.argmax(out))
        raise HwloopError(
            f"{name}: label {y[i]:g} of sample {i} is not a class in 0..{classes - 1} "
            f"(task.classes = {classes}); {int(out.sum())} labels are out of range"
        )
    return y.astype(np.float32)


def random_split(n: int, fractions: tuple[float, float, float], seed: int) -> NDArray[np.int8]:
    """Sample i's part (0 train, 1 val, 2 test): a seeded permutation cut at the fractions."""
    order = np.random.default_rng(seed).permutation(n)
    n_train = int(round(fractions[0] * n))
    n_val = int(round(fractions[1] * n))
    split = np.full(n, 2, np.int8)
    split[order[:n_train]] = 0
    split[order[n_train : n_train + n_val]] = 1
    return split


@dataclass(frozen=True)
class Scaling:
    """``(value - mean) / std``, with statistics from the training split only."""

    mean: NDArray[np.float32]
    std: NDArray[np.float32]

    @classmethod
    def fit(cls, a: NDArray[np.float32], per_element: bool = True) -> Scaling:
        if per_element:
            mean, std = a.mean(axis=0), a.std(axis=0)
        else:
            mean, std = np.asarray(a.mean()), np.asarray(a.std())
        std = np.where(std > 0, std, 1.0)
        return cls(mean.astype(np.float32), std.astype(np.float32))

    def apply(self, a: NDArray[np.float32]) -> NDArray[np.float32]:
        return ((a - self.mean) / self.std).astype(np.float32)

    def to_json(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}
