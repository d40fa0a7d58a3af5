"""Brevitas quantisation-aware models of an arch spec, with power-of-two scales throughout.

A :class:`QuantSpecModule` is the hardware's view of a trained float model at ``bits`` bits:

- batch norms are folded into the preceding conv / linear layer before quantisation (the
  hardware folds them too; hls4ml's QONNX frontend would otherwise keep a float scale);
- the input, every weight tensor and every layer's output are quantised to ``bits`` bits with
  one power-of-two scale per tensor (Brevitas' ``*FixedPoint`` quantisers), so each tensor is an
  ``ap_fixed<bits, I>`` and hls4ml takes the model through QONNX without rescaling nodes;
- biases are integers on the product of the input and weight scales (32 bits, up to 56 at 16
  bits, so that no folded bias saturates);
- the last layer's result is not re-quantised: it is the exact accumulator value.

Layers are ``layers[name]`` = ``Sequential(main, [LayerNorm], [activation], [QuantIdentity])``
with the spec's layer names, as in :class:`~hwloop.archs._torch.SpecModule`. Layer norm and GELU
are computed in float and re-quantised (approximately what the open flow builds; hls4ml cannot
convert them). LeakyReLU uses the open flow's slope (3/256, torch's 0.01 on an 8-bit fractional
grid), so the product is exact in every implementation. The attention block has no quantised
counterpart here.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from hwloop import HwloopError
from hwloop.archs import ArchSpec, Conv1d, Conv2d, Flatten, Linear, SpecModule, activation_module
from hwloop.synth import LEAKY_SLOPE

STATS_BATCHES = 16  # batches of training data that initialise the activation scales


def _brevitas() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "fast_hadamard_transform package not found" etc.
        import brevitas.nn as qnn
        from brevitas import quant
    return qnn, quant


def quantisers(bits: int) -> dict[str, Any]:
    """Brevitas quantiser classes at ``bits`` bits, all with power-of-two scales."""
    if not 2 <= bits <= 16:
        raise HwloopError(
            f"--bits: each bit width must be in 2..16 (quantisation-aware training: wider gains "
            f"nothing over the float model), got {bits}"
        )
    _, quant = _brevitas()

    class Weight(quant.Int8WeightPerTensorFixedPoint):  # type: ignore[name-defined]
        bit_width = bits

    class Act(quant.Int8ActPerTensorFixedPoint):  # type: ignore[name-defined]
        bit_width = bits
        collect_stats_steps = STATS_BATCHES

    class UAct(quant.Uint8ActPerTensorFixedPoint):  # type: ignore[name-defined]
        bit_width = bits
        collect_stats_steps = STATS_BATCHES

    class Bias(quant.IntBias):  # type: ignore[name-defined]
        # on the accumulator's grid (input scale x weight scale): at 16 bits that grid is
        # ~2**-31, where a 32-bit integer saturates at |bias| = 1 (folded norms reach ~30)
        bit_width = max(32, 2 * bits + 24)

    return {"weight": Weight, "act": Act, "uact": UAct, "bias": Bias}


def unsupported_for_quantisation(spec: ArchSpec) -> str | None:
    for layer in spec.layers:
        if not isinstance(layer, (Conv2d, Conv1d, Linear, Flatten)):
            return f"layer {layer.name} ({layer.op}) has no quantised implementation"
    return None


class QuantSpecModule(nn.Module):
    """The quantised network; ``spec``, ``bits`` and ``input_signed`` rebuild it."""

    def __init__(self, spec: ArchSpec, bits: int, input_signed: bool = False) -> None:
        super().__init__()
        reason = unsupported_for_quantisation(spec)
        if reason:
            raise HwloopError(f"arch {spec.name or spec.digest}: {reason}")
        qnn, _ = _brevitas()
        q = quantisers(bits)
        self.spec, self.bits, self.input_signed = spec, bits, input_signed
        self.input_quant = qnn.QuantIdentity(
            act_quant=q["act"] if input_signed else q["uact"], return_quant_tensor=True
        )
        self.layers = nn.ModuleDict()
        last = max(i for i, layer in enumerate(spec.layers) if not isinstance(layer, Flatten))
        for i, (layer, (shape_in, shape_out)) in enumerate(
            zip(spec.layers, spec.shapes(), strict=True)
        ):
            if isinstance(layer, Flatten):
                self.layers[layer.name] = nn.Flatten(1)
                continue
            common = {"weight_quant": q["weight"], "bias_quant": q["bias"]}
            if isinstance(layer, Conv2d):
                main: nn.Module = qnn.QuantConv2d(
                    shape_in[0], layer.out_channels, layer.kernel, padding=layer.padding, **common
                )
            elif isinstance(layer, Conv1d):
                main = qnn.QuantConv1d(
                    shape_in[0], layer.out_channels, layer.kernel, padding=layer.padding, **common
                )
            else:
                assert isinstance(layer, Linear)
                main = qnn.QuantLinear(shape_in[0], layer.out_features, bias=True, **common)
            parts = [main]
            if layer.norm == "layer":
                parts.append(nn.LayerNorm(list(shape_out)))
            if layer.act == "leaky_relu":  # the slope the hardware multiplies by, exactly
                parts.append(nn.LeakyReLU(LEAKY_SLOPE))
            elif layer.act is not None:
                parts.append(activation_module(layer.act))
            if i != last:
                unsigned = layer.act == "relu"
                parts.append(
                    qnn.QuantIdentity(
                        act_quant=q["uact"] if unsigned else q["act"], return_quant_tensor=True
                    )
                )
            self.layers[layer.name] = nn.Sequential(*parts)
            # per-output scale of a folded batch norm (1: none), for pruning by pre-fold weights
            self.register_buffer(f"fold_scale_{layer.name}", torch.ones(shape_out[0]))

    def fold_scales(self) -> dict[str, torch.Tensor]:
        return {n: getattr(self, f"fold_scale_{n}") for n in self.main_layers()}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: Any = self.input_quant(x)
        for module in self.layers.values():
            y = module(y)
        return y if isinstance(y, torch.Tensor) else y.value

    def main_layers(self) -> dict[str, Any]:
        """The conv / linear layer of each spec layer, by name (the prunable weights)."""
        return {name: seq[0] for name, seq in self.layers.items() if isinstance(seq, nn.Sequential)}


def _fold_bn(main: Any, norm: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Folded weight, bias and the per-output scale the weights were multiplied by."""
    w = main.weight.detach().clone()
    b = main.bias.detach().clone() if main.bias is not None else torch.zeros(w.shape[0])
    s = torch.ones(w.shape[0])
    if isinstance(norm, (nn.BatchNorm1d, nn.BatchNorm2d)):
        assert norm.running_var is not None and norm.running_mean is not None
        s = norm.weight.detach() / torch.sqrt(norm.running_var + norm.eps)
        w = w * s.reshape((-1,) + (1,) * (w.dim() - 1))
        b = (b - norm.running_mean) * s + norm.bias.detach()
    return w, b, s


def quantised_from_float(
    model: SpecModule, bits: int, calib: torch.Tensor, input_signed: bool = False
) -> QuantSpecModule:
    """A :class:`QuantSpecModule` carrying ``model``'s trained weights (batch norms folded), its
    activation scales initialised from ``calib`` (a batch of training inputs)."""
    qmodel = QuantSpecModule(model.spec, bits, input_signed)
    with torch.no_grad():
        for name, seq in model.layers.items():
            if not isinstance(seq, nn.Sequential):
                continue
            target: Any = qmodel.layers[name]
            norms = (nn.BatchNorm1d, nn.BatchNorm2d)
            bn = next((m for m in seq if isinstance(m, norms)), None)
            w, b, scale = _fold_bn(seq[0], bn)
            target[0].weight.copy_(w)
            target[0].bias.copy_(b)
            getattr(qmodel, f"fold_scale_{name}").copy_(scale)
            ln = next((m for m in seq if isinstance(m, nn.LayerNorm)), None)
            if ln is not None:
                qln = next(m for m in target if isinstance(m, nn.LayerNorm))
                qln.load_state_dict(ln.state_dict())
    calibrate_activations(qmodel, calib)
    return qmodel


def calibrate_activations(qmodel: QuantSpecModule, calib: torch.Tensor) -> None:
    """Initialise every activation scale from statistics of ``calib`` (Brevitas' calibration
    mode: weights and biases unquantised meanwhile, scales finalised at the end)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from brevitas.graph.calibrate import calibration_mode

    qmodel.eval()
    chunks = torch.chunk(calib, min(STATS_BATCHES, len(calib)))
    with torch.no_grad(), calibration_mode(qmodel):
        for chunk in chunks:
            qmodel(chunk)
