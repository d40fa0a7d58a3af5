"""Ptychography (PtychoNN's problem): simulated far-field diffraction of complex objects under a
focused, defocused probe; one pattern -> amplitude and phase of the object in the window."""

from __future__ import annotations

from hwloop.tasks.ptycho._dataset import (
    DEFAULT_LIMIT,
    PtychoDataset,
    build_dataset,
    dataset_key,
    split_objects,
)
from hwloop.tasks.ptycho._epie import EpieResult, epie, epie_scan, object_errors, scanned_region
from hwloop.tasks.ptycho._physics import (
    BUNDLED_IMAGES,
    Scan,
    SimConfig,
    exit_wave,
    far_field,
    log_scale,
    make_object,
    make_probe,
    poisson_counts,
    probe,
    raster_positions,
    simulate_scan,
    windows,
)
from hwloop.tasks.ptycho.task import PtychoTask

PtychoConfig = SimConfig

__all__ = [
    "BUNDLED_IMAGES",
    "DEFAULT_LIMIT",
    "EpieResult",
    "PtychoConfig",
    "PtychoDataset",
    "PtychoTask",
    "Scan",
    "SimConfig",
    "build_dataset",
    "dataset_key",
    "epie",
    "epie_scan",
    "exit_wave",
    "far_field",
    "log_scale",
    "make_object",
    "make_probe",
    "object_errors",
    "poisson_counts",
    "probe",
    "raster_positions",
    "scanned_region",
    "simulate_scan",
    "split_objects",
    "windows",
]
