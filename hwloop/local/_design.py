"""The hardware design of a quantised model: its exact fixed-point weights and formats.

Every tensor of a :class:`QuantSpecModule` lies on a power-of-two grid, so each one is an
ap_fixed format: ``scale = 2**-f`` at ``b`` bits is ``FixedPoint(b, b - f)``. The design records
those formats per layer (``hw.by_name``), the exact weights and biases, and accumulators wide
enough never to overflow, so a synthesizer builds what Brevitas computes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from hwloop import HwloopError
from hwloop.archs import FixedPoint
from hwloop.local._quant import QuantSpecModule
from hwloop.synth import Design, HardwareConfig, LayerHW, fit_integer_bits


def fixed_point(scale: Any, bits: Any, signed: Any) -> FixedPoint:
    """The ap_fixed format of a power-of-two-scaled Brevitas tensor."""
    s = float(torch.as_tensor(scale).reshape(-1)[0])
    f = -math.log2(s)
    if abs(f - round(f)) > 1e-9:
        raise HwloopError(f"scale {s} is not a power of two")
    b = int(round(float(torch.as_tensor(bits))))
    return FixedPoint(b, b - int(round(f)), bool(signed))


@dataclass(frozen=True)
class Trace:
    """What one eval forward pass of a quantised model shows about its formats."""

    input: FixedPoint
    weights: dict[str, tuple[NDArray[np.float64], FixedPoint]]
    biases: dict[str, NDArray[np.float64]]
    results: dict[str, FixedPoint]  # output format of every layer re-quantised after it


def trace_formats(qmodel: QuantSpecModule, x: torch.Tensor) -> Trace:
    """Run ``x`` (a small batch) through ``qmodel`` in eval mode and read every quantiser."""
    qmodel.eval()
    iq: Any = qmodel.input_quant
    seen: dict[str, Any] = {}
    hooks = [iq.register_forward_hook(lambda m, i, o: seen.__setitem__("in", o))]
    for name, seq in qmodel.layers.items():
        if not isinstance(seq, nn.Sequential):
            continue
        main: Any = seq[0]

        def grab_bias(m: Any, i: Any, o: Any, name: str = name) -> None:
            seen[f"{name}.bias"] = o

        def grab_out(m: Any, i: Any, o: Any, name: str = name) -> None:
            seen[f"{name}.out"] = o

        hooks.append(main.bias_quant.register_forward_hook(grab_bias))
        if len(seq) > 1 and hasattr(seq[-1], "act_quant"):
            hooks.append(seq[-1].register_forward_hook(grab_out))
    try:
        with torch.no_grad():
            qmodel(x[:2])
    finally:
        for h in hooks:
            h.remove()
    inp = seen["in"]
    weights: dict[str, tuple[NDArray[np.float64], FixedPoint]] = {}
    biases: dict[str, NDArray[np.float64]] = {}
    results: dict[str, FixedPoint] = {}
    with torch.no_grad():
        for name, main in qmodel.main_layers().items():
            qw = main.quant_weight()
            weights[name] = (
                qw.value.double().numpy(),
                fixed_point(qw.scale, qw.bit_width, qw.signed),
            )
            biases[name] = seen[f"{name}.bias"].value.double().numpy()
            out = seen.get(f"{name}.out")
            if out is not None:
                results[name] = fixed_point(out.scale, out.bit_width, out.signed)
    return Trace(fixed_point(inp.scale, inp.bit_width, inp.signed), weights, biases, results)


def _range(fmt: FixedPoint) -> float:
    return 2.0 ** (fmt.integer - (1 if fmt.signed else 0))


def _accumulator(
    w: NDArray[np.float64], b: NDArray[np.float64], fin: FixedPoint, fw: FixedPoint
) -> FixedPoint:
    """A signed format holding every partial sum of ``w @ x + b`` exactly for x in ``fin``."""
    frac = fin.fractional + fw.fractional
    bound = np.abs(w.reshape(w.shape[0], -1)).sum(axis=1) * _range(fin) + np.abs(b)
    peak = float(bound.max()) if bound.size else 0.0
    integer = max(1, math.ceil(math.log2(peak + 2.0**-frac)) + 1)
    return FixedPoint(min(64, integer + frac), integer - max(0, integer + frac - 64))


def design_from_quantised(
    qmodel: QuantSpecModule,
    x: torch.Tensor,
    part: str,
    clock_period_ns: float,
    strategy: str = "distributed_arithmetic",
) -> Design:
    """The :class:`Design` of ``qmodel`` (``x``: a batch of inputs, to read the formats)."""
    t = trace_formats(qmodel, x)
    spec = qmodel.spec
    base = HardwareConfig.uniform(part, qmodel.bits, clock_period_ns, strategy=strategy)
    by_name: list[tuple[str, LayerHW]] = []
    weights: dict[str, NDArray[np.float64]] = {}
    fin = t.input
    for layer in spec.layers:
        if layer.name not in t.weights:
            continue
        w, fw = t.weights[layer.name]
        b = t.biases[layer.name]
        acc = _accumulator(w, b, fin, fw)
        res = t.results.get(layer.name, acc)  # the last layer keeps its accumulator
        by_name.append((layer.name, LayerHW(weight=fw, result=res, accum=acc)))
        weights[f"{layer.name}.weight"] = w
        weights[f"{layer.name}.bias"] = b
        if getattr(layer, "norm", None) == "layer":
            seq: Any = qmodel.layers[layer.name]
            ln = next(m for m in seq if isinstance(m, nn.LayerNorm))
            for part_name in ("weight", "bias"):
                v = getattr(ln, part_name).detach().double().numpy()
                vf = fit_integer_bits(v, qmodel.bits)
                step = 2.0**-vf.fractional
                weights[f"{layer.name}.norm.{part_name}"] = np.round(v / step) * step
        fin = res
    hw = HardwareConfig(
        base.part,
        base.clock_period_ns,
        base.model,
        by_name=tuple(sorted(by_name)),
        strategy=base.strategy,
        io_type=base.io_type,
        input_precision=t.input,
    )
    return Design(spec, weights, hw)
