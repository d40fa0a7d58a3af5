"""Fit the shipped layer-level hls4ml + Vivado surrogates (``surrogates/data/vivado-<target>-
hls_estimate/``) on every real record the project has.

    python scripts/fit_vivado_surrogates.py [--targets u250,vu13p] [--seeds 3]

Sources, imported into a throw-away cache (``hwloop.surrogate.vivado_record_paths``):
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

from fpga_targets import get_target
from hwloop.surrogate import document_set, evaluate_by_arch, vivado_record_paths
from surrogates import SHIPPED_DIR, LayeredSurrogate
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
    ev = evaluate_by_arch(ds, seeds=range(args.seeds))
    print(f"held out by architecture ({args.seeds} seeds): {json.dumps(ev.layered)}")
    model = LayeredSurrogate().fit(ds.docs, ds.Y)
    print(f"layer kinds: {model.records_}")
    written = {}
    for name in args.targets.split(","):
        target = get_target(name.strip())
        extra = {
            "target": target.name,
            "shipped": True,
            "eval": {m: v for m, v in ev.layered.items()},
            "eval_by_arch": ev.to_json(),
            "sources": dict(Counter(ds.sources.tolist())),
            "parts": dict(Counter(ds.parts)),
            "note": "HLS estimates of UltraScale+ parts (U250, ZCU104); the layer models do not "
            "depend on the part within the family, so u250 and vu13p share them",
        }
        path = model.save(args.out / f"vivado-{target.name}-hls_estimate", extra)
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        written[target.name] = {"path": str(path), "bytes": size}
        print(f"wrote {path} ({size / 1e6:.2f} MB)")
    print("FIT_JSON " + json.dumps({"records": len(ds), "eval": ev.to_json(), "models": written}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
