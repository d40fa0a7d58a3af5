"""Designs from torch models: fold batch norms, prune, quantise to the layer precisions."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from hwloop.archs import (
    ArchSpec,
    ConvAttentionBlock,
    FixedPoint,
    SpecModule,
    build_model,
    integer_bits_for,
)
from hwloop.synth._design import Design, HardwareConfig, LayerHW, quantise
from hwloop.training import reset_parameters


def _fold(main: Any, norm: nn.Module | None) -> tuple[NDArray[Any], NDArray[Any]]:
    w = main.weight.detach().double().numpy()
    b = main.bias.detach().double().numpy() if main.bias is not None else np.zeros(w.shape[0])
    if isinstance(norm, (nn.BatchNorm1d, nn.BatchNorm2d)):
        assert norm.running_var is not None and norm.running_mean is not None
        scale = norm.weight.detach().double() / torch.sqrt(norm.running_var.double() + norm.eps)
        s = scale.numpy()
        w = w * s.reshape((-1,) + (1,) * (w.ndim - 1))
        b = (b - norm.running_mean.double().numpy()) * s + norm.bias.detach().double().numpy()
    return w, b


def fit_integer_bits(values: NDArray[Any], width: int) -> FixedPoint:
    """A ``width``-bit signed format whose integer bits just hold ``max |values|`` (a power-of-two
    scale per layer, as Brevitas' po2 scaling and hls4ml's 'auto' precision do)."""
    peak = float(np.abs(values).max()) if values.size else 0.0
    return FixedPoint(width, integer_bits_for(peak))


def design_from_model(model: SpecModule, hw: HardwareConfig, fit_weights: bool = True) -> Design:
    """Quantised weights of every layer (batch norms folded into the preceding layer).

    With ``fit_weights`` each layer's weight format keeps its width but takes integer bits that
    fit the layer's largest weight; the chosen formats are recorded in ``hw.by_name``, so the
    design describes itself. Layer norms cannot be folded (they depend on the data): their gamma
    and beta are stored as ``<layer>.norm.weight`` / ``.norm.bias`` at the weight width.
    """
    spec = model.spec
    weights: dict[str, NDArray[np.float64]] = {}
    fitted: list[tuple[str, LayerHW]] = []
    for layer in spec.layers:
        module = model.layers[layer.name]
        fmt = hw.layer(layer.name, layer.op)
        if isinstance(module, ConvAttentionBlock):
            for part in ("query", "key", "value", "proj"):
                sub = getattr(module, part)
                w, b = _fold(sub, None)
                assert fmt.weight is not None and fmt.accum is not None
                # each 1x1 conv gets its own fitted format, "<layer>.<part>" in by_name
                # (a 64-input conv's weights are all below a 4-bit format's smallest step)
                wfmt = fit_integer_bits(w, fmt.weight.width) if fit_weights else fmt.weight
                if wfmt != fmt.weight:
                    fitted.append((f"{layer.name}.{part}", LayerHW(weight=wfmt)))
                weights[f"{layer.name}.{part}.weight"] = quantise(w, wfmt)
                weights[f"{layer.name}.{part}.bias"] = quantise(b, fmt.accum)
        elif isinstance(module, nn.Sequential):
            norms = (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)
            norm = next((m for m in module if isinstance(m, norms)), None)
            w, b = _fold(module[0], norm)
            assert fmt.weight is not None and fmt.accum is not None
            wfmt = fit_integer_bits(w, fmt.weight.width) if fit_weights else fmt.weight
            if wfmt != fmt.weight:
                fitted.append((layer.name, LayerHW(weight=wfmt)))
            weights[f"{layer.name}.weight"] = quantise(w, wfmt)
            weights[f"{layer.name}.bias"] = quantise(b, fmt.accum)
            if isinstance(norm, nn.LayerNorm):  # data-dependent: kept as gamma and beta
                for part in ("weight", "bias"):
                    v = getattr(norm, part).detach().double().numpy()
                    vfmt = fit_integer_bits(v, fmt.weight.width) if fit_weights else fmt.weight
                    weights[f"{layer.name}.norm.{part}"] = quantise(v, vfmt)
    if fitted:
        hw = hw.with_layers(fitted)
    return Design(spec, weights, hw)


def prune_per_layer(model: nn.Module, sparsity: float) -> None:
    """Zero the smallest-magnitude ``sparsity`` fraction of each conv/linear weight, in place."""
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    if sparsity == 0.0:
        return
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
                w = m.weight
                k = int(round(sparsity * w.numel()))
                if k:
                    threshold = w.abs().flatten().kthvalue(k).values
                    w[w.abs() <= threshold] = 0.0


def random_design(
    spec: ArchSpec, hw: HardwareConfig, seed: int = 0, sparsity: float = 0.0
) -> Design:
    """A design with seeded initial weights (for calibration batches), pruned and quantised."""
    model = build_model(spec).eval()
    reset_parameters(model, seed)
    prune_per_layer(model, sparsity)
    return design_from_model(model, hw)


def load_design_weights(model: SpecModule, design: Design) -> SpecModule:
    """Copy the design's quantised weights back into ``model`` (layers without norms only), so
    the torch model computes with exactly the weights the hardware stores."""
    with torch.no_grad():
        for layer in design.arch.layers:
            key = f"{layer.name}.weight"
            if key not in design.weights:
                continue
            module = model.layers[layer.name]
            if not isinstance(module, nn.Sequential) or any(
                isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)) for m in module
            ):
                raise ValueError(f"layer {layer.name}: only layers without norms can be loaded")
            main: Any = module[0]
            main.weight.copy_(torch.from_numpy(design.weights[key]))
            main.bias.copy_(torch.from_numpy(design.weights[f"{layer.name}.bias"]))
    return model
