"""`hwloop mcp`: every tool through the MCP SDK's own in-process client, a real background run
followed to its end, and what an agent sends staying data."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("mcp")
from mcp import Client  # noqa: E402

from hwloop.cli._agent import build_server  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TOOLS = {"init", "run", "status", "predict", "arch_list", "arch_show", "targets", "cache"}


async def call(client: Client, tool: str, args: dict[str, Any] | None = None) -> Any:
    result = await client.call_tool(tool, args or {})
    if result.is_error:
        return ("error", result.content[0].text)  # type: ignore[union-attr]
    if result.structured_content is not None:
        doc = result.structured_content
        return doc.get("result", doc) if set(doc) == {"result"} else doc
    return json.loads(result.content[0].text)  # type: ignore[union-attr]


def make_data(folder: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 6)).astype("float32")
    np.savez(folder / "d.npz", x=x, y=(x[:, :2].sum(1) > 0).astype(int))


def test_tools_answer_and_refuse_in_one_line(tmp_path: Path) -> None:
    make_data(tmp_path)

    async def go() -> None:
        async with Client(build_server(tmp_path)) as client:
            listed = await client.list_tools()
            assert {t.name for t in listed.tools} == TOOLS
            assert all(t.description for t in listed.tools)
            targets = await call(client, "targets")
            assert {"vu13p", "xczu49dr", "xczu9eg"} <= {t["name"] for t in targets}
            archs = await call(client, "arch_list")
            assert "nac-tiny" in {a["name"] for a in archs}
            spec = await call(client, "arch_show", {"name": "nac-tiny"})
            assert spec["name"] == "nac-tiny" and spec["layers"]
            err = await call(client, "arch_show", {"name": "nope"})
            assert err[0] == "error" and "no built-in arch 'nope'" in err[1]
            pred = await call(client, "predict", {"arch": "nac-tiny", "bits": 4})
            assert pred["lut"]["median"] > 0 and pred["target"] == "vu13p"
            err = await call(client, "predict", {"arch": "nac-tiny", "target": "zz"})
            assert err[0] == "error" and "unknown target 'zz'" in err[1]
            doc = await call(client, "init", {"data": "d.npz", "experiment": "e.toml"})
            assert doc["kind"] == "classification" and doc["space"] == "mlp"
            assert (tmp_path / "e.toml").read_text() == doc["experiment"]
            again = await call(client, "init", {"data": "d.npz", "experiment": "e.toml"})
            assert again[0] == "error" and "exists" in again[1]
            empty = await call(client, "cache", {"url": f"sqlite:///{tmp_path}/none.db"})
            assert empty["runs"] == [] and not (tmp_path / "none.db").exists()  # read only
            err = await call(client, "status", {"handle": "run-x"})
            assert err[0] == "error" and "no run with handle" in err[1]

    asyncio.run(go())


def test_what_an_agent_sends_stays_data(tmp_path: Path) -> None:
    make_data(tmp_path)
    (tmp_path / "e.toml").write_text(
        'name = "e"\n[data]\npath = "d.npz"\n[task]\nkind = "classification"\nclasses = 2\n'
        '[space]\nkind = "mlp"\n'
    )
    marker = tmp_path / "pwned"

    async def go() -> None:
        async with Client(build_server(tmp_path)) as client:
            for args in (
                {"experiment": f"$(touch {marker}).toml"},
                {"experiment": "--help"},
                {"experiment": "e.toml", "sets": [f"name='x; touch {marker}'"]},
                {"experiment": "e.toml", "sets": [f"data.path='`touch {marker}`.npz'"]},
                {"experiment": "e.toml", "sets": ["search.trials=__import__('os')"]},
            ):
                err = await call(client, "run", args)
                assert err[0] == "error", args
            assert not marker.exists()

    asyncio.run(go())


@pytest.mark.slow
def test_a_background_run_is_followed_to_its_front(tmp_path: Path) -> None:
    make_data(tmp_path)
    (tmp_path / "e.toml").write_text(
        'name = "e"\n[data]\npath = "d.npz"\n[task]\nkind = "classification"\nclasses = 2\n'
        '[space]\nkind = "mlp"\nunits = [4, 8]\nmax_hidden = 1\n'
    )
    sets = [
        "search.trials=2",
        "search.epochs=1",
        "search.population=2",
        "local.iterations=0",
        "output.synthesize=0",
    ]

    async def go() -> dict[str, Any]:
        async with Client(build_server(tmp_path)) as client:
            started = await call(client, "run", {"experiment": "e.toml", "sets": sets})
            assert started["handle"].startswith("run-")
            assert Path(started["out"]).is_absolute()
            deadline = time.time() + 600
            while True:
                st = await call(client, "status", {"handle": started["handle"]})
                if st["state"] != "running" or time.time() > deadline:
                    return st
                await asyncio.sleep(2)

    st = asyncio.run(go())
    assert st["state"] == "finished", st
    assert st["stage"] == "done" and st["trials"]["complete"] == 2
    assert st["front"] and st["front"][0]["lut"] > 0
    assert (tmp_path / "hwloop-run" / "summary.md").is_file()
