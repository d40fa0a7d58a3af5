"""Shared CLI helpers."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from hwloop import HwloopError

# piped output is not squeezed to 80 columns: tables stay whole in files and logs
console = Console(width=None if sys.stdout.isatty() else 200)  # piped: wide tables uncut
err_console = Console(stderr=True)


def print_json(doc: Any) -> None:
    print(json.dumps(doc, indent=2))


def si(value: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.2f}{unit}"
    return f"{value:.0f}"


# the data options every training command shares (search, tune, compress)
limit_option = click.option(
    "--limit",
    type=int,
    default=8000,
    show_default=True,
    help="Number of samples used (Bragg peaks: 0 = all 69,347; jets: 0 = the shipped sample).",
)


def _nearest(path: Path) -> Path:
    """``path`` or its closest existing parent."""
    for p in (path, *path.parents):
        if p.exists():
            return p
    return Path.cwd()


def _can_write(at: Path) -> bool:
    try:
        fd, tmp = tempfile.mkstemp(dir=at, prefix=".hwloop-probe-")
    except OSError:
        return False
    os.close(fd)
    os.unlink(tmp)
    return True


def writable_dir(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Option callback: a folder the command will write into is checked before any work (a
    file in its place, or a file among its parents, made the command fail at the end)."""
    if value is None:
        return value
    name = f"--{param.name}" if param.name else "the output folder"
    at = _nearest(value)
    if not at.is_dir():
        raise HwloopError(f"{name} {value}: {at} is a file, not a folder")
    if not _can_write(at):
        raise HwloopError(f"{name} {value}: cannot write in {at}")
    return value


def writable_file(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Option callback: an output file's folder is checked before any work ("-" is stdout)."""
    if value is None or str(value) == "-":
        return value
    name = f"--{param.name}" if param.name else "the output file"
    if value.is_dir():
        raise HwloopError(f"{name} {value} is a folder, not a file")
    at = _nearest(value.parent)
    if not at.is_dir():
        raise HwloopError(f"{name} {value}: {at} is a file, not a folder")
    if not _can_write(at):
        raise HwloopError(f"{name} {value}: cannot write in {at}")
    return value


def worker_count(ctx: click.Context, param: click.Parameter, value: int) -> int:
    """Option callback for --jobs: 1 or more, or -1 for every core (joblib's 0 is an error)."""
    if value == 0 or value < -1:
        raise HwloopError(f"--jobs must be 1 or more (or -1: every core), got {value}")
    return value


def positive_seconds(ctx: click.Context, param: click.Parameter, value: float) -> float:
    """Option callback for time limits: a limit of 0 or less would store a permanent timeout
    (or mark every design infeasible) without trying anything."""
    if not value > 0 or value == float("inf"):
        raise HwloopError(f"--{(param.name or 'timeout').replace('_', '-')} must be a positive "
                          f"number of seconds, got {value}")  # fmt: skip
    return value


def jobs_option(default: int, help: str) -> Any:
    """The --jobs / -j option of the commands that run workers (checked by :func:`worker_count`)."""
    return click.option(
        "--jobs", "-j", type=int, default=default, show_default=True, callback=worker_count,
        help=help,
    )  # fmt: skip


def config_option(config: type, field_name: str, *decls: str, help: str, **extra: Any) -> Any:
    """A click option for ``config``'s dataclass field ``field_name`` (``--field-name``), whose
    default, and type unless ``extra`` gives one, come from the dataclass: defaults are set once,
    on the config, and the CLI cannot drift from the Python API."""
    import dataclasses

    fields = {f.name: f for f in dataclasses.fields(config)}
    f = fields[field_name]
    if f.default is not dataclasses.MISSING:
        default = f.default
    elif f.default_factory is not dataclasses.MISSING:
        default = f.default_factory()
    else:
        raise TypeError(f"{config.__name__}.{field_name} has no default")
    kw: dict[str, Any] = {"default": default, "help": help}
    if default is not None:
        kw["show_default"] = True
    if isinstance(default, bool):
        kw["is_flag"] = True
    elif default is not None and "type" not in extra:
        kw["type"] = type(default)
    kw.update(extra)
    return click.option("--" + field_name.replace("_", "-"), *decls, **kw)
