"""Exporting the cache: one row per run and kind, as CSV, JSON or Parquet."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from synth_cache._backend import PIECE_NUMBERS, PIECE_TEXT, CacheBackend
from synth_cache._model import CacheEntry, CacheError

COLUMNS = (
    "key",
    "flow",
    "tool",
    "tool_version",
    "kind",
    "status",
    "part",
    "clock_target_ns",
    "clock_estimated_ns",
    "lut",
    "ff",
    "dsp",
    "bram_18k",
    "uram",
    "carry",
    "latency_min",
    "latency_max",
    "ii_min",
    "ii_max",
    "wall_s",
    "error",
    "source",
    "created_at",
    "design",
    "extra",
)
FORMATS = ("csv", "json", "parquet")
PIECE_COLUMNS = PIECE_TEXT + PIECE_NUMBERS


def export_rows(cache: CacheBackend, flow: str | None = None) -> list[dict[str, Any]]:
    rows = []
    for entry in cache.entries(flow=flow):
        for r in entry.results:
            row = {name: getattr(r, name, None) for name in COLUMNS}
            row["extra"] = json.dumps(r.extra, sort_keys=True)
            row.update(
                key=entry.key,
                source=entry.source,
                created_at=entry.created_at,
                design=json.dumps(entry.design, sort_keys=True),
            )
            rows.append(row)
    return rows


def write_export(
    rows: list[dict[str, Any]], fmt: str, path: str | Path, pieces: bool = False
) -> Path:
    """Write atomically (temp file + rename) in ``fmt``: csv, json or parquet. ``pieces``: the
    rows are pieces-table records (``CacheBackend.pieces``), not runs."""
    if fmt not in FORMATS:
        raise CacheError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}", suffix=".tmp")
    os.close(fd)
    try:
        if fmt == "csv":
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=PIECE_COLUMNS if pieces else COLUMNS)
                writer.writeheader()
                writer.writerows(rows)
        elif fmt == "json":
            Path(tmp).write_text(json.dumps(rows, indent=1) + "\n")
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            schema = _piece_schema(pa) if pieces else _schema(pa)
            table = pa.Table.from_pylist(rows, schema=schema)
            pq.write_table(table, tmp, compression="zstd")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; an export is an ordinary file
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def _piece_schema(pa: Any) -> Any:
    return pa.schema(
        [(c, pa.string()) for c in PIECE_TEXT] + [(c, pa.float64()) for c in PIECE_NUMBERS]
    )


def _schema(pa: Any) -> Any:
    floats = {"clock_target_ns", "clock_estimated_ns", "bram_18k", "wall_s", "created_at"}
    ints = {"lut", "ff", "dsp", "uram", "carry", "latency_min", "latency_max", "ii_min", "ii_max"}
    return pa.schema(
        [
            (c, pa.float64() if c in floats else pa.int64() if c in ints else pa.string())
            for c in COLUMNS
        ]
    )


def entries_from_rows(rows: list[dict[str, Any]], source: str) -> list[CacheEntry]:
    """Cache entries back from exported rows (our own CSV/JSON/Parquet exports), keys kept."""
    from synth_cache._model import SynthResult

    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if "key" not in row or "design" not in row or "kind" not in row:
            raise CacheError(f"{source}: not an hwloop cache export (needs key, kind, design)")
        grouped.setdefault(str(row["key"]), []).append(row)
    entries = []
    for key, group in grouped.items():
        results = []
        for row in group:
            doc = {k: _clean(row.get(k)) for k in COLUMNS if k not in _META}
            doc.update({k: str(row.get(k) or "") for k in _TEXT})
            doc["extra"] = json.loads(row.get("extra") or "{}")
            results.append(SynthResult.from_json(doc))
        first = group[0]
        entries.append(
            CacheEntry(
                key,
                json.loads(first["design"]),
                tuple(results),
                source=str(first.get("source") or source),
                created_at=float(first.get("created_at") or 0.0),
            )
        )
    return entries


_META = ("key", "source", "created_at", "design", "extra")
_TEXT = ("flow", "tool", "tool_version", "kind", "status", "part", "error")


def _clean(value: Any) -> Any:
    """CSV gives strings, Parquet gives None/NaN for missing values: back to typed values."""
    if value is None or value == "":
        return None
    if isinstance(value, float) and value != value:
        return None
    return value


def read_export(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_table(path).to_pylist())
    if path.suffix == ".json":
        doc = json.loads(path.read_text())
        if not isinstance(doc, list):
            raise CacheError(f"{path}: not an hwloop cache export")
        return doc
    raise CacheError(f"{path}: hwloop exports are .parquet or .json")
