"""``hwloop init``: a commented experiment file inferred from a data file."""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hwloop import HwloopError
from hwloop.experiment import parse_experiment, toml_value

X_NAMES = ("x", "X", "inputs", "input", "features", "data", "traces", "samples")
Y_NAMES = ("y", "Y", "labels", "label", "targets", "target", "classes")
MAX_CLASSES = 50  # integer targets with more distinct values are taken as regression
MAX_SET = 32  # (N, F) samples with at most this many elements get a Deep Sets space


def experiment_name(text: str) -> str:
    """``text`` as an experiment name (letters, digits, ``_ . -``; what the schema accepts)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", text).strip("-.") or "experiment"


@dataclass(frozen=True)
class Inferred:
    """What ``init`` read off the data file (``y_path``: a ``.npy`` pair's targets file)."""

    x: str | list[str]
    y: str
    split: str  # random / key / suffix
    n: int
    sample_shape: tuple[int, ...]
    kind: str  # classification / regression
    classes: int | None
    outputs: int
    space: str
    y_path: Path | None = None


def _keys(path: Path, y_path: Path | None) -> dict[str, Any]:
    """name -> array (or parquet column) of the file."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as f:
                return {k: f[k] for k in f.files}
        if suffix == ".npy":
            if y_path is None:
                raise HwloopError(f"{path}: a .npy input file needs --y TARGETS.npy")
            return {"x": np.load(path), "y": np.load(y_path)}
        if suffix in (".h5", ".hdf5"):
            import h5py

            with h5py.File(path, "r") as f:
                return {k: f[k][()] for k in f if isinstance(f[k], h5py.Dataset)}
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            t = pq.read_table(path)
            return {c: np.array(t.column(c).to_pylist()) for c in t.column_names}
    except HwloopError:
        raise
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise HwloopError(f"cannot read data file {path}: {first}") from None
    raise HwloopError(f"{path}: a data file is .npz, .npy, .h5 or .parquet")


def _pick(arrays: dict[str, Any], given: str | None, names: tuple[str, ...], what: str) -> str:
    if given is not None:
        if given not in arrays and f"{given}_train" not in arrays:
            raise HwloopError(
                f"--{what}: no array {given!r} in the data file (it has: {', '.join(arrays)})"
            )
        return given
    for n in names:
        if n in arrays or f"{n}_train" in arrays:
            return n
    raise HwloopError(
        f"cannot tell which array holds the {'inputs' if what == 'x' else 'targets'} "
        f"(it has: {', '.join(arrays)}); name it with --{what} KEY"
    )


def infer(path: Path, x: str | None = None, y: str | None = None) -> Inferred:
    """Keys, split, shapes, task kind and space of a data file. For ``.npy`` inputs, ``y`` is
    the targets' ``.npy`` file."""
    try:
        return _infer(path, x, y)
    except (KeyError, ValueError, TypeError, IndexError) as exc:  # shapes or types it cannot use
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise HwloopError(f"cannot infer an experiment from {path}: {first}") from None


def _infer(path: Path, x: str | None, y: str | None) -> Inferred:
    if not path.is_file():
        raise HwloopError(f"--data: {path} does not exist")
    y_path = Path(y) if path.suffix.lower() == ".npy" and y else None
    arrays = _keys(path, y_path)
    if y_path is not None:
        x, y = "x", "y"
    parquet = path.suffix.lower() == ".parquet"
    ykey = _pick(arrays, y, Y_NAMES, "y")
    xkey: str | list[str]
    if parquet and x is None and not any(n in arrays for n in X_NAMES):
        xkey = [c for c, a in arrays.items() if c not in (ykey, "split") and a.ndim == 1]
        xs = np.stack([np.asarray(arrays[c], dtype=np.float64) for c in xkey], axis=1)
    else:
        xkey = _pick(arrays, x, X_NAMES, "x")
        xs = None
    split = "random"
    if isinstance(xkey, str) and f"{xkey}_train" in arrays:
        split = "suffix"
        xs = np.concatenate([arrays[f"{xkey}_{s}"] for s in ("train", "val", "test")])
        ys = np.concatenate([arrays[f"{ykey}_{s}"] for s in ("train", "val", "test")])
    else:
        if "split" in arrays:
            split = "key"
        xs = arrays[xkey] if xs is None else xs  # type: ignore[index]
        ys = arrays[ykey]
    xs, ys = np.asarray(xs), np.asarray(ys)
    if ys.dtype.kind in "USO":
        raise HwloopError(
            f"targets {ykey!r} hold {ys.dtype} values; encode class labels as integers 0..K-1"
        )
    if ys.ndim < 1 or len(ys) != len(xs):
        raise HwloopError(
            f"targets {ykey!r} have shape {list(ys.shape)}; need one per input sample ({len(xs)})"
        )
    if xs.ndim < 2:
        raise HwloopError(f"inputs {xkey!r} have shape {list(xs.shape)}; need (samples, ...)")
    kind, classes, outputs = _kind(ys)
    shape = tuple(int(s) for s in xs.shape[1:])
    return Inferred(
        xkey, ykey, split, len(xs), shape, kind, classes, outputs, _space(shape), y_path
    )


def _kind(y: Any) -> tuple[str, int | None, int]:
    if y.ndim == 2 and y.shape[1] >= 2 and np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all():
        return "classification", int(y.shape[1]), int(y.shape[1])  # one-hot rows
    if y.dtype.kind in "biu" or (
        y.dtype.kind == "f" and y.ndim == 1 and np.isfinite(y).all() and (y == np.round(y)).all()
    ):
        values = np.unique(y)
        if y.ndim == 1 and values.min() >= 0 and len(values) <= MAX_CLASSES:
            classes = int(values.max()) + 1
            return "classification", max(classes, 2), max(classes, 2)
    return "regression", None, int(np.prod(y.shape[1:])) if y.ndim > 1 else 1


def _space(shape: tuple[int, ...]) -> str:
    if len(shape) == 3 and shape[1] == shape[2] and shape[1] >= 5:
        return "cnn"
    if len(shape) == 2 and shape[0] <= MAX_SET and shape[1] <= 16:
        return "deepsets"
    return "mlp"


_SPACES: dict[str, tuple[str, dict[str, Any]]] = {
    "mlp": (
        "# flatten, then 1..max_hidden ReLU layers of these widths",
        {"units": [8, 16, 32], "max_hidden": 2},
    ),
    "cnn": (
        "# up to max_conv 3x3 convolutions of these filters, then a dense head (0: none)",
        {"filters": [4, 8, 16], "max_conv": 2, "dense": [0, 16, 32]},
    ),
    "deepsets": (
        "# phi on every element, mean / max aggregation, rho (seed Table 8)",
        {"widths": [4, 8, 16, 32], "bottlenecks": [2, 4, 8, 16]},
    ),
}


def experiment_text(name: str, data: Path, inf: Inferred, relative_to: Path) -> str:
    """A commented experiment file for ``inf``, sized to finish in minutes on a laptop."""

    def ref(p: Path) -> str:
        try:
            return str(p.resolve().relative_to(relative_to.resolve()))
        except ValueError:
            return str(p.resolve())

    data_ref = ref(data)
    note, space = _SPACES[inf.space]
    kind_lines = (
        [
            f"classes = {inf.classes}                # labels 0..{(inf.classes or 2) - 1}",
            '# class_names = ["a", "b"]',
            '# metric = "error_rate"       # the report adds accuracy and per-class ROC AUC',
        ]
        if inf.kind == "classification"
        else [
            'metric = "mae"                # mae, mse or distance (Euclidean, per sample)',
        ]
    )
    lines = [
        f"# hwloop experiment, written by `hwloop init` from {data.name}:",
        f"# {inf.n} samples of shape {list(inf.sample_shape)}, {inf.kind}"
        + (f" with {inf.classes} classes" if inf.classes else f" of {inf.outputs} value(s)")
        + ".",
        "# Run it:    hwloop run THIS_FILE            (re-running resumes)",
        "# Override:  hwloop run THIS_FILE --set search.trials=40 --set local.iterations=0",
        "# Relative data paths are read from this file's folder.",
        "",
        f"name = {toml_value(name)}",
        "",
        "[data]",
        f"path = {toml_value(data_ref)}",
        *([f"y_path = {toml_value(ref(inf.y_path))}"] if inf.y_path else []),
        f"x = {toml_value(inf.x)}",
        f"y = {toml_value(inf.y)}",
        f'split = "{inf.split}"               # random (fractions, seed), key (split_key: 0/1/2 or'
        " train/val/test per sample), suffix (x_train, x_val, x_test, ...)",
        "fractions = [0.8, 0.1, 0.1]",
        "seed = 0",
        'normalize = "standard"         # none, standard (per input value), global; statistics'
        " from the training split only",
        "# shape = [2, 500]             # reshape every sample",
        "# [data.window]                # a slice of one sample axis; average: mean of each step",
        "# axis = -1",
        "# start = 0",
        "# stop = 400",
        "# step = 4",
        "# average = true",
        "",
        "[task]",
        f'kind = "{inf.kind}"',
        *kind_lines,
        "",
        "[space]",
        note,
        f'kind = "{inf.space}"               # mlp, cnn, deepsets or block',
        *(f"{k} = {toml_value(v)}" for k, v in space.items()),
        "",
        "[hardware]",
        'target = "vu13p"               # see `hwloop targets`',
        'flow = "open"                  # open (da4ml + yosys, runs anywhere) or vivado',
        "bits = 8                       # fixed-point width of weights and activations",
        "# max_util = 0.5               # feasible only below this fraction of every resource",
        "# max_latency_ns = 200",
        "",
        "[search]",
        "trials = 12",
        "epochs = 5",
        "population = 6",
        'objectives = ["metric", "lut", "latency"]   # also bops, params, p95, dsp',
        "limit = 20000                  # samples used at most",
        "",
        "[local]",
        "# quantisation-aware training x iterative pruning of the best front member(s)",
        "iterations = 2                 # pruning steps per bit width; 0 switches it off",
        "bits = [6, 8]",
        "epochs = 3",
        "points = 1",
        "",
        "[output]",
        f"dir = {toml_value(name + '-out')}",
        "synthesize = 1                 # chosen points synthesised for real; 0 switches it off",
    ]
    text = "\n".join(lines) + "\n"
    _check(text)
    return text


def _check(text: str) -> None:
    """What init writes must parse (a test also runs it)."""
    import tomllib

    doc = tomllib.loads(text)
    if "limit" in doc["search"] and doc["search"]["limit"] < 10:
        doc["search"].pop("limit")
    parse_experiment(doc)
