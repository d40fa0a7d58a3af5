"""Rendering and fitting Bragg peaks with a polar 2-D pseudo-Voigt profile.

HEDM peak fitting (MIDAS) models a diffraction spot in polar coordinates about the beam centre:
``R`` (radial distance, pixels) and ``eta`` (azimuth, radians)::

    I(R, eta) = bg + Imax * [mu * L + (1 - mu) * G]
    G = exp(-dR^2 / (2 sGR^2) - deta^2 / (2 sGeta^2))
    L = 1 / ((1 + dR^2 / sLR^2) * (1 + deta^2 / sLeta^2))

with separate Gaussian and Lorentzian widths along R and eta. We render a patch around a real
peak centre with randomised, physically plausible parameters, add Poisson counting noise on top of
a dark level, subtract the dark level, and zero everything below an intensity threshold, as a
detector pipeline does. Then we fit the same model to the rendered patch with
``scipy.optimize.least_squares`` and keep the fitted centre as the label, as the real labels were
made. Pixel ``(i, j)`` has its centre at row ``i``, column ``j``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares

PATCH = 11
HALF = PATCH // 2
DETECTOR = 2048
# "near (1024, 1024)": a realistic, slightly off-centre beam position (row, col).
BEAM_CENTRE = (1023.37, 1024.81)

# parameter vector: bg, imax, R0, eta0, sGR, sGeta, sLR, sLeta, mu
N_PARAMS = 9


@dataclass(frozen=True)
class RenderConfig:
    """Ranges of the randomised peak parameters. Widths are in pixels (eta widths as arc length)."""

    imax_range: tuple[float, float] = (300.0, 20000.0)  # peak counts, log-uniform
    bg_range: tuple[float, float] = (0.0, 10.0)  # diffuse background above dark, counts
    sigma_g_r: tuple[float, float] = (0.6, 1.4)
    sigma_g_eta_px: tuple[float, float] = (0.7, 2.2)  # mosaic spread: spots elongate along eta
    sigma_l_r: tuple[float, float] = (0.5, 1.3)
    sigma_l_eta_px: tuple[float, float] = (0.6, 2.0)
    mu_range: tuple[float, float] = (0.05, 0.7)
    dark_level: float = 100.0  # dark current + offset, counts per pixel
    threshold: float = 60.0  # counts above dark below which a pixel is set to zero

    def as_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def polar(rows: Any, cols: Any) -> tuple[Any, Any]:
    """(R, eta) of pixel centres (arrays or scalars) about the beam centre."""
    dr = rows - BEAM_CENTRE[0]
    dc = cols - BEAM_CENTRE[1]
    return np.hypot(dr, dc), np.arctan2(dc, dr)


def to_cartesian(r: float, eta: float) -> tuple[float, float]:
    return BEAM_CENTRE[0] + r * np.cos(eta), BEAM_CENTRE[1] + r * np.sin(eta)


def pseudo_voigt(params: NDArray[np.float64], r: NDArray, eta: NDArray) -> NDArray[np.float64]:
    bg, imax, r0, eta0, sgr, sge, slr, sle, mu = params
    d_r = r - r0
    d_eta = (eta - eta0 + np.pi) % (2 * np.pi) - np.pi  # wrapped to [-pi, pi)
    g = np.exp(-0.5 * (d_r / sgr) ** 2 - 0.5 * (d_eta / sge) ** 2)
    lor = 1.0 / ((1.0 + (d_r / slr) ** 2) * (1.0 + (d_eta / sle) ** 2))
    return bg + imax * (mu * lor + (1.0 - mu) * g)


def patch_grid(row: float, col: float) -> tuple[int, int, NDArray, NDArray]:
    """BraggNN's crop: the 11x11 window starts at (int(row) - 5, int(col) - 5)."""
    r0 = int(row) - HALF
    c0 = int(col) - HALF
    rows, cols = np.meshgrid(
        np.arange(r0, r0 + PATCH, dtype=np.float64),
        np.arange(c0, c0 + PATCH, dtype=np.float64),
        indexing="ij",
    )
    return r0, c0, rows, cols


def sample_params(rng: np.random.Generator, row: float, col: float, cfg: RenderConfig) -> NDArray:
    r0, eta0 = polar(np.float64(row), np.float64(col))
    lo, hi = np.log(cfg.imax_range[0]), np.log(cfg.imax_range[1])
    return np.array(
        [
            rng.uniform(*cfg.bg_range),
            np.exp(rng.uniform(lo, hi)),
            float(r0),
            float(eta0),
            rng.uniform(*cfg.sigma_g_r),
            rng.uniform(*cfg.sigma_g_eta_px) / float(r0),
            rng.uniform(*cfg.sigma_l_r),
            rng.uniform(*cfg.sigma_l_eta_px) / float(r0),
            rng.uniform(*cfg.mu_range),
        ]
    )


def render(
    rng: np.random.Generator, params: NDArray, rows: NDArray, cols: NDArray, cfg: RenderConfig
) -> NDArray[np.float64]:
    """Counts after Poisson noise, dark subtraction and thresholding (most pixels end up zero)."""
    r, eta = polar(rows, cols)
    expected = pseudo_voigt(params, r, eta) + cfg.dark_level
    counts = rng.poisson(expected).astype(np.float64) - cfg.dark_level
    counts[counts < cfg.threshold] = 0.0
    return counts


def fit(
    image: NDArray, rows: NDArray, cols: NDArray, cfg: RenderConfig
) -> tuple[float, float, bool]:
    """Least-squares fit of the pseudo-Voigt model; returns fitted (row, col) and success.

    Zero (thresholded) pixels are fitted as "at most the threshold" so that the cut does not pull
    the centre; the start point is the intensity-weighted centroid.
    """
    r, eta = polar(rows, cols)
    r = r.ravel()
    eta = eta.ravel()
    y = image.ravel()
    lit = y > 0
    w = np.where(lit, y, 0.0)
    total = w.sum()
    if total <= 0:
        cr, cc = float(rows.mean()), float(cols.mean())
        return cr, cc, False
    cr = float((rows.ravel() * w).sum() / total)
    cc = float((cols.ravel() * w).sum() / total)
    r_c, eta_c = polar(np.float64(cr), np.float64(cc))
    r_c, eta_c = float(r_c), float(eta_c)
    px = 1.0 / r_c
    x0 = np.array([0.0, y.max(), r_c, eta_c, 1.0, 1.2 * px, 1.0, 1.2 * px, 0.3])
    lo = np.array([-cfg.threshold, 0.0, r_c - 3, eta_c - 3 * px, 0.2, 0.2 * px, 0.2, 0.2 * px, 0.0])
    hi = np.array(
        [cfg.threshold, 10 * y.max() + 1, r_c + 3, eta_c + 3 * px, 5, 5 * px, 5, 5 * px, 1]
    )
    x0 = np.clip(x0, lo + 1e-9, hi - 1e-9)
    scale = np.array([10.0, y.max(), 1.0, px, 1.0, px, 1.0, px, 0.3])
    noise = np.sqrt(np.maximum(y, 0.0) + cfg.dark_level)

    def residuals(p: NDArray) -> NDArray:
        model = pseudo_voigt(p, r, eta)
        # censored pixels: only penalise a model that rises above the threshold
        return np.where(lit, model - y, np.maximum(model - cfg.threshold, 0.0)) / noise

    def jacobian(p: NDArray) -> NDArray:
        model, jac = _model_and_jacobian(p, r, eta)
        active = lit | (model > cfg.threshold)
        return jac * (active / noise)[:, None]

    sol = least_squares(
        residuals, x0, jac=jacobian, bounds=(lo, hi), x_scale=scale, method="trf", max_nfev=100
    )
    row_fit, col_fit = to_cartesian(float(sol.x[2]), float(sol.x[3]))
    return float(row_fit), float(col_fit), bool(sol.success)


def _model_and_jacobian(p: NDArray, r: NDArray, eta: NDArray) -> tuple[NDArray, NDArray]:
    """The pseudo-Voigt model and its analytic derivatives with respect to the 9 parameters."""
    bg, imax, r0, eta0, sgr, sge, slr, sle, mu = p
    d_r = r - r0
    d_eta = (eta - eta0 + np.pi) % (2 * np.pi) - np.pi
    a, b, c, d = d_r / sgr, d_eta / sge, d_r / slr, d_eta / sle
    g = np.exp(-0.5 * a * a - 0.5 * b * b)
    cc, dd = 1.0 + c * c, 1.0 + d * d
    lor = 1.0 / (cc * dd)
    mix = mu * lor + (1.0 - mu) * g
    jac = np.empty((r.size, N_PARAMS))
    jac[:, 0] = 1.0
    jac[:, 1] = mix
    jac[:, 2] = imax * (mu * lor * 2 * c / (slr * cc) + (1 - mu) * g * a / sgr)
    jac[:, 3] = imax * (mu * lor * 2 * d / (sle * dd) + (1 - mu) * g * b / sge)
    jac[:, 4] = imax * (1 - mu) * g * a * a / sgr
    jac[:, 5] = imax * (1 - mu) * g * b * b / sge
    jac[:, 6] = imax * mu * lor * 2 * c * c / (slr * cc)
    jac[:, 7] = imax * mu * lor * 2 * d * d / (sle * dd)
    jac[:, 8] = imax * (lor - g)
    return bg + imax * mix, jac
