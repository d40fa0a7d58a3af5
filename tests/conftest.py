"""Shared fixtures: isolated caches, the Bragg peaks file, and a throw-away PostgreSQL server.

The server (Debian's postgresql package) is started once per session in a temporary directory,
reached over a Unix socket only, and stopped at the end. Without the server binaries the
PostgreSQL cases are skipped with the reason (CI installs the package; see .ci/run)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PEAKS = REPO / "../shared/data/braggnn/peaks-exp4train.hdf5"


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    mp = pytest.MonkeyPatch()
    mp.setenv("HWLOOP_CACHE_DIR", str(tmp_path_factory.mktemp("hwloop-cache")))
    mp.setenv("HWLOOP_BRAGG_PEAKS", str(PEAKS))
    synth = tmp_path_factory.mktemp("synth-cache") / "cache.db"
    mp.setenv("HWLOOP_SYNTH_CACHE", f"sqlite:///{synth}")
    mp.setenv("HWLOOP_SURROGATE_DIR", str(tmp_path_factory.mktemp("surrogates")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def peaks_file() -> Path:
    if not PEAKS.is_file():
        pytest.fail(f"missing {PEAKS}: the shared data must sit beside the repository")
    return PEAKS


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The admin URL of a running server (``postgresql+psycopg://postgres@/postgres?...``)."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (apt-get install postgresql)")
    pytest.importorskip("psycopg")
    prefix: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="hwloop-pg-"))
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as 'postgres'
        import pwd

        pg = pwd.getpwnam("postgres")
        os.chmod(base, 0o755)
        os.chown(base, pg.pw_uid, pg.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = base / "data", _free_port()
    run = {"cwd": base, "capture_output": True, "text": True, "timeout": 120, "check": True}
    try:
        subprocess.run(
            [*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"],
            **run,  # type: ignore[call-overload]
        )
        opts = f"-k {base} -p {port} -c listen_addresses='' -c fsync=off"
        subprocess.run(
            [
                *prefix,
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(base / "log"),
                "-o",
                opts,
                "-w",
                "start",
            ],
            **run,  # type: ignore[call-overload]
        )
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"cannot start PostgreSQL: {exc.stderr or exc.stdout}")
    try:
        yield f"postgresql+psycopg://postgres@/postgres?host={base}&port={port}"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            cwd=base,
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database on the session's server."""
    import sqlalchemy as sa

    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with engine.connect() as con:
        con.execute(sa.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return postgres_server.replace("/postgres?", f"/{name}?")
