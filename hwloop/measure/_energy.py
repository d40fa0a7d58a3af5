"""Hardware energy counters: Linux RAPL (CPU packages) and NVML (NVIDIA GPUs).

Energy is only ever read from a counter the hardware keeps; where none can be read, the reason
is a one-line message (:func:`energy_unavailable_reason`) and nothing is estimated.

Both counters measure a whole device: RAPL's package domains all cores, caches and uncore of
every CPU socket (not DRAM, not the rest of the board), NVML the whole GPU board. The energy of
a measured run therefore includes idle power and whatever else runs on the machine; it is not
the model's energy in isolation.
"""

from __future__ import annotations

import abc
import logging
import re
from pathlib import Path
from typing import Any

from hwloop import HwloopError
from hwloop.measure._backends import check_backend, is_cuda

log = logging.getLogger(__name__)

POWERCAP = Path("/sys/class/powercap")
# Top-level RAPL zones: one per CPU package (Intel, and AMD Zen through the same driver). Their
# subzones (intel-rapl:N:M: core, uncore, dram) are parts of, or beside, the package; MMIO zones
# (intel-rapl-mmio:N) read the same package a second way; "psys" is the platform, which
# contains the packages. Only the packages are summed, so nothing counts twice.
_PACKAGE_ZONE = re.compile(r"^intel-rapl:\d+$")


class EnergyCounter(abc.ABC):
    """A cumulative hardware energy counter.

    ``read_mj()`` is monotonic (millijoules since some fixed point; only differences mean
    anything); ``resolution_s`` is how often the hardware updates it, roughly, which sets how
    long a measured block must run.
    """

    name: str
    resolution_s: float

    @abc.abstractmethod
    def read_mj(self) -> float:
        """Cumulative energy in millijoules."""


class _RaplZone:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.energy_file = path / "energy_uj"
        self.max_range_uj = _read_int(path / "max_energy_range_uj")
        self.last_uj = _read_int(self.energy_file)
        self.total_uj = self.last_uj

    def update(self) -> int:
        raw = _read_int(self.energy_file)
        delta = raw - self.last_uj
        if delta < 0:  # the counter wrapped at max_energy_range_uj
            delta += self.max_range_uj
        self.last_uj = raw
        self.total_uj += delta
        return self.total_uj


def _read_int(path: Path) -> int:
    try:
        text = path.read_text().strip()
    except PermissionError as exc:
        raise HwloopError(
            f"{path} is not readable by this user (RAPL energy_uj is root-only, mode 0400, on "
            "kernels since 2020): run as root or make it readable (chmod o+r, or a udev rule)"
        ) from exc
    except OSError as exc:
        raise HwloopError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return int(text)
    except ValueError as exc:
        raise HwloopError(f"{path}: expected an integer, got {text[:40]!r}") from exc


class RaplCounter(EnergyCounter):
    """The sum of all CPU package domains of Linux RAPL under ``root`` (``/sys/class/powercap``).

    ``energy_uj`` wraps at ``max_energy_range_uj`` (hundreds of kJ, hours at full load); every
    read adds the difference since the last one, so a wrap between two reads is counted right.
    Raises ``HwloopError`` when there is no package domain or it cannot be read.
    """

    resolution_s = 0.001  # RAPL updates about every millisecond

    def __init__(self, root: Path | str = POWERCAP) -> None:
        self.root = Path(root)
        zones = []
        if self.root.is_dir():
            for path in sorted(self.root.iterdir()):
                if not _PACKAGE_ZONE.match(path.name):
                    continue
                name_file = path / "name"
                try:
                    label = name_file.read_text().strip()
                except OSError:
                    label = "package"  # no name file: a package zone by its place
                if not label.startswith("package"):
                    continue  # psys (the platform) contains the packages
                zones.append(path)
        if not zones:
            raise HwloopError(
                f"no RAPL package domain under {self.root} (this machine exposes none)"
            )
        self.zones = [_RaplZone(path) for path in zones]
        self.name = f"rapl:{'+'.join(z.path.name for z in self.zones)}"

    def read_mj(self) -> float:
        return sum(zone.update() for zone in self.zones) / 1000.0


def _import_pynvml() -> Any:
    try:
        import pynvml
    except ImportError as exc:
        raise HwloopError(
            "NVML is not available: the pynvml module is missing (pip install nvidia-ml-py)"
        ) from exc
    return pynvml


class NvmlCounter(EnergyCounter):
    """NVML's total-energy counter of one NVIDIA GPU (millijoules since the driver loaded).

    ``index`` is NVML's index (all GPUs, regardless of ``CUDA_VISIBLE_DEVICES``); ``uuid``
    ("GPU-...") selects a device by its UUID instead. Needs Volta or newer. The counter updates
    every 20-100 ms. Raises ``HwloopError`` when pynvml is missing, there is no NVIDIA GPU, or
    the GPU has no energy counter.
    """

    resolution_s = 0.1

    def __init__(self, index: int = 0, uuid: str | None = None) -> None:
        pynvml = _import_pynvml()
        self._nvml = pynvml
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            raise HwloopError(f"no NVIDIA GPU with NVML (nvmlInit: {exc})") from exc
        try:
            if uuid is not None:
                handle = pynvml.nvmlDeviceGetHandleByUUID(uuid)
            else:
                handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            gpu = pynvml.nvmlDeviceGetName(handle)
        except pynvml.NVMLError as exc:
            which = uuid if uuid is not None else f"index {index}"
            raise HwloopError(f"no NVIDIA GPU at NVML {which} ({exc})") from exc
        self._handle = handle
        self.gpu = gpu.decode() if isinstance(gpu, bytes) else str(gpu)
        self.name = f"nvml:{self.gpu}"
        try:
            self.read_mj()
        except pynvml.NVMLError as exc:
            raise HwloopError(
                f"{self.gpu} has no NVML total-energy counter ({exc}; it needs Volta or newer)"
            ) from exc

    def read_mj(self) -> float:
        return float(self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle))


def _cuda_uuid() -> str | None:
    """NVML UUID of torch's current CUDA device (NVML indices ignore CUDA_VISIBLE_DEVICES)."""
    import torch

    try:
        props = torch.cuda.get_device_properties(torch.cuda.current_device())
        uuid = str(props.uuid)
    except (AttributeError, RuntimeError):
        return None
    return uuid if uuid.startswith("GPU-") else f"GPU-{uuid}"


def energy_counter(backend: str, powercap: Path | str = POWERCAP) -> EnergyCounter:
    """The counter for ``backend``: RAPL for the CPU backends, NVML for the CUDA ones.

    Raises ``HwloopError`` (one line) when the counter cannot be read here.
    """
    if not is_cuda(backend):
        return RaplCounter(powercap)
    import torch

    if not torch.cuda.is_available():
        raise HwloopError("no NVIDIA GPU with NVML (torch sees no CUDA device)")
    uuid = _cuda_uuid()
    if uuid is not None:
        try:
            return NvmlCounter(uuid=uuid)
        except HwloopError as exc:
            log.debug("NVML by UUID %s failed (%s); trying the CUDA index", uuid, exc)
    return NvmlCounter(index=torch.cuda.current_device())


def energy_unavailable_reason(
    backend: str = "torch", powercap: Path | str = POWERCAP
) -> str | None:
    """Why ``energy_mj`` cannot be measured for ``backend`` here (one line), or None if it can.

    A search refuses an ``energy_mj`` objective up front with this message.
    """
    check_backend(backend)
    try:
        energy_counter(backend, powercap)
    except HwloopError as exc:
        reason = " ".join(str(exc).split())
        if not is_cuda(backend):
            reason += (
                "; the -cuda backends would use NVML"
                if _cuda_available()
                else " and no NVIDIA GPU for NVML either"
            )
        return (
            f"energy_mj needs a hardware energy counter for backend {backend!r}: {reason}; "
            "hwloop does not estimate energy"
        )
    return None


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())
