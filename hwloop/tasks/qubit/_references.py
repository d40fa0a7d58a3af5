"""Reference readout classifiers: boxcar integration with a threshold, the matched filter, and a
two-component Gaussian mixture on the integrated I/Q. Each is fitted on training traces only and
scored by the assignment fidelity F = 1 - (P(0|1) + P(1|0)) / 2."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


def fidelity(pred: NDArray[np.integer], labels: NDArray[np.integer]) -> float:
    """1 - (P(0|1) + P(1|0)) / 2: the balanced accuracy of a two-state assignment."""
    p01 = float(np.mean(pred[labels == 1] == 0)) if (labels == 1).any() else 0.0
    p10 = float(np.mean(pred[labels == 0] == 1)) if (labels == 0).any() else 0.0
    return 1.0 - (p01 + p10) / 2


def iq(x: NDArray[np.floating]) -> tuple[Array, Array]:
    """Interleaved traces (n, 2m) as I and Q (n, m) each."""
    a = np.asarray(x, dtype=np.float64)
    return a[:, 0::2], a[:, 1::2]


def _best_threshold(score: Array, labels: NDArray[np.integer]) -> tuple[float, float]:
    """The threshold (score above: |1>) with the best training fidelity, and that fidelity."""
    order = np.argsort(score)
    s, y = score[order], labels[order]
    n1, n0 = max(int(y.sum()), 1), max(int((1 - y).sum()), 1)
    # threshold just above s[k]: the first k+1 traces called |0>
    ones_below = np.cumsum(y)
    zeros_below = np.cumsum(1 - y)
    fid = 1 - (ones_below / n1 + (n0 - zeros_below) / n0) / 2
    k = int(np.argmax(fid))
    cut = (s[k] + s[k + 1]) / 2 if k + 1 < len(s) else s[k] + 1.0
    below_all = 1 - (0 + 1) / 2  # everything called |1>
    if below_all > fid[k]:
        return float(s[0] - 1.0), below_all
    return float(cut), float(fid[k])


@dataclass
class Boxcar:
    """Integrate I and Q from the start to ``end`` (chosen on training traces among ten
    candidates), project onto the line through the two states' means, threshold."""

    end_: int = 0
    axis_: tuple[float, float] = (1.0, 0.0)
    threshold_: float = 0.0

    def _score(self, x: NDArray[np.floating], end: int, axis: tuple[float, float]) -> Array:
        i, q = iq(x)
        return i[:, :end].sum(axis=1) * axis[0] + q[:, :end].sum(axis=1) * axis[1]

    def fit(self, x: NDArray[np.floating], labels: NDArray[np.integer]) -> Boxcar:
        i, q = iq(x)
        m = i.shape[1]
        best = -1.0
        for end in np.unique(np.linspace(m / 10, m, 10).astype(int)):
            si, sq = i[:, :end].sum(axis=1), q[:, :end].sum(axis=1)
            d = (
                si[labels == 1].mean() - si[labels == 0].mean(),
                sq[labels == 1].mean() - sq[labels == 0].mean(),
            )
            norm = float(np.hypot(*d)) or 1.0
            axis = (d[0] / norm, d[1] / norm)
            cut, fid = _best_threshold(si * axis[0] + sq * axis[1], labels)
            if fid > best:
                best, self.end_, self.axis_, self.threshold_ = fid, int(end), axis, cut
        return self

    def predict(self, x: NDArray[np.floating]) -> NDArray[np.int64]:
        return (self._score(x, self.end_, self.axis_) > self.threshold_).astype(np.int64)


@dataclass
class MatchedFilter:
    """Weight every sample by (mean |1> - mean |0>) / (variance |0> + variance |1>), per I and Q
    (the optimal linear filter for Gaussian noise), sum, threshold."""

    kernel_: Array | None = None
    threshold_: float = 0.0

    def score(self, x: NDArray[np.floating]) -> Array:
        assert self.kernel_ is not None, "fit first"
        return np.asarray(x, dtype=np.float64) @ self.kernel_

    def fit(self, x: NDArray[np.floating], labels: NDArray[np.integer]) -> MatchedFilter:
        x = np.asarray(x, dtype=np.float64)
        x0, x1 = x[labels == 0], x[labels == 1]
        self.kernel_ = (x1.mean(axis=0) - x0.mean(axis=0)) / (x0.var(axis=0) + x1.var(axis=0))
        self.threshold_, _ = _best_threshold(self.score(x), labels)
        return self

    def predict(self, x: NDArray[np.floating]) -> NDArray[np.int64]:
        return (self.score(x) > self.threshold_).astype(np.int64)


@dataclass
class GaussianMixture:
    """Two full-covariance Gaussians on the integrated (I, Q) of the whole trace, fitted by EM
    without labels (started at the two states' means); each component takes the label of the
    training traces it holds most of."""

    means_: Array | None = None
    covs_: Array | None = None
    weights_: Array | None = None
    labels_: tuple[int, int] = (0, 1)
    iterations: int = 200

    @staticmethod
    def integrate(x: NDArray[np.floating]) -> Array:
        i, q = iq(x)
        return np.stack([i.sum(axis=1), q.sum(axis=1)], axis=1)

    def _log_resp(self, z: Array) -> Array:
        assert self.means_ is not None and self.covs_ is not None and self.weights_ is not None
        out = np.empty((len(z), 2))
        for k in range(2):
            d = z - self.means_[k]
            inv = np.linalg.inv(self.covs_[k])
            maha = np.einsum("ni,ij,nj->n", d, inv, d)
            _, logdet = np.linalg.slogdet(self.covs_[k])
            out[:, k] = np.log(self.weights_[k]) - 0.5 * (maha + logdet + 2 * np.log(2 * np.pi))
        return out

    def fit(self, x: NDArray[np.floating], labels: NDArray[np.integer]) -> GaussianMixture:
        z = self.integrate(x)
        self.means_ = np.stack([z[labels == 0].mean(axis=0), z[labels == 1].mean(axis=0)])
        pooled = np.cov(z.T) + 1e-9 * np.eye(2)
        self.covs_ = np.stack([pooled, pooled])
        self.weights_ = np.array([0.5, 0.5])
        prev = -np.inf
        for _ in range(self.iterations):
            lr = self._log_resp(z)
            top = lr.max(axis=1, keepdims=True)
            ll = float((top[:, 0] + np.log(np.exp(lr - top).sum(axis=1))).mean())
            resp = np.exp(lr - top)
            resp /= resp.sum(axis=1, keepdims=True)
            nk = resp.sum(axis=0) + 1e-12
            self.weights_ = nk / len(z)
            self.means_ = (resp.T @ z) / nk[:, None]
            for k in range(2):
                d = z - self.means_[k]
                self.covs_[k] = (resp[:, k, None] * d).T @ d / nk[k] + 1e-9 * np.eye(2)
            if ll - prev < 1e-9:
                break
            prev = ll
        comp = self._log_resp(z).argmax(axis=1)
        self.labels_ = tuple(  # type: ignore[assignment]
            int(np.round(labels[comp == k].mean())) if (comp == k).any() else k for k in range(2)
        )
        return self

    def predict(self, x: NDArray[np.floating]) -> NDArray[np.int64]:
        comp = self._log_resp(self.integrate(x)).argmax(axis=1)
        return np.array(self.labels_, dtype=np.int64)[comp]


REFERENCES = {
    "boxcar": Boxcar,
    "matched_filter": MatchedFilter,
    "gaussian_mixture": GaussianMixture,
}


def reference_fidelities(
    x_train: NDArray[np.floating],
    y_train: NDArray[np.integer],
    x_test: NDArray[np.floating],
    y_test: NDArray[np.integer],
) -> dict[str, float]:
    """Each reference fitted on the training traces, its fidelity on the test traces."""
    return {
        name: fidelity(cls().fit(x_train, y_train).predict(x_test), y_test)
        for name, cls in REFERENCES.items()
    }
