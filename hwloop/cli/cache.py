"""``hwloop cache``: the synthesis cache (import, ls, show, stats, export, pieces)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.table import Table

from hwloop import HwloopError
from hwloop.cli._common import console, writable_file
from hwloop.runtime import progress_bar
from synth_cache import EXPORT_FORMATS as FORMATS
from synth_cache import SqlCache, export_rows, import_paths, write_export

_cache_option = click.option(
    "--cache",
    "cache_url",
    default=None,
    metavar="URL",
    help="Cache database URL (default: $HWLOOP_SYNTH_CACHE or "
    "sqlite:///~/.cache/hwloop/synth/cache.db); postgresql://... shares one cache.",
)


@click.group("cache")
def cache() -> None:
    """The synthesis cache: every real synthesis run, never lost."""


@cache.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@_cache_option
def import_(paths: tuple[Path, ...], cache_url: str | None) -> None:
    """Import published results: hls4ml project directories, *_csynth.xml/.rpt, Vivado
    utilization reports, hls4ml synthesis baselines, wa-hls4ml JSON record lists and CSV
    tables, N-TORC tables."""
    store = SqlCache(cache_url)
    with progress_bar(None, "importing runs") as advance:
        summary = import_paths(store, paths, on_run=advance)
    console.print(
        f"{summary.files} files: {summary.added} runs added, {summary.present} already "
        f"in the cache, {summary.failed_runs} of them failed runs (kept as failed), "
        f"{len(summary.skipped)} files skipped"
    )
    for line in summary.skipped:
        console.print(f"  skipped {line}")
    console.print(f"cache: {store.url}")
    if summary.skipped:  # the rest is imported; the exit code tells a script something was not
        raise HwloopError(f"{len(summary.skipped)} malformed files skipped (listed above)")


@cache.command("ls")
@_cache_option
@click.option("--flow", default=None, help="Only this flow (open, vivado).")
@click.option("--status", default=None, help="Only this status (ok, failed, timeout, unsupported).")
@click.option("--limit", "-n", type=int, default=50, show_default=True, help="Rows at most.")
def ls(cache_url: str | None, flow: str | None, status: str | None, limit: int) -> None:
    """List runs (one line per kind of result), oldest first; details: cache show KEY."""
    store = SqlCache(cache_url)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    numbers = ("LUT", "FF", "DSP", "BRAM18", "latency")
    for col in ("key", "tool", "version", "kind", "status", *numbers):
        table.add_column(col, no_wrap=True, justify="right" if col in numbers else "left")
    if limit < 1:
        raise HwloopError(f"-n must be 1 or more rows, got {limit}")
    shown = 0
    for entry in store.entries(flow=flow, status=status):
        for r in entry.results:
            if shown >= limit:
                break
            shown += 1
            table.add_row(
                entry.key[:12],
                r.tool,
                r.tool_version,
                r.kind,
                r.status,
                _n(r.lut),
                _n(r.ff),
                _n(r.dsp),
                _n(r.bram_18k),
                _n(r.latency_max),
            )
        if shown >= limit:
            break
    console.print(table)


def _n(v: float | int | None) -> str:
    if v is None:
        return "-"
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"


@cache.command("show")
@click.argument("key")
@_cache_option
def show(key: str, cache_url: str | None) -> None:
    """Print one run (design and results) as JSON; KEY may be a unique prefix."""
    store = SqlCache(cache_url)
    matches = store.find(key)
    if len(matches) != 1:
        raise HwloopError(
            f"no run with key {key!r}"
            if not matches
            else f"key prefix {key!r} is ambiguous ({len(matches)} runs)"
        )
    entry = store.get(matches[0])
    assert entry is not None
    doc = {
        "key": entry.key,
        "source": entry.source,
        "created_at": entry.created_at,
        "design": entry.design,
        "results": [r.to_json() for r in entry.results],
    }
    click.echo(json.dumps(doc, indent=2))


@cache.command("stats")
@_cache_option
def stats(cache_url: str | None) -> None:
    """Runs per flow, tool, kind and status."""
    store = SqlCache(cache_url)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title=f"cache {store.url}")
    for col in ("flow", "tool", "kind", "status", "runs", "mean s"):
        table.add_column(col, justify="right" if col in ("runs", "mean s") else "left")
    for row in store.stats():
        mean = row["mean_wall_s"]
        table.add_row(
            row["flow"],
            row["tool"],
            row["kind"],
            row["status"],
            str(row["runs"]),
            "-" if mean is None else f"{mean:.1f}",
        )
    console.print(table)


@cache.command("export")
@_cache_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    required=True,
    callback=writable_file,
    help="File to write (atomically); - writes to stdout.",
)
@click.option("--flow", default=None, help="Only this flow.")
def export(cache_url: str | None, fmt: str, output: Path, flow: str | None) -> None:
    """Write one row per run and kind (key, flow, tool, kind, status, resources, latency, ...)."""
    rows = export_rows(SqlCache(cache_url), flow=flow)
    if str(output) == "-":
        with tempfile.TemporaryDirectory() as tmp:
            data = write_export(rows, fmt, Path(tmp) / f"export.{fmt}").read_bytes()
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    write_export(rows, fmt, output)
    console.print(f"wrote {len(rows)} rows to {output}")


@cache.command("pieces")
@_cache_option
@click.option("--flow", default="open", show_default=True, help="Pieces of this flow.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    callback=writable_file,
    help="Write every piece to this file (atomically); without it, a summary per kind.",
)
def pieces(cache_url: str | None, flow: str, fmt: str, output: Path | None) -> None:
    """The unique pieces the open flow synthesised (one per Verilog digest and tool version):
    descriptor (kind, inputs, outputs, formats, non-zeros, distinct weights, activation, da4ml
    cost) and real numbers (LUT, FF, DSP, BRAM, carry, stages, longest path)."""
    store = SqlCache(cache_url)
    store.rebuild_pieces()  # runs stored before the pieces table existed
    rows = store.pieces(flow)
    if output is not None:
        write_export(rows, fmt, output, pieces=True)
        console.print(f"wrote {len(rows)} pieces to {output}")
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title=f"{len(rows)} unique {flow} pieces")
    for col in ("kind", "pieces", "median LUT", "max LUT", "max inputs", "stages"):
        table.add_column(col, justify="left" if col == "kind" else "right")
    kinds: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        kinds.setdefault(r["kind"] or "?", []).append(r)
    for kind, rs in sorted(kinds.items()):
        luts = sorted(float(r["lut"] or 0) for r in rs)
        stages = sorted({int(r["stages"] or 0) for r in rs})
        table.add_row(
            kind,
            str(len(rs)),
            f"{luts[len(luts) // 2]:,.0f}",
            f"{luts[-1]:,.0f}",
            f"{max(float(r['inputs'] or 0) for r in rs):,.0f}",
            f"{stages[0]}-{stages[-1]}",
        )
    console.print(table)
