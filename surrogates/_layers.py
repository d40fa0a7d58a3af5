"""A design as hls4ml builds it: one row per hls4ml layer, with the layer-level features the
Vivado-flow surrogate learns from (:data:`LAYER_FEATURES`, schema :data:`LAYER_SCHEMA`).

Readers (:func:`hls_layers`) for every per-layer source in the cache: hwloop's canonical designs
(activations become their own layers, batch norm is folded into the layer before it as hls4ml
does, a set aggregation is a global pooling over the set), wa-hls4ml CSV rows (one Dense),
N-TORC rows (one Conv1D / Dense / LSTM on a sequence), wa-hls4ml JSON models and the shared
``layers`` schema of the other importers. Layers hls4ml cannot build (the attention block) raise
:class:`FeatureError` naming them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from surrogates._features import NAN, FeatureError, _cascade, _width, design_info

LAYER_SCHEMA = "layer-1"
TABLE_ACTS = frozenset(("gelu", "sigmoid", "tanh", "softmax", "elu", "selu", "softplus"))
# hls4ml layer kind -> the model that answers for it (conv1d and conv2d share one: both are a
# per-position dense kernel over n_chan * kernel inputs in hls4ml)
MODEL_KIND = {
    "dense": "dense",
    "conv1d": "conv",
    "conv2d": "conv",
    "lstm": "lstm",
    "activation": "activation",
    "softmax": "activation",
    "pooling": "pooling",
    "norm": "norm",
}


@dataclass(frozen=True)
class HlsLayer:
    """One hls4ml layer: ``n_out`` outputs of ``n_in`` inputs each at ``positions`` positions
    (a sequence step or an output pixel); activations and norms have ``n_in = 1`` and
    ``n_out`` elements, pooling has the window as ``n_in``."""

    name: str
    kind: str
    n_in: int
    n_out: int
    positions: int = 1
    w_bits: float = NAN
    in_bits: float = NAN
    res_bits: float = NAN
    reuse: float = 1.0
    kernel: float = 1.0
    nonzero_frac: float = 1.0
    act: str = ""

    @property
    def model_kind(self) -> str:
        return MODEL_KIND.get(self.kind, self.kind)


@dataclass(frozen=True)
class HlsDesign:
    layers: tuple[HlsLayer, ...]
    strategy: str
    io_type: str
    clock_ns: float
    part: str


LAYER_FEATURES: tuple[str, ...] = (
    "n_in",
    "n_out",
    "positions",
    "mults",
    "total_mults",
    "nonzero_frac",
    "w_bits",
    "in_bits",
    "res_bits",
    "reuse",
    "cycles",  # reuse x positions: the multiply cycles of a layer that reuses one kernel
    "mults_per_cycle",
    "bops_per_cycle",
    "bops",
    "kernel",
    "dims",
    "act_table",
    "act_leaky",
    "strategy_resource",
    "io_stream",
    "clock_ns",
    "ultrascale_plus",
    "zynq",
)


def layer_features(layer: HlsLayer, design: HlsDesign) -> dict[str, float]:
    mults = float(layer.n_in * layer.n_out) * layer.nonzero_frac
    bits = (
        layer.w_bits * layer.in_bits if layer.kind in ("dense", "conv1d", "conv2d", "lstm") else 1
    )
    part = design.part.lower()
    return {
        "n_in": float(layer.n_in),
        "n_out": float(layer.n_out),
        "positions": float(layer.positions),
        "mults": mults,
        "total_mults": mults * layer.positions,
        "nonzero_frac": layer.nonzero_frac,
        "w_bits": layer.w_bits,
        "in_bits": layer.in_bits,
        "res_bits": layer.res_bits,
        "reuse": layer.reuse,
        "cycles": layer.reuse * layer.positions,
        "mults_per_cycle": mults / layer.reuse,
        "bops_per_cycle": mults * bits / layer.reuse,
        "bops": mults * layer.positions * bits,
        "kernel": float(layer.kernel),
        "dims": {"conv1d": 1.0, "conv2d": 2.0}.get(layer.kind, 0.0),
        "act_table": float(layer.act in TABLE_ACTS),
        "act_leaky": float(layer.act in ("leaky_relu", "prelu", "elu")),
        "strategy_resource": float(design.strategy == "resource"),
        "io_stream": float(design.io_type == "io_stream"),
        "clock_ns": design.clock_ns,
        "ultrascale_plus": float(part.startswith(("xcu", "xcvu", "xczu", "xcku5p", "xcau"))),
        "zynq": float(part.startswith(("xczu", "xc7z"))),
    }


# ---- hwloop canonical designs ------------------------------------------------------------------
def _from_hwloop(d: Mapping[str, Any]) -> HlsDesign:
    arch, hw = d["arch"], d["hw"]
    shape = [int(x) for x in arch["input_shape"]]
    in_bits = _width(hw.get("input_precision"))
    nonzero = d.get("nonzero") or {}
    sparsity = float(d.get("sparsity") or 0.0)
    out: list[HlsLayer] = []
    for layer in arch["layers"]:
        op, name = layer["op"], layer["name"]
        lw = _cascade(hw, name, op)
        w, res = _width(lw.get("weight")), _width(lw.get("result"))
        reuse = float(lw.get("reuse_factor") or 1)
        if op == "flatten":
            shape = [math.prod(shape)]
            continue
        if op == "aggregate":  # Deep Sets' mean / max over the set: a global 1-D pooling
            n, f = shape
            out.append(HlsLayer(name, "pooling", n, f, 1, NAN, in_bits, in_bits, 1.0, n))
            shape = [f]
            continue
        if op == "pool2d":
            c, h, wd = shape
            k = int(layer["size"])
            out.append(
                HlsLayer(
                    name, "pooling", k * k, c, (h // k) * (wd // k), NAN, in_bits, in_bits, 1.0, k
                )
            )
            shape = [c, h // k, wd // k]
            continue
        if op == "linear":
            n_in, n_out = shape[-1], int(layer["out_features"])
            pos = shape[0] if len(shape) == 2 else 1  # on a set: applied to every element
            kind, kernel = "dense", 1
            shape = [shape[0], n_out] if len(shape) == 2 else [n_out]
        elif op == "conv2d":
            c, h, wd = shape
            k, p = int(layer["kernel"]), int(layer.get("padding", 0))
            ho, wo = h + 2 * p - k + 1, wd + 2 * p - k + 1
            n_in, n_out, pos, kind, kernel = (
                c * k * k,
                int(layer["out_channels"]),
                ho * wo,
                "conv2d",
                k,
            )
            shape = [n_out, ho, wo]
        elif op == "conv1d":
            c, length = shape
            k, p = int(layer["kernel"]), int(layer.get("padding", 0))
            lo = length + 2 * p - k + 1
            n_in, n_out, pos, kind, kernel = c * k, int(layer["out_channels"]), lo, "conv1d", k
            shape = [n_out, lo]
        else:
            raise FeatureError(
                f"layer {name}: hls4ml has no {op!r} layer the Vivado-flow surrogate knows (it "
                "covers conv2d, conv1d, linear, aggregate, pool2d, flatten and their activations)"
            )
        nz = nonzero.get(name)
        frac = float(nz) / (n_in * n_out) if nz is not None else 1.0 - sparsity
        out.append(HlsLayer(name, kind, n_in, n_out, pos, w, in_bits, res, reuse, kernel, frac))
        if layer.get("norm") == "layer":
            out.append(HlsLayer(f"{name}_norm", "norm", 1, n_out, pos, NAN, res, res))
        if layer.get("act"):
            act = str(layer["act"])
            out.append(HlsLayer(f"{name}_act", "activation", 1, n_out, pos, NAN, res, res, act=act))
        in_bits = res
    return _hls_design(out, hw, str(hw.get("part", "")))


def _hls_design(layers: list[HlsLayer], cfg: Mapping[str, Any], part: str) -> HlsDesign:
    """The design-level settings (strategy, io type, clock) read off ``cfg``, as hls4ml
    defaults them."""
    return HlsDesign(
        tuple(layers),
        str(cfg.get("strategy", "latency")).lower(),
        str(cfg.get("io_type", "io_parallel")),
        float(cfg.get("clock_period_ns", NAN)),
        part,
    )


# ---- the shared ``layers`` schema of imported per-layer records --------------------------------
_BITS = re.compile(r"(?:ap_)?u?(?:fixed|int)<\s*(\d+)")


def _bits(spec: Any) -> float:
    if isinstance(spec, (int, float)):
        return float(spec)
    m = _BITS.search(str(spec)) if spec is not None else None
    return float(m.group(1)) if m else NAN


def _from_layers(d: Mapping[str, Any]) -> HlsDesign:
    bits = _bits(d.get("precision_bits", d.get("precision")))
    reuse = float(d.get("reuse_factor") or 1)
    out: list[HlsLayer] = []
    for i, spec in enumerate(d["layers"]):
        cls = str(spec["class_name"]).lower().lstrip("q")
        name = str(spec.get("name", f"layer{i}"))
        b = _bits(spec.get("precision_bits", spec.get("precision", bits)))
        rf = float(spec.get("reuse_factor") or reuse)
        seq = int(spec.get("seq_len", 1))
        if cls == "dense":
            d_in, d_out = int(spec["d_in"]), int(spec["d_out"])
            frac = 1.0 - float(spec.get("n_zeros", 0)) / (d_in * d_out)  # pruned weights
            layer = HlsLayer(name, "dense", d_in, d_out, seq, b, b, b, rf, 1.0, frac)
        elif cls == "conv1d":
            k = int(spec.get("kernel_size", 3))
            n_in, n_out = int(spec["n_chan"]) * k, int(spec["n_filt"])
            layer = HlsLayer(name, "conv1d", n_in, n_out, seq, b, b, b, rf, k)
        elif cls == "conv2d":
            k = int(spec.get("kernel_size", 3))
            pos = int(spec.get("out_positions") or int(spec["height"]) * int(spec["width"]))
            n_in, n_out = int(spec["n_chan"]) * k * k, int(spec["n_filt"])
            layer = HlsLayer(name, "conv2d", n_in, n_out, pos, b, b, b, rf, k)
        elif cls == "lstm":
            units = int(spec["units"])
            n_in = int(spec["d_in"]) + units  # input and recurrent kernels, 4 gates each
            layer = HlsLayer(name, "lstm", n_in, 4 * units, seq, b, b, b, rf, units)
        elif cls in ("activation", "relu", "leakyrelu", "prelu", "elu", "softmax"):
            act = str(spec.get("activation", cls)).lower().replace("leakyrelu", "leaky_relu")
            n, chans = int(spec["n"]), int(spec.get("n_chan") or spec["n"])
            kind = "softmax" if act == "softmax" else "activation"
            layer = HlsLayer(name, kind, 1, chans, n // chans, NAN, b, b, 1.0, act=act)
        elif "pooling" in cls:
            dims = 2 if "2d" in cls else 1
            size = int(spec.get("pool_size", 2))
            n_chan = int(spec["n_chan"])
            if cls.startswith("global"):
                window = int(spec.get("height", 1)) * int(spec.get("width", spec.get("seq_len", 1)))
                layer = HlsLayer(name, "pooling", window, n_chan, 1, NAN, b, b, 1.0, size)
            else:
                pos = int(spec.get("out_positions") or _pooled_positions(spec, dims, size))
                layer = HlsLayer(name, "pooling", size**dims, n_chan, pos, NAN, b, b, 1.0, size)
        elif cls in ("batchnormalization", "layernormalization"):
            n = int(spec["n"])
            layer = HlsLayer(name, "norm", 1, n, 1, NAN, b, b)
        else:
            raise FeatureError(f"layer {name}: no layer-level features for class {cls!r}")
        out.append(layer)
    return _hls_design(out, d, str(d.get("target_part", "")))


def _pooled_positions(spec: Mapping[str, Any], dims: int, size: int) -> int:
    """Output positions of a pooling layer (Keras' rule: ``same`` rounds up, ``valid`` down)."""
    extents = (
        [int(spec.get("seq_len", 1))] if dims == 1 else [int(spec["height"]), int(spec["width"])]
    )
    same = str(spec.get("padding", "valid")) == "same"
    return math.prod(-(-n // size) if same else n // size for n in extents)


def _from_wa_json(d: Mapping[str, Any]) -> HlsDesign:
    info = design_info(d)
    out: list[HlsLayer] = []
    for i, x in enumerate(info.layers):
        kind = "dense" if x.kind == "dense" else "conv2d"
        kernel = NAN if kind == "conv2d" else 1.0  # the record does not say
        out.append(
            HlsLayer(
                f"layer{i}",
                kind,
                x.n_in,
                x.n_out,
                x.positions,
                x.w_bits,
                x.in_bits,
                x.res_bits,
                x.reuse if not math.isnan(x.reuse) else 1.0,
                kernel,
            )
        )
        if x.act:
            out.append(
                HlsLayer(
                    f"layer{i}_act",
                    "activation",
                    1,
                    x.n_out,
                    x.positions,
                    NAN,
                    x.res_bits,
                    x.res_bits,
                    act=x.act,
                )
            )
    return HlsDesign(
        tuple(out), info.strategy, info.io_type, info.clock_ns, str(d.get("target_part", ""))
    )


def hls_layers(design: Mapping[str, Any]) -> HlsDesign:
    """The hls4ml layers of a design document of any source the cache holds."""
    try:
        if "arch" in design and "hw" in design:
            return _from_hwloop(design)
        if isinstance(design.get("layers"), Sequence):
            return _from_layers(design)
        if design.get("source") == "wa-hls4ml":
            return _from_wa_json(design)
    except FeatureError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise FeatureError(f"unreadable design document: {exc!r}") from None
    raise FeatureError(f"no layer-level reader for designs of source {design.get('source')!r}")
