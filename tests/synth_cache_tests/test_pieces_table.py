"""The cache's pieces table: every unique synthesised piece of the real large open-flow runs
(surrogates/data/calibration/open-large.parquet) as queryable rows, one per Verilog digest."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from hwloop.cli.main import main
from synth_cache import SqlCache, import_paths

LARGE = Path(__file__).resolve().parents[2] / "surrogates/data/calibration/open-large.parquet"


def test_pieces_are_rows_keyed_by_digest(tmp_path: Path) -> None:
    cache = SqlCache(f"sqlite:///{tmp_path}/c.db")
    import_paths(cache, [LARGE])
    rows = cache.pieces("open")
    tables = [r.extra["piece_table"] for e in cache.entries(status="ok") for r in e.results]
    digests = {row["digest"] for t in tables for row in t if t}
    assert len(rows) == len(digests) > 400  # unique circuits, shared ones stored once
    assert {r["flow"] for r in rows} == {"open"} and all(r["lut"] is not None for r in rows)
    first = {r["digest"]: r for r in rows}
    big = max(rows, key=lambda r: r["lut"])
    assert big["first_key"] in {e.key for e in cache.entries()} and big["inputs"] <= 96 * 9
    # the same as the backend-neutral derivation, and re-deriving adds nothing
    derived = {r["digest"]: r for r in super(SqlCache, cache).pieces("open")}
    assert set(derived) == set(first) and cache.rebuild_pieces() == len(rows)
    assert cache.pieces("vivado") == []


def test_cli_exports_pieces(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    assert main(["cache", "import", "--cache", url, str(LARGE)]) == 0
    out = tmp_path / "pieces.parquet"
    assert main(["cache", "pieces", "--cache", url, "-o", str(out), "--format", "parquet"]) == 0
    table = pq.read_table(out)
    assert table.num_rows > 400 and {"digest", "lut", "stages", "da4ml_cost"} <= set(
        table.column_names
    )
    capsys.readouterr()
    assert main(["cache", "pieces", "--cache", url]) == 0
    assert "unique open pieces" in capsys.readouterr().out
