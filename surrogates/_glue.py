"""What an hls4ml network costs beyond the sum of its layers' predictions: the layered
surrogate's learned glue term.

Two forms, per metric, both on ``r = log1p(network) - log1p(sum of its layers)``:

- a *ratio*: ``r = a + c (n_layers - 1)`` (least squares; ``c`` only where layer counts vary);
- a *residual booster*: XGBoost over the network's whole-design features
  (:func:`surrogates.design_features`) and ``log1p(sum)``. What the sum misses depends on the
  network: the 3-layer wa-hls4ml networks' FF is 2-9 times their layers' (registers between
  layers, the io_parallel pipeline), by width, precision and reuse, which one ratio cannot
  carry (FF 29.7 % SMAPE held out by architecture with the ratio, 2.0 % with the booster, seed 0,
  2026-12-05).

The booster is kept for a metric only where it beats the ratio on a fifth of the glue networks
held out by shape (fitted on the rest) and where at least ``min_booster`` networks exist; then
it is refitted on all of them. It answers only networks like those it learnt from: at least
``min_support`` of them with the same layer kinds and a typical reuse factor within 4 times
(:meth:`NetworkGlue.supported`). Trees do not extrapolate, and one fitted on Dense networks at
reuse 256-5,408 put the NAC conv nets at reuse 4 at 0.06 times their layers' DSPs. Elsewhere,
and where a design's whole-design features cannot be read, the caller's ratio rule applies.
The correction shifts the interval bounds with the median.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from surrogates._features import FEATURES, FeatureError, design_features
from surrogates._model import SurrogateError, round_counts, scores

# the device capacities are not known when fitting (NaN), so they are no feature of the glue
GLUE_FEATURES = tuple(f for f in FEATURES if f not in ("target_lut", "target_dsp")) + ("log_sum",)


def glue_matrix(docs: Sequence[Mapping[str, Any]], log_sum: NDArray[Any]) -> NDArray[np.float64]:
    """One row per document (:data:`GLUE_FEATURES`); NaN rows where its features are unreadable."""
    rows = np.full((len(docs), len(GLUE_FEATURES)), np.nan)
    for i, doc in enumerate(docs):
        try:
            f = design_features(doc)
        except FeatureError:
            continue
        rows[i, :-1] = [f[name] for name in GLUE_FEATURES[:-1]]
    rows[:, -1] = log_sum
    return rows


class NetworkGlue:
    """Per metric, the ratio and (where it wins) the residual booster; see the module doc."""

    linear_: dict[str, tuple[float, float]]
    boosters_: dict[str, Any]
    chosen_: dict[str, dict[str, float]]  # per metric: held-out SMAPE of each form
    support_: dict[str, dict[int, int]]  # layer kinds -> log2(typical reuse) -> networks

    def __init__(
        self,
        min_records: int = 20,
        min_booster: int = 200,
        n_estimators: int = 400,
        learning_rate: float = 0.05,
        max_depth: int = 5,
        min_support: int = 10,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.min_records = min_records
        self.min_booster = min_booster
        self.min_support = min_support
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.random_state = random_state
        self.n_jobs = n_jobs

    def get_params(self) -> dict[str, Any]:
        return {
            "min_records": self.min_records,
            "min_booster": self.min_booster,
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "max_depth": self.max_depth,
            "min_support": self.min_support,
            "random_state": self.random_state,
            "n_jobs": self.n_jobs,
        }

    def fit(
        self,
        docs: Sequence[Mapping[str, Any]],
        sums: Mapping[str, NDArray[Any]],
        n_layers: NDArray[Any],
        Y: Mapping[str, NDArray[Any]],
        groups: NDArray[Any],
        kinds: Sequence[str],
        reuse: NDArray[Any],
        trusted: NDArray[Any] | None = None,
    ) -> NetworkGlue:
        """``sums``: metric -> (n,) the sum of each network's layer predictions (median);
        ``Y``: metric -> (n,) measured; ``groups``: the networks' shapes (held out together);
        ``kinds``: each network's layer kinds (one string); ``reuse``: its typical reuse factor;
        ``trusted``: the networks the ratio may learn from (default all; the booster learns
        from every network)."""
        trusted = np.ones(len(docs), dtype=bool) if trusted is None else np.asarray(trusted)
        self.linear_, self.boosters_, self.chosen_, self.support_ = {}, {}, {}, {}
        for k, b in zip(kinds, _octaves(reuse), strict=True):
            row = self.support_.setdefault(k, {})
            row[b] = row.get(b, 0) + 1
        base = glue_matrix(docs, np.zeros(len(docs)))
        for metric, s in sums.items():
            y = np.asarray(Y.get(metric, np.full(len(docs), np.nan)), dtype=np.float64)
            ok = np.isfinite(y) & np.isfinite(s)
            if (ok & trusted).sum() < self.min_records:
                continue
            r = np.log1p(np.maximum(y, 0)) - np.log1p(np.maximum(s, 0))
            self.linear_[metric] = _ratio(r[ok & trusted], n_layers[ok & trusted])
            X = base.copy()
            X[:, -1] = np.log1p(np.maximum(s, 0))
            readable = ok & np.isfinite(X[:, :-1]).any(axis=1)
            if readable.sum() < self.min_booster or len(np.unique(groups[readable])) < 5:
                continue
            idx = np.flatnonzero(readable)
            held = _held_out(groups[idx], self.random_state)
            fit_i, val_i = idx[~held], idx[held]
            booster = self._train(X[fit_i], r[fit_i])
            lin = ok & trusted & ~np.isin(np.arange(len(docs)), val_i)
            a, c = _ratio(r[lin], n_layers[lin]) if lin.sum() else self.linear_[metric]
            by_ratio = np.expm1(np.log1p(s[val_i]) + a + c * (n_layers[val_i] - 1))
            by_booster = np.expm1(np.log1p(s[val_i]) + self._predict(booster, X[val_i]))
            err = {
                name: scores(y[val_i], _counted(metric, pred))["smape"]
                for name, pred in (("ratio", by_ratio), ("booster", by_booster))
            }
            self.chosen_[metric] = err
            if err["booster"] < err["ratio"]:
                self.boosters_[metric] = self._train(X[idx], r[idx])
        return self

    def _train(self, X: NDArray[Any], r: NDArray[Any]) -> Any:
        import xgboost as xgb

        params = {
            "objective": "reg:squarederror",
            "eta": self.learning_rate,
            "max_depth": self.max_depth,
            "subsample": 0.8,
            "colsample_bytree": 0.8,
            "seed": self.random_state,
            "nthread": self.n_jobs,
        }
        return xgb.train(params, xgb.DMatrix(X, label=r), num_boost_round=self.n_estimators)

    @staticmethod
    def _predict(booster: Any, X: NDArray[Any]) -> NDArray[np.float64]:
        import xgboost as xgb

        return np.asarray(booster.predict(xgb.DMatrix(X)), dtype=np.float64)

    def supported(self, kinds: Sequence[str], reuse: NDArray[Any]) -> NDArray[np.bool_]:
        """Per network, whether the booster learnt from at least ``min_support`` networks of
        the same layer kinds and a typical reuse factor within 4 times its own."""
        out = []
        for k, b in zip(kinds, _octaves(reuse), strict=True):
            row = self.support_.get(k, {})
            out.append(sum(row.get(b + d, 0) for d in range(-2, 3)) >= self.min_support)
        return np.asarray(out, dtype=np.bool_)

    def apply(
        self,
        docs: Sequence[Mapping[str, Any]],
        sums: Mapping[str, NDArray[Any]],
        n_layers: NDArray[Any],
        ratio: NDArray[np.bool_],
        kinds: Sequence[str],
        reuse: NDArray[Any],
    ) -> tuple[dict[str, NDArray[np.float64]], NDArray[np.bool_]]:
        """Metric -> (n, 3): ``sums`` (metric -> (n, 3) low / median / high) of networks (two
        layers or more) through the booster where :meth:`supported`, else through the ratio
        where ``ratio`` is set, else unchanged; and per design whether it was glued."""
        out: dict[str, NDArray[np.float64]] = {}
        multi = np.asarray(n_layers) >= 2
        by_booster = multi & self.supported(kinds, reuse) if self.boosters_ else multi & False
        networks = multi & (np.asarray(ratio, dtype=bool) | by_booster)
        # whole-design features only of the networks the booster answers (a hot path: batch
        # prediction reads every design)
        rows = np.flatnonzero(by_booster)
        base = glue_matrix([docs[int(i)] for i in rows], np.zeros(len(rows))) if rows.size else None
        for metric, q in sums.items():
            q = np.asarray(q, dtype=np.float64)
            lin = self.linear_.get(metric)
            if lin is None or not networks.any():
                out[metric] = q
                continue
            a, c = lin
            shift = a + c * (np.asarray(n_layers, dtype=np.float64) - 1)
            use = networks & np.asarray(ratio, dtype=bool)
            booster = self.boosters_.get(metric)
            if booster is not None and base is not None:
                X = base.copy()
                X[:, -1] = np.log1p(np.maximum(q[rows, 1], 0))
                ok = np.isfinite(X[:, :-1]).any(axis=1) & np.isfinite(q[rows, 1])
                if ok.any():
                    shift[rows[ok]] = self._predict(booster, X[ok])
                    use[rows[ok]] = True
            glued_q = np.maximum(np.expm1(np.log1p(np.maximum(q, 0)) + shift[:, None]), 0.0)
            out[metric] = np.where(use[:, None], glued_q, q)
        return out, networks

    # ---- persistence --------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "params": self.get_params(),
            "features": list(GLUE_FEATURES),
            "ratio": {k: list(v) for k, v in self.linear_.items()},
            "boosters": sorted(self.boosters_),
            "heldout_smape": self.chosen_,
            "support": {k: {str(b): n for b, n in v.items()} for k, v in self.support_.items()},
        }

    def save(self, directory: Path) -> None:
        for metric, booster in self.boosters_.items():
            raw = booster.save_raw(raw_format="json")
            (directory / f"glue-{metric}.json.gz").write_bytes(gzip.compress(bytes(raw), mtime=0))

    @classmethod
    def load(cls, directory: Path, meta: Mapping[str, Any]) -> NetworkGlue:
        import xgboost as xgb

        if list(meta.get("features", GLUE_FEATURES)) != list(GLUE_FEATURES):
            raise SurrogateError(f"{directory}: its network glue has other features; refit it")
        glue = cls(**meta.get("params", {}))
        if "ratio" not in meta:  # saved before the booster: metric -> (a, 1, c)
            glue.linear_ = {k: (float(v[0]), float(v[2])) for k, v in meta.items()}
            glue.chosen_, glue.boosters_, glue.support_ = {}, {}, {}
            return glue
        glue.support_ = {
            k: {int(b): int(n) for b, n in v.items()} for k, v in meta.get("support", {}).items()
        }
        glue.linear_ = {k: (float(v[0]), float(v[1])) for k, v in meta.get("ratio", {}).items()}
        glue.chosen_ = dict(meta.get("heldout_smape", {}))
        glue.boosters_ = {}
        for metric in meta.get("boosters", []):
            booster = xgb.Booster()
            try:
                raw = gzip.decompress((directory / f"glue-{metric}.json.gz").read_bytes())
                booster.load_model(bytearray(raw))
            except (OSError, xgb.core.XGBoostError) as exc:
                raise SurrogateError(f"{directory}: cannot read the {metric} glue: {exc}") from None
            glue.boosters_[metric] = booster
        return glue


def _octaves(reuse: NDArray[Any]) -> list[int]:
    return [int(round(math.log2(max(float(r), 1.0)))) for r in np.asarray(reuse).ravel()]


def _counted(metric: str, pred: NDArray[Any]) -> NDArray[np.float64]:
    """``pred`` as the surrogate answers it: not below 0, counted metrics rounded."""
    p = np.maximum(pred, 0.0)
    return round_counts({metric: np.column_stack([p, p, p])})[metric]


def _ratio(r: NDArray[Any], n_layers: NDArray[Any]) -> tuple[float, float]:
    """``r = a + c (n_layers - 1)`` by least squares; ``c = 0`` where layer counts do not vary."""
    extra = np.asarray(n_layers, dtype=np.float64) - 1
    if np.ptp(extra) > 0:
        A = np.column_stack([np.ones(len(r)), extra])
        (a, c), *_ = np.linalg.lstsq(A, r, rcond=None)
        return float(a), float(c)
    return float(np.mean(r)), 0.0


def _held_out(groups: NDArray[Any], seed: int) -> NDArray[np.bool_]:
    from sklearn.model_selection import GroupShuffleSplit

    split = GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=seed)
    _, idx = next(split.split(np.zeros((len(groups), 1)), groups=groups))
    held = np.zeros(len(groups), dtype=bool)
    held[idx] = True
    return held
