"""Trained models into hwloop (issue 24): an ONNX / QONNX file, or a torch module (a factory you
name plus its safetensors weights), as an arch spec and its weights. Nothing is unpickled: a
``torch.save`` file is refused, naming what to save instead.

Weights live beside their spec: ``model.json`` + ``model.safetensors`` (the state dict of the
spec's torch module). :func:`trained_weights` finds them; ``predict``, ``calibrate`` and
``compress`` use them where they exist and say so.
"""

from __future__ import annotations

import importlib
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from hwloop import HwloopError
from hwloop.archs._onnx import Imported, onnx_to_spec
from hwloop.archs._precision import FixedPoint
from hwloop.archs._spec import ArchSpec

MODEL_SUFFIXES = (".onnx", ".pt2", ".safetensors")
_PICKLE = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


def _is_pickle(path: Path) -> bool:
    """A pickle (protocol 2+: PROTO opcode first, STOP last), or torch.save's zip of one (its
    ``data.pkl``). A safetensors file starts with its header's length, then ``{``: its first
    bytes may look like a PROTO opcode."""
    try:
        data = path.read_bytes()
        if data[8:9] == b"{":  # safetensors
            return False
        if data[:2] in _PICKLE and data.rstrip()[-1:] == b".":
            return True
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                return any(n.endswith("data.pkl") for n in z.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
    return False


def import_model(
    path: str | Path,
    factory: str | None = None,
    input_shape: tuple[int, ...] | None = None,
    name: str = "",
) -> Imported:
    """The spec and weights of a model file (see the module docstring)."""
    p = Path(path)
    if p.is_dir():  # an hls4ml project
        from hwloop.archs._hls4ml_import import hls_to_spec
        from hwloop.archs._hls4ml_project import project_layers

        return hls_to_spec(*project_layers(p), _name(name or p.name), input_shape)
    if not p.is_file():
        raise HwloopError(f"model file {p} does not exist")
    if _is_pickle(p):
        raise HwloopError(
            f"{p} is a pickle (torch.save); hwloop never unpickles a file: save the weights with "
            "safetensors.torch.save_file, or export the model to ONNX"
        )
    name = _name(name or p.stem)
    suffix = p.suffix.lower()
    if suffix == ".onnx":
        if factory:
            raise HwloopError("--factory is for a safetensors file; an ONNX file holds its graph")
        return onnx_to_spec(p, name, input_shape)
    if suffix == ".pt2":
        from hwloop.archs._pt2 import input_shape as exported_shape
        from hwloop.archs._pt2 import load_program

        program = load_program(p)
        shape = input_shape or exported_shape(program)
        if shape is None:
            raise HwloopError(f"{p}: cannot tell the program's input shape; give --input-shape")
        return torch_to_spec(program, name, tuple(shape))
    if suffix == ".safetensors":
        if not factory:
            raise HwloopError(
                f"{p}: safetensors holds weights only; name the module's factory with "
                "--factory package.module:function (it is called with no arguments)"
            )
        return torch_to_spec(_build(factory, p), name, input_shape)
    raise HwloopError(
        f"{p}: unknown model format {p.suffix!r} (hwloop imports .onnx / QONNX files, .pt2 "
        "files of torch.export, .safetensors weights with a --factory and hls4ml project folders)"
    )


def _name(text: str) -> str:
    name = text.replace("-", "_").replace(".", "_")
    return name if name[:1].isalpha() else f"m_{name}"


def _build(factory: str, weights: Path) -> Any:
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    mod, sep, fn = factory.partition(":")
    if not sep or not mod or not fn:
        raise HwloopError(f"--factory {factory!r}: expected package.module:function")
    try:
        make = getattr(importlib.import_module(mod), fn)
    except (ImportError, AttributeError) as exc:
        raise HwloopError(f"--factory {factory!r}: {exc}") from None
    module = make()
    if not isinstance(module, torch.nn.Module):
        raise HwloopError(f"--factory {factory!r} returned {type(module).__name__}, not a module")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise HwloopError(f"{weights}: not a safetensors file ({exc})") from None
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise HwloopError(f"{weights} does not fit the factory's module: {first}") from None
    return module.eval()


def torch_to_spec(
    module: Any, name: str = "", input_shape: tuple[int, ...] | None = None
) -> Imported:
    """A torch module (in eval mode), or a ``torch.export`` program, through ONNX: the same
    mapping as an ONNX file's."""
    import torch

    if input_shape is None:
        input_shape = _guess_shape(module)
    x = torch.zeros(1, *input_shape)
    exported = isinstance(module, torch.export.ExportedProgram)  # a .pt2's program
    try:
        with torch.no_grad():
            (module.module() if exported else module)(x)
    except Exception as exc:  # the model's own code: any error means the shape does not fit
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise HwloopError(
            f"input shape {list(input_shape)} does not fit the model: {first}"
        ) from None
    program = torch.onnx.export(
        module if exported else module.eval(), (x,), dynamo=True, verbose=False
    )
    if program is None:  # pragma: no cover - the dynamo exporter always returns one
        raise HwloopError("torch's ONNX exporter returned no program")
    return onnx_to_spec(program.model_proto, name, tuple(input_shape))


def _guess_shape(module: Any) -> tuple[int, ...]:
    import torch

    first = next(
        (m for m in module.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))), None
    )
    if isinstance(first, torch.nn.Linear):
        return (int(first.in_features),)
    raise HwloopError("cannot tell the model's input shape; give --input-shape")


def save_imported(imp: Imported, spec_path: Path) -> tuple[Path, Path]:
    """``spec_path`` and the weights beside it (``.safetensors``), both written atomically."""
    from safetensors.numpy import save_file

    from hwloop.runtime import atomic_path

    weights = spec_path.with_suffix(".safetensors")
    bits = imp.input_precision
    meta = {
        "reuse_factors": json.dumps(imp.reuse_factors),
        "strategy": imp.strategy or "",
        "input_precision": json.dumps(bits.to_json()) if bits is not None else "",
    }
    with atomic_path(weights) as tmp:
        tensors = {k: np.ascontiguousarray(v) for k, v in imp.weights.items()}
        save_file(tensors, str(tmp), metadata=meta)
    with atomic_path(spec_path) as tmp:
        tmp.write_text(imp.spec.dumps())
    return spec_path, weights


def trained_weights(arch: str) -> Path | None:
    """The weights saved beside an arch spec file (``X.json`` -> ``X.safetensors``), if any."""
    if not arch.endswith(".json"):
        return None
    path = Path(arch).with_suffix(".safetensors")
    return path if path.is_file() else None


def load_trained(spec: ArchSpec, weights: Path) -> Any:
    """The spec's torch module with the weights saved beside it (safetensors only)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from hwloop.archs._torch import build_model

    model = build_model(spec)
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise HwloopError(f"{weights}: not a safetensors file ({exc})") from None
    missing, unexpected = model.load_state_dict(state, strict=False)
    # batch norms of the spec keep their defaults (imports fold them); anything else must match
    missing = [k for k in missing if ".0." in k]
    if missing or unexpected:
        raise HwloopError(
            f"{weights} does not fit arch {spec.name!r}: missing {missing[:3]}, unexpected "
            f"{unexpected[:3]}"
        )
    return model.eval()


def hls4ml_settings(weights: Path) -> tuple[dict[str, int], str | None, FixedPoint | None]:
    """What an imported model said of its hardware, kept in its safetensors header: the reuse
    factors and strategy of an hls4ml model, the input format of a QONNX / hls4ml one (empty
    for other imports)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(weights), framework="numpy") as f:
            meta = f.metadata() or {}
        reuse = json.loads(meta.get("reuse_factors") or "{}")
        bits = meta.get("input_precision") or ""
        fmt = FixedPoint.from_json(json.loads(bits), "input_precision") if bits else None
    except (SafetensorError, OSError, ValueError, HwloopError):
        return {}, None, None
    if not isinstance(reuse, dict):
        reuse = {}
    return {str(k): int(v) for k, v in reuse.items()}, meta.get("strategy") or None, fmt
