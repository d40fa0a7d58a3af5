"""What ``hwloop compress`` leaves in ``--out``: tables, plots and the chosen model."""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file

from hwloop import HwloopError
from hwloop.local._common import config_to_json, dataclass_columns, write_json, write_table
from hwloop.local._plots import plot_compress
from hwloop.local._quant import QuantSpecModule
from hwloop.local._state import (
    CompressPoint,
    CompressResult,
    CompressRun,
    CompressState,
    load_quant_state,
)
from hwloop.runtime import progress_bar

log = logging.getLogger(__name__)
_PRED = ("lut", "ff", "dsp", "bram_18k")


def within_tolerance(point: CompressPoint, ref: CompressPoint, tolerance: float) -> bool:
    """The metric is an error (lower is better): at most ``(1 + tolerance)`` times the float
    reference's validation metric."""
    return point.val_metric <= ref.val_metric * (1.0 + tolerance)


def choose(
    points: tuple[CompressPoint, ...], ref: CompressPoint, tolerance: float
) -> CompressPoint | None:
    """The lowest bit width, then the highest sparsity, within ``tolerance`` of the reference."""
    ok = [p for p in points if within_tolerance(p, ref, tolerance)]
    if not ok:
        return None
    return min(ok, key=lambda p: (p.bits, -p.sparsity, p.val_metric))


def _row(p: CompressPoint, metric: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "model": p.label,
        "bits": p.bits if p.iteration >= 0 else "float",
        "iteration": p.iteration,
        "sparsity": p.sparsity,
        f"val_{metric}": p.val_metric,
        f"test_{metric}": p.test_metric,
        "bops": p.bops,
        "parameters": p.parameters,
        "nonzero": p.nonzero,
    }
    for m in _PRED:
        lo, mid, hi = p.predicted.get(m, [None, None, None])
        row.update({f"{m}_pred": mid, f"{m}_low80": lo, f"{m}_high80": hi})
    row["latency_ns_pred"] = p.latency_ns
    row["extrapolated"] = ",".join(p.extrapolated)
    row["epochs_run"], row["seconds"] = p.epochs_run, p.seconds
    return row


def finish(
    comp: CompressRun, state: CompressState, ref: CompressPoint, points: tuple[CompressPoint, ...]
) -> CompressResult:
    cfg, metric = comp.cfg, comp.task.metric_name
    out = cfg.out
    rows = [_row(p, metric) for p in (ref, *points)]
    columns = list(rows[0])
    write_table(out / "compress.csv", rows, columns)
    chosen = choose(points, ref, cfg.tolerance)
    doc = {
        "format": "hwloop.compress-report/1",
        "arch": comp.spec.name,
        "task": cfg.task,
        "target": cfg.target,
        "metric": metric,
        "tolerance": cfg.tolerance,
        "train_config": {"source": comp.train_cfg_source, **config_to_json(comp.train_cfg)},
        "surrogate": str(comp.model_dir) if comp.model_dir else None,
        "reference": asdict(ref),
        "points": [asdict(p) for p in points],
        "chosen": chosen.label if chosen else None,
        "columns": dataclass_columns(type(ref)),
    }
    files = [out / "compress.csv", out / "compress.json"]
    files += plot_compress(points, ref, metric, out, comp.task.metric_unit, cfg.tolerance)
    notes: dict[str, Any] = {}
    chosen_dir = None
    if chosen is not None:
        chosen_dir = out / "chosen"
        notes = save_chosen(comp, state, chosen, ref, chosen_dir)
        doc["chosen_model"] = notes
        files.append(chosen_dir)
    write_json(out / "compress.json", doc)
    return CompressResult(points, ref, chosen, chosen_dir, tuple(files), metric, notes)


def save_chosen(
    comp: CompressRun, state: CompressState, p: CompressPoint, ref: CompressPoint, folder: Path
) -> dict[str, Any]:
    """arch.json, weights.safetensors, config.json and model.qonnx.onnx of the chosen point;
    optionally its bit-exactness in hls4ml's emulation and a real synthesis of its design."""
    from hwloop.local._export import compare_with_hls4ml, export_qonnx, hls4ml_unsupported

    folder.mkdir(parents=True, exist_ok=True)
    tensors = load_file(str(state.checkpoint(p.label)))
    qmodel = QuantSpecModule(comp.spec, p.bits, comp.input_signed)
    qmodel, _ = load_quant_state(qmodel, tensors)
    qmodel.eval()
    comp.spec.save(folder / "arch.json")
    weights = {k: v for k, v in tensors.items() if k.startswith("model.")}
    save_file(weights, str(folder / "weights.safetensors"))
    design = comp.design(qmodel)
    doc: dict[str, Any] = {
        "format": "hwloop.compressed/1",
        "model": p.label,
        "bits": p.bits,
        "iteration": p.iteration,
        "sparsity": p.sparsity,
        "input_signed": comp.input_signed,
        "task": comp.cfg.task,
        "metric": comp.task.metric_name,
        "val_metric": p.val_metric,
        "test_metric": p.test_metric,
        "reference_val_metric": ref.val_metric,
        "tolerance": comp.cfg.tolerance,
        "bops": p.bops,
        "nonzero": p.nonzero,
        "train_config": config_to_json(comp.train_cfg),
        "predicted": p.predicted,
        "latency_ns_pred": p.latency_ns,
        "hw": design.hw.to_json(),
    }
    export_qonnx(qmodel, folder / "model.qonnx.onnx")
    reason = hls4ml_unsupported(qmodel)
    if reason:
        doc["hls4ml"] = {"converted": False, "reason": reason}
    elif comp.cfg.hls4ml:
        with tempfile.TemporaryDirectory(prefix="hwloop-hls4ml-") as tmp:
            x = comp.calib[:256]
            check = compare_with_hls4ml(qmodel, x, Path(tmp), folder / "model.qonnx.onnx")
        doc["hls4ml"] = {"converted": True, **check.to_json()}
        if not check.exact:
            log.warning(
                "hls4ml's emulation differs from the Brevitas model on %d of %d samples",
                check.samples - check.outputs_equal,
                check.samples,
            )
    if comp.cfg.synthesize:
        doc["synthesis"] = _synthesize(comp, design)
    write_json(folder / "config.json", doc)
    return doc


def _synthesize(comp: CompressRun, design: Any) -> dict[str, Any]:
    from hwloop.search import real_values
    from hwloop.synth import get_synthesizer, synthesize
    from synth_cache import SqlCache, default_cache_url

    synth = get_synthesizer(comp.cfg.flow)
    missing = synth.available()
    if missing:
        raise HwloopError(f"--synthesize: the {comp.cfg.flow} flow is not available: {missing}")
    cache = SqlCache(comp.cfg.cache or default_cache_url())
    root = Path(tempfile.mkdtemp(prefix="hwloop-compress-synth-"))
    log.info("synthesising the chosen design with the %s flow (minutes)", comp.cfg.flow)
    try:
        # no fraction to show: the bar says it is working, and for how long
        with progress_bar(None, f"{comp.cfg.flow} synthesis of the chosen design"):
            outcome = synthesize(
                design,
                synth,
                cache,
                comp.cfg.synth_timeout,
                source="hwloop compress",
                work_root=root,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
        cache.close()
    result = outcome.entry.results[0]
    doc: dict[str, Any] = {"flow": comp.cfg.flow, "status": result.status, "key": outcome.entry.key}
    if result.status == "ok":
        doc.update(real_values(result, design.hw.clock_period_ns))
    else:
        doc["error"] = result.error
    return doc
