"""Simulated far-field ptychography: probe, complex objects, forward model, noise, log scaling.

Conventions. A window is ``S x S`` pixels (``SimConfig.size``); the detector has the same
``S x S`` pixels, so one detector pixel is one spatial frequency ``1/S`` cycles per object pixel.
Arrays are indexed ``[row, column]``. Far-field patterns are ``fftshift``-ed: the zero frequency
sits at pixel ``(S // 2, S // 2)`` and index ``i`` holds frequency ``i - S // 2``.

- **Probe.** A circular aperture of radius ``r_a`` detector pixels in the pupil plane with a
  quadratic defocus phase ``2 pi w (k / r_a)^2`` (``w`` waves at the aperture edge), inverse
  Fourier transformed to the sample plane on a 4x finer frequency grid (so the beam is not
  periodic in the window) and cropped to the window. A ray through pupil frequency ``k`` leaves
  the axis by ``S * 2 w k / r_a^2`` pixels, so the geometric beam diameter is
  ``D = 4 w S / r_a``; the configuration gives ``D`` (``probe_diameter``, a fraction of ``S``)
  and ``w`` (``defocus_waves``) and ``r_a = 4 w / probe_diameter`` pixels follows (12 by
  default, the radius of the bright-field disc on the detector). The probe carries
  ``sum |P|^2 = photons`` (incident photons per pattern).
- **Object.** A transmission function ``T = A exp(i phi)``, ``A`` in ``amp_range``, ``phi`` in
  ``[-phase_max, phase_max]``; ``A`` and ``phi`` come from two different sources: an image
  bundled with scikit-image (random crop, zoom, rotation, flip, contrast inversion) or a seeded
  procedural texture (smoothed noise, a power-law random field, or smoothed blobs).
- **Forward model.** Exit wave ``psi = P * T[window]``; far-field intensity
  ``I = |fftshift(FFT(psi))|^2`` with the orthonormal FFT, so ``sum I == sum |psi|^2``
  (Parseval); Poisson counts with mean ``I`` (incident flux, the default: the object's absorption
  lowers the counts) or with mean ``I * photons / sum I`` (``flux="detected"``).
- **Network input.** ``log10(1 + counts) / log10(1 + photons)``, clipped to ``[0, 1]``: a fixed
  rule, the same for every pattern, independent of the rest of the data (no pixel of a pattern
  can exceed the pattern's total, which is about ``photons``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy import fft as sfft
from scipy import ndimage

from hwloop import HwloopError

# Images bundled inside the scikit-image wheel (``skimage/data/*.png|jpg``): they load without
# pooch or a network. The ones that scikit-image downloads on demand are not listed.
BUNDLED_IMAGES = (
    "astronaut",
    "brick",
    "camera",
    "cell",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "horse",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "page",
    "retina",
    "rocket",
    "text",
)
TEXTURES = ("smooth", "powerlaw", "blobs")
_PROBE_OVERSAMPLE = 4


@dataclass(frozen=True)
class SimConfig:
    """Every setting of the simulation; all of them enter the dataset's cache key.

    ``size``: window and detector side S (pixels); ``scan``: scan positions per side (a
    ``scan x scan`` raster per object); ``step``: raster step as a fraction of S; ``jitter``:
    uniform random offset of every position, in integer pixels up to ``round(jitter * step)``;
    ``probe_diameter``: geometric beam diameter as a fraction of S; ``defocus_waves``: defocus at
    the aperture edge in waves; ``photons``: incident photons per pattern; ``flux``: what
    ``photons`` fixes (``"incident"``: ``sum |P|^2``; ``"detected"``: the expected total of each
    pattern); ``amp_range``: object amplitude range; ``phase_max``: phase range
    ``[-phase_max, phase_max]`` (at most pi); ``image_fraction``: probability that a map comes
    from a bundled image rather than a procedural texture; ``zoom_range``: object pixels per image
    pixel of the crops (log-uniform).
    """

    size: int = 64
    scan: int = 8
    step: float = 0.25
    jitter: float = 0.1
    probe_diameter: float = 0.5
    defocus_waves: float = 1.5
    photons: float = 1e6
    flux: Literal["incident", "detected"] = "incident"
    amp_range: tuple[float, float] = (0.6, 1.0)
    phase_max: float = math.pi / 2
    image_fraction: float = 0.5
    zoom_range: tuple[float, float] = (0.5, 2.0)
    images: tuple[str, ...] = field(default=BUNDLED_IMAGES)

    def __post_init__(self) -> None:
        s = self.size
        if s < 8 or s % 2:
            raise HwloopError(f"ptycho window size must be an even number >= 8, got {s}")
        if self.scan < 2:
            raise HwloopError(f"ptycho scan must have at least 2 positions per side: {self.scan}")
        if not 0 < self.step_px < s:
            raise HwloopError(f"ptycho step {self.step} x {s} px must be between 1 and {s - 1} px")
        if not 0 < self.photons:
            raise HwloopError(f"photons per pattern must be positive, got {self.photons}")
        if self.flux not in ("incident", "detected"):
            raise HwloopError(f"flux must be 'incident' or 'detected', got {self.flux!r}")
        lo, hi = self.amp_range
        if not 0 < lo <= hi <= 1:
            raise HwloopError(f"amp_range must satisfy 0 < low <= high <= 1, got {self.amp_range}")
        if not 0 <= self.phase_max <= math.pi:
            raise HwloopError(f"phase_max must be in [0, pi], got {self.phase_max}")
        if not 0 < self.aperture_px < s / 2:
            raise HwloopError(
                f"aperture radius 4 x {self.defocus_waves} / {self.probe_diameter} = "
                f"{self.aperture_px:.1f} px does not fit the {s} px detector (< {s // 2})"
            )
        if not self.images and self.image_fraction > 0:
            raise HwloopError("image_fraction > 0 needs at least one image")

    @property
    def step_px(self) -> int:
        return int(round(self.step * self.size))

    @property
    def jitter_px(self) -> int:
        return int(round(self.jitter * self.step_px))

    @property
    def aperture_px(self) -> float:
        """Aperture radius on the detector (pixels): ``4 * defocus_waves / probe_diameter``."""
        return 4.0 * self.defocus_waves / self.probe_diameter

    @property
    def object_side(self) -> int:
        """Object side L = S + (scan - 1) * step + 2 * jitter (pixels)."""
        return self.size + (self.scan - 1) * self.step_px + 2 * self.jitter_px

    @property
    def positions_per_object(self) -> int:
        return self.scan * self.scan

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Scan:
    """One simulated object and its raster scan.

    ``amplitude``, ``phase``: (L, L) float32 true object; ``positions``: (P, 2) int32, (row,
    column) of each window's top-left corner in the object; ``counts``: (P, S, S) int32 noisy
    far-field photon counts, zero frequency centred.
    """

    index: int
    amplitude: NDArray[np.float32]
    phase: NDArray[np.float32]
    positions: NDArray[np.int32]
    counts: NDArray[np.int32]

    @property
    def transmission(self) -> NDArray[np.complex128]:
        return self.amplitude.astype(np.float64) * np.exp(1j * self.phase.astype(np.float64))


# --- probe ------------------------------------------------------------------------------------


def make_probe(cfg: SimConfig) -> NDArray[np.complex128]:
    """The focused, defocused beam in the sample plane (S x S), ``sum |P|^2 == cfg.photons``."""
    return probe(cfg.size, cfg.aperture_px, cfg.defocus_waves, cfg.photons)


def probe(
    size: int, aperture_px: float, defocus_waves: float, photons: float = 1.0
) -> NDArray[np.complex128]:
    """Circular aperture of radius ``aperture_px`` detector pixels with ``defocus_waves`` of
    quadratic phase at its edge, propagated to the sample plane; centred in the window."""
    m = _PROBE_OVERSAMPLE * size
    k = np.arange(m) - m // 2
    rho = np.hypot(k[:, None], k[None, :]) / (_PROBE_OVERSAMPLE * aperture_px)
    pupil = np.where(rho <= 1.0, np.exp(2j * np.pi * defocus_waves * rho**2), 0.0)
    beam = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(pupil), norm="ortho"))
    c = m // 2 - size // 2
    beam = beam[c : c + size, c : c + size]
    return beam * math.sqrt(photons / float(np.sum(np.abs(beam) ** 2)))


# --- forward model ----------------------------------------------------------------------------


def raster_positions(rng: np.random.Generator, cfg: SimConfig) -> NDArray[np.int32]:
    """Top-left corners (row, column) of the ``scan x scan`` raster, row by row, jittered."""
    j = cfg.jitter_px
    grid = j + cfg.step_px * np.arange(cfg.scan)
    rows, cols = np.meshgrid(grid, grid, indexing="ij")
    pos = np.stack([rows.ravel(), cols.ravel()], axis=1)
    if j:
        pos = pos + rng.integers(-j, j + 1, size=pos.shape)
    return pos.astype(np.int32)


def windows(obj: NDArray[Any], positions: NDArray[np.integer], size: int) -> NDArray[Any]:
    """The (P, S, S) windows of ``obj`` (2-D) at ``positions`` (P, 2) top-left corners."""
    ar = np.arange(size)
    r = positions[:, 0, None, None] + ar[None, :, None]
    c = positions[:, 1, None, None] + ar[None, None, :]
    return obj[r, c]


def exit_wave(
    probe: NDArray[np.complexfloating], obj: NDArray[Any], positions: NDArray[np.integer]
) -> NDArray[np.complexfloating]:
    """``probe * obj[window]`` for every position: (P, S, S) complex."""
    return probe[None] * windows(obj, positions, probe.shape[-1])


def far_field(exit: NDArray[np.complexfloating]) -> NDArray[np.floating]:
    """Far-field intensity ``|fftshift(FFT2(exit))|^2`` over the last two axes, orthonormal FFT
    (``sum I == sum |exit|^2``), zero frequency at ``(S // 2, S // 2)``."""
    spec = sfft.fft2(exit, axes=(-2, -1), norm="ortho")
    spec = sfft.fftshift(spec, axes=(-2, -1))
    return spec.real**2 + spec.imag**2


def poisson_counts(
    rng: np.random.Generator,
    intensity: NDArray[np.floating],
    photons: float | None = None,
) -> NDArray[np.int32]:
    """Poisson counts of the expected ``intensity`` (..., S, S); with ``photons`` every pattern is
    first scaled so its expected total is ``photons``."""
    lam = np.asarray(intensity, np.float64)
    if photons is not None:
        total = lam.sum(axis=(-2, -1), keepdims=True)
        lam = lam * (photons / np.maximum(total, np.finfo(np.float64).tiny))
    return rng.poisson(lam).astype(np.int32)


def log_scale(counts: NDArray[Any], photons: float) -> NDArray[np.float32]:
    """Network input: ``log10(1 + counts) / log10(1 + photons)``, clipped to [0, 1], float32."""
    x = np.log10(1.0 + np.asarray(counts, np.float32)) / np.float32(math.log10(1.0 + photons))
    return np.clip(x, 0.0, 1.0, out=x).astype(np.float32, copy=False)


# --- objects ----------------------------------------------------------------------------------


@functools.cache
def bundled_image(name: str) -> NDArray[np.float64]:
    """A scikit-image sample image as grey levels in [0, 1] (loaded once per process)."""
    try:
        import skimage.data
    except ImportError as exc:  # pragma: no cover - a dependency
        raise HwloopError(f"scikit-image is needed for ptycho objects ({exc})") from None
    try:
        img = np.asarray(getattr(skimage.data, name)(), dtype=np.float64)
    except Exception as exc:
        raise HwloopError(
            f"scikit-image sample image {name!r} does not load offline ({type(exc).__name__})"
        ) from None
    if img.ndim == 3:  # RGB(A): luminance
        img = img[..., :3] @ np.array([0.2125, 0.7154, 0.0721])
    lo, hi = float(img.min()), float(img.max())
    return (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)


def _normalise(x: NDArray[np.float64]) -> NDArray[np.float64] | None:
    """Robust min-max to [0, 1] (1st / 99th percentile); None when the map is (nearly) flat."""
    lo, hi = np.percentile(x, [1.0, 99.0])
    if hi - lo < 1e-6 * max(1.0, abs(hi)):
        return None
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0)


def _image_map(
    rng: np.random.Generator, name: str, side: int, cfg: SimConfig
) -> NDArray[np.float64] | None:
    img = bundled_image(name)
    lz = np.log(cfg.zoom_range)
    zoom = float(np.exp(rng.uniform(lz[0], lz[1])))
    crop = min(max(2, int(round(side / zoom))), *img.shape)
    r = int(rng.integers(0, img.shape[0] - crop + 1))
    c = int(rng.integers(0, img.shape[1] - crop + 1))
    patch = img[r : r + crop, c : c + crop]
    if crop > side:  # shrinking: low-pass first so it does not alias
        patch = ndimage.gaussian_filter(patch, 0.5 * (crop / side - 1.0) + 1e-3, mode="reflect")
    out = ndimage.zoom(patch, side / crop, order=1, mode="nearest", grid_mode=True)[:side, :side]
    if out.shape != (side, side):
        out = np.pad(out, [(0, side - out.shape[0]), (0, side - out.shape[1])], mode="edge")
    out = np.rot90(out, int(rng.integers(4)))
    if rng.random() < 0.5:
        out = out[:, ::-1]
    return _normalise(np.ascontiguousarray(out))


def _texture(rng: np.random.Generator, kind: str, side: int) -> NDArray[np.float64] | None:
    noise = rng.standard_normal((side, side))
    if kind == "smooth":
        sigma = float(np.exp(rng.uniform(np.log(1.5), np.log(max(2.0, side / 8)))))
        out = ndimage.gaussian_filter(noise, sigma, mode="wrap")
    elif kind == "powerlaw":
        beta = rng.uniform(2.0, 4.0)
        f = np.hypot(np.fft.fftfreq(side)[:, None], np.fft.rfftfreq(side)[None, :])
        f[0, 0] = 1.0
        spec = np.fft.rfft2(noise) * f ** (-beta / 2)
        spec[0, 0] = 0.0
        out = np.fft.irfft2(spec, s=(side, side))
    else:  # blobs: thresholded smooth field, softened edges (particles, etched structures)
        sigma = float(np.exp(rng.uniform(np.log(2.0), np.log(max(3.0, side / 10)))))
        smooth = ndimage.gaussian_filter(noise, sigma, mode="wrap")
        mask = (smooth > np.quantile(smooth, rng.uniform(0.3, 0.7))).astype(np.float64)
        out = ndimage.gaussian_filter(mask, rng.uniform(0.7, 1.5), mode="wrap")
    return _normalise(out)


def _map(
    rng: np.random.Generator, cfg: SimConfig, side: int, avoid: str | None
) -> tuple[NDArray[np.float64], str]:
    """One [0, 1] map and the name of its source (an image name or ``texture:<kind>``)."""
    for _ in range(8):
        if cfg.images and rng.random() < cfg.image_fraction:
            names = [n for n in cfg.images if n != avoid] or list(cfg.images)
            name = names[int(rng.integers(len(names)))]
            out = _image_map(rng, name, side, cfg)
        else:
            kind = TEXTURES[int(rng.integers(len(TEXTURES)))]
            name = f"texture:{kind}"
            out = _texture(rng, kind, side)
        if out is not None:  # a flat crop (blank page margin) is drawn again
            return (1.0 - out if rng.random() < 0.5 else out), name
    return np.full((side, side), 0.5), "flat"


def make_object(
    rng: np.random.Generator, cfg: SimConfig, side: int | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64], tuple[str, str]]:
    """Amplitude and phase (side x side) of one object from two different sources, and the
    sources' names (amplitude, phase)."""
    side = side or cfg.object_side
    t_amp, src_amp = _map(rng, cfg, side, None)
    t_phase, src_phase = _map(rng, cfg, side, src_amp)
    lo, hi = cfg.amp_range
    amp = lo + (hi - lo) * t_amp
    phase = cfg.phase_max * (2.0 * t_phase - 1.0)
    return amp, phase, (src_amp, src_phase)


def simulate_scan(
    index: int, seed: int, cfg: SimConfig, probe: NDArray[np.complex128] | None = None
) -> Scan:
    """Object ``index`` of the data set with ``seed``: its own generator
    ``default_rng([seed, index])``, so the result does not depend on the order or the worker."""
    rng = np.random.default_rng([seed, index])
    p = make_probe(cfg) if probe is None else probe
    amp, phase, _ = make_object(rng, cfg)
    positions = raster_positions(rng, cfg)
    intensity = far_field(exit_wave(p, amp * np.exp(1j * phase), positions))
    counts = poisson_counts(rng, intensity, cfg.photons if cfg.flux == "detected" else None)
    return Scan(index, amp.astype(np.float32), phase.astype(np.float32), positions, counts)
