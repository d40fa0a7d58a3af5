"""``hwloop bops``: bit operations of an architecture."""

from __future__ import annotations

import click
from rich.table import Table

from hwloop.archs import resolve_arch
from hwloop.bops import compute_bops
from hwloop.cli._common import console, print_json, si


@click.command("bops")
@click.argument("arch")
@click.option(
    "--bits",
    "-b",
    type=int,
    default=32,
    show_default=True,
    help="Bits of weights and activations where the spec gives no per-layer precision.",
)
@click.option(
    "--sparsity",
    "-s",
    type=float,
    default=0.0,
    show_default=True,
    help="Fraction of zero weights, in [0, 1).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print {total, parameters, layers: [...]} as JSON."
)
def bops(arch: str, bits: int, sparsity: float, as_json: bool) -> None:
    """Bit operations (BOPs) of ARCH, an arch spec JSON file or a built-in arch name.

    The convention is in docs/bops.md.
    """
    spec = resolve_arch(arch)
    rep = compute_bops(spec, bits=bits, sparsity=sparsity)
    if as_json:
        doc = rep.to_json()
        doc.update({"arch": spec.name, "bits": bits, "sparsity": sparsity})
        print_json(doc)
        return
    table = Table(title=f"BOPs of {spec.name or arch} ({bits} bit, sparsity {sparsity:g})")
    for col in ("layer", "op", "b_w", "b_a", "parameters", "BOPs"):
        table.add_column(col, justify="left" if col in ("layer", "op") else "right")
    for layer in rep.layers:
        table.add_row(
            layer.name,
            layer.op,
            str(layer.weight_bits),
            str(layer.act_bits),
            f"{layer.parameters:,}",
            si(layer.bops),
        )
    table.add_row("total", "", "", "", f"{rep.parameters:,}", si(rep.total), style="bold")
    console.print(table)
