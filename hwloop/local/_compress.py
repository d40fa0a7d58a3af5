"""``hwloop compress``: quantisation-aware training at each bit width, then iterative pruning.

For each bit width the float model (batch norms folded) becomes a Brevitas model and is trained
for ``epochs`` (iteration 0); then every iteration removes ``prune_fraction`` of the remaining
weights by global magnitude and fine-tunes for ``finetune_epochs`` with the pruned weights held
at zero. Every (bits, iteration) point is recorded with its metric, BOPs, parameters, non-zeros
and the surrogate's predicted resources for the target, and checkpointed: a re-run with the same
settings resumes after the last finished point (more bit widths or iterations extend the run).
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from fpga_targets import get_target
from hwloop import HwloopError, runtime
from hwloop.archs import ArchSpec, build_model, count_parameters
from hwloop.bops import compute_bops
from hwloop.local._common import (
    config_to_json,
    load_train_config,
    local_task,
    resolve_local_arch,
    train_config_beside,
    write_json,
)
from hwloop.local._design import design_from_quantised
from hwloop.local._prune import Masks, apply_masks, full_masks, kept_fraction, prune_global
from hwloop.local._quant import QuantSpecModule, quantised_from_float, unsupported_for_quantisation
from hwloop.runtime import atomic_path, graceful_sigint, progress_bar
from hwloop.tasks import TaskData
from hwloop.training import TrainConfig, train

log = logging.getLogger(__name__)
FORMAT = "hwloop.compress/1"
CALIB = 512  # training inputs that set activation scales and read the design's formats


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


class _State:
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


def _zeros(qmodel: QuantSpecModule) -> tuple[int, int]:
    """(non-zero, total) weights of the quantised model, as the hardware stores them."""
    nz = total = 0
    with torch.no_grad():
        for m in qmodel.main_layers().values():
            w = m.quant_weight().value
            nz += int(torch.count_nonzero(w))
            total += int(w.numel())
    return nz, total


class Compressor:
    """One compress run (see the module docstring); :meth:`run` does or resumes all of it."""

    def __init__(self, cfg: CompressConfig) -> None:
        self.target = get_target(cfg.target)
        self.spec, self.arch_path = resolve_local_arch(cfg.arch)
        task_name, self.task = local_task(self.spec, cfg.task)
        self.cfg = cfg = replace(cfg, task=task_name)
        reason = unsupported_for_quantisation(self.spec)
        if reason:
            raise HwloopError(f"cannot compress {self.spec.name}: {reason}")
        cfg_path = cfg.train_config or train_config_beside(self.arch_path)
        self.train_cfg = (
            load_train_config(cfg_path, cfg.seed)
            if cfg_path
            else TrainConfig(epochs=cfg.epochs, seed=cfg.seed)
        )
        self.train_cfg_source = str(cfg_path) if cfg_path else "defaults"
        # an imported model's trained weights (beside its spec) are the float reference as they
        # are: not retrained
        from hwloop.archs import trained_weights

        # (a front member, OUT/pareto.json:TRIAL, keeps its weights in its study instead)
        self.trained = None if ".json:" in cfg.arch else trained_weights(cfg.arch)
        self.model_dir = self._surrogate()
        self.surrogate = None  # loaded once, not for every point
        if self.model_dir is not None:
            from surrogates import load_surrogate

            self.surrogate = load_surrogate(self.model_dir)

    def _surrogate(self) -> Path | None:
        from hwloop.surrogate import find_model

        try:
            return find_model(self.cfg.flow, self.target, "post_synthesis", self.cfg.surrogate)
        except HwloopError as exc:
            if self.cfg.surrogate is not None:
                raise
            log.warning("no resource predictions: %s", exc)
            return None

    def manifest(self) -> dict[str, Any]:
        c = self.cfg
        return {
            "format": FORMAT,
            "arch_digest": self.spec.digest,
            "task": c.task,
            "limit": c.limit,
            "seed": c.seed,
            "epochs": c.epochs,
            "finetune_epochs": c.ft_epochs,
            "prune_fraction": c.prune_fraction,
            "qat_lr_scale": c.qat_lr_scale,
            "train_config": config_to_json(self.train_cfg),
            "target": c.target,
            "flow": c.flow,
            "strategy": c.strategy,
            **({"trained_weights": str(self.trained)} if self.trained else {}),
        }

    # ---- one point ---------------------------------------------------------------------------
    def _point(
        self, qmodel: QuantSpecModule, result: Any, iteration: int, seconds: float
    ) -> CompressPoint:
        nz, total = _zeros(qmodel)
        sparsity = 1.0 - nz / total if total else 0.0
        bops = compute_bops(self.spec, qmodel.bits, min(sparsity, 0.999999)).total
        pred: dict[str, list[float]] = {}
        latency = None
        outside: tuple[str, ...] = ()
        if self.model_dir is not None:
            from hwloop.surrogate import predict_designs

            design = self.design(qmodel)
            p = predict_designs(
                [design], self.target, self.model_dir, model=self.surrogate, traced=True
            )[0]
            pred = {m: list(v) for m, v in p.metrics.items()}
            latency, outside = p.latency_ns, p.extrapolated
        return CompressPoint(
            qmodel.bits,
            iteration,
            round(sparsity, 6),
            result.val_metric,
            result.test_metric,
            bops,
            self.params,
            nz,
            pred,
            latency,
            outside,
            result.epochs_run,
            round(seconds, 2),
        )

    def design(self, qmodel: QuantSpecModule) -> Any:
        return design_from_quantised(
            qmodel,
            self.calib,
            self.target.part,
            self.target.clock_period_ns,
            self.cfg.strategy,
        )

    def _cfg(self, epochs: int, bits: int, iteration: int) -> TrainConfig:
        # a seed per point: a resumed run trains every point exactly as an uninterrupted one
        return replace(
            self.train_cfg,
            epochs=epochs,
            lr=self.train_cfg.lr * self.cfg.qat_lr_scale,
            seed=self.cfg.seed + 1000 * bits + iteration,
        )

    # ---- the run -----------------------------------------------------------------------------
    def run(self, progress: bool = True) -> CompressResult:
        from hwloop.local._report import finish

        cfg = self.cfg
        state = _State(cfg.out, self.manifest())
        data = self.task.load(limit=cfg.limit, seed=cfg.seed, progress=progress)
        self.data = data
        self.calib = torch.from_numpy(data.train.x[:CALIB])
        self.input_signed = bool(data.train.x.min() < 0)
        float_model = build_model(self.spec)
        self.params = count_parameters(float_model)
        total = 1 + len(cfg.bits) * (cfg.iterations + 1)
        done = sum(1 for p in state.points.values() if self._wanted(p))
        with graceful_sigint(), progress_bar(total, "compress", progress) as advance:
            advance(done)
            ref = self._reference(state, float_model, data, advance)
            for bits in cfg.bits:
                self._bit_width(state, float_model, bits, data, advance)
        points = tuple(
            sorted(
                (p for p in state.points.values() if self._wanted(p) and p.iteration >= 0),
                key=lambda p: (p.bits, p.iteration),
            )
        )
        return finish(self, state, ref, points)

    def _wanted(self, p: CompressPoint) -> bool:
        return p.iteration < 0 or (p.bits in self.cfg.bits and p.iteration <= self.cfg.iterations)

    def _reference(self, state: _State, model: Any, data: TaskData, advance: Any) -> CompressPoint:
        label = "float"
        if label in state.points:
            model.load_state_dict(
                {k[6:]: v for k, v in load_file(str(state.checkpoint(label))).items()}
            )
            return state.points[label]
        t0 = time.perf_counter()
        cfg = replace(self.train_cfg, seed=self.cfg.seed)
        if self.train_cfg_source == "defaults":
            cfg = replace(cfg, epochs=self.cfg.epochs)
        if self.trained is not None:
            result = self._trained_reference(model, data)
        else:
            result = train(model, self.task, data, cfg)
        if not math.isfinite(result.val_metric):
            raise HwloopError(f"the float model of {self.spec.name} diverged: lower the lr")
        bops = compute_bops(self.spec, 32, 0.0).total
        point = CompressPoint(
            32,
            -1,
            0.0,
            result.val_metric,
            result.test_metric,
            bops,
            self.params,
            self.params,
            epochs_run=result.epochs_run,
            seconds=round(time.perf_counter() - t0, 2),
        )
        state.add(point, {f"model.{k}": v for k, v in model.state_dict().items()})
        advance(1, description=f"compress: float {result.val_metric:.4f}")
        return point

    def _trained_reference(self, model: Any, data: TaskData) -> Any:
        """The imported model's own weights, evaluated (not trained) as the float reference."""
        from hwloop.archs import load_trained
        from hwloop.training import TrainResult, evaluate

        assert self.trained is not None
        model.load_state_dict(load_trained(self.spec, self.trained).state_dict())
        log.info("float reference: the trained weights in %s (not retrained)", self.trained)
        test = evaluate(model, self.task, data.test) if len(data.test) else math.nan
        val = evaluate(model, self.task, data.val)
        return TrainResult(val, test, best_epoch=0, epochs_run=0, seconds=0.0)

    def _bit_width(
        self, state: _State, float_model: Any, bits: int, data: TaskData, advance: Any
    ) -> None:
        cfg = self.cfg
        have = [p.iteration for p in state.points.values() if p.bits == bits and p.iteration >= 0]
        last = max(have, default=-1)
        if last >= cfg.iterations:
            return
        qmodel = QuantSpecModule(self.spec, bits, self.input_signed)
        if last >= 0:
            qmodel, masks = load_quant_state(
                qmodel, load_file(str(state.checkpoint(f"{bits}b-i{last:02d}")))
            )
        else:
            t0 = time.perf_counter()
            qmodel = quantised_from_float(float_model, bits, self.calib, self.input_signed)
            masks = full_masks(qmodel.main_layers())
            result = train(qmodel, self.task, data, self._cfg(cfg.epochs, bits, 0), init=False)
            point = self._point(qmodel, result, 0, time.perf_counter() - t0)
            state.add(point, quant_state(qmodel, masks))
            advance(1, description=f"compress: {point.label} {point.val_metric:.4f}")
            last = 0
        layers = qmodel.main_layers()
        for it in range(last + 1, cfg.iterations + 1):
            runtime.check()
            t0 = time.perf_counter()
            masks = prune_global(layers, masks, cfg.prune_fraction, qmodel.fold_scales())
            apply_masks(layers, masks)
            result = train(
                qmodel,
                self.task,
                data,
                self._cfg(cfg.ft_epochs, bits, it),
                init=False,
                after_step=lambda m=masks: apply_masks(layers, m),  # type: ignore[misc]
            )
            point = self._point(qmodel, result, it, time.perf_counter() - t0)
            state.add(point, quant_state(qmodel, masks))
            advance(
                1,
                description=f"compress: {point.label} {point.val_metric:.4f} "
                f"({1 - kept_fraction(masks):.0%} pruned)",
            )


def run_compress(cfg: CompressConfig, progress: bool = True) -> CompressResult:
    return Compressor(cfg).run(progress)


def load_compressed(folder: Path) -> tuple[QuantSpecModule, dict[str, Any]]:
    """The chosen model saved by ``hwloop compress`` (weights through safetensors: tensors only,
    nothing is unpickled) and its config."""
    try:
        doc = json.loads((folder / "config.json").read_text())
        spec = ArchSpec.load(folder / "arch.json")
        tensors = load_file(str(folder / "weights.safetensors"))
    except (OSError, json.JSONDecodeError) as exc:
        raise HwloopError(f"{folder} is not a compressed model: {exc}") from None
    qmodel = QuantSpecModule(spec, int(doc["bits"]), bool(doc.get("input_signed", False)))
    qmodel, _ = load_quant_state(qmodel, tensors)
    return qmodel.eval(), doc
