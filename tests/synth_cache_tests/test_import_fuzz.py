"""Fuzzing the importer over the real fixtures (issue 21, item 3): a mutated report, record
list, table or export either imports or fails with a typed error naming the file, never a raw
traceback; a folder import skips what is bad and imports the rest; impossible values are never
stored."""

from __future__ import annotations

import math
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synth_cache import (
    CacheError,
    SqlCache,
    SynthResult,
    export_rows,
    import_paths,
    write_export,
)

SHARED = Path(__file__).resolve().parents[2] / "../shared/fixtures"
X = SHARED / (
    "hls-reports/pominiq__DNNonSilicon/model_1/hls4ml_prj/myproject_prj/solution1/syn/report/"
    "myproject_csynth.xml"
)
J = SHARED / "wa-hls4ml/test_2layer_merged.json"
C = SHARED / "wa-hls4ml/wa-hls4ml-search_results_resource.csv"
EXAMPLES = 2000  # the issue asks for >= 2,000 cases in CI
NASTY = ["-1", "0", "1e400", "-1e400", "99999999999999999999", "x", "", "nan", "inf", "null",
         '"x"', "[]", "{}", "1.5", "-0.0", "\u00e9", "</x>", "\\"]  # fmt: skip


def _seeds(tmp: Path) -> dict[str, tuple[str, str]]:
    """name -> (file name, text) of each fixture kind, cut to a few records to keep cases fast."""
    csv_lines = C.read_text().splitlines()
    out = {
        "csynth": ("myproject_csynth.xml", X.read_text()),
        "wa-json": ("records.json", J.read_text()),
        "wa-csv": ("table.csv", "\n".join(csv_lines[:6]) + "\n"),
    }
    cache = SqlCache(f"sqlite:///{tmp}/seed.db")
    import_paths(cache, [J])
    write_export(export_rows(cache), "json", tmp / "export.json")
    out["export"] = ("export.json", (tmp / "export.json").read_text())
    return out


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    return _seeds(tmp_path_factory.mktemp("seeds"))


def _mutate(data: st.DataObject, text: str) -> str:
    how = data.draw(st.sampled_from(["number", "number", "token", "truncate", "drop-line",
                                     "drop-column", "bytes"]))  # fmt: skip
    if how in ("number", "token"):
        pat = r"-?\d+(\.\d+)?([eE][-+]?\d+)?" if how == "number" else r"[A-Za-z_]+"
        spots = [m.span() for m in re.finditer(pat, text)]
        if not spots:
            return text
        a, b = data.draw(st.sampled_from(spots))
        return text[:a] + data.draw(st.sampled_from(NASTY)) + text[b:]
    if how == "truncate":
        return text[: data.draw(st.integers(0, len(text)))]
    lines = text.splitlines()
    if how == "drop-line" and lines:
        del lines[data.draw(st.integers(0, len(lines) - 1))]
        return "\n".join(lines)
    if how == "drop-column" and lines and "," in lines[0]:
        j = data.draw(st.integers(0, lines[0].count(",")))
        return "\n".join(",".join(c for i, c in enumerate(r.split(",")) if i != j) for r in lines)
    at = data.draw(st.integers(0, len(text)))
    junk = data.draw(st.text(min_size=1, max_size=8))
    return text[:at] + junk + text[at:]


def _sane(cache: SqlCache) -> None:
    for entry in cache.entries():
        for r in entry.results:
            for name in ("lut", "ff", "dsp", "latency_min", "latency_max", "clock_target_ns"):
                v = getattr(r, name)
                assert v is None or (math.isfinite(v) and v >= 0), (name, v)
            if r.latency_min is not None and r.latency_max is not None:
                assert r.latency_min <= r.latency_max


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases on every run: a CI failure reproduces
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
@pytest.mark.slow
def test_mutated_files_import_or_fail_typed(
    data: st.DataObject, seeds: dict[str, tuple[str, str]], tmp_path: Path
) -> None:
    name, text = seeds[data.draw(st.sampled_from(sorted(seeds)))]
    case = Path(tempfile.mkdtemp(dir=tmp_path))
    f = case / name
    f.write_text(_mutate(data, text), encoding="utf-8", errors="surrogatepass")
    cache = SqlCache(f"sqlite:///{case}/c.db")
    try:  # a file named on the command line: it imports, or one typed error names it
        import_paths(cache, [f])
    except CacheError as exc:
        assert str(f) in str(exc) and "\n" not in str(exc)
    # the same file in a folder beside a good one: skipped with a reason, the good one imported
    (case / "good").mkdir()
    (case / "good" / "records.json").write_text(J.read_text())
    summary = import_paths(cache, [case])
    assert all(str(case) in line for line in summary.skipped)
    assert any(True for _ in cache.entries())  # the good file, at least
    _sane(cache)
    cache.close()


def test_folder_import_skips_bad_files_and_names_them(tmp_path: Path) -> None:
    (tmp_path / "bad.parquet").write_text("x\n")
    (tmp_path / "bad.json").write_text('[{"meta_data": {"uuid": "u"}, "latency_report": "x"}]')
    (tmp_path / "overflow_csynth.xml").write_text(
        X.read_text().replace("<LUT>", "<LUT>1e400", 1)  # the OverflowError
    )
    (tmp_path / "good.json").write_text(J.read_text())
    cache = SqlCache(f"sqlite:///{tmp_path}/c.db")
    summary = import_paths(cache, [tmp_path])
    assert summary.added > 0
    skipped = "\n".join(summary.skipped)
    assert "bad.parquet" in skipped and "bad.json" in skipped and "overflow" in skipped
    assert "Traceback" not in skipped and len(summary.skipped) == 3
    with pytest.raises(CacheError, match="bad.parquet"):
        import_paths(cache, [tmp_path / "bad.parquet"])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"clock_target_ns": -5.0}, "clock_target_ns must be a positive number"),
        ({"clock_estimated_ns": math.inf}, "clock_estimated_ns must be a positive number"),
        ({"clock_target_ns": 0.0}, "clock_target_ns must be a positive number"),
        ({"latency_min": 9, "latency_max": 4}, "latency_min \\(9\\) is above latency_max"),
        ({"ii_min": 3, "ii_max": 1}, "ii_min \\(3\\) is above ii_max"),
        ({"lut": 99999999999999999999}, "lut must be a number in"),
        ({"ff": math.nan}, "ff must be a number in"),
        ({"dsp": "12"}, "dsp must be a number in"),
    ],
)
def test_impossible_values_are_refused(fields: dict[str, object], message: str) -> None:
    """Issue 21, item 4: of 2,908 fuzzed rows that imported, 54 held negative, infinite or
    zero clocks or a minimum above its maximum."""
    with pytest.raises(CacheError, match=message):
        SynthResult("vivado", "vivado_hls", "2020.1", "hls_estimate", **fields)  # type: ignore[arg-type]


def test_of_two_exports_with_one_key_the_first_files_run_is_kept(tmp_path: Path) -> None:
    """The shipped calibration relies on it: a re-run export sorts before the old one."""
    cache = SqlCache(f"sqlite:///{tmp_path}/a.db")
    import_paths(cache, [J])
    rows = export_rows(cache)
    write_export(rows, "json", tmp_path / "in" / "a.json")
    changed = [{**r, "lut": (r["lut"] or 0) + 1} for r in rows]
    write_export(changed, "json", tmp_path / "in" / "b.json")
    fresh = SqlCache(f"sqlite:///{tmp_path}/b.db")
    import_paths(fresh, [tmp_path / "in"])
    assert {r["key"]: r["lut"] for r in export_rows(fresh)} == {r["key"]: r["lut"] for r in rows}
