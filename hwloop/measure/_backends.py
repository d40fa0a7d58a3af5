"""The backends a measurement runs on, and where each of them runs."""

from __future__ import annotations

from hwloop import HwloopError

# "torch": PyTorch eager on the CPU; "ort": ONNX Runtime float32 on the CPU (the reference that
# separates runtime from quantisation); "ort-int8": ONNX Runtime, static INT8 (QDQ) on the CPU;
# "torch-cuda" / "ort-int8-cuda": the same on an NVIDIA GPU (ONNX Runtime's CUDA provider).
BACKENDS = ("torch", "ort", "ort-int8", "torch-cuda", "ort-int8-cuda")


def check_backend(backend: str) -> str:
    """``backend`` itself when known, else a one-line ``HwloopError``."""
    if backend not in BACKENDS:
        raise HwloopError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    return backend


def is_cuda(backend: str) -> bool:
    """Whether ``backend`` runs on an NVIDIA GPU (its energy comes from NVML, not RAPL)."""
    return check_backend(backend).endswith("-cuda")
