"""Built-in arch specs of published models (JSON files shipped in ``builtin/``)."""

from __future__ import annotations

from functools import cache
from importlib import resources as ilr

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


def resolve_arch(name_or_path: str) -> ArchSpec:
    """A built-in arch by name, or an arch spec JSON file by path."""
    archs = builtin_archs()
    if name_or_path in archs:
        return archs[name_or_path]
    if name_or_path.endswith(".json"):
        return ArchSpec.load(name_or_path)
    raise HwloopError(
        f"unknown arch {name_or_path!r}: not a built-in ({', '.join(archs)}) nor a .json file"
    )
