"""Measured latency and energy of a trained torch model at batch 32 on the machine at hand.

``measure_latency(model, inputs, backend=...)`` times PyTorch eager, ONNX Runtime (float32 and
static INT8) and, where an NVIDIA GPU is present, CUDA; energy only from a hardware counter
(RAPL, NVML), refused with a one-line reason (``energy_unavailable_reason``) where none can be
read. See docs/measure.md.
"""

from __future__ import annotations

from hwloop.measure._backends import BACKENDS
from hwloop.measure._energy import (
    POWERCAP,
    EnergyCounter,
    NvmlCounter,
    RaplCounter,
    energy_counter,
    energy_unavailable_reason,
)
from hwloop.measure._latency import (
    BATCH,
    LatencyMeasurement,
    available_backends,
    calibration_batches,
    cpu_description,
    export_onnx,
    fixed_batch,
    measure_latency,
    quantize_int8,
)

__all__ = [
    "BACKENDS",
    "BATCH",
    "POWERCAP",
    "EnergyCounter",
    "LatencyMeasurement",
    "NvmlCounter",
    "RaplCounter",
    "available_backends",
    "calibration_batches",
    "cpu_description",
    "energy_counter",
    "energy_unavailable_reason",
    "export_onnx",
    "fixed_batch",
    "measure_latency",
    "quantize_int8",
]
