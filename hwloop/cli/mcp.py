"""``hwloop mcp``: hwloop's tools over the Model Context Protocol (optional extra)."""

from __future__ import annotations

from pathlib import Path

import click

from hwloop import HwloopError


@click.command("mcp")
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder that relative paths from the agent are read from (and runs start in).",
)
def mcp(workdir: Path) -> None:
    """Serve hwloop over the Model Context Protocol on stdin / stdout (pip install
    'hwloop[mcp]'): tools init, run, status, predict, arch_list, arch_show, targets, cache."""
    try:
        import mcp.server.mcpserver  # noqa: F401
    except ModuleNotFoundError as exc:
        raise HwloopError(
            f"hwloop mcp needs the MCP SDK: pip install 'hwloop[mcp]' ({exc})"
        ) from None
    from hwloop.cli._agent import build_server

    server = build_server(workdir)
    try:
        server.run("stdio")
    finally:
        server._hwloop_runs.stop_all()
