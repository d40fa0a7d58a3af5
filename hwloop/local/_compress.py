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
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

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
)
from hwloop.local._design import design_from_quantised
from hwloop.local._prune import apply_masks, full_masks, kept_fraction, prune_global
from hwloop.local._quant import QuantSpecModule, quantised_from_float, unsupported_for_quantisation
from hwloop.local._report import finish
from hwloop.local._state import (
    CompressConfig,
    CompressPoint,
    CompressResult,
    CompressState,
    load_quant_state,
    quant_state,
)
from hwloop.runtime import graceful_sigint, progress_bar
from hwloop.tasks import TaskData
from hwloop.training import TrainConfig, train

log = logging.getLogger(__name__)
FORMAT = "hwloop.compress/1"
CALIB = 512  # training inputs that set activation scales and read the design's formats


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
        from hwloop.prediction import find_model

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
            from hwloop.prediction import predict_designs

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

        cfg = self.cfg
        state = CompressState(cfg.out, self.manifest())
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

    def _reference(
        self, state: CompressState, model: Any, data: TaskData, advance: Any
    ) -> CompressPoint:
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
        self, state: CompressState, float_model: Any, bits: int, data: TaskData, advance: Any
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
