"""Cache backends: the ``CacheBackend`` interface and its SQL implementation."""

from __future__ import annotations

import abc
import json
import os
import random
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from synth_cache._model import METRICS, CacheEntry, CacheError, SynthResult

T = TypeVar("T")

ENV_VAR = "HWLOOP_SYNTH_CACHE"


class CacheBackend(abc.ABC):
    """Where synthesis runs are kept. Contract (``tests/synth_cache_tests`` checks it):

    - ``put(entry)`` stores all results of an entry atomically and returns True, or returns False
      and changes nothing when the key is already stored (``replace=True`` swaps the old entry
      for the new one atomically, e.g. to retry a failed run);
    - concurrent ``put`` calls from several processes lose nothing and never leave half an entry;
    - ``get(key)`` returns the stored entry (results in a stable order) or None;
    - ``entries()`` iterates all entries, optionally filtered by flow and status;
    - ``artifacts(key)`` is a directory for the run's files, filled atomically by ``add_artifacts``;
    - ``pieces(flow)`` lists every unique synthesised piece (the open flow's ``piece_table`` rows,
      one per Verilog digest and tool version) with the key of the first run that made it.
    """

    url: str

    @abc.abstractmethod
    def put(self, entry: CacheEntry, replace: bool = False) -> bool: ...

    @abc.abstractmethod
    def get(self, key: str) -> CacheEntry | None: ...

    @abc.abstractmethod
    def entries(
        self, flow: str | None = None, status: str | None = None
    ) -> Iterator[CacheEntry]: ...

    @abc.abstractmethod
    def artifacts(self, key: str) -> Path: ...

    def pieces(self, flow: str | None = None) -> list[dict[str, Any]]:
        """Unique pieces by (digest, tool version), derived from the runs' piece tables (a
        backend with a pieces table answers from it)."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for entry in self.entries(flow=flow, status="ok"):
            for r in entry.results:
                for row in r.extra.get("piece_table") or ():
                    rec = piece_record(row, r, entry.key)
                    out.setdefault((rec["digest"], rec["tool_version"]), rec)
        return list(out.values())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def add_artifacts(self, key: str, files: Iterable[Path], root: Path | None = None) -> Path:
        """Copy ``files`` into the key's artifact directory (all or nothing), each at its path
        relative to ``root`` (the run's work directory: pieces synthesised in sub-folders keep
        their own files), or by name without one."""
        final = self.artifacts(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        _remove_dead_copies(final.parent, key)
        me = f".{key}-{socket.gethostname()}-{os.getpid()}-"
        tmp = Path(tempfile.mkdtemp(prefix=me, dir=final.parent))
        try:
            for f in files:
                dest = tmp / (Path(f).relative_to(root) if root is not None else Path(f).name)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, dest)
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return final

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def _remove_dead_copies(parent: Path, key: str) -> None:
    """Half-copied artifact folders of ``key`` whose copying process (on this host) is dead:
    a kill during the copy leaves them, and the next run of the key removes them."""
    host = socket.gethostname()
    for d in parent.glob(f".{key}-*"):
        owner, pid, _ = (d.name.removeprefix(f".{key}-").rsplit("-", 2) + ["", "", ""])[:3]
        if owner != host or not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except PermissionError:  # a live process of another user
            pass


_COLUMNS = (
    "flow",
    "tool",
    "tool_version",
    "status",
    "part",
    "clock_target_ns",
    "clock_estimated_ns",
    *METRICS,
    "carry",
    "wall_s",
    "error",
)


def _table(meta: sa.MetaData) -> sa.Table:
    num = {"clock_target_ns", "clock_estimated_ns", "bram_18k", "wall_s"}
    cols: list[sa.Column[Any]] = [
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
    ]
    for name in _COLUMNS:
        if name in num:
            cols.append(sa.Column(name, sa.Float, nullable=True))
        elif name in METRICS or name == "carry":
            cols.append(sa.Column(name, sa.BigInteger, nullable=True))
        else:
            cols.append(sa.Column(name, sa.Text, nullable=False, default=""))
    cols += [
        sa.Column("extra", sa.Text, nullable=False, default="{}"),
        sa.Column("design", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False, default=""),
        sa.Column("created_at", sa.Float, nullable=False),
    ]
    return sa.Table("runs", meta, *cols, sa.Index("ix_runs_flow_status", "flow", "status"))


# the pieces table: one row per unique synthesised piece (descriptor, then real numbers)
PIECE_TEXT = ("digest", "tool_version", "flow", "part", "piece", "kind", "act", "first_key")
PIECE_NUMBERS = (
    "inputs", "outputs", "in_bits", "w_bits", "out_bits", "weights", "nonzero_weights",
    "distinct_weights", "da4ml_cost", "reg_bits", "stages", "longest_path", "lut", "ff", "dsp",
    "bram_18k", "carry", "yosys_s",
)  # fmt: skip


def piece_record(row: dict[str, Any], result: SynthResult, key: str) -> dict[str, Any]:
    """A piece-table row of ``result`` (run ``key``) as a pieces-table record."""
    rec: dict[str, Any] = {
        "digest": str(row.get("digest", "")),
        "tool_version": result.tool_version,
        "flow": result.flow,
        "part": result.part,
        "piece": str(row.get("piece", "")),
        "kind": str(row.get("kind") or ""),
        "act": str(row.get("act") or ""),
        "first_key": key,
    }
    for name in PIECE_NUMBERS:
        v = row.get(name)
        rec[name] = float(v) if isinstance(v, (int, float)) else None
    return rec


def _pieces_table(meta: sa.MetaData) -> sa.Table:
    cols = [
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("tool_version", sa.String(200), primary_key=True),
        *(sa.Column(n, sa.Text, nullable=False, default="") for n in PIECE_TEXT[2:]),
        *(sa.Column(n, sa.Float, nullable=True) for n in PIECE_NUMBERS),
    ]
    return sa.Table("pieces", meta, *cols, sa.Index("ix_pieces_kind", "kind"))


def default_cache_url() -> str:
    env = os.environ.get(ENV_VAR)
    if env:
        return env
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hwloop" / "synth"
    return f"sqlite:///{(base / 'cache.db').as_posix()}"


def _schema_race(exc: BaseException) -> bool:
    """Two processes creating the tables of one fresh database at once: the loser sees a unique
    violation (PostgreSQL's catalogue, a version row), 'already exists', or a locked SQLite."""
    if isinstance(exc, sa.exc.IntegrityError):
        return True
    return isinstance(exc, sa.exc.OperationalError | sa.exc.ProgrammingError) and (
        "already exists" in str(exc) or "locked" in str(exc)
    )


def retry_schema_race(create: Callable[[], T], attempts: int = 5) -> T:
    """``create()`` (a schema creation: the cache's tables, Optuna's storage), retried when it
    loses a race with another process creating the same schema; the retry finds the tables in
    place. Any other error raises at once."""
    for attempt in range(attempts):
        try:
            return create()
        except Exception as exc:
            if attempt == attempts - 1 or not _schema_race(exc):
                raise
            time.sleep(0.1 + 0.2 * random.random() * (attempt + 1))
    raise AssertionError("unreachable")


class SqlCache(CacheBackend):
    """SQLAlchemy-backed cache: ``sqlite:///path/cache.db`` (WAL) or ``postgresql://...``.

    With SQLite the artifacts live in ``artifacts/`` next to the database file; with a server
    database pass ``artifacts_dir`` (a shared filesystem path) or accept a local default.
    """

    def __init__(self, url: str | None = None, artifacts_dir: str | Path | None = None) -> None:
        self.url = url or default_cache_url()
        try:
            parsed = sa.engine.make_url(self.url)
        except sa.exc.ArgumentError:
            raise CacheError(f"not a database URL: {self.url!r}") from None
        self._sqlite = parsed.get_backend_name() == "sqlite"
        if self._sqlite:
            db = parsed.database
            if not db or db == ":memory:":
                raise CacheError("the SQLite cache needs a file: sqlite:///path/to/cache.db")
            Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
            default_art = Path(db).expanduser().parent / "artifacts"
        else:
            default_art = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / (
                "hwloop/synth/artifacts"
            )
        self._artifacts = Path(artifacts_dir) if artifacts_dir else default_art
        try:
            self._engine = self._make_engine()
            meta = sa.MetaData()
            self._runs = _table(meta)
            self._pieces = _pieces_table(meta)
            retry_schema_race(lambda: meta.create_all(self._engine))
        except (SQLAlchemyError, ImportError) as exc:
            first = str(exc).splitlines()[0]
            raise CacheError(f"cannot open cache {self.url}: {first}") from None

    def _make_engine(self) -> Engine:
        if not self._sqlite:
            return sa.create_engine(self.url, pool_pre_ping=True)
        engine = sa.create_engine(self.url, connect_args={"timeout": 60})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        return engine

    # ---- writing ---------------------------------------------------------------------------
    def put(self, entry: CacheEntry, replace: bool = False) -> bool:
        if not entry.results:
            raise CacheError(f"entry {entry.key} has no results")
        kinds = [r.kind for r in entry.results]
        if len(set(kinds)) != len(kinds):
            raise CacheError(f"entry {entry.key} has two results of one kind")
        design = json.dumps(entry.design, sort_keys=True)
        now = entry.created_at or time.time()
        rows = []
        for r in entry.results:
            row = {name: getattr(r, name) for name in _COLUMNS}
            row.update(
                key=entry.key,
                kind=r.kind,
                extra=json.dumps(r.extra, sort_keys=True),
                design=design,
                source=entry.source,
                created_at=now,
            )
            rows.append(row)
        for attempt in range(5):
            try:
                with self._engine.begin() as conn:  # one transaction: all rows or none
                    if replace:
                        conn.execute(sa.delete(self._runs).where(self._runs.c.key == entry.key))
                    conn.execute(sa.insert(self._runs), rows)
                self._put_pieces(entry)
                return True
            except IntegrityError:
                if self.get(entry.key) is None:  # not a duplicate: a real constraint violation
                    raise
                return False  # already stored (possibly by a concurrent writer)
            except sa.exc.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))
        return False  # pragma: no cover

    def _put_pieces(self, entry: CacheEntry) -> None:
        """Each new piece of the entry's results, in its own transaction after the run (the
        run keeps its piece table: a crash here loses nothing that cannot be re-derived)."""
        recs: dict[tuple[str, str], dict[str, Any]] = {}
        for r in entry.results:
            for row in r.extra.get("piece_table") or ():
                rec = piece_record(row, r, entry.key)
                recs.setdefault((rec["digest"], rec["tool_version"]), rec)
        if not recs:
            return
        c = self._pieces.c
        with self._engine.begin() as conn:
            have = {
                (d, v)
                for d, v in conn.execute(
                    sa.select(c.digest, c.tool_version).where(c.digest.in_([d for d, _ in recs]))
                )
            }
        for k, rec in recs.items():
            if k in have:
                continue
            try:
                with self._engine.begin() as conn:
                    conn.execute(sa.insert(self._pieces), [rec])
            except IntegrityError:  # stored meanwhile by a concurrent writer
                pass

    def rebuild_pieces(self) -> int:
        """Fill the pieces table from every stored run's piece table (runs stored before the
        table existed); idempotent. Returns the number of pieces."""
        for entry in self.entries(status="ok"):
            self._put_pieces(entry)
        with self._engine.connect() as conn:
            n = conn.execute(sa.select(sa.func.count()).select_from(self._pieces)).scalar()
        return int(n or 0)

    def pieces(self, flow: str | None = None) -> list[dict[str, Any]]:
        q = sa.select(self._pieces)
        if flow:
            q = q.where(self._pieces.c.flow == flow)
        with self._engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q.order_by(self._pieces.c.digest))]

    # ---- reading ---------------------------------------------------------------------------
    def _entries(self, rows: Iterable[Any]) -> Iterator[CacheEntry]:
        current: list[Any] = []
        for row in rows:
            if current and row.key != current[0].key:
                yield self._entry(current)
                current = []
            current.append(row)
        if current:
            yield self._entry(current)

    @staticmethod
    def _entry(rows: list[Any]) -> CacheEntry:
        results = []
        for row in rows:
            m = row._mapping
            doc = {name: m[name] for name in _COLUMNS}
            doc.update(kind=m["kind"], extra=json.loads(m["extra"]))
            results.append(SynthResult.from_json(doc))
        first = rows[0]._mapping
        return CacheEntry(
            first["key"],
            json.loads(first["design"]),
            tuple(results),
            first["source"],
            first["created_at"],
        )

    def get(self, key: str) -> CacheEntry | None:
        q = sa.select(self._runs).where(self._runs.c.key == key).order_by(self._runs.c.kind)
        with self._engine.connect() as conn:
            rows = conn.execute(q).fetchall()
        return self._entry(list(rows)) if rows else None

    def find(self, prefix: str) -> list[str]:
        """Keys starting with ``prefix`` (for short keys typed by a user)."""
        q = sa.select(self._runs.c.key).distinct().where(self._runs.c.key.startswith(prefix))
        with self._engine.connect() as conn:
            return [r[0] for r in conn.execute(q.limit(10))]

    def entries(self, flow: str | None = None, status: str | None = None) -> Iterator[CacheEntry]:
        q = sa.select(self._runs)
        if flow:
            q = q.where(self._runs.c.flow == flow)
        if status:
            q = q.where(self._runs.c.status == status)
        q = q.order_by(self._runs.c.created_at, self._runs.c.key, self._runs.c.kind)
        with self._engine.connect() as conn:
            yield from self._entries(conn.execute(q))

    def stats(self) -> list[dict[str, Any]]:
        """Counts of runs per (flow, tool, kind, status)."""
        c = self._runs.c
        q = (
            sa.select(
                c.flow,
                c.tool,
                c.kind,
                c.status,
                sa.func.count().label("runs"),
                sa.func.avg(c.wall_s).label("mean_wall_s"),
            )
            .group_by(c.flow, c.tool, c.kind, c.status)
            .order_by(c.flow, c.tool, c.kind, c.status)
        )
        with self._engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def artifacts(self, key: str) -> Path:
        return self._artifacts / key[:2] / key

    def close(self) -> None:
        self._engine.dispose()
