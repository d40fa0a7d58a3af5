"""BraggNN's non-local attention block in an ONNX graph (issue 24).

hwloop's ``conv_attention`` is ``act(x + proj(softmax(q k^T) v))`` with 1x1 convs q, k, v
(C -> d) and proj (d -> C) on the H*W positions, no 1/sqrt(d) (``ConvAttentionBlock``). Its
graph is not a chain -- x fans out to q, k, v and the residual Add -- so a pre-pass finds each
Softmax whose scores come from a MatMul and matches the whole block around it, as
torch.onnx.export (dynamo and the TorchScript exporter alike) writes both hwloop's module and
BraggNN's own ``NLB``::

    q = Transpose[0,2,1](Reshape(Conv_q(x)))      (b, hw, d)
    k = Reshape(Conv_k(x))                        (b, d, hw)
    v = Transpose[0,2,1](Reshape(Conv_v(x)))      (b, hw, d)
    z = Reshape(Transpose[0,2,1](MatMul(Softmax[-1](MatMul(q, k)), v)))   (b, d, h, w)
    y = Add(x, Conv_proj(z))

and replaces it by one node (op ``ConvAttention``, domain ``hwloop``) on x, with the convs'
weights as inputs, that the chain mapper turns into the layer; an activation after the Add is
the layer's ``act`` there. The shapes (reshape targets, weight sizes) are checked there, where
the input's shape is known. Anything around a Softmax of a MatMul that is not exactly this
(scaled or masked scores, k transposed instead of q, no residual, an intermediate used
elsewhere) is refused in one line naming the node and its op type: a layer is never dropped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hwloop import HwloopError
from hwloop.archs._precision import FixedPoint

Array = NDArray[np.float64]
DOMAIN, OP = "hwloop", "ConvAttention"
PARTS = ("query", "key", "value", "proj")  # ConvAttentionBlock's submodules, in state-dict keys
PATTERN = (
    "hwloop imports attention only as BraggNN's non-local block act(x + proj(softmax(q k^T) v)) "
    "of 1x1 convs, q and v as (b, hw, d), k as (b, d, hw), no scaling"
)
SWAP = [0, 2, 1]
# torch's TorchScript exporter writes flatten(2) as a Reshape to Concat(Slice(Shape(t)), [-1]):
# such a target, computed from the reshaped tensor's own shape by these ops, is evaluated once
# the shape is known; any other computed target is refused
SHAPE_OPS = {"Shape", "Slice", "Concat", "Gather", "Unsqueeze", "Squeeze", "Cast"}
COMPUTED = (
    "the reshape's target shape is computed from something other than the reshaped tensor's "
    "shape; export with torch.onnx.export(..., dynamo=True)"
)


@dataclass(frozen=True)
class Block:
    """One matched block: its query / key / value / proj Conv nodes and the Reshape nodes of
    q, k, v (to (b, d, hw)) and of z (to (b, d, h, w)), with their names for messages."""

    convs: tuple[Any, ...]
    reshapes: tuple[Any, ...]
    names: dict[int, str]
    # per reshape: the nodes (in graph order) computing its target from its input's shape
    targets: tuple[tuple[Any, ...], ...]

    def where(self, node: Any) -> str:
        return f"node {self.names[id(node)]} ({node.op_type})"


def node_attr(node: Any, key: str, default: Any) -> Any:
    """An ONNX node's attribute ``key`` as a Python value, or ``default``."""
    from onnx import helper

    for a in node.attribute:
        if a.name == key:
            return helper.get_attribute_value(a)
    return default


def fuse_attention(
    nodes: list[Any], consts: set[str], outputs: set[str], opset: int
) -> tuple[list[Any], dict[str, Block]]:
    """The nodes with every attention block replaced by one ``ConvAttention`` node, and the
    blocks by that node's name. ``consts``: the initializers' names; ``outputs``: the graph's."""
    from onnx import helper

    names = {id(n): n.name or f"#{i} ({n.op_type})" for i, n in enumerate(nodes)}
    producer = {out: n for n in nodes for out in n.output}
    users: dict[str, list[Any]] = defaultdict(list)
    known = set(consts)
    for n in nodes:
        for x in n.input:
            if x:
                users[x].append(n)
        if all(x in known for x in n.input if x):  # Constant, a Quant on a weight, ...
            known.update(n.output)

    def miss(node: Any, why: str) -> HwloopError:
        return HwloopError(f"node {names[id(node)]} ({node.op_type}): {why}; {PATTERN}")

    def made_by(tensor: str, op: str, at: Any, why: str) -> Any:
        """The node of type ``op`` that makes ``tensor``, used only by ``at`` (refused at the
        node found there, or at ``at`` when the tensor is an input or constant)."""
        node = producer.get(tensor)
        if node is None or tensor in known:
            raise miss(at, why)
        if node.op_type != op:
            raise miss(node, why)
        if len(users[tensor]) != 1 or tensor in outputs:
            raise miss(node, "its result is used outside the attention block")
        return node

    def used_by(node: Any, op: str, why: str) -> Any:
        """The one node (of type ``op``) that uses ``node``'s result."""
        out = node.output[0]
        if len(users[out]) != 1 or out in outputs:
            raise miss(node, f"its result must go only to the block's next {op}")
        nxt = users[out][0]
        if nxt.op_type != op:
            raise miss(nxt, why)
        return nxt

    def swap(node: Any) -> Any:
        if list(node_attr(node, "perm", [])) != SWAP:
            raise miss(node, "a transpose in the block must swap the last two axes (0, 2, 1)")
        return node

    def conv(node: Any, role: str) -> Any:
        """``node``, checked to be a 1x1 conv of constant weights."""
        pads = list(node_attr(node, "pads", [0]))
        mode = node_attr(node, "auto_pad", b"NOTSET")
        mode = mode.decode() if isinstance(mode, bytes) else str(mode)
        if (
            list(node_attr(node, "kernel_shape", [1, 1])) != [1, 1]
            or any(pads)
            or mode not in ("NOTSET", "")
            or any(s != 1 for s in node_attr(node, "strides", [1, 1]))
            or any(d != 1 for d in node_attr(node, "dilations", [1, 1]))
            or int(node_attr(node, "group", 1)) != 1
        ):
            raise miss(node, f"{role} must be a 1x1 Conv, stride 1, no padding, one group")
        if len(node.input) < 2 or not all(x in known for x in node.input[1:] if x):
            raise miss(node, f"the weights of {role} are not constants")
        return node

    def target(reshape: Any) -> tuple[Any, ...]:
        """The nodes that compute ``reshape``'s target from its input's shape (none for a
        constant target); refused when the target is anything else."""
        found: dict[int, Any] = {}
        todo = [reshape.input[1]]
        while todo:
            tensor = todo.pop()
            node = producer.get(tensor)
            if tensor in known or (node is not None and id(node) in found):
                continue
            if node is None or node.op_type not in SHAPE_OPS:
                raise miss(reshape, COMPUTED)
            if node.op_type == "Shape" and node.input[0] != reshape.input[0]:
                raise miss(reshape, COMPUTED)
            found[id(node)] = node
            todo += [x for x in node.input if x and node.op_type != "Shape"]
        inside = {id(reshape), *found}
        for node in found.values():
            if any(id(u) not in inside for u in users[node.output[0]]):
                raise miss(node, "its result is used outside the attention block")
        return tuple(n for n in nodes if id(n) in found)

    def flat(tensor: str, at: Any, role: str) -> tuple[Any, Any, tuple[Any, ...]]:
        """``Reshape(Conv(x))``: the (b, d, hw) form of q, k or v, and its target's nodes."""
        reshape = made_by(tensor, "Reshape", at, f"{role} must be its conv's output as (b, d, hw)")
        shaping = target(reshape)
        made = producer.get(reshape.input[0])
        if made is None or made.op_type != "Conv":
            raise miss(made or reshape, f"{role} must be a 1x1 Conv")
        # the conv's output goes to the reshape and, at most, the Shape of its target
        if {id(u) for u in users[made.output[0]]} - {id(reshape), *map(id, shaping)}:
            raise miss(made, "its result is used outside the attention block")
        return conv(made, role), reshape, shaping

    blocks: dict[str, Block] = {}
    replaced: dict[int, Any] = {}  # id(Add) -> the fused node; id(other block node) -> None
    for s in [n for n in nodes if n.op_type == "Softmax"]:
        scores = producer.get(s.input[0])
        if scores is None or scores.op_type != "MatMul":
            inner = [producer.get(x) for x in (scores.input if scores is not None else [])]
            if any(p is not None and p.op_type == "MatMul" for p in inner):
                raise miss(scores, "between q@k and the softmax the block has nothing")
            continue  # not attention: the chain mapper names the Softmax it cannot map
        axis = int(node_attr(s, "axis", -1 if opset >= 13 else 1))
        if axis not in (-1, 2):
            raise miss(s, "the softmax must be over the last axis of q@k (the keys)")
        if len(users[scores.output[0]]) != 1:
            raise miss(scores, "its result is used outside the attention block")
        tq = made_by(scores.input[0], "Transpose", scores, "q must be (b, hw, d)")
        cq, rq, sq = flat(swap(tq).input[0], tq, "the query")
        ck, rk, sk = flat(scores.input[1], scores, "k (of q@k)")
        m2 = used_by(s, "MatMul", "the softmax must multiply v")
        if m2.input[0] != s.output[0]:
            raise miss(m2, "the softmax must be the left factor of softmax @ v")
        tv = made_by(m2.input[1], "Transpose", m2, "v must be (b, hw, d)")
        cv, rv, sv = flat(swap(tv).input[0], tv, "the value")
        tz = swap(used_by(m2, "Transpose", "softmax @ v must be transposed to (b, d, hw)"))
        rz = used_by(tz, "Reshape", "the attended values must be reshaped to (b, d, h, w)")
        sz = target(rz)
        cp = conv(used_by(rz, "Conv", "the attended values must go to the proj conv"), "proj")
        if cp.input[0] != rz.output[0]:
            raise miss(cp, "the attended values must be the proj conv's input")
        add = used_by(cp, "Add", "the proj conv must be added to the block's input (residual)")
        x = cq.input[0]
        if len({id(cq), id(ck), id(cv)}) != 3 or ck.input[0] != x or cv.input[0] != x:
            raise miss(scores, "q, k and v must be three convs of one input")
        if sorted(add.input) != sorted([x, cp.output[0]]):
            raise miss(add, "the residual must add the block's input to the proj conv")
        body = (cq, rq, tq, ck, rk, cv, rv, tv, scores, s, m2, tz, rz, cp, *sq, *sk, *sv, *sz)
        name = f"attention({names[id(s)]})"
        weights = [c.input[i] if len(c.input) > i else "" for c in (cq, ck, cv, cp) for i in (1, 2)]
        inputs = [x, *weights]  # weights as inputs: the chain mapper sees x as the only data
        fused = helper.make_node(OP, inputs, [add.output[0]], name=name, domain=DOMAIN)
        names[id(fused)] = name
        blocks[name] = Block((cq, ck, cv, cp), (rq, rk, rv, rz), names, (sq, sk, sv, sz))
        replaced.update({id(n): None for n in body})
        replaced[id(add)] = fused
    if not blocks:
        return nodes, blocks
    out = [replaced.get(id(n), n) for n in nodes]
    return [n for n in out if n is not None], blocks


def _reshaped(shape: tuple[int, ...], target: Array, allowzero: bool) -> tuple[int, ...] | None:
    """ONNX Reshape's output shape (None where the target does not fit)."""
    dims = [int(t) for t in np.asarray(target).reshape(-1)]
    if not allowzero:
        dims = [shape[i] if t == 0 and i < len(shape) else t for i, t in enumerate(dims)]
    total = int(np.prod(shape))
    if dims.count(-1) > 1:
        return None
    if -1 in dims:
        rest = int(np.prod([t for t in dims if t != -1]))
        if rest <= 0 or total % rest:
            return None
        dims[dims.index(-1)] = total // rest
    return tuple(dims) if int(np.prod(dims)) == total else None


def _target(shaping: tuple[Any, ...], name: str, shape: tuple[int, ...], consts: Any) -> Any:
    """A reshape target ``name``: a constant, or computed by ``shaping`` (``SHAPE_OPS``) from
    the reshaped tensor's ``shape``, as ONNX defines those ops on 1-D int tensors."""
    vals: dict[str, Any] = {}

    def val(x: str) -> Any:
        return vals[x] if x in vals else np.asarray(consts[x]).astype(np.int64)

    def axes(node: Any) -> list[int]:
        got = node_attr(node, "axes", None)
        return list(got) if got is not None else val(node.input[1]).reshape(-1).tolist()

    for node in shaping:
        op, ins = node.op_type, list(node.input)
        if op == "Shape":
            start, end = node_attr(node, "start", 0), node_attr(node, "end", None)
            out = np.array(shape, dtype=np.int64)[start:end]
        elif op == "Slice":
            start, end = (int(val(x).reshape(-1)[0]) for x in ins[1:3])
            step = int(val(ins[4]).reshape(-1)[0]) if len(ins) > 4 and ins[4] else 1
            out = val(ins[0])[start:end:step]  # 1-D: axes can only be (0,)
        elif op == "Concat":
            out = np.concatenate([val(x).reshape(-1) for x in ins])
        elif op == "Gather":
            out = np.take(val(ins[0]), val(ins[1]), axis=int(node_attr(node, "axis", 0)))
        elif op == "Unsqueeze":
            out = np.expand_dims(val(ins[0]), tuple(axes(node)))
        elif op == "Squeeze":
            out = np.squeeze(val(ins[0]), tuple(axes(node)))
        else:  # Cast
            out = val(ins[0])
        vals[node.output[0]] = out
    return val(name)


def attention_parts(
    block: Block,
    consts: dict[str, Array],
    shape: tuple[int, ...],
    batch: int,
    bits_of: Callable[[str], FixedPoint | None],
    where: str,
) -> tuple[dict[str, tuple[Array, Array]], FixedPoint | None]:
    """The block's (weight, bias) by ``PARTS`` name, as ``ConvAttentionBlock``'s state dict
    holds them, and its weight format (the Quant nodes', which must agree), for an input of
    ``shape`` (C, H, W) without batch; one-line ``HwloopError`` where it does not fit."""
    if len(shape) != 3:
        raise HwloopError(f"{where}: its input {list(shape)} is not (channels, height, width)")
    c, h, w = shape
    parts: dict[str, tuple[Array, Array]] = {}
    for part, node in zip(PARTS, block.convs, strict=True):
        weight = consts[node.input[1]]
        n = int(weight.shape[0])
        bias_name = node.input[2] if len(node.input) > 2 else ""
        bias = consts[bias_name].reshape(-1) if bias_name else np.zeros(n)
        if bias.shape != (n,):
            raise HwloopError(f"{block.where(node)}: a bias of {list(bias.shape)} for {n} outputs")
        parts[part] = (weight, bias)
    d = int(parts["query"][0].shape[0])
    for part, node in zip(PARTS, block.convs, strict=True):
        want = (c, d, 1, 1) if part == "proj" else (d, c, 1, 1)
        if parts[part][0].shape != want:
            raise HwloopError(
                f"{block.where(node)}: weights {list(parts[part][0].shape)} for the block's "
                f"{part}, not {list(want)} (input of {c} channels; q, k, v and proj of one "
                f"hidden width, {d})"
            )
    for node, shaping, (src, dst) in zip(
        block.reshapes,
        block.targets,
        [((batch, d, h, w), (batch, d, h * w))] * 3 + [((batch, d, h * w), (batch, d, h, w))],
        strict=True,
    ):
        try:
            want = _target(shaping, node.input[1], src, consts)
        except (KeyError, IndexError, ValueError, TypeError):  # attributes of old opsets, ...
            raise HwloopError(f"{block.where(node)}: {COMPUTED}; {PATTERN}") from None
        got = _reshaped(src, want, bool(node_attr(node, "allowzero", 0)))
        if got != dst:
            raise HwloopError(
                f"{block.where(node)}: reshapes {list(src)} to {list(got) if got else '?'}, "
                f"not {list(dst)}; {PATTERN}"
            )
    fmts = {bits_of(node.input[1]) for node in block.convs}
    if len(fmts) > 1:
        raise HwloopError(
            f"{where}: the query, key, value and proj weights are quantised to different "
            "formats (or only some of them); hwloop's conv_attention has one weight precision"
        )
    return parts, fmts.pop()
