"""``hwloop targets``: list FPGA targets."""

from __future__ import annotations

import click
from rich import box
from rich.table import Table

from fpga_targets import list_targets
from hwloop.cli._common import console, print_json


@click.command("targets")
@click.option("--json", "as_json", is_flag=True, help="Print the targets as JSON.")
@click.option(
    "--file",
    "-f",
    "files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Extra targets file (TOML or JSON with a 'targets' table); repeatable.",
)
def targets(as_json: bool, files: tuple[str, ...]) -> None:
    """List the FPGA targets: built-in, files in $HWLOOP_TARGETS, and --file files."""
    found = list_targets(tuple(files))
    if as_json:
        print_json({name: t.as_dict() for name, t in found.items()})
        return
    table = Table(title="FPGA targets (clock period in ns)", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("name", "part", "ns", "LUT", "FF", "DSP", "BRAM18", "URAM"):
        table.add_column(col, justify="left" if col in ("name", "part") else "right", no_wrap=True)
    for name, t in found.items():
        r = t.resources
        table.add_row(
            name,
            t.part,
            f"{t.clock_period_ns:g}",
            f"{r.lut:,}",
            f"{r.ff:,}",
            f"{r.dsp:,}",
            f"{r.bram_18k:,}",
            f"{r.uram:,}",
        )
    console.print(table)
