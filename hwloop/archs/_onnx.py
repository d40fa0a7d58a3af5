"""ONNX and QONNX graphs as arch specs plus trained weights (issue 24).

The graph must be a chain: every op takes the previous op's output (and constants). Gemm /
MatMul + Add become ``linear``, Conv ``conv2d`` (``conv1d`` for a 1-D kernel),
BatchNormalization is folded into the layer before it, activations attach to the layer before
them, Flatten / Reshape to (batch, -1) ``flatten``, MaxPool / AveragePool ``pool2d``, ReduceMean
/ ReduceMax over a set's elements ``aggregate``; Identity and Dropout vanish. A Deep Set in conv
form (pointwise Conv1d from the input, a 1-D pool over the whole set, a flatten) becomes the
native Deep Set (:mod:`hwloop.archs._sets`); BraggNN's non-local attention block, the one
subgraph that is not a chain, is matched first and becomes ``conv_attention``
(:mod:`hwloop.archs._onnx_attention`). QONNX ``Quant`` nodes on weights quantise them and
set the layer's weight precision; on activations they set the previous layer's result precision
(the input's, before any layer). Any other op is refused, naming the node and its op type: a
layer is never dropped silently.

Weights come back as a state dict of :class:`hwloop.archs._torch.SpecModule`
(``layers.<name>.0.weight`` / ``.bias``; ``layers.<name>.query.weight`` ... for attention),
float32, ready for ``load_state_dict``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from hwloop import HwloopError
from hwloop.archs._onnx_attention import (
    DOMAIN,
    OP,
    attention_parts,
    fuse_attention,
    node_attr,
)
from hwloop.archs._precision import FixedPoint, LayerPrecision
from hwloop.archs._sets import REFUSAL, aggregate_set
from hwloop.archs._spec import (
    Aggregate,
    ArchSpec,
    Conv1d,
    Conv2d,
    ConvAttention,
    Flatten,
    Linear,
    Pool2d,
)

Array = NDArray[np.float64]
ACTS = {
    "Relu": "relu",
    "LeakyRelu": "leaky_relu",
    "Gelu": "gelu",
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
}
SKIP = {"Identity", "Dropout"}


@dataclass
class _Pending:
    kind: str  # linear / conv2d / conv1d / conv_attention
    name: str
    weight: Array
    bias: Array | None = None
    act: str | None = None
    padding: int = 0
    weight_bits: FixedPoint | None = None
    result_bits: FixedPoint | None = None
    # conv_attention: (weight, bias) of its query / key / value / proj convs
    parts: dict[str, tuple[Array, Array]] = field(default_factory=dict)

    def emit(self, layers: list[Any], weights: dict[str, NDArray[np.float32]]) -> None:
        """Append the finished layer to ``layers`` and its weights (torch's state-dict keys)."""
        prec = (
            LayerPrecision(self.weight_bits, self.result_bits)
            if self.weight_bits is not None or self.result_bits is not None
            else None
        )
        act: Any = self.act
        out = int(self.weight.shape[0])
        if self.kind == "conv_attention":
            hidden = int(self.parts["query"][0].shape[0])
            layers.append(ConvAttention(self.name, hidden, act=act, precision=prec))
            for part, (w, b) in self.parts.items():
                weights[f"layers.{self.name}.{part}.weight"] = w.astype(np.float32)
                weights[f"layers.{self.name}.{part}.bias"] = b.astype(np.float32)
            return
        if self.kind == "linear":
            layers.append(Linear(self.name, out, act=act, precision=prec))
        else:
            k = int(self.weight.shape[-1])
            conv = Conv1d if self.kind == "conv1d" else Conv2d
            layers.append(conv(self.name, out, k, self.padding, act=act, precision=prec))
        bias = self.bias if self.bias is not None else np.zeros(out)
        weights[f"layers.{self.name}.0.weight"] = self.weight.astype(np.float32)
        weights[f"layers.{self.name}.0.bias"] = bias.astype(np.float32)


@dataclass
class _Sink:
    """What an importer has emitted so far: layers, their weights, and fresh layer names."""

    layers: list[Any] = field(default_factory=list)
    weights: dict[str, NDArray[np.float32]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def fresh(self, prefix: str) -> str:
        self.counts[prefix] = self.counts.get(prefix, 0) + 1
        return f"{prefix}{self.counts[prefix] - 1}"

    def take(self, pending: _Pending | None) -> None:
        if pending is not None:
            pending.emit(self.layers, self.weights)


@dataclass
class Imported:
    """An imported model: its spec, its trained weights (SpecModule state dict) and what the
    graph said about precisions."""

    spec: ArchSpec
    weights: dict[str, NDArray[np.float32]]
    input_precision: FixedPoint | None = None
    notes: list[str] = field(default_factory=list)
    # what an hls4ml model says of its hardware: reuse factor per layer, strategy
    reuse_factors: dict[str, int] = field(default_factory=dict)
    strategy: str | None = None


def _node_name(node: Any, i: int) -> str:
    return node.name or f"#{i} ({node.op_type})"


def _fixed(bits: float, scale: float, signed: bool) -> FixedPoint:
    frac = round(-math.log2(scale)) if scale > 0 else 0
    return FixedPoint(int(bits), int(bits) - frac, signed)


def _auto_pad(node: Any, attr: Any) -> bool:
    """Whether the node pads by ``auto_pad`` (SAME_*, VALID), which hwloop does not map."""
    mode = node_attr(node, "auto_pad", b"NOTSET")
    return (mode.decode() if isinstance(mode, bytes) else str(mode)) not in ("NOTSET", "")


def _constant(node: Any, attr: Any, where: str) -> Array:
    """A Constant node's value (a tensor, or ints / floats)."""
    from onnx import numpy_helper

    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        v = node_attr(node, key, None)
        if v is None:
            continue
        if key == "value":
            return numpy_helper.to_array(v).astype(np.float64)
        return np.asarray(v, dtype=np.float64)
    raise HwloopError(f"node {where} (Constant): a constant hwloop cannot read")


def _bias(b: Array | None, n: int, where: str) -> Array | None:
    """A bias broadcast to ``n`` outputs (ONNX allows (n,), (1, n) and scalars)."""
    if b is None:
        return None
    flat = np.asarray(b, dtype=np.float64).reshape(-1)
    if flat.size == 1:
        return np.full(n, float(flat[0]))
    if flat.size != n:
        raise HwloopError(f"node {where}: a bias of {list(np.shape(b))} for {n} outputs")
    return flat


def _quant(x: Array, scale: Array, zp: Array, bits: float, signed: bool, narrow: bool) -> Array:
    """QONNX's Quant: integers of ``bits`` between their limits, back at their scale."""
    b = int(bits)
    lo = -(2 ** (b - 1)) + int(narrow) if signed else 0
    hi = 2 ** (b - 1) - 1 if signed else 2**b - 1 - int(narrow)
    q = np.clip(np.round(x / scale + zp), lo, hi)
    return (q - zp) * scale


def onnx_to_spec(
    path_or_model: str | Path | Any, name: str = "", input_shape: tuple[int, ...] | None = None
) -> Imported:
    """Map an ONNX / QONNX model (a file, or a loaded ``onnx.ModelProto``) to a spec and
    weights; ``HwloopError`` (one line, naming the node) for what hwloop cannot express."""
    import onnx
    from onnx import numpy_helper

    if isinstance(path_or_model, (str, Path)):
        try:
            model = onnx.load(str(path_or_model))
        except Exception as exc:  # protobuf's DecodeError and friends: one line
            raise HwloopError(
                f"{path_or_model}: not an ONNX model ({type(exc).__name__})"
            ) from None
    else:
        model = path_or_model
    graph = model.graph
    consts: dict[str, Array] = {
        i.name: numpy_helper.to_array(i).astype(np.float64) for i in graph.initializer
    }
    inputs = [i for i in graph.input if i.name not in consts]
    if len(inputs) != 1:
        raise HwloopError(f"the model has {len(inputs)} inputs; hwloop takes one")
    dims = inputs[0].type.tensor_type.shape.dim
    shape = tuple(int(d.dim_value) if d.HasField("dim_value") else 0 for d in dims)[1:]
    if input_shape is not None:
        if len(shape) != len(input_shape) or any(
            s and s != t for s, t in zip(shape, input_shape, strict=False)
        ):
            raise HwloopError(
                f"input shape {list(input_shape)} does not fit the model's input "
                f"{[s or '?' for s in shape]}"
            )
        shape = tuple(input_shape)
    if not shape or not all(shape):
        raise HwloopError(
            f"the model's input shape {[s or '?' for s in shape]} is not fixed; give input_shape"
        )
    current = inputs[0].name
    batch = int(dims[0].dim_value) if dims and dims[0].HasField("dim_value") else 1
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    nodes, blocks = fuse_attention(
        list(graph.node), set(consts), {o.name for o in graph.output}, opset
    )
    sink = _Sink()
    layers, weights, fresh = sink.layers, sink.weights, sink.fresh
    pending: _Pending | None = None
    input_bits: FixedPoint | None = None
    cur_shape = shape
    # a Deep Set in conv form: its pool's node while the flatten after it is due (it has no
    # layer: the aggregate's output is flat), and whether the input is (C, L) read as (L, C)
    set_pool: str | None = None
    conv_set = False

    def flush() -> None:
        nonlocal pending
        sink.take(pending)
        pending = None

    for i, node in enumerate(nodes):
        where = _node_name(node, i)
        op = node.op_type
        ins = list(node.input)
        if op == "Constant":
            consts[node.output[0]] = _constant(node, node_attr, where)
            continue
        data_in = [x for x in ins if x and x not in consts]
        if not data_in:  # a constant subgraph: weight quantisation, transposes, shapes
            if op == "Quant":
                x, scale, zp, bits = (consts[n] for n in ins[:4])
                consts[node.output[0]] = _quant(
                    x,
                    scale,
                    zp,
                    float(bits),
                    bool(node_attr(node, "signed", 1)),
                    bool(node_attr(node, "narrow", 0)),
                )
                consts[f"{node.output[0]}::bits"] = np.array(
                    [float(bits), float(np.max(scale)), float(node_attr(node, "signed", 1))]
                )
                continue
            if op == "Transpose":
                perm = node_attr(node, "perm", None)
                consts[node.output[0]] = np.transpose(consts[ins[0]], perm)
                continue
            if op in ("Identity", "Cast"):
                consts[node.output[0]] = consts[ins[0]]
                continue
            raise HwloopError(f"node {where}: a constant {op} that hwloop cannot evaluate")
        if len(data_in) != 1 or data_in[0] != current:
            raise HwloopError(
                f"node {where} ({op}): the graph branches or merges here; hwloop imports chains"
            )
        out = node.output[0]

        def bits_of(const: str) -> FixedPoint | None:
            b = consts.get(f"{const}::bits")
            return None if b is None else _fixed(b[0], b[1], bool(b[2]))

        if op in SKIP:
            current = out
            continue
        if op == "Quant":  # on activations: the previous layer's result format
            qscale = float(np.max(consts[ins[1]]))
            qbits = float(consts[ins[3]].reshape(-1)[0])
            fmt = _fixed(qbits, qscale, bool(node_attr(node, "signed", 1)))
            if pending is not None:
                pending.result_bits = fmt
            elif not layers:
                input_bits = fmt
            current = out
            continue
        if set_pool is not None and op not in ("Flatten", "Reshape", "Squeeze"):
            raise HwloopError(
                f"node {where} ({op}): a flatten must follow the set's pool {set_pool}"
            )
        if op in ("Gemm", "MatMul"):
            flush()
            w = consts.get(ins[1])
            if w is None:
                raise HwloopError(f"node {where} ({op}): its weight is not a constant")
            if op == "Gemm":
                if node_attr(node, "transA", 0) or float(node_attr(node, "alpha", 1.0)) != 1.0:
                    raise HwloopError(f"node {where} (Gemm): transA / alpha are not supported")
                w = w if node_attr(node, "transB", 0) else w.T
                bias = consts.get(ins[2]) if len(ins) > 2 and ins[2] else None
                if bias is not None:
                    bias = bias * float(node_attr(node, "beta", 1.0))
            else:
                w, bias = w.T, None
            if w.ndim != 2 or w.shape[1] != cur_shape[-1]:
                raise HwloopError(
                    f"node {where} ({op}): weights {list(w.shape)} do not take inputs of "
                    f"{list(cur_shape)}"
                )
            bias = _bias(bias, int(w.shape[0]), where)
            pending = _Pending("linear", fresh("fc"), w, bias, weight_bits=bits_of(ins[1]))
            cur_shape = (*cur_shape[:-1], int(w.shape[0]))
        elif op == OP and node.domain == DOMAIN:
            flush()
            parts, wbits = attention_parts(
                blocks[node.name], consts, cur_shape, batch, bits_of, f"node {where} ({op})"
            )
            proj_w, proj_b = parts["proj"]
            pending = _Pending(
                "conv_attention", fresh("attn"), proj_w, proj_b, weight_bits=wbits, parts=parts
            )
        elif (
            op == "Add"
            and pending is not None
            and pending.kind != "conv_attention"
            and pending.bias is None
            and pending.act is None
        ):
            other = next(x for x in ins if x != current)
            b = consts[other].reshape(-1)
            if b.shape[0] != pending.weight.shape[0]:
                raise HwloopError(f"node {where} (Add): not a bias of {pending.name}")
            pending.bias = b
        elif op == "Conv":
            flush()
            w = consts.get(ins[1])
            if w is None or w.ndim not in (3, 4):
                raise HwloopError(
                    f"node {where} (Conv): only 1-D and 2-D convolutions with constant weights"
                )
            dims = w.ndim - 2
            if len(cur_shape) != dims + 1:
                raise HwloopError(
                    f"node {where} (Conv): its input {list(cur_shape)} is not (channels, "
                    + ("length)" if dims == 1 else "height, width)")
                )
            k = int(w.shape[-1])
            pads = list(node_attr(node, "pads", [0] * 2 * dims))
            if (
                w.shape[2:] != (k,) * dims
                or any(s != 1 for s in node_attr(node, "strides", [1] * dims))
                or any(d != 1 for d in node_attr(node, "dilations", [1] * dims))
                or int(node_attr(node, "group", 1)) != 1
                or len(set(pads)) > 1
                or _auto_pad(node, node_attr)
            ):
                raise HwloopError(
                    f"node {where} (Conv): hwloop's convolutions are square, stride 1, "
                    "dilation 1, one group, symmetric explicit padding (no auto_pad)"
                )
            bias = _bias(
                consts.get(ins[2]) if len(ins) > 2 and ins[2] else None, int(w.shape[0]), where
            )
            pad = int(pads[0]) if pads else 0
            kind = "conv1d" if dims == 1 else "conv2d"
            pending = _Pending(
                kind, fresh("conv"), w, bias, padding=pad, weight_bits=bits_of(ins[1])
            )
            cur_shape = (int(w.shape[0]), *(n + 2 * pad - k + 1 for n in cur_shape[1:]))
        elif op == "BatchNormalization":
            if pending is None or pending.act is not None or pending.kind == "conv_attention":
                raise HwloopError(
                    f"node {where} (BatchNormalization): only a batch norm right after a linear "
                    "or conv layer can be folded"
                )
            g, beta, mean, var = (consts[n] for n in ins[1:5])
            eps = float(node_attr(node, "epsilon", 1e-5))
            s = g / np.sqrt(var + eps)
            b = pending.bias if pending.bias is not None else np.zeros_like(s)
            pending.weight = pending.weight * s.reshape(-1, *([1] * (pending.weight.ndim - 1)))
            pending.bias = (b - mean) * s + beta
        elif op in ACTS:
            if op == "LeakyRelu" and abs(float(node_attr(node, "alpha", 0.01)) - 0.01) > 1e-9:
                raise HwloopError(f"node {where} (LeakyRelu): hwloop's leaky ReLU has slope 0.01")
            if pending is None or pending.act is not None:
                raise HwloopError(
                    f"node {where} ({op}): an activation must follow a linear, conv or attention "
                    "layer"
                )
            pending.act = ACTS[op]
        elif op in ("Flatten", "Reshape"):
            target = consts.get(ins[1]) if op == "Reshape" else None
            flat = op == "Flatten" and int(node_attr(node, "axis", 1)) == 1
            flat = flat or (
                target is not None and len(target) == 2 and target[1] in (-1, math.prod(cur_shape))
            )
            if not flat:
                raise HwloopError(f"node {where} ({op}): only a flatten to (batch, features)")
            if set_pool is None:  # after a set's pool the features are flat already
                flush()
                layers.append(Flatten(fresh("flatten")))
            set_pool, cur_shape = None, (math.prod(cur_shape),)
        elif op == "Squeeze" and set_pool is not None:
            axes = consts[ins[1]].astype(int).tolist() if len(ins) > 1 and ins[1] else None
            if axes not in ([2], [-1]):
                raise HwloopError(f"node {where} (Squeeze): only of the set's pooled axis")
            set_pool = None
        elif op in ("MaxPool", "AveragePool"):
            ks: list[int] = list(node_attr(node, "kernel_shape", []))
            method: Literal["mean", "max"] = "max" if op == "MaxPool" else "mean"
            plain = not any(node_attr(node, "pads", [0])) and not _auto_pad(node, node_attr)
            flush()
            if len(cur_shape) == 2:  # 1-D: a Deep Set's aggregate, or nothing hwloop has
                if ks != [cur_shape[1]] or not plain:
                    raise HwloopError(f"node {where} ({op}): {REFUSAL}")
                aggregate_set(sink, method, f"node {where} ({op})")
                set_pool, conv_set, cur_shape = where, True, (cur_shape[0],)
            elif (
                len(set(ks)) != 1
                or list(node_attr(node, "strides", ks)) != ks
                or not plain
                or len(cur_shape) != 3
            ):
                raise HwloopError(
                    f"node {where} ({op}): only square 2-D pools with stride = size, no padding"
                )
            else:
                size = int(ks[0])
                layers.append(Pool2d(fresh("pool"), size, method))
                cur_shape = (cur_shape[0], cur_shape[1] // size, cur_shape[2] // size)
        elif op in ("ReduceMean", "ReduceMax"):
            axes = node_attr(node, "axes", None)
            if axes is None and len(ins) > 1 and ins[1]:
                axes = consts[ins[1]].astype(int).tolist()
            if (
                len(cur_shape) != 2
                or list(axes or []) not in ([1], [-2])
                or node_attr(node, "keepdims", 1)
            ):
                raise HwloopError(
                    f"node {where} ({op}): only a mean / max over a set's elements (axis 1, "
                    "keepdims 0)"
                )
            flush()
            layers.append(Aggregate(fresh("agg"), "mean" if op == "ReduceMean" else "max"))
            cur_shape = (cur_shape[1],)
        else:
            raise HwloopError(f"node {where}: op type {op} has no hwloop layer")
        current = out
    flush()
    if not layers:
        raise HwloopError("the model has no layers hwloop can use")
    if conv_set:  # the set's elements along the first axis, as a native Deep Set takes them
        shape = (shape[1], shape[0])
    spec = ArchSpec(shape, tuple(layers), name=name)
    return Imported(spec, weights, input_bits)
