"""Features of a design for the resource surrogates, computed from the cache's design JSON alone.

Two design formats map into one schema (``SCHEMA_VERSION``):

- hwloop's own canonical design (``Design.canonical()``: ``arch`` structure, ``hw`` cascading
  config, ``nonzero`` per layer, ``sparsity``);
- wa-hls4ml CSV records (``source: wa-hls4ml-csv``: one dense layer, ``precision_bits``,
  ``reuse_factor``, ``strategy``);
- wa-hls4ml JSON records (``source: wa-hls4ml``: Keras/QKeras ``model_config`` per layer and
  hls4ml's ``hls_config``, precisions as ``fixed<W,I,...>`` strings parsed here only).

Unknown quantities are NaN (XGBoost treats them as missing), never guessed. The feature vector is
:data:`FEATURES` in that order; :func:`design_features` is used both at fit and at predict time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SCHEMA_VERSION = 2
NAN = math.nan
STRATEGIES = ("latency", "resource", "distributed_arithmetic")
ACTS = ("relu", "leaky_relu", "gelu", "sigmoid", "tanh", "softmax")
TABLE_ACTS = frozenset(("gelu", "sigmoid", "tanh", "softmax"))  # computed by lookup tables


class FeatureError(ValueError):
    """A design document the feature extractor cannot read."""


@dataclass(frozen=True)
class LayerInfo:
    """One compute layer as hardware sees it: a matrix applied at ``positions`` positions."""

    kind: str  # dense | conv | attention
    n_in: int  # fan-in of one output (conv: channels * k * k)
    n_out: int
    positions: int
    nonzero: float  # non-zero weights
    w_bits: float
    in_bits: float
    res_bits: float
    acc_bits: float
    reuse: float
    act: str | None = None
    norm: str | None = None

    @property
    def params(self) -> int:
        return self.n_in * self.n_out


@dataclass(frozen=True)
class DesignInfo:
    layers: tuple[LayerInfo, ...]
    input_size: int
    output_size: int
    strategy: str
    io_type: str
    clock_ns: float


# ---- hwloop canonical designs ------------------------------------------------------------------
def _width(fmt: Mapping[str, Any] | None) -> float:
    return float(fmt["width"]) if fmt else NAN


def _cascade(hw: Mapping[str, Any], name: str, op: str) -> dict[str, Any]:
    out = dict(hw.get("model") or {})
    out.update((hw.get("by_type") or {}).get(op) or {})
    out.update((hw.get("by_name") or {}).get(name) or {})
    return out


def _from_hwloop(d: Mapping[str, Any]) -> DesignInfo:
    arch, hw = d["arch"], d["hw"]
    shape = [int(x) for x in arch["input_shape"]]
    in_bits = _width(hw.get("input_precision"))
    sparsity = float(d.get("sparsity") or 0.0)
    nonzero = d.get("nonzero") or {}
    layers: list[LayerInfo] = []
    for layer in arch["layers"]:
        op, name = layer["op"], layer["name"]
        lw = _cascade(hw, name, op)
        w, res, acc = _width(lw.get("weight")), _width(lw.get("result")), _width(lw.get("accum"))
        reuse = float(lw.get("reuse_factor") or 1)
        if op == "flatten":
            shape = [math.prod(shape)]
            continue
        if op == "aggregate":  # a set's mean / max: adders only, no weights (not a feature)
            shape = shape[1:]
            continue
        if op == "linear" and len(shape) == 2:  # on a set: a 1x1 conv over its elements
            n_in, n_out, pos = shape[-1], int(layer["out_features"]), shape[0]
            shape = [shape[0], n_out]
            kind = "conv"
        elif op == "linear":
            n_in, n_out, pos = shape[-1], int(layer["out_features"]), 1
            shape = [n_out]
            kind = "dense"
        elif op == "conv2d":
            c, h, wd = shape
            k, p = int(layer["kernel"]), int(layer.get("padding", 0))
            ho, wo = h + 2 * p - k + 1, wd + 2 * p - k + 1
            n_in, n_out, pos = c * k * k, int(layer["out_channels"]), ho * wo
            shape = [n_out, ho, wo]
            kind = "conv"
        elif op == "conv1d":
            c, length = shape
            k, p = int(layer["kernel"]), int(layer.get("padding", 0))
            lo = length + 2 * p - k + 1
            n_in, n_out, pos = c * k, int(layer["out_channels"]), lo
            shape = [n_out, lo]
            kind = "conv"
        elif op == "conv_attention":
            c, h, wd = shape
            hid = int(layer["hidden"])
            n_in, n_out, pos = c, 3 * hid + c, h * wd  # query/key/value/proj 1x1 convs
            kind = "attention"
        else:
            raise FeatureError(
                f"layer {name}: the surrogate has no features for op {op!r} (FPGA designs cover "
                "conv2d, conv1d, linear, conv_attention, aggregate and flatten)"
            )
        nz = nonzero.get(name)
        layers.append(
            LayerInfo(
                kind,
                n_in,
                n_out,
                pos,
                float(nz) if nz is not None else n_in * n_out * (1.0 - sparsity),
                w,
                in_bits,
                res,
                acc,
                reuse,
                layer.get("act"),
                layer.get("norm"),
            )
        )
        in_bits = res
    return DesignInfo(
        tuple(layers),
        math.prod(int(x) for x in arch["input_shape"]),
        math.prod(shape),
        str(hw.get("strategy", "latency")),
        str(hw.get("io_type", "io_parallel")),
        float(hw.get("clock_period_ns", NAN)),
    )


# ---- wa-hls4ml CSV records ---------------------------------------------------------------------
def _from_wa_csv(d: Mapping[str, Any]) -> DesignInfo:
    (layer,) = d["layers"]
    bits = float(d["precision_bits"])
    n_in, n_out = int(layer["d_in"]), int(layer["d_out"])
    info = LayerInfo(
        "dense",
        n_in,
        n_out,
        1,
        float(n_in * n_out),
        bits,
        bits,
        bits,
        NAN,
        float(d["reuse_factor"]),
    )
    return DesignInfo((info,), n_in, n_out, str(d["strategy"]).lower(), "io_parallel", NAN)


# ---- wa-hls4ml JSON records --------------------------------------------------------------------
_FIXED = re.compile(r"^u?fixed<\s*(\d+)")
_NOT_SET = 32765  # hls4ml's "reuse factor not set"


def _fixed_width(spec: Any) -> float:
    """Width of an hls4ml precision string (``fixed<4,2,TRN,WRAP,0>`` -> 4); NaN for ``auto``."""
    if isinstance(spec, Mapping):
        spec = spec.get("default")
    m = _FIXED.match(str(spec).strip()) if spec is not None else None
    return float(m.group(1)) if m else NAN


def _wa_reuse(layer: Mapping[str, Any], conf: Mapping[str, Any], model: Mapping[str, Any]) -> float:
    for value in (layer.get("reuse_factor"), conf.get("ReuseFactor"), model.get("ReuseFactor")):
        if isinstance(value, (int, float)) and 0 < value < _NOT_SET:
            return float(value)
    return NAN


def _act_of(layer: Mapping[str, Any]) -> str | None:
    text = str(layer.get("activation", "")).lower()
    return next((a for a in sorted(ACTS, key=len, reverse=True) if a in text), None)


def _from_wa_json(d: Mapping[str, Any]) -> DesignInfo:
    hls = d["hls_config"]
    model = hls.get("Model") or {}
    by_name = hls.get("LayerName") or {}
    default = _fixed_width(model.get("Precision"))
    config = d["model_config"]
    names = _wa_names(config, by_name)
    layers: list[LayerInfo] = []
    in_bits = NAN
    input_size = output_size = 0
    for layer, name in zip(config, names, strict=True):
        cls = str(layer["class_name"]).lower().lstrip("q")
        if not input_size and layer.get("inbound_layers"):
            # the input layer is not always listed; its precision is under its own name
            (src,) = layer["inbound_layers"][:1]
            src_prec = (by_name.get(src) or {}).get("Precision")
            if isinstance(src_prec, Mapping) and math.isnan(in_bits):
                in_bits = _fixed_width(src_prec.get("result"))
        conf = by_name.get(name) or {}
        prec = conf.get("Precision") if isinstance(conf, Mapping) else None
        prec = prec if isinstance(prec, Mapping) else {}
        out_shape = [int(x) for x in _flat_shape(layer["output_shape"])]
        if cls in ("inputlayer",):
            input_size = math.prod(out_shape)
            in_bits = _fixed_width(prec.get("result"))
            continue
        output_size = math.prod(out_shape) if out_shape else output_size
        if cls in ("dense", "conv1d", "conv2d"):
            in_shape = [int(x) for x in _flat_shape(layer["input_shape"])]
            if not input_size:
                input_size = math.prod(in_shape)
            if cls == "dense":
                n_in, n_out, pos, kind = in_shape[-1], out_shape[-1], 1, "dense"
            else:
                ks = layer.get("kernel_size") or [1]
                n_in = int(layer.get("channels", in_shape[-1])) * math.prod(int(k) for k in ks)
                n_out, pos, kind = out_shape[-1], math.prod(out_shape[:-1]), "conv"
            w = _fixed_width(prec.get("weight"))
            res = _fixed_width(prec.get("result"))
            layers.append(
                LayerInfo(
                    kind,
                    n_in,
                    n_out,
                    pos,
                    float(n_in * n_out),
                    w if not math.isnan(w) else default,
                    in_bits,
                    res,
                    _fixed_width(prec.get("accum")),
                    _wa_reuse(layer, conf, model),
                )
            )
            in_bits = res
        elif cls == "activation" and layers:
            last = layers[-1]
            layers[-1] = LayerInfo(**{**last.__dict__, "act": _act_of(layer)})
            in_bits = _fixed_width(prec.get("result"))
    return DesignInfo(
        tuple(layers),
        input_size,
        output_size,
        str(model.get("Strategy", "latency")).lower(),
        str(d.get("io_type", "io_parallel")),
        NAN,
    )


def _wa_names(config: Sequence[Mapping[str, Any]], by_name: Mapping[str, Any]) -> list[str]:
    """The hls_config name of each model_config layer: a layer's name is its successor's
    inbound layer; the last one is the first configured layer left over (model_config carries
    no names of its own)."""
    names = [str((nxt.get("inbound_layers") or [""])[0]) for nxt in config[1:]]
    used = set(names) | {str(x) for x in (config[0].get("inbound_layers") or [])}
    rest = [n for n in by_name if n not in used and not n.endswith(("_linear", "_alpha", "_input"))]
    return [*names, rest[0] if rest else ""]


def _flat_shape(shape: Any) -> list[int]:
    """Keras shapes without the batch dimension (``[[None, 40, 9, 16]]`` -> ``[40, 9, 16]``)."""
    if shape and isinstance(shape[0], list):
        shape = shape[0]
    return [int(x) for x in shape if x is not None]


def design_info(design: Mapping[str, Any]) -> DesignInfo:
    """The layers of a design document (hwloop canonical or a wa-hls4ml CSV record)."""
    try:
        if "arch" in design and "hw" in design:
            return _from_hwloop(design)
        if design.get("source") == "wa-hls4ml-csv":
            return _from_wa_csv(design)
        if design.get("source") == "wa-hls4ml":
            return _from_wa_json(design)
        if isinstance(design.get("layers"), Sequence):
            return _from_layer_records(design)
    except FeatureError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise FeatureError(f"unreadable design document: {exc!r}") from None
    raise FeatureError(
        f"no features for designs of source {design.get('source', 'unknown')!r} (schema "
        f"{SCHEMA_VERSION} reads hwloop designs and wa-hls4ml CSV and JSON records)"
    )


def _from_layer_records(d: Mapping[str, Any]) -> DesignInfo:
    """Imported per-layer records (N-TORC, hls4ml baselines, ...) through their hls4ml layers:
    compute layers keep their shapes, activations attach to the layer before them."""
    from surrogates._layers import hls_layers  # that module builds on this one

    hd = hls_layers(d)
    layers: list[LayerInfo] = []
    for x in hd.layers:
        if x.kind in ("dense", "conv1d", "conv2d", "lstm"):
            kind = "dense" if x.kind == "dense" and x.positions == 1 else "conv"
            nz = x.n_in * x.n_out * x.nonzero_frac
            layers.append(
                LayerInfo(
                    kind,
                    x.n_in,
                    x.n_out,
                    x.positions,
                    nz,
                    x.w_bits,
                    x.in_bits,
                    x.res_bits,
                    NAN,
                    x.reuse,
                )
            )
        elif x.kind in ("activation", "softmax") and layers:
            layers[-1] = LayerInfo(**{**layers[-1].__dict__, "act": x.act})
    if not layers:
        raise FeatureError("no compute layer in the record")
    first, last = layers[0], layers[-1]
    return DesignInfo(
        tuple(layers),
        first.n_in * first.positions,
        last.n_out * last.positions,
        hd.strategy,
        hd.io_type,
        hd.clock_ns,
    )


# ---- the feature vector ------------------------------------------------------------------------
BIT_CLASSES = ((0, 4), (5, 8), (9, 16), (17, 64))
FEATURES: tuple[str, ...] = (
    "n_layers",
    "n_dense",
    "n_conv",
    "n_attention",
    "n_layer_norm",
    *(f"n_{a}" for a in ACTS),
    "input_size",
    "output_size",
    "params",
    "nonzero",
    "sparsity",
    "max_n_in",
    "max_n_out",
    "unique_mults",  # non-zero weights: distinct constant products (positions share them)
    "mults",  # non-zero weights x positions: products of the fully unrolled design
    *(f"mults_w{lo}_{hi}" for lo, hi in BIT_CLASSES),
    "bops",  # mults x weight bits x input bits
    "unique_bops",
    "max_layer_bops",
    "w_bits_mean",
    "w_bits_max",
    "in_bits_mean",
    "res_bits_max",
    "acc_bits_max",
    "reuse_min",
    "reuse_max",
    "mults_per_reuse",  # mults / reuse factor: multipliers working in one cycle
    "table_elements",  # outputs going through a lookup-table activation (gelu, sigmoid, ...)
    "norm_elements",  # outputs of layer norms (each scaled by a per-group 1/sigma)
    "norm_groups",  # layer-norm groups (one mean / variance / 1/sigma each)
    *(f"strategy_{s}" for s in STRATEGIES),
    "io_stream",
    "clock_ns",
    "target_lut",
    "target_dsp",
)


def design_features(
    design: Mapping[str, Any], target: Mapping[str, float] | None = None
) -> dict[str, float]:
    """The feature vector of ``design`` (a dict in :data:`FEATURES` order). ``target`` gives the
    device capacities (``lut``, ``dsp``); without it they are NaN."""
    info = design_info(design)
    ls = info.layers
    f: dict[str, float] = dict.fromkeys(FEATURES, NAN)

    def agg(values: Sequence[float], fn: Any) -> float:
        clean = [v for v in values if not math.isnan(v)]
        return float(fn(clean)) if clean else NAN

    f["n_layers"] = len(ls)
    f["n_dense"] = sum(x.kind == "dense" for x in ls)
    f["n_conv"] = sum(x.kind == "conv" for x in ls)
    f["n_attention"] = sum(x.kind == "attention" for x in ls)
    f["n_layer_norm"] = sum(x.norm == "layer" for x in ls)
    for a in ACTS:
        f[f"n_{a}"] = sum(x.act == a for x in ls)
    f["input_size"], f["output_size"] = info.input_size, info.output_size
    params = sum(x.params for x in ls)
    f["params"], f["nonzero"] = params, sum(x.nonzero for x in ls)
    f["sparsity"] = 1.0 - f["nonzero"] / params if params else 0.0
    f["max_n_in"] = max((x.n_in for x in ls), default=0)
    f["max_n_out"] = max((x.n_out for x in ls), default=0)
    f["unique_mults"] = f["nonzero"]
    f["mults"] = sum(x.nonzero * x.positions for x in ls)
    for lo, hi in BIT_CLASSES:
        f[f"mults_w{lo}_{hi}"] = sum(
            x.nonzero * x.positions for x in ls if not math.isnan(x.w_bits) and lo <= x.w_bits <= hi
        )
    layer_bops = [x.nonzero * x.positions * x.w_bits * x.in_bits for x in ls]
    f["bops"] = agg(layer_bops, sum)
    f["unique_bops"] = agg([x.nonzero * x.w_bits * x.in_bits for x in ls], sum)
    f["max_layer_bops"] = agg(layer_bops, max)
    f["w_bits_mean"] = agg([x.w_bits for x in ls], lambda v: sum(v) / len(v))
    f["w_bits_max"] = agg([x.w_bits for x in ls], max)
    f["in_bits_mean"] = agg([x.in_bits for x in ls], lambda v: sum(v) / len(v))
    f["res_bits_max"] = agg([x.res_bits for x in ls], max)
    f["acc_bits_max"] = agg([x.acc_bits for x in ls], max)
    f["reuse_min"] = agg([x.reuse for x in ls], min)
    f["reuse_max"] = agg([x.reuse for x in ls], max)
    f["mults_per_reuse"] = agg([x.nonzero * x.positions / x.reuse for x in ls], sum)
    f["table_elements"] = sum(x.n_out * x.positions for x in ls if x.act in TABLE_ACTS)
    f["norm_elements"] = sum(x.n_out * x.positions for x in ls if x.norm == "layer")
    f["norm_groups"] = sum(x.positions for x in ls if x.norm == "layer")
    for s in STRATEGIES:
        f[f"strategy_{s}"] = float(info.strategy == s)
    f["io_stream"] = float(info.io_type == "io_stream")
    f["clock_ns"] = info.clock_ns
    if target:
        f["target_lut"] = float(target.get("lut", NAN))
        f["target_dsp"] = float(target.get("dsp", NAN))
    return f


def feature_matrix(
    designs: Sequence[Mapping[str, Any]], target: Mapping[str, float] | None = None
) -> Any:
    """The (n, len(FEATURES)) float matrix of ``designs`` (one feature vector per row)."""
    import numpy as np

    rows = [list(design_features(d, target).values()) for d in designs]
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))
