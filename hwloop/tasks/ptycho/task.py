"""The ptychography task (PtychoNN's problem): one diffraction pattern -> amplitude and phase."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Literal

import numpy as np
import torch

from hwloop import HwloopError
from hwloop.tasks._base import SpaceChoice, Split, Task, TaskData
from hwloop.tasks.ptycho._dataset import build_dataset
from hwloop.tasks.ptycho._physics import SimConfig, make_probe

BEAM_THRESHOLD = 0.1  # "under the beam": probe intensity >= 10 % of its peak


class PtychoTask(Task):
    """(1, S, S) log-scaled far-field pattern -> the object's amplitude and phase in the window.

    Layout: the model outputs a flat vector of ``2 S^2`` values; the first ``S^2`` are the
    amplitude map, the next ``S^2`` the phase map divided by pi (both row-major), so a tanh
    output spans [-pi, pi] as in PtychoNN. Targets have the same layout (float32, (N, 2 S^2)).

    The object "under the beam" is what one pattern sees: loss, metric and errors count the
    pixels where the probe's intensity is at least ``beam_threshold`` (10 %) of its peak
    (``beam_mask()``; about a sixth of the window with the default probe); the rest of the
    window hardly reaches the detector. ``region="window"`` counts every pixel, as PtychoNN.

    Loss: PtychoNN's, mean absolute error of the amplitude plus that of the phase in radians
    (L1 with the phase half weighted by pi), which is twice the metric. Metric ``mae``: the mean
    of amplitude MAE and phase MAE (radians), over all pixels of all test patterns; the phase is
    compared as it is (no offset removed, no wrapping: labels lie in ``[-phase_max,
    phase_max]``). ``sample_errors``: each pattern's mean over its pixels of
    ``(|d amp| + |d phase|) / 2``. ``report``: ``mae``, ``amp_mae``, ``phase_mae`` (radians).

    A single far-field intensity does not fix the phase offset of its window (``|FFT(psi
    e^{ic})|^2 == |FFT(psi)|^2``): with absolute phase labels (PtychoNN's) a network can only
    guess the offset from the object statistics, a floor of ~0.6 rad on the phase MAE here. So
    the default ``phase_reference="probe"`` makes the phase labels relative to each window's
    probe-intensity-weighted mean phase (what one pattern does determine; ePIE's error likewise
    removes the global offset); ``"absolute"`` keeps PtychoNN's labels (docs/ptycho.md).

    ``size``: window side S (default 64); ``photons``: incident photons per pattern; the other
    simulation settings are ``SimConfig``'s defaults unless ``cfg`` is given (its ``size`` and
    ``photons`` are then replaced by the arguments). The split keeps objects apart (80/10/10 of
    the objects).
    """

    name = "ptycho"
    metric_name = "mae"
    metric_unit = ""
    spaces = (
        SpaceChoice(
            "cnn",
            "ptycho-cnn",
            "cnnPtycho: filters, encoder layers, the decoders' upsampling levels; batch size, "
            "lr, epochs",
        ),
        SpaceChoice(
            "mlp",
            "mlp",
            "mlpPtycho: hidden layers, units per layer; batch size, lr, epochs",
            {"units": (64, 128, 256, 512), "max_hidden": 3, "train": True},
        ),
    )
    # its metric is the mean of two: the front table shows both (test split)
    report_columns = (("test amp", "amp_mae"), ("test phase", "phase_mae"))
    options = ("size",)
    no_hardware = (
        "ptycho models are edge-GPU models: their pool / upsample / decoder layers have no FPGA "
        "design yet, so hardware objectives and constraints (lut, dsp, latency, --max-util, "
        "--max-latency-ns, --synth-every) do not apply; use latency_ms"
    )

    def __init__(
        self,
        size: int = 64,
        photons: float = 1e6,
        n_jobs: int = 1,
        cache_dir: str | None = None,
        cfg: SimConfig | None = None,
        phase_reference: Literal["absolute", "probe"] = "probe",
        region: Literal["beam", "window"] = "beam",
        beam_threshold: float = BEAM_THRESHOLD,
    ) -> None:
        self.size = int(size)
        self.photons = float(photons)
        self.n_jobs = n_jobs
        self.cache_dir = cache_dir
        self.cfg = cfg
        if phase_reference not in ("absolute", "probe"):
            raise HwloopError(f"phase_reference must be 'absolute' or 'probe': {phase_reference!r}")
        self.phase_reference = phase_reference
        if region not in ("beam", "window"):
            raise HwloopError(f"region must be 'beam' or 'window': {region!r}")
        if not 0 < beam_threshold < 1:
            raise HwloopError(f"beam_threshold must be in (0, 1), got {beam_threshold}")
        self.region = region
        self.beam_threshold = beam_threshold
        self._mask: torch.Tensor | None = None
        self.input_shape = (1, self.size, self.size)
        self.output_size = 2 * self.size * self.size

    def sim_config(self) -> SimConfig:
        return replace(self.cfg or SimConfig(), size=self.size, photons=self.photons)

    def load(self, limit: int | None = None, seed: int = 0, progress: bool = False) -> TaskData:
        ds = build_dataset(
            limit=limit,
            seed=seed,
            cfg=self.sim_config(),
            n_jobs=self.n_jobs,
            cache_dir=self.cache_dir,
            progress=progress,
        )
        split = ds.split
        parts = []
        for s in (0, 1, 2):
            idx = np.flatnonzero(split == s)
            parts.append(Split(ds.inputs(idx), ds.targets(idx, self.phase_reference)))
        per = np.bincount(ds.object_split, minlength=3).tolist()
        return TaskData(
            parts[0],
            parts[1],
            parts[2],
            description=f"ptycho dataset {ds.key}: {len(ds)} patterns of {self.size}x{self.size}, "
            f"{ds.n_objects} objects (train/val/test {per[0]}/{per[1]}/{per[2]}), "
            f"{self.photons:.3g} incident photons, {self.phase_reference} phase",
        )

    def beam_mask(self) -> torch.Tensor:
        """(S*S,) bool: the pixels the errors count ("under the beam": probe intensity at least
        ``beam_threshold`` of its peak; every pixel with ``region="window"``)."""
        if self._mask is None:
            if self.region == "window":
                self._mask = torch.ones(self.size * self.size, dtype=torch.bool)
            else:
                p2 = np.abs(make_probe(self.sim_config())) ** 2
                self._mask = torch.from_numpy((p2 >= self.beam_threshold * p2.max()).ravel())
        return self._mask

    def _abs_errors(
        self, pred: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        half = self.size * self.size
        mask = self.beam_mask()
        d = (pred - target).abs()
        return d[:, :half][:, mask], d[:, half:][:, mask] * math.pi

    def loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        amp, phase = self._abs_errors(pred, target)
        return amp.mean() + phase.mean()

    def metric(self, pred: torch.Tensor, target: torch.Tensor) -> float:
        return float(self.sample_errors(pred, target).mean())

    def sample_errors(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        amp, phase = self._abs_errors(pred, target)
        return 0.5 * (amp.mean(dim=1) + phase.mean(dim=1))

    def report(self, pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
        with torch.no_grad():
            amp, phase = self._abs_errors(pred, target)
            a, p = float(amp.mean()), float(phase.mean())
        return {"mae": 0.5 * (a + p), "amp_mae": a, "phase_mae": p}
