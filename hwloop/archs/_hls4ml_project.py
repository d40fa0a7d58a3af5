"""An hls4ml project folder read as hls4ml's layers (see :mod:`hwloop.archs._hls4ml_import`).

What hls4ml generated is what was synthesised, so the firmware is read, not the request: the
layer calls of ``firmware/<project>.cpp`` (one ``nnet::<function><in_t, out_t, config>(...)``
line per layer, named in its trailing comment), each config's sizes, reuse factor and strategy
from ``firmware/parameters.h``, the fixed-point types from ``firmware/defines.h`` and the weights
from ``firmware/weights/<name>.txt``. ``hls4ml_config.yml`` must be there (it names the project
and gives the input shape); python object tags in it are skipped, never constructed.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from hwloop import HwloopError
from hwloop.archs._hls4ml_import import HlsLayer, _strategy
from hwloop.archs._precision import FixedPoint

_CALL = re.compile(r"nnet::(\w+)<([^()]*)>\(([^)]*)\);\s*//\s*(\S+)")
_STRUCT = re.compile(r"struct\s+(\w+)\s*:\s*nnet::\w+\s*\{(.*?)\n\};", re.S)
# nnet::Pool_Op too: a pool's Max / Average (without it every pool was read as a max pool)
_CONST = re.compile(
    r"static const (?:unsigned|int|bool|float|double|nnet::Pool_Op)\s+(\w+)\s*=\s*([^;]+);"
)
_TYPEDEF = re.compile(r"typedef\s+(.+?)\s+(\w+);")
_SIGNATURE = re.compile(r"input_t\s+\w+\[([\d*\s]+)\]")
MAX_WEIGHTS = 50_000_000
_KINDS = {
    "dense": "dense",
    "conv_2d_cl": "conv2d",
    "conv_2d": "conv2d",
    "conv_1d_cl": "conv1d",
    "conv_1d": "conv1d",
    "pointwise_conv_1d_cl": "conv1d",
    "transpose": "transpose",
    "normalize": "batchnorm",
    "pooling2d_cl": "pool",
    "pooling2d": "pool",
    "pooling1d_cl": "pool1d",
}
_ACTS = ("relu", "leaky_relu", "sigmoid", "tanh", "linear", "softmax", "elu", "selu", "softplus")


def _yaml(path: Path) -> dict[str, Any]:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def skip(loader: Any, suffix: str, node: Any) -> None:
        return None

    Loader.add_multi_constructor("tag:yaml.org,2002:python/", skip)
    Loader.add_multi_constructor("!", skip)
    try:
        doc = yaml.load(path.read_text(), Loader=Loader)  # noqa: S506 - SafeLoader that skips
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise HwloopError(f"{path}: not a readable hls4ml config ({type(exc).__name__})") from None
    if not isinstance(doc, dict):
        raise HwloopError(f"{path}: not an hls4ml config (no mapping)")
    return doc


def _value(text: str) -> Any:
    text = text.strip()
    if re.fullmatch(r"[\d\s*]+", text):  # hls4ml writes sizes as products: 3*3*2
        return math.prod(int(x) for x in text.split("*"))
    if re.fullmatch(r"-?\d+(\.\d*)?([eE][-+]?\d+)?", text):
        return float(text)
    return text.removeprefix("nnet::")


def _types(defines: str) -> dict[str, FixedPoint]:
    out = {}
    for spelled, name in _TYPEDEF.findall(defines):
        try:
            out[name] = FixedPoint.parse_hls(spelled)
        except HwloopError:
            continue  # ap_uint, nnet structs: not a layer's number format
    return out


def _read_weights(path: Path, size: int | None) -> np.ndarray:
    try:
        if path.stat().st_size > 40 * MAX_WEIGHTS:
            raise HwloopError(f"{path}: over {MAX_WEIGHTS:,} weights")
        values = np.array(
            [float(v) for v in path.read_text().replace("\n", ",").split(",") if v.strip()]
        )
    except (OSError, ValueError) as exc:
        raise HwloopError(f"{path}: not an hls4ml weight file ({type(exc).__name__})") from None
    if size is not None and values.size != size:
        raise HwloopError(f"{path}: {values.size} values, the layer has {size}")
    return values


def project_layers(folder: Path) -> tuple[tuple[int, ...], FixedPoint | None, list[HlsLayer]]:
    """(input shape as hls4ml has it, input precision, layers) of an hls4ml project folder."""
    cfg_path = folder / "hls4ml_config.yml"
    if not cfg_path.is_file():
        raise HwloopError(f"{folder}: an hls4ml project needs its hls4ml_config.yml; it has none")
    cfg = _yaml(cfg_path)
    project = str(cfg.get("ProjectName") or "myproject")
    fw = folder / "firmware"
    try:
        cpp = (fw / f"{project}.cpp").read_text()
        params = (fw / "parameters.h").read_text()
        defines = (fw / "defines.h").read_text()
    except OSError as exc:
        raise HwloopError(
            f"{folder}: not a written hls4ml project ({exc.filename} is missing; run "
            "hls_model.write() first)"
        ) from None
    types = _types(defines)
    configs = {
        name: (
            {k: _value(v) for k, v in _CONST.findall(body)},
            dict((alias, real) for real, alias in _TYPEDEF.findall(body)),
        )
        for name, body in _STRUCT.findall(params)
    }
    shapes = cfg.get("InputShapes")
    if isinstance(shapes, dict) and shapes:
        shape = tuple(int(s) for s in next(iter(shapes.values())))
    elif m := _SIGNATURE.search(cpp):
        shape = tuple(int(s) for s in m.group(1).split("*"))
    else:
        raise HwloopError(f"{cfg_path}: no InputShapes, and the top function has no input_t x[]")
    layers = []
    for fn, targs, args, name in _CALL.findall(cpp):
        if fn == "load_weights_from_txt":
            continue
        where = f"hls4ml layer {name} (nnet::{fn})"
        kind = _KINDS.get(fn) or ("act" if fn in _ACTS else None)
        if kind is None:
            raise HwloopError(f"{where} has no hwloop layer")
        tparams = [t.strip() for t in targs.split(",")]
        consts, typedefs = configs.get(tparams[-1], ({}, {}))
        argv = [a.strip() for a in args.split(",")]
        attrs: dict[str, Any] = dict(consts)
        weights = {}
        if kind == "act":
            attrs["activation"] = fn
            if fn == "leaky_relu" and len(argv) == 3:
                attrs["activ_param"] = float(_value(argv[1]))
        elif kind in ("pool", "pool1d"):
            attrs["pool_op"] = str(consts.get("pool_op", "Max"))
        elif kind == "transpose":
            pass
        else:
            names = ("weight", "bias") if kind != "batchnorm" else ("scale", "bias")
            for key, arg in zip(names, argv[2:4], strict=False):
                weights[key] = _read_weights(fw / "weights" / f"{arg}.txt", None)
        layers.append(
            HlsLayer(
                name,
                kind,
                attrs,
                weights,
                types.get(typedefs.get("weight_t", "")),
                types.get(tparams[1]) if len(tparams) > 2 else None,
                int(consts["reuse_factor"]) if "reuse_factor" in consts else None,
                _strategy(consts.get("strategy"))
                if kind in ("dense", "conv1d", "conv2d")
                else None,
            )
        )
    if not layers:
        raise HwloopError(f"{fw / (project + '.cpp')}: no hls4ml layer calls in it")
    return shape, types.get("input_t"), layers
