"""``hwloop arch``: built-in architectures."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from hwloop import HwloopError
from hwloop.archs import builtin_archs, resolve_arch
from hwloop.bops import compute_bops
from hwloop.cli._common import console, si, writable_file


@click.group("arch")
def arch() -> None:
    """Architecture specs: the built-ins, and trained models imported as specs."""


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


def _shape(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    try:
        shape = tuple(int(x) for x in text.replace("x", ",").split(",") if x.strip())
    except ValueError:
        raise HwloopError(f"--input-shape: integers like 16 or 1,11,11, got {text!r}") from None
    if not shape or any(s < 1 for s in shape):
        raise HwloopError(f"--input-shape: positive integers like 16 or 1,11,11, got {text!r}")
    return shape


@arch.command("import")  # the function's name: `import` is a keyword
@click.argument("model", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    callback=writable_file,
    help="The arch spec to write (.json); the weights go beside it (.safetensors).",
)
@click.option(
    "--factory",
    default=None,
    metavar="package.module:function",
    help="For a .safetensors MODEL: the function (no arguments) that builds its torch module.",
)
@click.option("--input-shape", default=None, help="Input shape without batch, e.g. 16 or 1,11,11.")
@click.option("--name", default="", help="Arch name [default: the model file's stem].")
def import_(
    model: Path, out: Path, factory: str | None, input_shape: str | None, name: str
) -> None:
    """Import a trained model (an .onnx / QONNX file, .safetensors weights with --factory, or an
    hls4ml project folder) as an arch spec plus its weights, which predict, calibrate and
    compress then use (an hls4ml model's reuse factors and strategy, and declared precisions,
    go with them). An op hwloop cannot express is refused naming the node; nothing is written
    then."""
    from hwloop.archs import import_model, save_imported

    if out.suffix != ".json":
        raise HwloopError(f"--out {out}: an arch spec is a .json file")
    imp = import_model(model, factory, _shape(input_shape), name or out.stem)
    spec_path, weights = save_imported(imp, out)
    rep = compute_bops(imp.spec)
    ops = ", ".join(layer.op for layer in imp.spec.layers)
    console.print(
        f"wrote {spec_path} ({len(imp.spec.layers)} layers: {ops}; {rep.parameters:,} "
        f"parameters) and {weights}"
    )
