"""``hwloop cache`` end to end on the shared fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwloop.cli.main import main

FIX = Path(__file__).resolve().parents[2] / "../shared/fixtures"


@pytest.mark.slow
def test_import_ls_show_stats_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    assert main(["cache", "import", str(FIX), "--cache", url]) == 0
    out = capsys.readouterr().out
    # + 19 layers the described reports measure on their own (synth_cache networks.json)
    assert "21657 runs added" in out and "failed runs (kept as failed)" in out
    assert main(["cache", "import", str(FIX / "hls-reports"), "--cache", url]) == 0
    assert "0 runs added, 23 already in the cache" in capsys.readouterr().out
    assert main(["cache", "stats", "--cache", url]) == 0
    stats = capsys.readouterr().out
    assert "post_synthesis" in stats and "hls_estimate" in stats and "failed" in stats
    assert main(["cache", "ls", "--cache", url, "--status", "ok", "-n", "3"]) == 0
    listing = capsys.readouterr().out
    key = listing.split("─")[-1].split()[0]
    assert main(["cache", "show", key, "--cache", url]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["key"].startswith(key) and doc["results"]
    out_file = tmp_path / "runs.parquet"
    assert (
        main(["cache", "export", "--format", "parquet", "-o", str(out_file), "--cache", url]) == 0
    )
    import pyarrow.parquet as pq

    table = pq.read_table(out_file)
    # N-TORC: one result each; the described reports' 19 layers
    assert table.num_rows == 1343 + 2 * 9 + 5 + 19 + 2 * (3998 + 5651 + 492)
    for column in (
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
        "latency_min",
        "latency_max",
        "ii_min",
        "ii_max",
        "wall_s",
    ):
        assert column in table.column_names


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cache", "show", "ffffffff"], "no run with key"),
        (["cache", "import", "/nonexistent/dir"], "no such file or directory"),
        (["cache", "ls", "--cache", "nonsense"], "not a database URL"),
        (["cache", "export", "-o", "x.csv", "--format", "xlsx"], "Invalid value"),
    ],
)
def test_cache_errors_exit_2(
    args: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_folder_import_with_a_bad_file_imports_the_rest_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "d.parquet").write_text("x\n")  # the ArrowInvalid
    good = (FIX / "wa-hls4ml/test_2layer_merged.json").read_text()
    (tmp_path / "in" / "good.json").write_text(good)
    url = f"sqlite:///{tmp_path}/c.db"
    assert main(["cache", "import", str(tmp_path / "in"), "--cache", url]) == 2
    captured = capsys.readouterr()
    assert "runs added" in captured.out and "0 runs added" not in captured.out
    assert "d.parquet" in captured.out and "1 malformed files skipped" in captured.err
    assert "Traceback" not in captured.out + captured.err


def test_ls_counts_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 25: -n 0 and -n -1 listed one run, and -n counted runs where the help says rows."""
    url = f"sqlite:///{tmp_path}/c.db"
    assert main(["cache", "import", str(FIX / "hls-reports"), "--cache", url]) == 0
    capsys.readouterr()
    for n in ("0", "-1"):
        assert main(["cache", "ls", "--cache", url, "-n", n]) == 2
        assert "-n must be 1 or more rows" in capsys.readouterr().err
    assert main(["cache", "ls", "--cache", url, "-n", "3"]) == 0
    rows = [x for x in capsys.readouterr().out.splitlines() if "vivado" in x or "vitis" in x]
    assert len(rows) == 3, rows
