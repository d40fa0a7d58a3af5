"""The piece-level surrogate's data (open-flow runs with their piece tables) and its evaluation
held out by architecture and held out by size (train below the median LUT, test above: what a
search meets when it wanders past the calibrated designs)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hwloop import HwloopError
from hwloop.prediction._data import _row, arch_group, held_elsewhere
from surrogates import PieceSurrogate, ResourceSurrogate, feature_matrix, scores
from synth_cache import CacheBackend

METRICS = ("lut", "ff", "dsp", "latency")
# families of runs made to hold given pieces (scripts/calibrate_{attention,conv,norm}_pieces.py),
# not designs a search samples: every fit learns their pieces, no evaluation scores them
LIBRARY_FAMILIES = ("attnlib", "convlib", "normlib")


@dataclass
class PieceSet:
    """Successful open-flow runs that carry ``extra["piece_table"]``."""

    docs: list[dict[str, Any]]
    tables: list[list[dict[str, Any]]]
    Y: dict[str, NDArray[np.float64]]
    groups: NDArray[np.str_]
    families: NDArray[np.str_]  # the space or built-in arch each design came from
    keys: list[str]

    def __len__(self) -> int:
        return len(self.docs)

    def subset(self, rows: NDArray[np.bool_]) -> PieceSet:
        idx = np.flatnonzero(rows)
        return PieceSet(
            [self.docs[i] for i in idx],
            [self.tables[i] for i in idx],
            {k: v[rows] for k, v in self.Y.items()},
            self.groups[rows],
            self.families[rows],
            [self.keys[i] for i in idx],
        )

    def concat(self, other: PieceSet) -> PieceSet:
        """These runs and ``other``'s (those whose key is already here are dropped)."""
        seen = set(self.keys)
        b = other.subset(np.array([k not in seen for k in other.keys], dtype=bool))
        return PieceSet(
            [*self.docs, *b.docs],
            [*self.tables, *b.tables],
            {m: np.concatenate([self.Y[m], b.Y[m]]) for m in self.Y},
            np.concatenate([self.groups, b.groups]),
            np.concatenate([self.families, b.families]),
            [*self.keys, *b.keys],
        )

    @property
    def library(self) -> NDArray[np.bool_]:
        """The runs of a piece library (:data:`LIBRARY_FAMILIES`)."""
        return np.isin(self.families, LIBRARY_FAMILIES)

    def fit(self, params: Mapping[str, Any] | None = None) -> PieceSurrogate:
        return PieceSurrogate(**dict(params or {})).fit(
            self.docs, self.tables, self.Y, self.groups, self.library
        )


def family(source: str) -> str:
    """``hwloop calibrate bragg-3f2a...`` -> ``bragg``; a built-in arch keeps its name."""
    name = source.removeprefix("hwloop calibrate ").strip()
    return re.sub(r"-[0-9a-f]{8}$", "", name) or "?"


def piece_set(cache: CacheBackend, flow: str = "open") -> PieceSet:
    docs, tables, groups, fams, keys = [], [], [], [], []
    Y: dict[str, list[float]] = {}
    for entry in cache.entries(flow=flow, status="ok"):
        result = entry.result("post_synthesis")
        table = (result.extra or {}).get("piece_table") if result is not None else None
        if result is None or not result.ok or not table:
            continue
        docs.append(entry.design)
        tables.append(list(table))
        groups.append(arch_group(entry.design))
        fams.append(family(entry.source))
        keys.append(entry.key)
        for metric, value in _row(result).items():
            Y.setdefault(metric, []).append(value)
    if not docs:
        raise HwloopError(
            f"the cache has no {flow} runs with piece tables: run `hwloop calibrate --flow open` "
            "(or import surrogates/data/calibration) first"
            + held_elsewhere(cache, flow, "post_synthesis")
        )
    return PieceSet(
        docs,
        tables,
        {m: np.asarray(v, dtype=np.float64) for m, v in Y.items()},
        np.asarray(groups, dtype=str),
        np.asarray(fams, dtype=str),
        keys,
    )


@dataclass(frozen=True)
class PieceScores:
    """Scores of one split: per metric for the piece model and the whole-design baseline, and
    per family (LUT) for the piece model."""

    split: str
    n_train: int
    n_test: int
    piece: dict[str, dict[str, float]]
    whole: dict[str, dict[str, float]]
    by_family: dict[str, dict[str, float]]
    traced: dict[str, dict[str, float]]  # the middle fidelity (the test designs' da4ml traces)
    # the piece model on the test designs made only of piece kinds seen in training (the
    # others are predicted too, but flagged: "piece kind 'softmax': no training data")
    seen: dict[str, dict[str, float]]
    n_unseen: int

    def lines(self) -> list[str]:
        """The scores as plain text lines (scripts; the CLI draws a table)."""
        out = [
            f"held out {self.split}: trained on {self.n_train}, tested on {self.n_test}",
            f"{'metric':<9} {'SMAPE%':>7} {'cov80':>6} {'R2':>7} | whole-design SMAPE% cov80",
        ]
        for m, sc in self.piece.items():
            w = self.whole[m]
            out.append(
                f"{m:<9} {sc['smape']:7.1f} {sc['coverage80']:6.2f} {sc['r2']:7.3f} | "
                f"{w['smape']:7.1f} {w['coverage80']:6.2f}"
            )
        out += [
            f"  {fam:<14} {sc['n']:4.0f} designs  LUT SMAPE {sc['smape']:5.1f} %"
            for fam, sc in self.by_family.items()
        ]
        if self.n_unseen:
            out.append("  " + self.unseen_line())
        out.append(
            "  da4ml-traced (middle fidelity): "
            + ", ".join(
                f"{m} SMAPE {sc['smape']:.1f} % cov {sc['coverage80']:.2f}"
                for m, sc in self.traced.items()
            )
        )
        return out

    def unseen_line(self) -> str:
        """The scores without the test designs made of piece kinds never seen in training."""
        return (
            f"{self.n_unseen} test designs have piece kinds unseen in training (flagged "
            f"extrapolated); the other {self.n_test - self.n_unseen}: "
            + ", ".join(f"{m} SMAPE {sc['smape']:.1f} %" for m, sc in self.seen.items())
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "piece": self.piece,
            "whole_design": self.whole,
            "piece_lut_by_family": self.by_family,
            "traced": self.traced,
            "seen_kinds_only": {"n_unseen": self.n_unseen, **self.seen},
        }


Predictions = dict[str, NDArray[np.float64]]  # metric -> (n, 3) low / median / high


def _fold(
    train: PieceSet, held: PieceSet, params: Mapping[str, Any] | None
) -> tuple[Predictions, Predictions, Predictions, NDArray[np.bool_]]:
    """Predictions of ``held`` by models fitted on ``train``: the piece model from the plan,
    the whole-design model (its own features), the piece model from the designs' traces; and
    which held designs have a piece kind the training designs lack."""
    model = train.fit(params)
    piece, notes = model.predict_documents(held.docs)
    traced, _ = model.predict_traced(held.docs, held.tables)
    own = train.subset(~train.library)  # the whole-design model learns designs, not pieces
    whole = ResourceSurrogate().fit(feature_matrix(own.docs), own.Y, groups=own.groups)
    unseen = np.array([any(n.endswith(": no training data") for n in ns) for ns in notes])
    return piece, whole.predict(feature_matrix(held.docs)), traced, unseen.astype(bool)


def _scores(
    split: str,
    n_train: int,
    held: PieceSet,
    piece: Predictions,
    whole: Predictions,
    traced: Predictions,
    unseen: NDArray[np.bool_],
) -> PieceScores:
    def of(pred: Predictions, rows: NDArray[np.bool_] | None = None) -> dict[str, dict[str, float]]:
        r = np.ones(len(held), dtype=bool) if rows is None else rows
        return {m: scores(held.Y[m][r], pred[m][r]) for m in METRICS if m in pred}

    fams = {}
    for fam in sorted(set(held.families)):
        rows = held.families == fam
        fams[fam] = {"n": float(rows.sum()), **scores(held.Y["lut"][rows], piece["lut"][rows])}
    return PieceScores(
        split,
        n_train,
        len(held),
        of(piece),
        of(whole),
        fams,
        of(traced),
        of(piece, ~unseen),
        int(unseen.sum()),
    )


def score_split(
    data: PieceSet, test: NDArray[np.bool_], split: str, params: Mapping[str, Any] | None = None
) -> PieceScores:
    test = test & ~data.library
    train, held = data.subset(~test), data.subset(test)
    if len(train) < 4 or len(held) < 1:
        raise HwloopError(f"{split}: {len(train)} training / {len(held)} test designs: too few")
    return _scores(split, len(train), held, *_fold(train, held, params))


def by_size(data: PieceSet, params: Mapping[str, Any] | None = None) -> PieceScores:
    """Train on the designs below the median LUT count, test on those above (a piece
    library's runs are always trained on)."""
    lut = data.Y["lut"]
    median = np.median(lut[~data.library])
    return score_split(data, lut > median, "by size (train < median LUT)", params)


def by_arch(
    data: PieceSet,
    params: Mapping[str, Any] | None = None,
    folds: int = 5,
    seed: int = 0,
) -> PieceScores:
    """Every architecture held out once (scikit-learn's ``GroupKFold``, ``folds`` folds of
    architectures, shuffled by ``seed``); scores pooled over the folds' predictions."""
    from sklearn.model_selection import GroupKFold

    lib = data.library
    n_archs = np.unique(data.groups[~lib]).size
    if n_archs < 2:
        raise HwloopError("holding out architectures needs at least 2 of them")
    folds = min(folds, n_archs)
    pooled = [{m: np.full((len(data), 3), math.nan) for m in METRICS} for _ in range(3)]
    unseen = np.zeros(len(data), dtype=bool)
    n_train = []
    splitter = GroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    rows = np.flatnonzero(~lib)
    for _, held in splitter.split(np.zeros((rows.size, 1)), groups=data.groups[~lib]):
        test = np.zeros(len(data), dtype=bool)
        test[rows[held]] = True
        train = data.subset(~test)
        n_train.append(len(train))
        *got, new = _fold(train, data.subset(test), params)
        for into, pred in zip(pooled, got, strict=True):
            for m in METRICS:
                into[m][test] = pred[m]
        unseen[test] = new
    split = f"by architecture ({folds} folds)"
    piece, whole, traced = ({m: p[m][~lib] for m in p} for p in pooled)
    n = int(np.mean(n_train))
    return _scores(split, n, data.subset(~lib), piece, whole, traced, unseen[~lib])


def held_out_pairs(
    data: PieceSet, names: Sequence[str], params: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Each named family (a built-in arch) held out of training in turn: its designs'
    predicted and real numbers."""
    out = []
    for name in names:
        test = data.families == name
        if not test.any():
            continue
        train, held = data.subset(~test), data.subset(test)
        pred, notes = train.fit(params).predict_documents(held.docs)
        for i, doc in enumerate(held.docs):
            bits = (doc.get("hw", {}).get("input_precision") or {}).get("width")
            row: dict[str, Any] = {"arch": name, "bits": bits, "notes": notes[i]}
            for m in METRICS:
                row[m] = float(held.Y[m][i])
                row[f"{m}_pred"] = float(pred[m][i, 1])
            out.append(row)
    return out
