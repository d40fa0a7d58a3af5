"""The analytical prior a :class:`~surrogates.ResourceSurrogate` boosts from: a power law.

``log1p(y) ~ a + sum_i b_i log1p(x_i)`` with every ``b_i`` in [0, 2] (non-negative least squares:
more work never predicts fewer LUTs), fitted once over all rows and, when the prior names a
group feature, once per value of it (the piece model's kinds: a layer norm's statistics grow
linearly in their inputs, a table softmax does not). The trees learn the residual, so a design
or a piece larger than any seen in training gets the power law's answer instead of the largest
leaf.

A prior is spelled ``(metric, "f1+f2", group)``: ``("lut", "work", "kind")`` fits LUT ~ work per
piece kind; ``("ff", "work+io_bits")`` one law in two features for every row; the group is
optional. A group with fewer than :data:`MIN_GROUP_ROWS` rows keeps the global exponents with an
intercept of its own (at least :data:`MIN_LEVEL_ROWS` rows: a kind seen on a few small pieces
still gets its own cost level, and the slope it cannot measure comes from all kinds); fewer than
that use the global law.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

MIN_GROUP_ROWS = 15
MIN_LEVEL_ROWS = 3
MAX_EXPONENT = 2.0


def _law(
    V: NDArray[np.float64], t: NDArray[np.float64], w: NDArray[np.float64] | None = None
) -> tuple[float, ...] | None:
    """(a, b_1..b_k) of ``t ~ a + V b`` with 0 <= b <= MAX_EXPONENT (least squares weighted by
    ``w``), or None if ``V`` is flat."""
    from scipy.optimize import lsq_linear

    if V.shape[0] < max(5, V.shape[1] + 1) or not np.any(np.ptp(V, axis=0) > 0):
        return None
    w = np.ones(V.shape[0]) if w is None else w
    mv, mt = np.average(V, axis=0, weights=w), float(np.average(t, weights=w))
    r = np.sqrt(w)
    b = lsq_linear((V - mv) * r[:, None], (t - mt) * r, bounds=(0.0, MAX_EXPONENT)).x
    return (mt - float(b @ mv), *(float(v) for v in b))


@dataclass(frozen=True)
class PowerLaw:
    """A fitted prior of one metric (see the module docstring)."""

    features: tuple[str, ...]
    coef: tuple[float, ...]  # a, b_1..b_k over all rows
    fallback: float  # the mean target: rows whose features are unknown
    group: str | None = None
    groups: Mapping[float, tuple[float, ...]] = field(default_factory=dict)

    @classmethod
    def fit(
        cls,
        spec: Sequence[str],
        names: Sequence[str],
        X: NDArray[Any],
        t: NDArray[Any],
        w: NDArray[Any] | None = None,
    ) -> PowerLaw | None:
        feats = tuple(spec[1].split("+"))
        group = spec[2] if len(spec) > 2 and spec[2] else None
        V = _logs(X, [names.index(f) for f in feats])
        ok = np.all(np.isfinite(V), axis=1)
        w = np.ones(X.shape[0]) if w is None else np.asarray(w, dtype=np.float64)
        ok &= w > 0
        coef = _law(V[ok], t[ok], w[ok])
        if coef is None:
            return None
        groups: dict[float, tuple[float, ...]] = {}
        if group is not None:
            g = X[:, names.index(group)]
            for value in np.unique(g[ok]):
                rows = ok & (g == value)
                law = _law(V[rows], t[rows], w[rows]) if rows.sum() >= MIN_GROUP_ROWS else None
                if law is None and rows.sum() >= MIN_LEVEL_ROWS:
                    b = np.asarray(coef[1:])
                    law = (float(np.mean(t[rows] - V[rows] @ b)), *coef[1:])
                if law is not None:
                    groups[float(value)] = law
        return cls(feats, coef, float(np.average(t, weights=w)), group, groups)

    def offset(self, names: Sequence[str], X: NDArray[Any]) -> NDArray[np.float64]:
        V = _logs(X, [names.index(f) for f in self.features])
        coef = np.tile(np.asarray(self.coef), (X.shape[0], 1))
        if self.group is not None and self.groups:
            g = X[:, names.index(self.group)]
            for value, law in self.groups.items():
                coef[g == value] = law
        with np.errstate(invalid="ignore"):
            off = coef[:, 0] + np.einsum("ij,ij->i", V, coef[:, 1:])
        return np.where(np.isfinite(off), off, self.fallback)

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "coef": list(self.coef),
            "fallback": self.fallback,
            "group": self.group,
            "groups": [[k, list(v)] for k, v in sorted(self.groups.items())],
        }

    @classmethod
    def from_json(cls, data: Any, spec: Sequence[str]) -> PowerLaw:
        if isinstance(data, list):  # saved before grouped laws: [a, b, fallback]
            return cls((spec[1],), (float(data[0]), float(data[1])), float(data[2]))
        return cls(
            tuple(data["features"]),
            tuple(float(v) for v in data["coef"]),
            float(data["fallback"]),
            data.get("group"),
            {float(k): tuple(float(x) for x in v) for k, v in data.get("groups") or ()},
        )


def _logs(X: NDArray[Any], cols: Sequence[int]) -> NDArray[np.float64]:
    with np.errstate(invalid="ignore"):
        V = np.log1p(np.maximum(np.asarray(X, dtype=np.float64)[:, cols], 0.0))
    return np.where(np.isnan(np.asarray(X, dtype=np.float64)[:, cols]), np.nan, V)
