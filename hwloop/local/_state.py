"""What a compress run keeps and hands on, apart from the run itself: its settings
(``CompressConfig``), its points and result, the state folder that makes it resumable
(``CompressState``: manifest, points, checkpoints) and what its report reads of a run
(``CompressRun``). ``_compress`` (the run) and ``_report`` / ``_plots`` (the writers) both import
this module, not each other's."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import torch
from safetensors.torch import save_file

from hwloop import HwloopError
from hwloop.archs import ArchSpec
from hwloop.local._common import write_json
from hwloop.local._prune import Masks
from hwloop.local._quant import QuantSpecModule
from hwloop.runtime import atomic_path
from hwloop.tasks import Task
from hwloop.training import TrainConfig

if TYPE_CHECKING:
    from hwloop.synth import Design


@dataclass(frozen=True)
class CompressConfig:
    arch: str
    task: str = ""  # "": the arch's task (else bragg)
    bits: tuple[int, ...] = (4, 6, 8, 16)
    iterations: int = 20
    prune_fraction: float = 0.2
    epochs: int = 5  # QAT epochs at each bit width (iteration 0)
    finetune_epochs: int | None = None  # after each pruning step (default: epochs)
    qat_lr_scale: float = 0.03  # QAT and fine-tuning run at this fraction of the config's lr
    limit: int | None = 8000
    seed: int = 0
    target: str = "vu13p"
    flow: str = "open"
    strategy: str = "distributed_arithmetic"
    tolerance: float = 0.05
    out: Path = Path("hwloop-compress")
    train_config: Path | None = None  # default: ARCH.train.json beside an arch file, if any
    surrogate: Path | None = None
    hls4ml: bool = True  # check the chosen model in hls4ml's C++ emulation
    synthesize: bool = False  # synthesise the chosen design with --flow
    synth_timeout: float = 900.0
    cache: str | None = None  # synthesis cache URL (default: the user's cache)

    def __post_init__(self) -> None:
        if not self.bits:
            raise HwloopError("--bits: give at least one bit width")
        for b in self.bits:
            if not 2 <= b <= 16:
                raise HwloopError(
                    f"--bits: each bit width must be in 2..16 (quantisation-aware training: "
                    f"wider gains nothing over the float model), got {b}"
                )
        if self.iterations < 0:
            raise HwloopError(f"--iterations must be >= 0, got {self.iterations}")
        if not 0 < self.prune_fraction < 1:
            raise HwloopError(f"--prune-fraction must be in (0, 1), got {self.prune_fraction}")
        if self.epochs < 1 or (self.finetune_epochs is not None and self.finetune_epochs < 1):
            raise HwloopError("--epochs and --finetune-epochs must be at least 1")
        if not 0 < self.qat_lr_scale <= 1:
            raise HwloopError(f"--qat-lr-scale must be in (0, 1], got {self.qat_lr_scale}")
        if not 0 <= self.tolerance < 1:
            raise HwloopError(f"--tolerance is a fraction in [0, 1), got {self.tolerance}")

    @property
    def ft_epochs(self) -> int:
        return self.finetune_epochs or self.epochs


@dataclass(frozen=True)
class CompressPoint:
    """One (bits, pruning iteration) model. ``bits`` 32 with ``iteration`` -1 is the float
    reference (dense, unquantised)."""

    bits: int
    iteration: int
    sparsity: float  # zero weights of the quantised model (pruned ones and rounded-to-zero ones)
    val_metric: float
    test_metric: float
    bops: float
    parameters: int
    nonzero: int
    predicted: dict[str, list[float]] = field(default_factory=dict)  # metric -> low, mid, high
    latency_ns: float | None = None
    extrapolated: tuple[str, ...] = ()
    epochs_run: int = 0
    seconds: float = 0.0

    @property
    def label(self) -> str:
        return "float" if self.iteration < 0 else f"{self.bits}b-i{self.iteration:02d}"


@dataclass(frozen=True)
class CompressResult:
    points: tuple[CompressPoint, ...]
    reference: CompressPoint
    chosen: CompressPoint | None
    chosen_dir: Path | None
    files: tuple[Path, ...]
    metric_name: str
    notes: dict[str, Any] = field(default_factory=dict)


class CompressState:
    """The run's directory: manifest (its settings), points and checkpoints."""

    def __init__(self, out: Path, manifest: dict[str, Any]) -> None:
        self.dir = out / "state"
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / "manifest.json"
        if path.is_file():
            old = json.loads(path.read_text())
            diff = sorted(k for k in manifest if old.get(k) != manifest[k])
            if diff:
                raise HwloopError(
                    f"{out} holds a compress run with other settings ({', '.join(diff)}): "
                    "use another --out to keep both"
                )
        else:
            write_json(path, manifest)
        self.points_path = self.dir / "points.json"
        self.points: dict[str, CompressPoint] = {}
        if self.points_path.is_file():
            for doc in json.loads(self.points_path.read_text()):
                doc["extrapolated"] = tuple(doc.get("extrapolated", ()))
                p = CompressPoint(**doc)
                self.points[p.label] = p

    def checkpoint(self, label: str) -> Path:
        return self.dir / f"{label}.safetensors"

    def add(self, point: CompressPoint, state: dict[str, torch.Tensor]) -> None:
        """Checkpoint first, then the point: a point on record always has its weights."""
        tensors = {k: v.detach().contiguous().clone() for k, v in state.items()}
        with atomic_path(self.checkpoint(point.label), suffix=".safetensors") as tmp:
            save_file(tensors, str(tmp))
        self.points[point.label] = point
        write_json(self.points_path, [asdict(p) for p in self.points.values()])


def _masks_state(masks: Masks) -> dict[str, torch.Tensor]:
    return {f"mask.{k}": v.to(torch.uint8) for k, v in masks.items()}


def quant_state(qmodel: QuantSpecModule, masks: Masks) -> dict[str, torch.Tensor]:
    return {**{f"model.{k}": v for k, v in qmodel.state_dict().items()}, **_masks_state(masks)}


def load_quant_state(
    qmodel: QuantSpecModule, tensors: dict[str, torch.Tensor]
) -> tuple[QuantSpecModule, Masks]:
    model = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    qmodel.load_state_dict(model)
    masks = {k[5:]: v.bool() for k, v in tensors.items() if k.startswith("mask.")}
    return qmodel, masks


class CompressRun(Protocol):
    """What the report reads of a compress run (``hwloop.local._compress.Compressor``)."""

    cfg: CompressConfig
    spec: ArchSpec
    task: Task
    train_cfg: TrainConfig
    train_cfg_source: str
    model_dir: Path | None
    input_signed: bool
    calib: torch.Tensor

    def design(self, qmodel: QuantSpecModule) -> Design: ...
