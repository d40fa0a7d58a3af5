"""The synthesis cache: every real synthesis run, never lost.

Content-addressed entries (``design_key``: canonical design + flow + tool version) holding typed
``SynthResult`` records, in SQLite (default, WAL) or any SQLAlchemy database; report parsers
and importers for published hls4ml / Vivado / wa-hls4ml / N-TORC results and hls4ml's
synthesis baselines. Depends on
``fpga_targets`` only, never on ``hwloop`` or ``surrogates``.
"""

from __future__ import annotations

from synth_cache._backend import CacheBackend, SqlCache, default_cache_url, retry_schema_race
from synth_cache._export import FORMATS as EXPORT_FORMATS
from synth_cache._export import export_rows, write_export
from synth_cache._hls4ml_baselines import parse_hls4ml_baseline
from synth_cache._importer import ImportSummary, import_paths
from synth_cache._key import canonical, design_key
from synth_cache._model import KINDS, STATUSES, CacheEntry, CacheError, Status, SynthResult
from synth_cache._ntorc import NTORC_PART, parse_ntorc_csv
from synth_cache._parsers import (
    ImportedRun,
    ReportParseError,
    parse_csynth_rpt,
    parse_csynth_xml,
    parse_utilization_rpt,
    parse_wa_hls4ml_csv,
    parse_wa_hls4ml_json,
)
from synth_cache._wa_multilayer import parse_wa_multilayer_csv

__all__ = [
    "EXPORT_FORMATS",
    "KINDS",
    "NTORC_PART",
    "STATUSES",
    "CacheBackend",
    "CacheEntry",
    "CacheError",
    "Status",
    "retry_schema_race",
    "ImportSummary",
    "ImportedRun",
    "ReportParseError",
    "SqlCache",
    "SynthResult",
    "canonical",
    "default_cache_url",
    "design_key",
    "export_rows",
    "import_paths",
    "open_cache",
    "parse_csynth_rpt",
    "parse_hls4ml_baseline",
    "parse_ntorc_csv",
    "parse_csynth_xml",
    "parse_utilization_rpt",
    "parse_wa_hls4ml_csv",
    "parse_wa_hls4ml_json",
    "parse_wa_multilayer_csv",
    "write_export",
]


def open_cache(url: str | None = None) -> SqlCache:
    """Open (creating if needed) the cache at ``url`` (default: ``$HWLOOP_SYNTH_CACHE`` or
    ``~/.cache/hwloop/synth/cache.db``)."""
    return SqlCache(url)
