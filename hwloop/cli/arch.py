"""``hwloop arch``: built-in architectures."""

from __future__ import annotations

import click
from rich.table import Table

from hwloop.archs import builtin_archs, resolve_arch
from hwloop.bops import compute_bops
from hwloop.cli._common import console, si


@click.group("arch")
def arch() -> None:
    """Built-in architecture specs."""


@arch.command("list")
def list_archs() -> None:
    """List the built-in arch specs with parameters and 32-bit BOPs (details: arch show)."""
    table = Table(title="built-in archs")
    table.add_column("name", no_wrap=True)
    table.add_column("task")
    table.add_column("parameters", justify="right", no_wrap=True)
    table.add_column("BOPs (32 bit)", justify="right", no_wrap=True)
    table.add_column("digest", no_wrap=True)
    for name, spec in builtin_archs().items():
        rep = compute_bops(spec)
        table.add_row(name, spec.task, f"{rep.parameters:,}", si(rep.total), spec.digest)
    console.print(table)


@arch.command("show")
@click.argument("name")
def show(name: str) -> None:
    """Print the arch spec NAME (a built-in name or a JSON file) as JSON."""
    click.echo(resolve_arch(name).dumps(), nl=False)
