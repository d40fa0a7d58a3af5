"""Scaling the loop out: real synthesis rounds on a Dask cluster (a real scheduler and worker
process on the loopback interface), workers sharing one artifact folder, and the study opening
in optuna-dashboard (its real WSGI app, queried as a browser would)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import optuna
import pytest

from hwloop.cli.main import main
from hwloop.search._loop import loop_rounds
from synth_cache import SqlCache

TINY = ["--task", "bragg", "--space", "mlp", "--epochs", "1", "--limit", "120"]
TINY += ["--population", "4", "--target", "vu13p"]


@pytest.mark.slow
def test_loop_rounds_run_on_a_dask_cluster(tmp_path: Path) -> None:
    distributed = pytest.importorskip("dask.distributed")
    out, cache = tmp_path / "dask", f"sqlite:///{tmp_path}/cache.db"
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=True,  # the syntheses are pickled and run in another process
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        address = cluster.scheduler_address.removeprefix("tcp://")
        args = ["search", *TINY, "--trials", "2", "--out", str(out), "--cache", cache]
        args += ["--objectives", "lut,metric", "--hw-bits", "2", "--synth-every", "2"]
        args += ["--synth-batch", "1", "--artifacts", str(tmp_path / "shared-weights")]
        assert main([*args, "--executor", f"dask://{address}"]) == 0
    study = optuna.load_study(study_name="bragg-mlp-vu13p", storage=f"sqlite:///{out}/study.db")
    (first,) = loop_rounds(study)
    (design,) = first["designs"]
    assert design["status"] == "ok" and design["real"]["lut"] > 0, design
    entry = SqlCache(cache).get(design["key"])  # written by the Dask worker process
    assert entry is not None and entry.source == "loop"
    assert any((tmp_path / "shared-weights").rglob("*")), "weights went to --artifacts"
    assert not (out / "artifacts").exists()


@pytest.mark.slow
def test_bad_dask_address_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("dask.distributed")
    args = ["search", *TINY, "--trials", "1", "--out", str(tmp_path / "o")]
    args += ["--objectives", "metric,lut", "--synth-every", "1", "--executor", "dask://127.0.0.1:9"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "no Dask scheduler at tcp://127.0.0.1:9" in err and "Traceback" not in err


def _get(app: Any, path: str) -> tuple[str, Any]:
    """One GET request through a WSGI app: (status line, decoded JSON body)."""
    status: list[str] = []
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": True,
    }
    body = b"".join(app(environ, lambda s, headers, exc=None: status.append(s)))
    return status[0], json.loads(body)


def test_the_study_opens_in_optuna_dashboard(tmp_path: Path) -> None:
    dashboard = pytest.importorskip("optuna_dashboard")
    out = tmp_path / "dash"
    args = ["search", *TINY, "--trials", "2", "--out", str(out), "--objectives", "metric,lut"]
    assert main([*args, "--max-util", "0.9"]) == 0
    from optuna.artifacts import FileSystemArtifactStore

    store = FileSystemArtifactStore(str(out / "artifacts"))
    app = dashboard.wsgi(f"sqlite:///{out}/study.db", artifact_store=store)
    status, doc = _get(app, "/api/studies")
    assert status.startswith("200"), status
    (study,) = doc["study_summaries"]
    assert study["study_name"] == "bragg-mlp-vu13p"
    status, detail = _get(app, f"/api/studies/{study['study_id']}")
    assert status.startswith("200"), status
    assert detail["objective_names"] == ["metric", "lut"]
    assert len(detail["trials"]) == 2
    for trial in detail["trials"]:
        assert {"arch", "hw", "bops"} <= {a["key"] for a in trial["user_attrs"]}
        assert trial["artifacts"], "the candidate's weights are listed"
