"""Importing published results: hls4ml project directories, report files, hls4ml's synthesis
baselines, wa-hls4ml and N-TORC data."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from synth_cache._backend import CacheBackend
from synth_cache._export import entries_from_rows, read_export
from synth_cache._hls4ml_baselines import is_hls4ml_baseline, parse_hls4ml_baseline
from synth_cache._hls_networks import described_network, instance_runs, network_design
from synth_cache._key import design_key
from synth_cache._model import CacheEntry, CacheError, SynthResult
from synth_cache._ntorc import is_ntorc_csv, parse_ntorc_csv
from synth_cache._parsers import (
    ImportedRun,
    ReportParseError,
    parse_csynth_rpt,
    parse_csynth_xml,
    parse_utilization_rpt,
    parse_wa_hls4ml_csv,
    parse_wa_hls4ml_json,
)
from synth_cache._wa_multilayer import is_wa_multilayer_csv, parse_wa_multilayer_csv

log = logging.getLogger(__name__)


@dataclass
class ImportSummary:
    added: int = 0
    present: int = 0
    failed_runs: int = 0
    files: int = 0
    skipped: list[str] = field(default_factory=list)


def _is_csynth(p: Path) -> bool:
    return p.name.endswith("_csynth.xml") or p.name.endswith("_csynth.rpt")


def _is_utilization(p: Path) -> bool:
    return p.name == "vivado_synth.rpt" or p.name.endswith("_utilization_synth.rpt")


def _project_root(p: Path) -> Path:
    """The hls4ml project a report belongs to (reports of one project form one run).

    C-synthesis reports sit in ``<project>/<name>_prj/solution*/syn/report/``; Vivado
    utilization reports in ``<project>/`` or ``<project>/vsynth|report/``.
    """
    if _is_csynth(p):
        for parent in p.parents:
            if parent.name.startswith("solution") and parent.parent.name.endswith("_prj"):
                return parent.parent.parent
    if p.parent.name in ("vsynth", "report", "reports"):
        return p.parent.parent
    return p.parent


def _report_run(root: Path, files: list[Path]) -> ImportedRun:
    results: dict[str, SynthResult] = {}
    digests: dict[str, str] = {}
    # the XML and the text report of one C-synthesis say the same: prefer the XML
    for f in sorted(files, key=lambda f: (not f.name.endswith(".xml"), f.name)):
        text = f.read_text(errors="replace")
        if _is_csynth(f):
            res = parse_csynth_xml(text) if f.suffix == ".xml" else parse_csynth_rpt(text)
        else:
            res = parse_utilization_rpt(text)
        if res.kind not in results:
            results[res.kind] = res
            digests[f.relative_to(root).as_posix()] = hashlib.sha256(text.encode()).hexdigest()
    design = {"source": "hls4ml-project", "reports": digests}
    known = described_network(root)
    if known and "hls_estimate" in results:
        design = network_design(*known, results["hls_estimate"]) | {"reports": digests}
    return ImportedRun(design, tuple(results.values()), root.name)


def _instance_runs(root: Path, files: list[Path], run: ImportedRun) -> list[ImportedRun]:
    """The per-layer runs of a described network's csynth text report (none otherwise)."""
    known = described_network(root)
    rpt = next((f for f in files if f.name.endswith("_csynth.rpt")), None)
    est = next((r for r in run.results if r.kind == "hls_estimate"), None)
    if known is None or rpt is None or est is None:
        return []
    return instance_runs(*known, est, rpt.read_text(errors="replace"))


def _walk(paths: Iterable[Path]) -> Iterator[tuple[Path, bool]]:
    for p in paths:
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file():
                    yield f, False
        elif p.is_file():
            yield p, True
        else:
            raise CacheError(f"no such file or directory: {p}")


def _why(exc: BaseException) -> str:
    """A parse failure in one line: our own errors say what is wrong; anything else a malformed
    file made a parser trip on is named by its type."""
    if isinstance(exc, ReportParseError | CacheError):
        return str(exc)
    if isinstance(exc, UnicodeDecodeError | gzip.BadGzipFile | EOFError):
        return "not a text file (or a damaged .gz)"
    first = (str(exc).splitlines() or [""])[0][:200]
    return f"malformed ({type(exc).__name__}: {first})"


def _runs_of(f: Path) -> Iterator[ImportedRun]:
    """The runs of one file that is not a project report or one of our exports."""
    if f.suffix == ".json":
        text = f.read_text()
        if is_hls4ml_baseline(f, text):
            version, backend = f.parent.name, f.parent.parent.name
            yield parse_hls4ml_baseline(text, f.name, backend, version)
        else:
            yield from parse_wa_hls4ml_json(text)
    elif f.name.endswith((".csv", ".csv.gz")):
        yield from _parse_csv(_read_text(f))


def collect_runs(
    paths: Iterable[Path], summary: ImportSummary, exports: list[Path]
) -> Iterator[tuple[str, ImportedRun]]:
    """Parse everything importable under ``paths``; yields (source, run). Our own cache exports
    are appended to ``exports`` (they carry their keys and are stored as they are).

    A file the user named must parse: a malformed one raises :class:`CacheError` naming it (and
    the record, where the format has records). Under a directory, a malformed file is skipped
    (``summary.skipped`` says why) and the rest imported."""
    projects: dict[Path, list[Path]] = {}
    for f, explicit in _walk(paths):
        summary.files += 1
        runs: list[ImportedRun] = []
        try:
            if _is_csynth(f) or _is_utilization(f):
                if explicit:  # a file the user named must parse; fail now, naming it
                    _report_run(f.parent, [f])
                projects.setdefault(_project_root(f), []).append(f)
            elif f.suffix == ".parquet" or (f.suffix == ".json" and _is_own_export(f)):
                exports.append(f)
            elif f.suffix == ".json" or f.name.endswith((".csv", ".csv.gz")):
                for run in _runs_of(f):
                    runs.append(run)
            elif explicit:
                raise CacheError(
                    "not an importable report (csynth xml/rpt, utilization rpt, hls4ml "
                    "baseline json, wa-hls4ml json/csv, N-TORC csv, hwloop export)"
                )
        except Exception as exc:  # a malformed file, whatever the parser tripped on
            where = f"{f}: record {len(runs) + 1}" if runs else str(f)
            if explicit:
                raise CacheError(f"{where}: {_why(exc)}") from None
            summary.skipped.append(f"{where}: {_why(exc)}")
            continue
        for run in runs:
            yield str(f), run
    for root, files in projects.items():
        try:
            run = _report_run(root, files)
            layers = _instance_runs(root, files, run)
        except Exception as exc:  # one project's reports, malformed
            names = ", ".join(f.relative_to(root).as_posix() for f in files)
            summary.skipped.append(f"{root} ({names}): {_why(exc)}")
            continue
        yield str(root), run
        for layer_run in layers:
            yield str(root), layer_run


def _read_text(f: Path) -> str:
    if f.suffix == ".gz":  # bundled tables ship gzipped to keep the wheel small
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            return fh.read()
    return f.read_text()


def _parse_csv(text: str) -> Iterator[ImportedRun]:
    head = next(csv.reader(io.StringIO(text)), [])
    if is_ntorc_csv(head):
        return parse_ntorc_csv(text)
    if is_wa_multilayer_csv(head):  # before the single-layer check: it has those columns too
        return parse_wa_multilayer_csv(text)
    return parse_wa_hls4ml_csv(text)


def _is_own_export(f: Path) -> bool:
    head = f.read_text(errors="replace")[:4000]
    return '"key"' in head and '"design"' in head and '"kind"' in head


def _entry(source: str, run: ImportedRun) -> CacheEntry:
    head = run.results[0]
    version = next(
        (r.tool_version for r in run.results if r.kind == "post_synthesis"), head.tool_version
    )
    key = design_key(run.design, head.flow, version)
    return CacheEntry(key, run.design, run.results, source=f"{source}#{run.label}")


def import_paths(
    cache: CacheBackend, paths: Iterable[str | Path], on_run: Callable[[], None] | None = None
) -> ImportSummary:
    """Import files and directories into ``cache``; re-importing adds nothing. Malformed files
    under a directory are skipped and listed in the summary (see :func:`collect_runs`)."""
    summary = ImportSummary()
    exports: list[Path] = []
    named = {Path(p) for p in paths if Path(p).is_file()}
    pending: list[CacheEntry] = []
    for source, run in collect_runs([Path(p) for p in paths], summary, exports):
        try:
            pending.append(_entry(source, run))
        except (CacheError, ValueError, TypeError) as exc:  # e.g. a design JSON cannot hash
            summary.skipped.append(f"{source}#{run.label}: {_why(exc)}")
    exported: list[CacheEntry] = []
    for f in exports:  # our own exports keep their keys (the flow's key, not a report digest)
        try:
            entries = entries_from_rows(read_export(f), str(f))
        except Exception as exc:  # a damaged or foreign file
            if f in named:
                raise CacheError(f"{f}: {_why(exc)}") from None
            summary.skipped.append(f"{f}: {_why(exc)}")
            continue
        exported += entries
    # exports first and in path order: of two runs with one key, the first file's is kept
    for entry in exported + pending:
        if cache.put(entry):
            summary.added += 1
        else:
            summary.present += 1
        summary.failed_runs += not any(r.ok for r in entry.results)
        if on_run:
            on_run()
    for line in summary.skipped:
        log.warning("skipped %s", line)
    return summary
