"""Rebuild wa-hls4ml's 3-layer table from compact page transcripts, for a local import.

    python scripts/wa3layer_from_pages.py PAGES_DIR OUT.csv

wa-hls4ml's ``data/concatenated_3layer_json_to_csv.csv`` (jdweitz/wa-hls4ml @ 2e49d33) is public
but cannot be fetched or committed here; it is read page by page and each row written as
``uuid8,model_string,prec,rf,strategy,EstimatedClockPeriod_hls,BestLatency_hls,
WorstLatency_hls,IntervalMin_hls,IntervalMax_hls,BRAM_18K_hls,DSP_hls,FF_hls,LUT_hls,
hls_synth_success`` into ``PAGES_DIR/pNNN.csv``. This script checks the pages (all there, 15
fields a row, no UUID twice), drops every row whose UUID is also in ../shared/fixtures (the
issue's rule: a design must not be both trained on and imported again), and writes the table in
the importer's column layout (``synth_cache.parse_wa_multilayer_csv``). The run's target clock
(5 ns) and URAM (0) are constant in the source and not transcribed. Exit 2 on a gap.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "../shared/fixtures"
COMPACT = (
    "uuid8 model_string prec rf strategy EstimatedClockPeriod_hls BestLatency_hls "
    "WorstLatency_hls IntervalMin_hls IntervalMax_hls BRAM_18K_hls DSP_hls FF_hls LUT_hls "
    "hls_synth_success"
).split()
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def fixture_uuids() -> set[str]:
    found: set[str] = set()
    for f in FIXTURES.rglob("*"):
        if f.is_file() and f.suffix in (".json", ".csv"):
            found |= set(_UUID.findall(f.read_text(errors="replace")))
    return found


def main() -> int:
    pages, out = Path(sys.argv[1]), Path(sys.argv[2])
    files = sorted(pages.glob("p[0-9][0-9][0-9].csv"))
    numbers = [int(f.stem[1:]) for f in files]
    if numbers != list(range(len(numbers))):
        missing = sorted(set(range(max(numbers) + 1)) - set(numbers))
        print(f"pages missing: {missing}", file=sys.stderr)
        return 2
    rows = []
    for f in files:
        for line in f.read_text().splitlines():
            cells = line.split(",")
            if len(cells) != len(COMPACT):
                print(f"{f.name}: not {len(COMPACT)} fields: {line}", file=sys.stderr)
                return 2
            rows.append(dict(zip(COMPACT, cells, strict=True)))
    uuids = [r["uuid8"] for r in rows]
    if len(set(uuids)) != len(uuids):
        print("a UUID appears twice", file=sys.stderr)
        return 2
    shared = {u[:8] for u in fixture_uuids()}
    kept = [r for r in rows if r["uuid8"] not in shared]
    with out.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["model_name", "model_file", "TargetClockPeriod_hls", "URAM_hls"]
            + [c for c in COMPACT if c != "uuid8"]
        )
        for r in kept:
            name = f"dense_{r['model_string'].replace('-', '_')}_{r['prec']}b"
            w.writerow(
                [name, f"{r['uuid8']}.tar.gz", "5.00", "0"]
                + [r[c] for c in COMPACT if c != "uuid8"]
            )
    print(
        f"{len(rows)} rows from {len(files)} pages; {len(rows) - len(kept)} dropped (UUID in "
        f"../shared/fixtures); wrote {len(kept)} to {out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
