"""One design at a time through the open flow, the cache exported after each (the resumable loop
of the calibration scripts that add small, targeted sets of designs)."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from fpga_targets import get_target
from hwloop.synth import CalibrationItem, get_synthesizer, run_calibration
from synth_cache import SqlCache, export_rows, write_export


def calibrate_each(
    todo: Sequence[CalibrationItem], cache: str, out: Path, timeout_s: float
) -> dict[str, int]:
    """Synthesise ``todo`` one by one on vu13p at 5 ns, multiplierless (runs already in
    ``cache`` are skipped), export the whole cache to ``out`` after each, print progress and a
    JSON line; returns the count of runs per status."""
    Path(cache.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    target = get_target("vu13p")
    synth = get_synthesizer("open", jobs=1)
    t0 = time.perf_counter()
    counts: dict[str, int] = {}
    for i, item in enumerate(todo):
        summary = run_calibration(
            [item],
            synth,
            cache,
            target.part,
            target.clock_period_ns,
            1,
            timeout_s,
            False,
            strategy="distributed_arithmetic",
        )
        for status, c in summary.counts.items():
            counts[status] = counts.get(status, 0) + c
        write_export(export_rows(SqlCache(cache), flow="open"), "parquet", out)
        print(
            f"{i + 1}/{len(todo)} {item.arch.name} {item.bits}b {dict(summary.counts)} "
            f"({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    print(json.dumps({"designs": len(todo), **counts, "seconds": round(time.perf_counter() - t0)}))
    return counts


def library_main(
    doc: str, todo: Callable[[], Sequence[CalibrationItem]], cache_name: str, out_name: str
) -> None:
    """The command line of a piece-library script: ``--timeout``, ``--cache`` (default
    ``.calibration/<cache_name>``) and ``--out`` (default ``surrogates/data/calibration/
    <out_name>``), then :func:`calibrate_each` over ``todo()``."""
    repo = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--cache", default=f"sqlite:///{repo / '.calibration' / cache_name}")
    ap.add_argument("--out", type=Path, default=repo / "surrogates/data/calibration" / out_name)
    args = ap.parse_args()
    calibrate_each(todo(), args.cache, args.out, args.timeout)
