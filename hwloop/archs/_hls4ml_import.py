"""hls4ml models into hwloop (issue 24): a ``ModelGraph`` in Python, or an hls4ml project folder.

Both are read into one list of layers (hls4ml's name, kind, weights, weight / result precision,
reuse factor, strategy) and mapped like an ONNX graph (:mod:`hwloop.archs._onnx`): Dense becomes
``linear``, Conv2D ``conv2d``, Conv1D and PointwiseConv1D ``conv1d``, BatchNormalization is
folded into the layer before it, activations attach to the layer before them, Reshape / Flatten
``flatten``, Pooling2D ``pool2d``, and a Pooling1D over a whole set after pointwise convs (a
Deep Set in conv form, :mod:`hwloop.archs._sets`) ``aggregate``. hls4ml computes convs channels
last: its conv weights are (kh, kw, in, out) or (k, in, out), and a dense layer after a flatten
of a map takes its inputs in (h, w, c) or (l, c) order. A model converted from Keras takes
(h, w, c) / (l, c) inputs; one converted from PyTorch takes torch's (c, h, w) / (c, l) and starts
with a Transpose to channels last (none for a single channel). All is put back in torch's order
(a model without convs keeps torch's input shape, and hls4ml flattens it (w, c x h): measured on
its converter), so a model gives the same spec and weights through hls4ml as through torch or
ONNX. Any other layer is refused, naming it and its class.

A project folder is read without hls4ml and without executing anything: ``hls4ml_config.yml``
(precisions, reuse factors, strategy, input shape; python object tags in it, such as the
PyTorch model hls4ml dumps there, are skipped, never constructed), the layer calls of
``firmware/<project>.cpp``, the layer sizes of ``firmware/parameters.h`` and the weights in
``firmware/weights/*.txt``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from hwloop import HwloopError
from hwloop.archs._onnx import Imported, _Pending, _Sink
from hwloop.archs._precision import FixedPoint
from hwloop.archs._sets import REFUSAL, aggregate_set
from hwloop.archs._spec import ArchSpec, Flatten, Pool2d

Array = NDArray[np.float64]
ACTS = {"relu": "relu", "leaky_relu": "leaky_relu", "sigmoid": "sigmoid", "tanh": "tanh"}
STRATEGIES = {"latency": "latency", "resource": "resource"}


@dataclass
class HlsLayer:
    """One hls4ml layer, whichever way it was read."""

    name: str
    # dense / conv2d / conv1d / batchnorm / act / flatten / pool / pool1d / transpose / skip
    kind: str
    attrs: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, Array] = field(default_factory=dict)
    weight: FixedPoint | None = None
    result: FixedPoint | None = None
    reuse: int | None = None
    strategy: str | None = None


# ---- a ModelGraph -------------------------------------------------------------------------------
_GRAPH_KINDS = {
    "Dense": "dense",
    "Conv2D": "conv2d",
    "Conv1D": "conv1d",
    "PointwiseConv1D": "conv1d",  # a kernel-1 Conv1D (hls4ml's own class for it)
    "Transpose": "transpose",
    "BatchNormalization": "batchnorm",
    "Activation": "act",
    "ReLU": "act",
    "LeakyReLU": "act",
    "ParametrizedActivation": "act",
    "Reshape": "flatten",
    "Flatten": "flatten",
    "Pooling2D": "pool",
    "MaxPooling2D": "pool",
    "AveragePooling2D": "pool",
    "Pooling1D": "pool1d",
    "MaxPooling1D": "pool1d",
    "AveragePooling1D": "pool1d",
    "Dropout": "skip",
}


def _fixed(t: Any) -> FixedPoint | None:
    p = getattr(t, "precision", None)
    if p is None or not hasattr(p, "width") or not hasattr(p, "integer"):
        return None
    return FixedPoint(int(p.width), int(p.integer), bool(getattr(p, "signed", True)))


def graph_layers(graph: Any) -> tuple[tuple[int, ...], FixedPoint | None, list[HlsLayer]]:
    """(input shape as hls4ml has it, the input precision, the layers) of a ``ModelGraph``."""
    inputs = graph.get_input_variables()
    if len(inputs) != 1:
        raise HwloopError(f"the hls4ml model has {len(inputs)} inputs; hwloop takes one")
    shape = tuple(int(s) for s in inputs[0].shape)
    input_bits: FixedPoint | None = None
    out = []
    for layer in graph.get_layers():
        cls = layer.class_name
        if cls == "Input":
            input_bits = _fixed(layer.get_attr("result_t"))
            continue
        kind = _GRAPH_KINDS.get(cls)
        if kind is None:
            raise HwloopError(f"hls4ml layer {layer.name} ({cls}) has no hwloop layer")
        attrs = {
            k: v for k, v in layer.attributes.items() if isinstance(v, (int, float, str, bool))
        }
        if cls in ("ReLU", "LeakyReLU"):
            attrs.setdefault("activation", cls.lower().replace("leakyrelu", "leaky_relu"))
        out.append(
            HlsLayer(
                layer.name,
                kind,
                attrs,
                {k: np.asarray(w.data, dtype=np.float64) for k, w in layer.weights.items()},
                _fixed(layer.get_attr("weight_t")),
                _fixed(layer.get_attr("result_t")),
                _int(layer.get_attr("reuse_factor")),
                _strategy(layer.get_attr("strategy")),
            )
        )
    return shape, input_bits, out


def _int(v: Any) -> int | None:
    try:
        return int(v) if v is not None else None
    except (TypeError, ValueError):
        return None


def _strategy(v: Any) -> str | None:
    return STRATEGIES.get(str(v).lower().removeprefix("nnet::")) if v is not None else None


# ---- the mapping ---------------------------------------------------------------------------------
def hls_to_spec(
    shape: tuple[int, ...],
    input_bits: FixedPoint | None,
    hls: list[HlsLayer],
    name: str,
    input_shape: tuple[int, ...] | None = None,
) -> Imported:
    """The spec and weights (torch order) of hls4ml's layers (see the module docstring)."""
    # hls4ml computes convs channels last and flattens maps (h, w, c) / (l, c); a model without
    # convs keeps torch's (c, h, w) layout and order
    conv = next((layer for layer in hls if layer.kind in ("conv1d", "conv2d")), None)
    dims = 2 if conv is None or conv.kind == "conv2d" else 1
    channels_last = conv is not None and len(shape) == dims + 1
    # a model converted from torch takes (c, ...) and transposes it first; one from Keras does not
    transposed = bool(hls) and hls[0].kind == "transpose"
    if transposed:
        hls = hls[1:]
    if channels_last:
        chans = shape[0] if transposed else shape[-1]
        if int(conv.attrs.get("n_chan", chans)) != chans:  # type: ignore[union-attr]
            raise HwloopError(
                f"hls4ml layer {conv.name}: {conv.attrs.get('n_chan')} input channels, the "  # type: ignore[union-attr]
                f"input is {list(shape)} (hwloop reads hls4ml's maps channels last)"
            )
        if not transposed:
            shape = (shape[-1], *shape[:-1])
    if input_shape is not None and tuple(input_shape) != shape:
        raise HwloopError(
            f"input shape {list(input_shape)} does not fit the model's input {list(shape)}"
        )
    sink = _Sink()
    layers, weights, fresh = sink.layers, sink.weights, sink.fresh
    reuse: dict[str, int] = {}
    strategies: set[str] = set()
    pending: _Pending | None = None
    cur, flat_from = shape, None
    conv_set = False  # a Deep Set in conv form: its (C, L) input is read as (L, C)

    def is_map(s: tuple[int, ...]) -> bool:  # what a flatten turns into features
        return len(s) == 3 or (channels_last and len(s) == dims + 1)

    def flush() -> None:
        nonlocal pending
        sink.take(pending)
        pending = None

    def flatten() -> None:
        nonlocal cur, flat_from
        flush()
        layers.append(Flatten(fresh("flatten")))
        flat_from, cur = cur, (math.prod(cur),)

    where = "hls4ml model"
    try:
        for layer in hls:
            where = f"hls4ml layer {layer.name}"
            a, w = layer.attrs, layer.weights
            if layer.kind == "skip":
                continue
            if layer.kind == "transpose":
                raise HwloopError(f"{where}: a transpose inside the model has no hwloop layer")
            if layer.kind == "dense":
                if is_map(cur):
                    flatten()  # a project's flatten is a reinterpretation: no call of its own
                flush()
                W = w.get("weight")
                if W is None:
                    raise HwloopError(f"{where} (Dense): no weights")
                n_in = int(cur[-1])
                W = W.reshape(n_in, -1)
                if flat_from is not None and len(flat_from) == 3:
                    c, h, wd = flat_from  # torch flattens (c, h, w)
                    if channels_last:  # after a conv hls4ml flattens (h, w, c)
                        W = W.reshape(h, wd, c, -1).transpose(2, 0, 1, 3).reshape(n_in, -1)
                    else:  # its channels-last pass leaves an input it flattens (w, c·h) (measured)
                        W = W.reshape(wd, c * h, -1).transpose(1, 0, 2).reshape(n_in, -1)
                elif flat_from is not None and channels_last and len(flat_from) == 2:
                    c, length = flat_from  # torch flattens (c, l), hls4ml (l, c)
                    W = W.reshape(length, c, -1).transpose(1, 0, 2).reshape(n_in, -1)
                pending = _Pending("linear", fresh("fc"), W.T.copy(), w.get("bias"))
                cur, flat_from = (*cur[:-1], int(W.shape[1])), None
            elif layer.kind == "conv2d":
                flush()
                if len(cur) != 3:
                    raise HwloopError(f"{where} (Conv2D): its input {list(cur)} is not a 2-D map")
                kh, kw = int(a.get("filt_height", 0)), int(a.get("filt_width", 0))
                pads = {int(a.get(f"pad_{s}", 0)) for s in ("top", "bottom", "left", "right")}
                strides = {int(a.get("stride_height", 1)), int(a.get("stride_width", 1))}
                if kh != kw or len(pads) != 1 or strides != {1}:
                    raise HwloopError(
                        f"{where} (Conv2D): hwloop's conv2d is square, stride 1, symmetric padding"
                    )
                c, h, wd = cur
                W = w["weight"].reshape(kh, kw, c, -1).transpose(3, 2, 0, 1)
                pad = pads.pop()
                pending = _Pending("conv2d", fresh("conv"), W.copy(), w.get("bias"), padding=pad)
                cur = (int(W.shape[0]), h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1)
            elif layer.kind == "conv1d":
                flush()
                if len(cur) != 2:
                    raise HwloopError(f"{where} (Conv1D): its input {list(cur)} is not a sequence")
                k = int(a.get("filt_width", 0))
                pads = {int(a.get("pad_left", 0)), int(a.get("pad_right", 0))}
                if len(pads) != 1 or int(a.get("stride_width", 1)) != 1:
                    raise HwloopError(
                        f"{where} (Conv1D): hwloop's conv1d is stride 1, symmetric padding"
                    )
                c, length = cur
                W = w["weight"].reshape(k, c, -1).transpose(2, 1, 0)
                pad = pads.pop()
                pending = _Pending("conv1d", fresh("conv"), W.copy(), w.get("bias"), padding=pad)
                cur = (int(W.shape[0]), length + 2 * pad - k + 1)
            elif layer.kind == "batchnorm":
                if pending is None or pending.act is not None:
                    raise HwloopError(
                        f"{where} (BatchNormalization): only a batch norm right after a dense or "
                        "conv layer can be folded"
                    )
                s, beta = w["scale"].reshape(-1), w["bias"].reshape(-1)
                b = pending.bias if pending.bias is not None else np.zeros_like(s)
                pending.weight = pending.weight * s.reshape(-1, *([1] * (pending.weight.ndim - 1)))
                pending.bias = b * s + beta
            elif layer.kind == "act":
                fn = str(a.get("activation", "")).lower()
                if fn == "linear":
                    continue
                if fn not in ACTS:
                    raise HwloopError(f"{where}: activation {fn!r} has no hwloop equivalent")
                if fn == "leaky_relu" and abs(float(a.get("activ_param", 0.01)) - 0.01) > 1e-9:
                    raise HwloopError(f"{where}: hwloop's leaky ReLU has slope 0.01")
                if pending is None or pending.act is not None:
                    raise HwloopError(f"{where}: an activation must follow a dense or conv layer")
                pending.act = ACTS[fn]
                pending.result_bits = layer.result or pending.result_bits
                continue
            elif layer.kind == "flatten":
                if is_map(cur):
                    flatten()
                continue
            elif layer.kind == "pool":
                flush()
                size = int(a.get("pool_height", 0))
                if len(cur) != 3 or size < 1 or int(a.get("pool_width", size)) != size:
                    raise HwloopError(f"{where}: only square 2-D pools with stride = size")
                op = str(a.get("pool_op", a.get("class_name", "max"))).lower()
                layers.append(Pool2d(fresh("pool"), size, "mean" if "av" in op else "max"))
                cur = (cur[0], cur[1] // size, cur[2] // size)
                continue
            elif layer.kind == "pool1d":  # a Deep Set's aggregate, or nothing hwloop has
                flush()
                padded = int(a.get("pad_left", 0)) or int(a.get("pad_right", 0))
                if len(cur) != 2 or int(a.get("pool_width", 0)) != cur[1] or padded:
                    raise HwloopError(f"{where} (Pooling1D): {REFUSAL}")
                op = str(a.get("pool_op", a.get("class_name", "max"))).lower()
                method: Literal["mean", "max"] = "mean" if "av" in op else "max"
                renames = aggregate_set(sink, method, f"{where} (Pooling1D)")
                reuse = {renames.get(k, k): v for k, v in reuse.items()}
                conv_set, cur = True, (cur[0],)  # the flatten after it: flat already, no layer
                continue
            if pending is not None and layer.kind in ("dense", "conv1d", "conv2d"):
                pending.weight_bits, pending.result_bits = layer.weight, layer.result
                if layer.reuse:
                    reuse[pending.name] = layer.reuse
                if layer.strategy:
                    strategies.add(layer.strategy)
    except (ValueError, KeyError, IndexError) as exc:  # weights that do not fit the sizes
        raise HwloopError(f"{where}: its weights do not fit its sizes ({exc})") from None
    flush()
    if not layers:
        raise HwloopError("the hls4ml model has no layers hwloop can use")
    if conv_set:  # the set's elements along the first axis, as a native Deep Set takes them
        shape = (shape[1], shape[0])
    spec = ArchSpec(shape, tuple(layers), name=name)
    strategy = strategies.pop() if len(strategies) == 1 else None
    return Imported(spec, weights, input_bits, reuse_factors=reuse, strategy=strategy)


def is_model_graph(obj: Any) -> bool:
    return type(obj).__name__ in ("ModelGraph", "MultiModelGraph") and type(
        obj
    ).__module__.startswith("hls4ml")


def graph_to_spec(
    graph: Any, name: str = "model", input_shape: tuple[int, ...] | None = None
) -> Imported:
    """An hls4ml ``ModelGraph`` (in Python) as a spec, weights, reuse factors and strategy."""
    if type(graph).__name__ == "MultiModelGraph":
        raise HwloopError("a MultiModelGraph (a split hls4ml model): import its whole model")
    return hls_to_spec(*graph_layers(graph), name, input_shape)
