"""Shared CLI helpers."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.console import Console

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
