"""Built-in arch specs of published models (JSON files shipped in ``builtin/``)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources as ilr
from pathlib import Path

from hwloop import HwloopError
from hwloop.archs._spec import ArchSpec


@cache
def builtin_archs() -> dict[str, ArchSpec]:
    out: dict[str, ArchSpec] = {}
    folder = ilr.files("hwloop.archs").joinpath("builtin")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            spec = ArchSpec.loads(entry.read_text("utf-8"))
            out[spec.name] = spec
    return out


def _front_member(path: Path, trial: str | None) -> ArchSpec:
    """A member of a search's front, ``OUT/pareto.json:TRIAL``."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise HwloopError(f"cannot read front {path}: {exc}") from None
    members = doc.get("front") if isinstance(doc, dict) else None
    if not isinstance(members, list):
        raise HwloopError(f"{path} is not a search's pareto.json (no 'front' list)")
    trials = ", ".join(str(m.get("trial")) for m in members if isinstance(m, dict))
    if trial is None:
        raise HwloopError(
            f"{path} is a search's front: name one member as {path}:TRIAL (trials: {trials})"
        )
    for m in members:
        if isinstance(m, dict) and m.get("trial") == int(trial) and m.get("arch"):
            spec = ArchSpec.from_json(m["arch"])
            return spec.with_name(spec.name or f"trial{trial}")
    raise HwloopError(f"{path} has no front member of trial {trial} (front: {trials})")


def resolve_arch(name_or_path: str) -> ArchSpec:
    """A built-in arch by name, an arch spec JSON file by path, or ``OUT/pareto.json:TRIAL``,
    a member of a search's front: every command reads an arch through this one resolver."""
    archs = builtin_archs()
    if name_or_path in archs:
        return archs[name_or_path]
    path_text, _, trial = name_or_path.rpartition(":")
    if path_text.endswith(".json") and trial.isdigit():
        return _front_member(Path(path_text), trial)
    if name_or_path.endswith(".json"):
        try:
            doc = json.loads(Path(name_or_path).read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            doc = None  # ArchSpec.load says what is wrong with it
        if isinstance(doc, dict) and "front" in doc and "layers" not in doc:
            return _front_member(Path(name_or_path), None)
        return ArchSpec.load(name_or_path)
    raise HwloopError(
        f"unknown arch {name_or_path!r}: not a built-in ({', '.join(archs)}) nor a .json file"
    )
