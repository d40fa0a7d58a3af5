"""The resource surrogate: XGBoost quantile models, one per metric, for one flow and kind.

A scikit-learn style estimator: ``__init__`` only stores parameters, ``fit`` returns self, learned
state ends in ``_``. Targets are learned on a log1p scale (resources and latencies span orders of
magnitude); each metric's booster predicts the 10 / 50 / 90 % quantiles at once
(``reg:quantileerror``), so every prediction carries an 80 % interval. Saved as one XGBoost JSON
file per metric plus ``metadata.json``; never pickled.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from surrogates._features import FEATURES, SCHEMA_VERSION
from surrogates._layers import LAYER_FEATURES, LAYER_SCHEMA
from surrogates._pieces import PIECE_FEATURES, PIECE_SCHEMA, TRACED_FEATURES
from surrogates._prior import PowerLaw

# feature set name -> (feature names, schema recorded in a saved model)
FEATURE_SETS: dict[str, tuple[tuple[str, ...], int | str]] = {
    "design": (FEATURES, SCHEMA_VERSION),
    "layer": (LAYER_FEATURES, LAYER_SCHEMA),
    "piece": (PIECE_FEATURES, PIECE_SCHEMA),
    "piece-traced": (TRACED_FEATURES, PIECE_SCHEMA),
}

METRICS = ("lut", "ff", "dsp", "bram_18k", "latency", "ii")
# the unit hls4ml's reports count a metric in (whole DSPs and cycles, half BRAM_18Ks)
COUNT_GRAIN = {"dsp": 1.0, "bram_18k": 0.5, "latency": 1.0, "ii": 1.0}
FORMAT = "hwloop.surrogate/1"
_PARAMS = (  # the constructor's parameters (get_params / set_params / clone)
    "flow",
    "kind",
    "n_estimators",
    "learning_rate",
    "max_depth",
    "min_child_weight",
    "quantiles",
    "conformal_fraction",
    "priors",
    "n_jobs",
    "random_state",
    "features",
)


class SurrogateError(ValueError):
    """A surrogate that cannot be trained, loaded or asked (one-line message)."""


def _versions() -> dict[str, str]:
    import xgboost

    return {"xgboost": str(xgboost.__version__), "numpy": np.__version__}


def write_metadata(directory: Path, meta: Mapping[str, Any]) -> None:
    """``metadata.json`` of a saved model, replaced whole (a crash leaves the old one)."""
    tmp = directory / "metadata.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1, sort_keys=True))
    tmp.replace(directory / "metadata.json")


def read_metadata(directory: str | Path) -> dict[str, Any]:
    """The ``metadata.json`` of a saved model; :class:`SurrogateError` when there is none."""
    d = Path(directory)
    try:
        meta: dict[str, Any] = json.loads((d / "metadata.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SurrogateError(f"no readable surrogate in {d}: {exc}") from None
    return meta


def feature_range(X: NDArray[Any]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per column, the smallest and largest known value (NaN for a column never known)."""
    X = np.asarray(X, dtype=np.float64)
    known = ~np.isnan(X)
    lo = np.where(known, X, np.inf).min(axis=0)
    hi = np.where(known, X, -np.inf).max(axis=0)
    return np.where(known.any(axis=0), lo, np.nan), np.where(known.any(axis=0), hi, np.nan)


def outside_range(
    X: NDArray[Any], bounds: tuple[NDArray[Any], NDArray[Any]], names: Sequence[str]
) -> list[list[str]]:
    """Per row of ``X``, its columns' names outside ``bounds`` (:func:`feature_range`)."""
    lo, hi = bounds
    X = np.asarray(X, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bad = (X < lo) | (X > hi)
    out: list[list[str]] = [[] for _ in range(bad.shape[0])]
    for i in np.flatnonzero(bad.any(axis=1)):
        out[i] = [names[int(j)] for j in np.flatnonzero(bad[i])]
    return out


def round_counts(pred: Mapping[str, NDArray[Any]]) -> dict[str, NDArray[np.float64]]:
    """``pred`` with every counted metric rounded to its :data:`COUNT_GRAIN`: a layer without
    DSPs predicted at 0.3 is 0 (SMAPE took each such 0.3 against a real 0 as a 200 % miss)."""
    out = {}
    for m, q in pred.items():
        grain = COUNT_GRAIN.get(m)
        out[m] = np.round(np.asarray(q) / grain) * grain if grain else np.asarray(q)
    return out


def targets_by_metric(Y: NDArray[Any]) -> dict[str, NDArray[np.float64]]:
    """An (n, len(METRICS)) target array (scikit-learn's form) as metric -> (n,) targets."""
    A = np.asarray(Y, dtype=np.float64)
    if A.ndim != 2 or A.shape[1] != len(METRICS):
        raise SurrogateError(f"Y must have a column per metric {METRICS}, got shape {A.shape}")
    return {m: A[:, j] for j, m in enumerate(METRICS)}


class ResourceSurrogate:
    """Predicts :data:`METRICS` (with 80 % intervals) of designs of one ``flow`` and ``kind``."""

    # learned state (set by fit / load)
    boosters_: dict[str, Any]
    n_train_: dict[str, int]
    interval_margin_: dict[str, float]
    prior_coef_: dict[str, PowerLaw]
    training_hash_: str
    feature_names_: tuple[str, ...]
    feature_range_: tuple[NDArray[np.float64], NDArray[np.float64]]
    metadata_: dict[str, Any]

    def __init__(
        self,
        flow: str = "open",
        kind: str = "post_synthesis",
        n_estimators: int = 400,
        learning_rate: float = 0.05,
        max_depth: int = 6,
        min_child_weight: float = 1.0,
        quantiles: tuple[float, float, float] = (0.1, 0.5, 0.9),
        conformal_fraction: float = 0.2,
        priors: tuple[tuple[str, ...], ...] = (("lut", "bops"), ("ff", "bops")),
        n_jobs: int = 1,
        random_state: int = 0,
        features: str = "design",
    ) -> None:
        self.flow = flow
        self.kind = kind
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.quantiles = quantiles
        self.conformal_fraction = conformal_fraction
        self.priors = priors
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.features = features

    # ---- the scikit-learn estimator protocol (clone, cross_validate, learning_curve take it) ----
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters, as given (scikit-learn's ``clone`` checks identity)."""
        return {name: getattr(self, name) for name in _PARAMS}

    def set_params(self, **params: Any) -> ResourceSurrogate:
        unknown = sorted(set(params) - set(_PARAMS))
        if unknown:
            raise SurrogateError(f"unknown surrogate parameter(s): {', '.join(unknown)}")
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def __sklearn_tags__(self) -> Any:
        from sklearn.base import BaseEstimator
        from sklearn.utils import RegressorTags

        tags = BaseEstimator.__sklearn_tags__(self)
        tags.estimator_type = "regressor"
        tags.regressor_tags = RegressorTags()
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.input_tags.allow_nan = True
        tags.target_tags.single_output = False
        return tags

    @property
    def _names(self) -> tuple[str, ...]:
        if self.features not in FEATURE_SETS:
            raise SurrogateError(f"features must be one of {sorted(FEATURE_SETS)}")
        return FEATURE_SETS[self.features][0]

    def _booster_params(self) -> dict[str, Any]:
        return {
            "objective": "reg:quantileerror",
            "quantile_alpha": np.asarray(self.quantiles, dtype=np.float64),
            "tree_method": "hist",
            "eta": self.learning_rate,
            "max_depth": self.max_depth,
            "min_child_weight": self.min_child_weight,
            "nthread": self.n_jobs,
            "seed": self.random_state,
        }

    def fit(
        self,
        X: NDArray[Any],
        Y: Mapping[str, NDArray[Any]] | NDArray[Any],
        groups: NDArray[Any] | None = None,
        sample_weight: NDArray[Any] | None = None,
    ) -> ResourceSurrogate:
        """``X``: (n, len(FEATURES)) features; ``Y``: metric -> (n,) targets, or an (n,
        len(METRICS)) array with a column per metric (scikit-learn's form); NaN: unknown;
        ``groups``: the architecture of each row; ``sample_weight``: each row's weight in the
        prior's least squares and the boosters' loss (None: all 1). Metrics with fewer than 2
        known targets are not modelled.

        Quantile boosters under-cover on designs they have not seen, so the intervals are
        conformalised (CQR): with ``groups`` and ``conformal_fraction`` > 0, a fraction of the
        architectures is held out, a model fitted on the rest, and the interval widened (on the
        log scale) until it covers 80 % of the held-out rows; then the boosters are refitted on
        everything and keep that margin (``interval_margin_``)."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self._names):
            raise SurrogateError(f"X must have {len(self._names)} feature columns, got {X.shape}")
        if not isinstance(Y, Mapping):
            Y = targets_by_metric(Y)
        self.boosters_ = {}
        self.n_train_ = {}
        self.interval_margin_ = {}
        self.prior_coef_ = {}
        w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
        if w.shape != (X.shape[0],) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise SurrogateError(
                f"sample_weight must be {X.shape[0]} finite weights >= 0, not all 0"
            )
        h = hashlib.sha256(X.tobytes())
        if sample_weight is not None:
            h.update(w.tobytes())
        held = self._held_out(groups, X.shape[0])
        for metric in METRICS:
            if metric not in Y:
                continue
            y = np.asarray(Y[metric], dtype=np.float64)
            if y.shape != (X.shape[0],):
                raise SurrogateError(f"{metric}: {y.shape[0]} targets for {X.shape[0]} rows")
            known = ~np.isnan(y)
            if known.sum() < 2:
                continue
            h.update(metric.encode() + y.tobytes())
            t = np.log1p(np.maximum(y, 0.0))
            self._fit_prior(metric, X[known], t[known], w[known])
            off = self._offset(metric, X)
            margin = 0.0
            fit_rows, cal_rows = known & ~held, known & held
            if cal_rows.sum() >= 10 and fit_rows.sum() >= 2:
                booster = self._train(X[fit_rows], t[fit_rows], off[fit_rows], w[fit_rows])
                q = self._predict_log(booster, X[cal_rows], off[cal_rows])
                err = np.maximum(q[:, 0] - t[cal_rows], t[cal_rows] - q[:, 2])
                level = min(1.0, (self.quantiles[2] - self.quantiles[0]) * (1 + 1 / err.size))
                margin = max(0.0, float(np.quantile(err, level)))
            self.boosters_[metric] = self._train(X[known], t[known], off[known], w[known])
            self.interval_margin_[metric] = margin
            self.n_train_[metric] = int(known.sum())
        if not self.boosters_:
            raise SurrogateError("no metric has at least 2 known targets to learn from")
        self.training_hash_ = h.hexdigest()[:24]
        self.feature_names_ = self._names
        # NaN where a feature is unknown in every row (e.g. accumulators of CSV records)
        self.feature_range_ = feature_range(X)
        return self

    def outside(self, X: NDArray[Any]) -> list[list[str]]:
        """Per row, the features outside the training set's range (the model extrapolates)."""
        return outside_range(X, self.feature_range_, self.feature_names_)

    def _held_out(self, groups: NDArray[Any] | None, n: int) -> NDArray[np.bool_]:
        if groups is None or self.conformal_fraction <= 0:
            return np.zeros(n, dtype=bool)
        g = np.asarray(groups).astype(str)
        if g.shape != (n,):
            raise SurrogateError(f"groups must have one entry per row ({n}), got {g.shape}")
        names = np.unique(g)
        rng = np.random.default_rng(self.random_state)
        k = int(round(self.conformal_fraction * names.size))
        return np.isin(g, rng.permutation(names)[:k])

    # ---- analytical prior: a power law, the trees learn the rest (surrogates._prior) ---------
    def _prior_spec(self, metric: str) -> tuple[str, ...] | None:
        return next((tuple(p) for p in self.priors if p[0] == metric), None)

    def _fit_prior(
        self, metric: str, X: NDArray[Any], t: NDArray[Any], w: NDArray[Any] | None = None
    ) -> None:
        spec = self._prior_spec(metric)
        law = PowerLaw.fit(spec, self._names, X, t, w) if spec else None
        if law is not None:
            self.prior_coef_[metric] = law

    def _offset(self, metric: str, X: NDArray[Any]) -> NDArray[np.float64]:
        law = self.prior_coef_.get(metric)
        if law is None:
            return np.zeros(X.shape[0])
        return law.offset(self._names, X)

    def _train(
        self, X: NDArray[Any], t: NDArray[Any], offset: NDArray[Any], w: NDArray[Any] | None = None
    ) -> Any:
        import xgboost as xgb

        margin = np.repeat(offset[:, None], len(self.quantiles), axis=1)
        dm = xgb.DMatrix(X, label=t, base_margin=margin, weight=w)
        return xgb.train(self._booster_params(), dm, num_boost_round=self.n_estimators)

    def _predict_log(
        self, booster: Any, X: NDArray[Any], offset: NDArray[Any]
    ) -> NDArray[np.float64]:
        import xgboost as xgb

        margin = np.repeat(offset[:, None], len(self.quantiles), axis=1)
        q = np.asarray(booster.predict(xgb.DMatrix(X, base_margin=margin)), dtype=np.float64)
        return np.sort(q.reshape(X.shape[0], -1), axis=1)  # quantiles never cross

    def predict(self, X: NDArray[Any]) -> dict[str, NDArray[np.float64]]:
        """metric -> (n, 3) array of (low, median, high): the 80 % interval and its middle."""
        if not hasattr(self, "boosters_"):
            raise SurrogateError("this surrogate is not fitted: call fit() or load()")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.feature_names_):
            raise SurrogateError(f"X must have {len(self.feature_names_)} columns, got {X.shape}")
        out = {}
        for metric in (m for m in METRICS if m in self.boosters_):
            q = self._predict_log(self.boosters_[metric], X, self._offset(metric, X))
            margin = self.interval_margin_.get(metric, 0.0)
            q[:, 0] -= margin
            q[:, 2] += margin
            out[metric] = np.maximum(np.expm1(q), 0.0)
        return out

    def predict_documents(
        self, docs: Sequence[Mapping[str, Any]], target: Mapping[str, float] | None = None
    ) -> tuple[dict[str, NDArray[np.float64]], list[list[str]]]:
        """Predictions of design documents and, per design, the features outside the training
        range (the interface :class:`LayeredSurrogate` shares)."""
        from surrogates._features import feature_matrix

        X = feature_matrix(docs, target)
        return self.predict(X), self.outside(X)

    # ---- persistence --------------------------------------------------------------------------
    def save(
        self, directory: str | Path, extra: Mapping[str, Any] | None = None, compress: bool = False
    ) -> Path:
        """Write ``<metric>.json`` (XGBoost JSON; gzipped as ``<metric>.json.gz`` with
        ``compress``, a tenth of the size) and ``metadata.json`` into ``directory``."""
        if not hasattr(self, "boosters_"):
            raise SurrogateError("cannot save an unfitted surrogate")
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        for metric, booster in self.boosters_.items():
            for stale in (d / f"{metric}.json", d / f"{metric}.json.gz"):
                stale.unlink(missing_ok=True)
            raw = bytes(booster.save_raw(raw_format="json"))
            path = d / (f"{metric}.json.gz" if compress else f"{metric}.json")
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(gzip.compress(raw, 9, mtime=0) if compress else raw)
            tmp.replace(path)
        meta = {
            "format": FORMAT,
            "feature_schema": FEATURE_SETS[self.features][1],
            "features": list(self.feature_names_),
            "params": self.get_params(),
            "metrics": sorted(self.boosters_),
            "n_train": self.n_train_,
            "interval_margin": self.interval_margin_,
            "prior_coef": {k: v.to_json() for k, v in self.prior_coef_.items()},
            "training_hash": self.training_hash_,
            "feature_range": [
                [None if math.isnan(v) else float(v) for v in bound]
                for bound in self.feature_range_
            ],
            "versions": _versions(),
            **dict(extra or {}),
        }
        write_metadata(d, meta)
        return d

    @classmethod
    def load(cls, directory: str | Path) -> ResourceSurrogate:
        import xgboost as xgb

        d = Path(directory)
        meta = read_metadata(d)
        if meta.get("format") != FORMAT:
            raise SurrogateError(f"{d} is not an hwloop surrogate ({meta.get('format')!r})")
        params = dict(meta["params"])
        names, schema = FEATURE_SETS.get(params.get("features", "design"), ((), None))
        if meta.get("feature_schema") != schema or meta.get("features") != list(names):
            raise SurrogateError(
                f"{d} was trained with feature schema v{meta.get('feature_schema')}; this hwloop "
                f"computes v{schema}: refit it with `hwloop surrogate fit`"
            )
        params["quantiles"] = tuple(params["quantiles"])
        params["priors"] = tuple(tuple(p) for p in params.get("priors", ()))
        model = cls(**params)
        model.boosters_ = {}
        for metric in meta["metrics"]:
            booster = xgb.Booster()
            plain, packed = d / f"{metric}.json", d / f"{metric}.json.gz"
            try:
                raw = (
                    gzip.decompress(packed.read_bytes()) if packed.is_file() else plain.read_bytes()
                )
                booster.load_model(bytearray(raw))
            except (OSError, xgb.core.XGBoostError) as exc:
                raise SurrogateError(f"{d}: cannot read the {metric} model: {exc}") from None
            model.boosters_[metric] = booster
        model.n_train_ = {k: int(v) for k, v in meta["n_train"].items()}
        model.interval_margin_ = {k: float(v) for k, v in meta["interval_margin"].items()}
        specs = {p[0]: p for p in params["priors"]}
        model.prior_coef_ = {
            k: PowerLaw.from_json(v, specs.get(k, (k, "")))
            for k, v in (meta.get("prior_coef") or {}).items()
        }
        model.training_hash_ = str(meta["training_hash"])
        model.feature_names_ = names
        model.feature_range_ = tuple(  # type: ignore[assignment]
            np.array([np.nan if v is None else v for v in bound], dtype=np.float64)
            for bound in meta["feature_range"]
        )
        model.metadata_ = meta
        return model


def scores(y: NDArray[Any], pred: NDArray[Any]) -> dict[str, float]:
    """R² (on the original scale) and MAPE (%) by scikit-learn's metrics, SMAPE (%) and the
    coverage of the 80 % interval (which scikit-learn has not), for known targets ``y`` and
    (n, 3) predictions."""
    from sklearn.metrics import mean_absolute_percentage_error, r2_score

    y = np.asarray(y, dtype=np.float64)
    known = ~np.isnan(y)
    y, pred = y[known], np.asarray(pred)[known]
    if y.size == 0:
        return {"r2": math.nan, "smape": math.nan, "mape": math.nan, "coverage80": math.nan}
    mid = pred[:, 1]
    r2 = float(r2_score(y, mid)) if np.ptp(y) > 0 else math.nan
    denom = np.abs(y) + np.abs(mid)
    smape = float(
        np.mean(np.where(denom > 0, 2 * np.abs(mid - y) / np.where(denom > 0, denom, 1), 0))
    )
    nz = y != 0
    mape = float(mean_absolute_percentage_error(y[nz], mid[nz])) if nz.any() else math.nan
    tol = 1e-6 * np.maximum(np.abs(y), 1.0)  # float noise of exp(log1p(y)) on exact intervals
    cover = float(np.mean((pred[:, 0] - tol <= y) & (y <= pred[:, 2] + tol)))
    return {"r2": r2, "smape": 100 * smape, "mape": 100 * mape, "coverage80": cover}
