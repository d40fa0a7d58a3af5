"""The boundary with hls4ml: our design's precisions as hls4ml's config dict, and conversion of
the torch model with its PyTorch frontend (C++ emulation via ``compile()`` / ``predict()``)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from hwloop import HwloopError
from hwloop.archs import SpecModule
from hwloop.synth._design import HLS4ML_STRATEGY, Design

log = logging.getLogger(__name__)
UNSUPPORTED_OPS = {
    "conv_attention": "the attention softmax has no hls4ml PyTorch equivalent",
    "aggregate": "hwloop does not convert set layers (Deep Sets) through hls4ml yet",
    "branches": "hwloop's designs have no parallel branches (PtychoNN's decoders) yet",
    "pool2d": "hwloop does not convert edge-model layers through hls4ml yet",
    "upsample2d": "hwloop does not convert edge-model layers through hls4ml yet",
}
UNSUPPORTED_ACTS = {"gelu": "hls4ml's PyTorch frontend has no GELU"}


def hls4ml_unsupported(design: Design) -> str | None:
    for layer in design.arch.layers:
        if layer.op in UNSUPPORTED_OPS:
            return f"layer {layer.name} ({layer.op}): {UNSUPPORTED_OPS[layer.op]}"
        act = getattr(layer, "act", None)
        if act in UNSUPPORTED_ACTS:
            return f"layer {layer.name}: {UNSUPPORTED_ACTS[act]}"
    return None


def hls4ml_config(design: Design, model: SpecModule) -> dict[str, Any]:
    """hls4ml's name-granularity config with our cascading precisions filled in."""
    import hls4ml

    hw = design.hw
    cfg: dict[str, Any] = hls4ml.utils.config_from_pytorch_model(
        model,
        tuple(design.arch.input_shape),
        granularity="name",
        default_precision=(hw.model.result or hw.input_precision).hls(),
        default_reuse_factor=hw.model.reuse_factor or 1,
        backend="Vitis",
    )
    cfg["Model"]["Strategy"] = HLS4ML_STRATEGY[hw.strategy]
    names = cfg["LayerName"]
    if "x" in names:
        names["x"]["Precision"]["result"] = hw.input_precision.hls()
    for layer in design.arch.layers:
        main = f"layers_{layer.name}_0"
        if main not in names:
            continue
        lhw = hw.layer(layer.name, layer.op)
        prec = names[main]["Precision"]
        for key, value in (
            ("weight", lhw.weight),
            ("bias", lhw.accum),
            ("result", lhw.result),
            ("accum", lhw.accum),
        ):
            if value is not None and key in prec:
                prec[key] = value.hls()
        names[main]["ReuseFactor"] = lhw.reuse_factor or 1
    return cfg


def convert(design: Design, model: SpecModule, output_dir: str | os.PathLike[str]) -> Any:
    """The hls4ml model of ``design`` (Vitis backend), written under ``output_dir``."""
    reason = hls4ml_unsupported(design)
    if reason:
        raise HwloopError(f"hls4ml cannot convert {design.arch.name or 'this arch'}: {reason}")
    import hls4ml

    cfg = hls4ml_config(design, model)
    return hls4ml.converters.convert_from_pytorch_model(
        model.eval(),
        hls_config=cfg,
        output_dir=str(Path(output_dir)),
        backend="Vitis",
        io_type=design.hw.io_type,
        part=design.hw.part,
        clock_period=design.hw.clock_period_ns,
    )


to_hls4ml = convert  # the public name (hwloop.synth.to_hls4ml)
