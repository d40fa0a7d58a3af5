"""Deep Sets in conv form (issue 24): a set of L elements of C features fed channels first,
(C, L), through pointwise convs (kernel 1: one layer shared by every element, Deep Sets' φ),
then a 1-D pool over all L elements and a flatten. It is how a PyTorch Deep Set reaches hls4ml:
hls4ml 1.3.0 converts these layers, but neither ``torch.mean`` nor ``transpose`` (measured).

The ONNX and hls4ml importers map it to the native Deep Set that hwloop builds: input (L, C),
each pointwise conv a ``linear`` on the set (weights (out, in, 1) -> (out, in)), the pool an
``aggregate`` and no flatten, so both forms of one model give one spec and one set of weights.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from hwloop import HwloopError
from hwloop.archs._spec import Aggregate, Conv1d, Linear


class _Sink(Protocol):
    """What an importer has emitted so far (``hwloop.archs._onnx._Sink``; a protocol here, so
    that this module and the importers do not import each other)."""

    layers: list[Any]
    weights: dict[str, Any]
    counts: dict[str, int]

    def fresh(self, prefix: str) -> str: ...


REFUSAL = (
    "a 1-D pool maps only as a Deep Set's aggregate: over the whole set, after pointwise "
    "(kernel 1) convs from the input with nothing else but their norms and activations"
)


def aggregate_set(sink: _Sink, method: Literal["mean", "max"], where: str) -> dict[str, str]:
    """Turn the layers emitted so far, pointwise convs from the input, into φ's ``linear``
    layers and append the ``aggregate``; returns the layers' new names by their old names (an
    importer's reuse factors are keyed by them). ``where`` names the pool and its op type for
    the one-line refusal when the layers before it are anything else."""
    layers = sink.layers
    if not layers or not all(
        isinstance(x, Conv1d) and x.kernel == 1 and x.padding == 0 for x in layers
    ):
        raise HwloopError(f"{where}: {REFUSAL}")
    sink.counts.pop("conv", None)  # φ's layers are named as the native form's: fc0, fc1, ...
    renames = {}
    for i, conv in enumerate(layers):
        assert isinstance(conv, Conv1d)
        name = sink.fresh("fc")
        layers[i] = Linear(name, conv.out_channels, conv.norm, conv.act, conv.precision)
        weight = sink.weights.pop(f"layers.{conv.name}.0.weight")
        sink.weights[f"layers.{name}.0.weight"] = weight.reshape(weight.shape[0], -1)
        sink.weights[f"layers.{name}.0.bias"] = sink.weights.pop(f"layers.{conv.name}.0.bias")
        renames[conv.name] = name
    layers.append(Aggregate(sink.fresh("agg"), method))
    return renames
