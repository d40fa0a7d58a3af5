"""Fit the shipped layer-level hls4ml + Vivado surrogates (``surrogates/data/vivado-<target>-
hls_estimate/``) on every real record the project has.

    python scripts/fit_vivado_surrogates.py [--targets u250,vu13p] [--seeds 3]

Sources, imported into a throw-away cache (``hwloop.prediction.vivado_record_paths``):
../shared/fixtures (wa-hls4ml single dense layers and JSON models on a U250; N-TORC per-layer
Conv1D / Dense / LSTM results on a ZCU104; hls4ml's baselines and wa-hls4ml's 3-layer table
where copies are there) and ``--extra`` paths. HLS estimates of one
device family (UltraScale+) do not depend on the part, so both targets' models learn from the
same records; each is stored under its own target with the held-out evaluation (by
architecture) in ``metadata.json``, plus each source's record count and the domain per layer
kind. Post-synthesis layer models are not fitted: no source has single-layer post-synthesis
records. Prints one JSON line (prefix ``FIT_JSON``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from fpga_targets import get_target
from hwloop.prediction import document_set, fit_and_save, vivado_record_paths
from surrogates import SHIPPED_DIR
from synth_cache import SqlCache, import_paths

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "../shared/fixtures"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", default="u250,vu13p")
    ap.add_argument("--out", type=Path, default=SHIPPED_DIR)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--extra", type=Path, nargs="*", default=[], help="more record paths")
    args = ap.parse_args()
    paths = vivado_record_paths(FIXTURES, args.extra)
    missing = [p for p in paths if not p.exists()]
    if missing:
        print(f"missing record sources: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    cache = SqlCache(f"sqlite:///{tempfile.mkdtemp()}/vivado.db")
    import_paths(cache, paths)
    ds = document_set(cache, "vivado", "hls_estimate")
    print(f"{len(ds)} successful vivado hls_estimate records: {dict(Counter(ds.sources))}")
    written = {}
    evaluations: list[Any] = []
    for name in args.targets.split(","):
        target = get_target(name.strip())
        extra: dict[str, Any] = {
            "target": target.name,
            "shipped": True,
            "sources": dict(Counter(ds.sources.tolist())),
            "parts": dict(Counter(ds.parts)),
            "note": "HLS estimates of UltraScale+ parts (U250, ZCU104); the layer models do not "
            "depend on the part within the family, so u250 and vu13p share them",
        }
        dest = args.out / f"vivado-{target.name}-hls_estimate"
        if evaluations:  # evaluated once, with the first target's fit
            extra |= {"eval": evaluations[0]["layered"], "evaluations": evaluations}
            fitted = fit_and_save(ds, dest, "vivado", "hls_estimate", extra=extra)
        else:
            fitted = fit_and_save(ds, dest, "vivado", "hls_estimate", args.seeds, extra)
            evaluations = [ev.to_json() for ev in fitted.evaluations]
            for ev in evaluations:
                smape = {m: round(v["smape"], 1) for m, v in ev["layered"].items()}
                print(f"held out by {ev['split']} ({ev['n_test']} records): SMAPE % {smape}")
            print(f"layer kinds: {fitted.model.records_}")
        path = fitted.path
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        written[target.name] = {"path": str(path), "bytes": size}
        print(f"wrote {path} ({size / 1e6:.2f} MB)")
    print(
        "FIT_JSON "
        + json.dumps({"records": len(ds), "evaluations": evaluations, "models": written})
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
