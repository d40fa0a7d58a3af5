"""Arch specs: an architecture as a plain JSON document that names every layer.

A spec is a list of layers applied in order to an input of ``input_shape`` (C, H, W), (C, L) or
(F,). Layer ops: ``conv2d`` and ``conv1d`` (with optional norm and activation),
``conv_attention`` (BraggNN's non-local block with a residual skip and a skip activation),
``flatten``, ``linear``, ``aggregate``, ``pool2d`` (max or mean over size x size windows),
``upsample2d`` (nearest or bilinear, by an integer factor) and ``branches`` (parallel lists of
layers on the same input, outputs concatenated along the first axis: PtychoNN's two decoders). A
``linear`` layer on a set-shaped input (N, F) (N elements of F features, e.g. jet constituents)
is applied to every element with shared weights, as Deep Sets' φ; ``aggregate`` reduces a set
(N, F) to (F,) by ``mean`` or ``max``, after which ``linear`` layers form ρ. Specs are
immutable, hashable by content (``spec.digest``) and round-trip through JSON.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from hwloop import HwloopError
from hwloop.archs._precision import LayerPrecision

FORMAT = "hwloop.arch/1"
NORMS = ("batch", "layer")
ACTIVATIONS = ("relu", "leaky_relu", "gelu", "sigmoid", "tanh")
AGGREGATORS = ("mean", "max")
UPSAMPLING = ("nearest", "bilinear")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

Norm = Literal["batch", "layer"] | None
Act = Literal["relu", "leaky_relu", "gelu", "sigmoid", "tanh"] | None
Shape = tuple[int, ...]


@dataclass(frozen=True)
class _Conv:
    """What both convolutions hold (stride 1; ``padding`` zeros on each side)."""

    name: str
    out_channels: int
    kernel: int
    padding: int = 0
    norm: Norm = None
    act: Act = None
    precision: LayerPrecision | None = None


@dataclass(frozen=True)
class Conv2d(_Conv):
    """A square ``kernel`` x ``kernel`` convolution over a (C, H, W) input."""

    op: str = field(default="conv2d", init=False)


@dataclass(frozen=True)
class Conv1d(_Conv):
    """A 1-D convolution over a (C, L) input (a sequence of L positions of C channels)."""

    op: str = field(default="conv1d", init=False)


@dataclass(frozen=True)
class ConvAttention:
    """Non-local attention: q, k, v = 1x1 convs to ``hidden`` channels.

    Output: ``act(x + proj(softmax(q k^T) v))``.
    """

    name: str
    hidden: int
    act: Act = None
    precision: LayerPrecision | None = None
    op: str = field(default="conv_attention", init=False)


@dataclass(frozen=True)
class Flatten:
    name: str
    op: str = field(default="flatten", init=False)


@dataclass(frozen=True)
class Linear:
    name: str
    out_features: int
    norm: Norm = None
    act: Act = None
    precision: LayerPrecision | None = None
    op: str = field(default="linear", init=False)


@dataclass(frozen=True)
class Aggregate:
    """A set (N, F) reduced over its N elements to (F,): ``mean`` or ``max`` (Deep Sets)."""

    name: str
    method: Literal["mean", "max"] = "mean"
    op: str = field(default="aggregate", init=False)


@dataclass(frozen=True)
class Pool2d:
    """Non-overlapping ``size`` x ``size`` pooling (``max`` or ``mean``); H, W must divide."""

    name: str
    size: int = 2
    method: Literal["mean", "max"] = "max"
    op: str = field(default="pool2d", init=False)


@dataclass(frozen=True)
class Upsample2d:
    """(C, H, W) -> (C, factor*H, factor*W), ``nearest`` or ``bilinear`` (align_corners off)."""

    name: str
    factor: int = 2
    mode: Literal["nearest", "bilinear"] = "bilinear"
    op: str = field(default="upsample2d", init=False)


@dataclass(frozen=True)
class Branches:
    """Parallel ``branches`` (each a tuple of layers) on the same input; their outputs, equal
    but for the first axis, are concatenated along it (channels of maps, or features)."""

    name: str
    branches: tuple[tuple[Any, ...], ...]
    op: str = field(default="branches", init=False)


Layer = (
    Conv2d | Conv1d | ConvAttention | Flatten | Linear | Aggregate | Pool2d | Upsample2d | Branches
)
_OPS: dict[str, Any] = {
    "conv2d": Conv2d,
    "conv1d": Conv1d,
    "conv_attention": ConvAttention,
    "flatten": Flatten,
    "linear": Linear,
    "aggregate": Aggregate,
    "pool2d": Pool2d,
    "upsample2d": Upsample2d,
    "branches": Branches,
}


def iter_layers(layers: tuple[Layer, ...]) -> Iterator[Layer]:
    """Every layer, depth first: the layers inside ``branches`` follow their ``branches``."""
    for layer in layers:
        yield layer
        if isinstance(layer, Branches):
            for branch in layer.branches:
                yield from iter_layers(branch)


_TOP_KEYS = {"format", "name", "task", "description", "source", "input_shape", "layers"}


@dataclass(frozen=True)
class ArchSpec:
    """A whole network. ``name``/``description``/``source`` are metadata, not part of the digest."""

    input_shape: Shape
    layers: tuple[Layer, ...]
    name: str = ""
    task: str = ""
    description: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        names = [layer.name for layer in iter_layers(self.layers)]
        for n in names:
            if not _NAME.match(n):
                raise HwloopError(f"arch {self.name!r}: bad layer name {n!r}")
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise HwloopError(f"arch {self.name!r}: duplicate layer names {sorted(dup)}")
        if not self.layers:
            raise HwloopError(f"arch {self.name!r}: has no layers")
        self.shapes()  # validates shapes

    # ---- shapes -------------------------------------------------------------------------------
    def shapes(self) -> list[tuple[Shape, Shape]]:
        """(input shape, output shape) of every layer, without batch; raises on a mismatch."""
        out: list[tuple[Shape, Shape]] = []
        shape = tuple(self.input_shape)
        if math.prod(shape) > MAX_ELEMENTS:
            raise HwloopError(
                f"arch {self.name!r}: an input of {math.prod(shape):,} values, above hwloop's "
                f"limit of {MAX_ELEMENTS:,}"
            )
        for layer in self.layers:
            new = _out_shape(layer, shape, self.name)
            out.append((shape, new))
            shape = new
        return out

    @property
    def output_size(self) -> int:
        last = self.shapes()[-1][1]
        if len(last) != 1:
            raise HwloopError(f"arch {self.name!r}: output is not a vector: {last}")
        return last[0]

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def all_layers(self) -> list[Layer]:
        """Every layer including those inside ``branches`` (depth first)."""
        return list(iter_layers(self.layers))

    @property
    def has_branches(self) -> bool:
        return any(isinstance(layer, Branches) for layer in self.layers)

    # ---- JSON ---------------------------------------------------------------------------------
    def structure(self) -> dict[str, Any]:
        return {
            "input_shape": list(self.input_shape),
            "layers": [_layer_to_json(layer) for layer in self.layers],
        }

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"format": FORMAT, "name": self.name, "task": self.task}
        if self.description:
            doc["description"] = self.description
        if self.source:
            doc["source"] = self.source
        doc.update(self.structure())
        return doc

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"

    @property
    def digest(self) -> str:
        """Content hash of the structure (layers, shapes, precisions), 16 hex digits."""
        canon = json.dumps(self.structure(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canon.encode()).hexdigest()[:16]

    def with_name(self, name: str) -> ArchSpec:
        return replace(self, name=name)

    def with_input_shape(self, shape: Shape) -> ArchSpec:
        """The same layers on another input shape (a fully convolutional net at another image
        size); raises ``HwloopError`` where the layers do not fit it."""
        return replace(self, input_shape=tuple(shape))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.dumps())

    @classmethod
    def from_json(cls, doc: Any) -> ArchSpec:
        if not isinstance(doc, dict):
            raise HwloopError("arch spec must be a JSON object")
        fmt = doc.get("format", FORMAT)
        if fmt != FORMAT:
            raise HwloopError(f"arch spec format {fmt!r} is not supported (expected {FORMAT!r})")
        name = str(doc.get("name", ""))
        unknown = sorted(set(doc) - _TOP_KEYS)
        if unknown:  # a misspelt key ("descripton") must not be dropped silently
            raise HwloopError(
                f"arch {name!r}: unknown keys {unknown} (an arch spec has "
                f"{', '.join(sorted(_TOP_KEYS))})"
            )
        shape = doc.get("input_shape")
        if not (isinstance(shape, list) and shape and all(_posint(v) for v in shape)):
            raise HwloopError(f"arch {name!r}: 'input_shape' must be a list of positive ints")
        raw = doc.get("layers")
        if not isinstance(raw, list):
            raise HwloopError(f"arch {name!r}: 'layers' must be a list")
        layers = tuple(_layer_from_json(entry, name, i) for i, entry in enumerate(raw))
        return cls(
            tuple(shape),
            layers,
            name=name,
            task=str(doc.get("task", "")),
            description=str(doc.get("description", "")),
            source=str(doc.get("source", "")),
        )

    @classmethod
    def loads(cls, text: str) -> ArchSpec:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise HwloopError(f"arch spec is not valid JSON: {exc}") from None
        return cls.from_json(doc)

    @classmethod
    def load(cls, path: str | Path) -> ArchSpec:
        p = Path(path)
        try:
            text = p.read_text()
        except OSError as exc:
            raise HwloopError(f"cannot read arch spec {p}: {exc.strerror}") from None
        try:
            return cls.loads(text)
        except HwloopError as exc:
            raise HwloopError(f"{p}: {exc}") from None


def _posint(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def branch_shapes(branch: tuple[Layer, ...], shape: Shape, arch: str) -> list[tuple[Shape, Shape]]:
    """(input shape, output shape) of every layer of one branch; raises on a mismatch."""
    out = []
    for layer in branch:
        new = _out_shape(layer, shape, arch)
        out.append((shape, new))
        shape = new
    return out


# Sizes no FPGA design comes near (a VU13P holds 1.7 M LUTs): a larger layer is refused up
# front, in one line, instead of allocating gigabytes of weights first (docs/archs.md)
MAX_ELEMENTS = 1 << 24  # values in any one tensor between layers
MAX_WEIGHTS = 1 << 26  # weights of any one layer


def _weights(layer: Layer, shape: Shape) -> int:
    if isinstance(layer, Conv2d):
        return shape[0] * layer.kernel * layer.kernel * layer.out_channels
    if isinstance(layer, Conv1d):
        return shape[0] * layer.kernel * layer.out_channels
    if isinstance(layer, ConvAttention):
        return 4 * shape[0] * layer.hidden
    if isinstance(layer, Linear):
        return shape[-1] * layer.out_features
    return 0


def _out_shape(layer: Layer, shape: Shape, arch: str) -> Shape:
    out = _shape_of(layer, shape, arch)
    where = f"arch {arch!r}, layer {layer.name!r}"
    weights = _weights(layer, shape)
    if weights > MAX_WEIGHTS:
        raise HwloopError(
            f"{where}: {weights:,} weights, above hwloop's limit of {MAX_WEIGHTS:,} per layer"
        )
    if math.prod(out) > MAX_ELEMENTS:
        raise HwloopError(
            f"{where}: an output of {math.prod(out):,} values, above hwloop's limit of "
            f"{MAX_ELEMENTS:,}"
        )
    return out


def _shape_of(layer: Layer, shape: Shape, arch: str) -> Shape:
    where = f"arch {arch!r}, layer {layer.name!r}"
    if isinstance(layer, Branches):
        if len(layer.branches) < 2 or not all(layer.branches):
            raise HwloopError(f"{where}: branches needs at least two non-empty branches")
        ends = [branch_shapes(b, shape, arch)[-1][1] for b in layer.branches]
        if len({e[1:] for e in ends}) != 1 or any(not e for e in ends):
            raise HwloopError(f"{where}: the branches' outputs {ends} differ beyond the first axis")
        return (sum(e[0] for e in ends), *ends[0][1:])
    if isinstance(layer, Pool2d | Upsample2d):
        if len(shape) != 3:
            raise HwloopError(f"{where}: {layer.op} needs a (C, H, W) input, got {shape}")
        c, h, w = shape
        if isinstance(layer, Upsample2d):
            return (c, h * layer.factor, w * layer.factor)
        if h % layer.size or w % layer.size:
            raise HwloopError(f"{where}: pool size {layer.size} does not divide {h}x{w}")
        return (c, h // layer.size, w // layer.size)
    if isinstance(layer, Conv2d):
        if len(shape) != 3:
            raise HwloopError(f"{where}: conv2d needs a (C, H, W) input, got {shape}")
        _, h, w = shape
        ho, wo = h + 2 * layer.padding - layer.kernel + 1, w + 2 * layer.padding - layer.kernel + 1
        if ho < 1 or wo < 1:
            raise HwloopError(f"{where}: kernel {layer.kernel} does not fit a {h}x{w} input")
        return (layer.out_channels, ho, wo)
    if isinstance(layer, Conv1d):
        if len(shape) != 2:
            raise HwloopError(f"{where}: conv1d needs a (C, L) input, got {shape}")
        lo = shape[1] + 2 * layer.padding - layer.kernel + 1
        if lo < 1:
            raise HwloopError(
                f"{where}: kernel {layer.kernel} does not fit a length-{shape[1]} input"
            )
        return (layer.out_channels, lo)
    if isinstance(layer, ConvAttention):
        if len(shape) != 3:
            raise HwloopError(f"{where}: conv_attention needs a (C, H, W) input, got {shape}")
        return shape
    if isinstance(layer, Flatten):
        n = 1
        for d in shape:
            n *= d
        return (n,)
    if isinstance(layer, Aggregate):
        if len(shape) != 2:
            raise HwloopError(f"{where}: aggregate needs a set input (N, F), got {shape}")
        return (shape[1],)
    if len(shape) == 2:  # a set: the same linear layer on every element
        if layer.norm == "layer":
            raise HwloopError(f"{where}: a linear layer on a set takes norm 'batch' or none")
        return (shape[0], layer.out_features)
    if len(shape) != 1:
        raise HwloopError(
            f"{where}: linear needs a flat (F,) or set (N, F) input (add a flatten layer), "
            f"got {shape}"
        )
    return (layer.out_features,)


def _layer_to_json(layer: Layer) -> dict[str, Any]:
    doc: dict[str, Any] = {"op": layer.op, "name": layer.name}
    if isinstance(layer, Branches):
        doc["branches"] = [[_layer_to_json(x) for x in b] for b in layer.branches]
        return doc
    for key, value in layer.__dict__.items():
        if key in ("op", "name") or value is None:
            continue
        if isinstance(value, LayerPrecision):
            if value.to_json():
                doc["precision"] = value.to_json()
            continue
        if key == "padding" and value == 0:
            continue
        doc[key] = value
    return doc


def _layer_from_json(entry: Any, arch: str, i: int) -> Layer:
    where = f"arch {arch!r}, layer {i}"
    if not isinstance(entry, dict) or "op" not in entry or "name" not in entry:
        raise HwloopError(f"{where}: each layer needs 'op' and 'name'")
    op = entry["op"]
    if op not in _OPS:
        raise HwloopError(f"{where}: unknown op {op!r} (known: {', '.join(_OPS)})")
    cls = _OPS[op]
    allowed = {f for f in cls.__dataclass_fields__ if f != "op"}
    kwargs = {k: v for k, v in entry.items() if k != "op"}
    unknown = set(kwargs) - allowed
    if unknown:
        raise HwloopError(f"{where} ({op}): unknown keys {sorted(unknown)}")
    where = f"arch {arch!r}, layer {entry['name']!r}"
    if op == "branches":
        raw = kwargs.get("branches")
        if not isinstance(raw, list) or not all(isinstance(b, list) for b in raw):
            raise HwloopError(f"{where}: 'branches' must be a list of lists of layers")
        kwargs["branches"] = tuple(
            tuple(_layer_from_json(x, arch, j) for j, x in enumerate(b)) for b in raw
        )
    for key in ("out_channels", "kernel", "hidden", "out_features", "size", "factor"):
        if key in kwargs and not _posint(kwargs[key]):
            raise HwloopError(f"{where}: {key} must be a positive integer")
    if "padding" in kwargs and not (isinstance(kwargs["padding"], int) and kwargs["padding"] >= 0):
        raise HwloopError(f"{where}: padding must be a non-negative integer")
    if kwargs.get("norm") is not None and kwargs["norm"] not in NORMS:
        raise HwloopError(f"{where}: norm must be one of {NORMS} or null")
    if "method" in kwargs and kwargs["method"] not in AGGREGATORS:
        raise HwloopError(f"{where}: method must be one of {AGGREGATORS}")
    if "mode" in kwargs and kwargs["mode"] not in UPSAMPLING:
        raise HwloopError(f"{where}: mode must be one of {UPSAMPLING}")
    if kwargs.get("act") is not None and kwargs["act"] not in ACTIVATIONS:
        raise HwloopError(f"{where}: act must be one of {ACTIVATIONS} or null")
    if "precision" in kwargs:
        kwargs["precision"] = LayerPrecision.from_json(kwargs["precision"], where)
    try:
        layer: Layer = cls(**kwargs)
        return layer
    except TypeError as exc:
        raise HwloopError(f"{where}: {exc}") from None
