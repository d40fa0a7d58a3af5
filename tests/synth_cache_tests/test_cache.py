"""The CacheBackend contract (run for every backend), import, export and concurrency."""

from __future__ import annotations

import csv
import json
import multiprocessing as mp
import os
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from synth_cache import CacheEntry, CacheError, SqlCache, SynthResult, design_key, import_paths
from synth_cache._export import COLUMNS, export_rows, write_export

FIX = Path(__file__).resolve().parents[2] / "../shared/fixtures"


def _entry(i: int, status: str = "ok") -> CacheEntry:
    design = {"arch": f"mlp-{i}", "bits": 8}
    key = design_key(design, "open", "0.23")
    results = tuple(
        SynthResult(
            "open",
            "yosys",
            "0.23",
            kind,
            status=status,  # type: ignore[arg-type]
            lut=100 + i if status == "ok" else None,
            wall_s=1.5,
            extra={"da4ml_cost": 99.5 + i, "cells": {"LUT6": i}},
        )
        for kind in ("hls_estimate", "post_synthesis")
    )
    return CacheEntry(key, design, results, source="test")


@pytest.fixture(params=["sqlite", "postgresql"])
def cache_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path}/cache.db"


@pytest.fixture
def cache(cache_url: str, tmp_path: Path) -> Iterator[SqlCache]:
    store = SqlCache(cache_url, artifacts_dir=tmp_path / "artifacts")
    yield store
    store.close()


def test_put_get_idempotent(cache: SqlCache) -> None:
    e = _entry(1)
    assert e.key not in cache
    assert cache.put(e) is True
    assert cache.put(e) is False  # already there: nothing changes
    got = cache.get(e.key)
    assert got is not None and got.design == e.design
    assert sorted(r.kind for r in got.results) == ["hls_estimate", "post_synthesis"]
    assert got.result("post_synthesis") == e.result("post_synthesis")
    assert e.key in cache
    assert cache.get("0" * 24) is None


def test_failed_runs_are_kept_and_retried_only_on_request(cache: SqlCache) -> None:
    failed = _entry(2, status="failed")
    assert cache.put(failed)
    assert cache.get(failed.key).status == "failed"  # type: ignore[union-attr]
    assert cache.put(_entry(2)) is False  # not retried implicitly
    assert cache.put(_entry(2), replace=True) is True
    assert cache.get(failed.key).status == "ok"  # type: ignore[union-attr]
    assert [e.key for e in cache.entries(status="failed")] == []


def test_entries_filters_and_stats(cache: SqlCache) -> None:
    for i in range(5):
        cache.put(_entry(i, "ok" if i % 2 else "timeout"))
    assert len(list(cache.entries())) == 5
    assert len(list(cache.entries(status="timeout"))) == 3
    assert list(cache.entries(flow="vivado")) == []
    stats = {(s["kind"], s["status"]): s["runs"] for s in cache.stats()}
    assert stats[("post_synthesis", "timeout")] == 3


def test_artifacts_atomic(cache: SqlCache, tmp_path: Path) -> None:
    f = tmp_path / "design.v"
    f.write_text("module top; endmodule\n")
    e = _entry(3)
    where = cache.add_artifacts(e.key, [f])
    assert (where / "design.v").read_text() == f.read_text()
    assert where == cache.artifacts(e.key)
    # a copy killed half-way (issue 21) left a hidden folder: the next copy of the key removes
    # it, and leaves a live process's copy alone
    child = subprocess.Popen(["true"], cwd=tmp_path)
    child.wait(timeout=30)
    host = socket.gethostname()
    stale = where.parent / f".{e.key}-{host}-{child.pid}-abc123"
    live = where.parent / f".{e.key}-{host}-{os.getpid()}-def456"
    stale.mkdir()
    live.mkdir()
    cache.add_artifacts(e.key, [f])
    assert not stale.exists() and live.exists()


def test_bad_urls() -> None:
    with pytest.raises(CacheError, match="not a database URL"):
        SqlCache("nonsense")
    with pytest.raises(CacheError, match="needs a file"):
        SqlCache("sqlite://")
    with pytest.raises(CacheError, match="cannot open cache"):
        SqlCache("nosuchdialect://host/db")


def test_bad_results_rejected() -> None:
    with pytest.raises(CacheError, match="kind"):
        SynthResult("open", "yosys", "0.23", "guess")  # type: ignore[arg-type]
    with pytest.raises(CacheError, match="lut"):
        SynthResult("open", "yosys", "0.23", "post_synthesis", lut=-1)


def test_key_is_content_addressed() -> None:
    a = design_key({"b": 1.0, "a": [1, 2]}, "open", "0.23")
    assert a == design_key({"a": [1, 2], "b": 1}, "open", "0.23")
    assert a != design_key({"a": [1, 2], "b": 1}, "open", "0.24")
    assert a != design_key({"a": [1, 2], "b": 1}, "vivado", "0.23")


@pytest.mark.slow
def test_import_fixtures_twice(cache: SqlCache) -> None:
    first = import_paths(cache, [FIX])
    ntorc = 2 * (3998 + 5651 + 492)  # resource and latency rows are separate records
    # + the 19 layers the described reports measure on their own (networks.json)
    assert first.added == 1343 + 9 + 4 + 19 + ntorc and first.present == 0 and not first.skipped
    again = import_paths(cache, [FIX / "wa-hls4ml", FIX / "hls-reports", FIX / "n-torc"])
    assert again.added == 0 and again.present == first.added
    # the hls4ml project with both reports is one run with both kinds
    both = [e for e in cache.entries() if len(e.results) == 2 and "reports" in e.design]
    assert len(both) == 1
    assert {r.tool for r in both[0].results} == {"vivado_hls", "vivado"}
    failed = list(cache.entries(status="failed"))
    assert len(failed) == first.failed_runs > 0


def test_import_names_unknown_files(cache: SqlCache, tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("hello")
    with pytest.raises(CacheError, match="not an importable report"):
        import_paths(cache, [junk])
    bad = tmp_path / "x_csynth.xml"
    bad.write_text("<profile/>")
    with pytest.raises(CacheError, match="x_csynth.xml"):
        import_paths(cache, [bad])
    with pytest.raises(CacheError, match="no such file"):
        import_paths(cache, [tmp_path / "missing"])
    summary = import_paths(cache, [tmp_path])  # inside a directory: skipped, not fatal
    assert len(summary.skipped) == 1


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_export(cache: SqlCache, tmp_path: Path, fmt: str) -> None:
    import_paths(cache, [FIX / "hls-reports"])
    rows = export_rows(cache)
    out = write_export(rows, fmt, tmp_path / f"runs.{fmt}")
    if fmt == "csv":
        with out.open() as f:
            back = list(csv.DictReader(f))
        assert list(back[0]) == list(COLUMNS)
    elif fmt == "json":
        back = json.loads(out.read_text())
    else:
        import pyarrow.parquet as pq

        back = pq.read_table(out).to_pylist()
    assert len(back) == len(rows) == 5 + 19  # the reports + the layers described ones measure
    luts = {int(r["lut"]) for r in back}
    assert {9964, 25632, 35326, 85140, 130031} <= luts
    with pytest.raises(CacheError, match="--format"):
        write_export(rows, "xlsx", tmp_path / "x.xlsx")


# ---- several processes ------------------------------------------------------------------------
def _writer(url: str, start: int, n: int) -> None:
    store = SqlCache(url)
    for i in range(start, start + n):
        store.put(_entry(i))
        store.put(_entry(i % 7))  # collisions with the other writers: never an error


def test_four_processes_lose_nothing(cache_url: str) -> None:
    url = cache_url
    SqlCache(url).close()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(url, 1000 * w, 40)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    keys = {e.key for e in SqlCache(url).entries()}
    expected = {_entry(i).key for w in range(4) for i in range(1000 * w, 1000 * w + 40)}
    expected |= {_entry(i).key for i in range(7)}
    assert keys == expected


def _endless_writer(url: str) -> None:
    store = SqlCache(url)
    i = 0
    while True:
        store.put(_entry(10_000 + i))
        i += 1


def test_kill_9_leaves_no_half_entry(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cache.db"
    SqlCache(url).close()
    proc = mp.get_context("spawn").Process(target=_endless_writer, args=(url,))
    proc.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.3)
        with sqlite3.connect(tmp_path / "cache.db", timeout=30) as db:
            # two rows (kinds) per run: wait for more than 50 whole runs
            if db.execute("select count(distinct key) from runs").fetchone()[0] > 50:
                break
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(30)
    with sqlite3.connect(tmp_path / "cache.db", timeout=30) as db:
        assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
        per_key = db.execute("select key, count(*) from runs group by key").fetchall()
    assert len(per_key) > 50
    assert {n for _, n in per_key} == {2}  # every run has both rows or none
    store = SqlCache(url)
    assert all(len(e.results) == 2 for e in store.entries())


@pytest.mark.parametrize("fmt", ["json", "parquet"])
def test_own_exports_import_back_with_their_keys(tmp_path: Path, fmt: str) -> None:
    src = SqlCache(f"sqlite:///{tmp_path}/a.db")
    for i in range(3):
        src.put(_entry(i))
    src.put(_entry(9, status="timeout"))
    out = write_export(export_rows(src), fmt, tmp_path / f"runs.{fmt}")
    dst = SqlCache(f"sqlite:///{tmp_path}/b.db")
    summary = import_paths(dst, [out])
    assert (summary.added, summary.failed_runs) == (4, 1)
    for e in src.entries():
        back = dst.get(e.key)
        assert back is not None and back.design == e.design
        assert sorted(back.results, key=lambda r: r.kind) == sorted(e.results, key=lambda r: r.kind)
    assert import_paths(dst, [out]).added == 0
