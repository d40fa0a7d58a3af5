"""Loading targets from the bundled data and from user files (TOML or JSON)."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources as ilr
from pathlib import Path
from typing import Any

from fpga_targets._model import Resources, Target, TargetError

_ENV_VAR = "HWLOOP_TARGETS"
_TARGET_KEYS = {"part", "family", "clock_period_ns", "resources", "description"}


def parse_targets(document: Mapping[str, Any], source: str = "<data>") -> dict[str, Target]:
    """Turn ``{"targets": {name: {...}}}`` into typed targets; TargetError names any fault."""
    table = document.get("targets")
    if not isinstance(table, Mapping) or not table:
        raise TargetError(f"{source}: expected a non-empty 'targets' table")
    out: dict[str, Target] = {}
    for name, entry in table.items():
        if not isinstance(entry, Mapping):
            raise TargetError(f"{source}: target {name!r} must be a table")
        unknown = set(entry) - _TARGET_KEYS
        if unknown:
            raise TargetError(f"{source}: target {name!r} has unknown keys {sorted(unknown)}")
        for key in ("part", "family", "clock_period_ns", "resources"):
            if key not in entry:
                raise TargetError(f"{source}: target {name!r} is missing {key!r}")
        res = entry["resources"]
        if not isinstance(res, Mapping):
            raise TargetError(f"{source}: target {name!r}: 'resources' must be a table")
        try:
            resources = Resources(**{k: res[k] for k in res})
        except TypeError as exc:
            raise TargetError(f"{source}: target {name!r}: bad resources ({exc})") from None
        clock = entry["clock_period_ns"]
        if isinstance(clock, bool) or not isinstance(clock, int | float):
            raise TargetError(f"{source}: target {name!r}: clock_period_ns must be a number")
        out[str(name)] = Target(
            name=str(name),
            part=str(entry["part"]),
            family=str(entry["family"]),
            clock_period_ns=float(clock),
            resources=resources,
            description=str(entry.get("description", "")),
        )
    return out


def load_targets_file(path: str | os.PathLike[str]) -> dict[str, Target]:
    """Read user targets from a ``.toml`` or ``.json`` file with a top-level ``targets`` table."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise TargetError(f"cannot read targets file {p}: {exc.strerror}") from None
    try:
        if p.suffix.lower() == ".json":
            document = json.loads(raw)
        else:
            document = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise TargetError(f"targets file {p} is not valid {p.suffix or 'TOML'}: {exc}") from None
    if not isinstance(document, Mapping):
        raise TargetError(f"targets file {p}: top level must be a table")
    return parse_targets(document, source=str(p))


@cache
def builtin_targets() -> dict[str, Target]:
    text = ilr.files("fpga_targets").joinpath("data/builtin.toml").read_text("utf-8")
    return parse_targets(tomllib.loads(text), source="fpga_targets/data/builtin.toml")


def list_targets(extra_files: tuple[str, ...] = ()) -> dict[str, Target]:
    """Built-in targets, then those in ``$HWLOOP_TARGETS`` (os.pathsep-separated), then extras.

    Later files override earlier definitions of the same name.
    """
    out = dict(builtin_targets())
    env_files = tuple(f for f in os.environ.get(_ENV_VAR, "").split(os.pathsep) if f)
    for f in env_files + tuple(extra_files):
        out.update(load_targets_file(f))
    return out


def get_target(name: str, extra_files: tuple[str, ...] = ()) -> Target:
    targets = list_targets(extra_files)
    try:
        return targets[name]
    except KeyError:
        raise TargetError(
            f"unknown target {name!r}; known targets: {', '.join(sorted(targets))}"
        ) from None
