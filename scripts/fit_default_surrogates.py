"""Fit the default surrogates shipped inside the package (``surrogates/data/``).

    python scripts/fit_default_surrogates.py [--data DIR] [--targets vu13p]

Reads the committed open-flow calibration runs (``surrogates/data/calibration/*.parquet``, real
da4ml + yosys syntheses produced by ``scripts/calibrate_open.sh``) into a throw-away cache,
evaluates the surrogate on architectures held out of training (several split seeds), fits it on
every run and writes it, with its evaluation, the training-set size and the calibration files it
came from in ``metadata.json``, to ``surrogates/data/open-<target>-post_synthesis/``.

The open flow's netlist depends on the device family and the clock, not on the part, so one model
answers every built-in target of the calibrated one's family and clock (UltraScale+ at 5 ns: u250,
vu13p and the Zynq parts; ``hwloop.prediction.find_model``), each with its own capacities. It is
stored once, under vu13p, where the calibration ran (``answers_for`` in its metadata lists them).

Since issue 17 the shipped default is the piece-level model (``--level piece``): it learns the
unique pieces of the runs that carry a piece table and composes designs like the open flow does;
its evaluation, held out by architecture and held out by size, goes in the metadata beside the
whole-design model's on the same splits. ``--level design`` writes the whole-design model.

Refuses to write models from fewer than ``--min-runs`` runs (300 whole designs, 40 designs with
piece tables) unless ``--force``. Prints the evaluation and one JSON line (prefix ``FIT_JSON``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from fpga_targets import Target, get_target
from hwloop.prediction import LEVELS, Evaluation, fit_and_save, piece_set, training_set
from surrogates import SHIPPED_DIR
from synth_cache import SqlCache, import_paths

REPO = Path(__file__).resolve().parents[1]
NOTE = (
    "open flow (da4ml + yosys) runs on vu13p at 5 ns; the netlist does not depend on the part "
    "within UltraScale+ at the same clock"
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO / "surrogates/data/calibration")
    ap.add_argument("--targets", default="vu13p")
    ap.add_argument("--out", type=Path, default=SHIPPED_DIR)
    ap.add_argument("--seeds", type=int, default=5, help="held-out split seeds in the evaluation")
    ap.add_argument("--min-runs", type=int, default=None)
    ap.add_argument("--force", action="store_true", help="write models from fewer runs")
    ap.add_argument("--level", choices=LEVELS, default="piece")
    args = ap.parse_args()

    files = sorted(args.data.glob("*.parquet"))
    if not files:
        print(f"no calibration exports (*.parquet) in {args.data}", file=sys.stderr)
        return 2
    cache = SqlCache(f"sqlite:///{tempfile.mkdtemp()}/defaults.db")
    import_paths(cache, files)
    sources = {f.name: hashlib.sha256(f.read_bytes()).hexdigest()[:16] for f in files}
    if args.level == "piece":
        return fit_pieces(args, cache, sources)
    args.min_runs = 300 if args.min_runs is None else args.min_runs
    data = training_set(cache, "open", "post_synthesis")
    n_arch = len(set(data.groups))
    print(
        f"{len(data)} open-flow post-synthesis runs of {n_arch} architectures "
        f"from {len(files)} files"
    )
    if len(data) < args.min_runs and not args.force:
        print(
            f"only {len(data)} runs (< {args.min_runs}); calibrate more or pass --force",
            file=sys.stderr,
        )
        return 2

    t0 = time.perf_counter()
    written: dict[str, Any] = {}
    ev = None
    for target in targets(args):
        extra = {
            "target": target.name,
            "shipped": True,
            "trained_on": {
                "architectures": n_arch,
                "calibration_files": sources,
                "note": NOTE,
            },
        }
        dest = args.out / f"open-{target.name}-post_synthesis"
        if ev is None:  # evaluated once, with the first target's fit
            fitted = fit_and_save(data, dest, "open", seeds=args.seeds, extra=extra, compress=True)
            (ev,) = fitted.evaluations
            assert isinstance(ev, Evaluation)
            print_evaluation(ev, args.seeds)
            path = fitted.path
        else:
            more = {**extra, "eval": ev.to_json()}
            path = fit_and_save(data, dest, "open", extra=more, compress=True).path
        written[target.name] = report(path)
    print(
        "FIT_JSON "
        + json.dumps(
            {
                "runs": len(data),
                "architectures": n_arch,
                "seconds": round(time.perf_counter() - t0, 1),
                "eval": ev.to_json() if ev else None,
                "models": written,
            }
        )
    )
    return 0


def print_evaluation(ev: Evaluation, seeds: int) -> None:
    print(
        f"held-out evaluation ({seeds} splits, {ev.n_test} designs of "
        f"{ev.n_test_archs} archs each):"
    )
    print(f"{'metric':<9} {'R2':>14} {'SMAPE%':>14} {'MAPE%':>14} {'cov80':>12}")
    for m, s in ev.scores.items():
        cells = []
        for k in ("r2", "smape", "mape", "coverage80"):
            v, sd = s[k], s.get(f"{k}_std", math.nan)
            cells.append("-" if math.isnan(v) else f"{v:.3f}±{sd:.3f}")
        print(f"{m:<9} {cells[0]:>14} {cells[1]:>14} {cells[2]:>14} {cells[3]:>12}")
    print(
        "learning curve (LUT SMAPE %): "
        + ", ".join(f"{n} -> {s.get('lut', math.nan):.1f}" for n, s in ev.curve)
    )


def targets(args: argparse.Namespace) -> list[Target]:
    return [get_target(name.strip()) for name in args.targets.split(",")]


def report(path: Path) -> dict[str, Any]:
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    print(f"wrote {path} ({size / 1e6:.2f} MB)")
    return {
        "path": str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path),
        "bytes": size,
    }


def fit_pieces(args: argparse.Namespace, cache: SqlCache, sources: dict[str, str]) -> int:
    data = piece_set(cache)
    n_arch = len(set(data.groups.tolist()))
    names, counts = np.unique(data.families, return_counts=True)
    families = {str(k): int(v) for k, v in zip(names, counts, strict=True)}
    print(f"{len(data)} open-flow runs with piece tables, {n_arch} architectures: {families}")
    min_runs = 40 if args.min_runs is None else args.min_runs
    if len(data) < min_runs and not args.force:
        print(f"only {len(data)} runs (< {min_runs}); calibrate more or --force", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    written: dict[str, Any] = {}
    evs: list[Any] = []
    for target in targets(args):
        extra: dict[str, Any] = {
            "target": target.name,
            "answers_for": kindred(target.name),
            "shipped": True,
            "trained_on": {
                "architectures": n_arch,
                "families": families,
                "calibration_files": sources,
                "note": NOTE,
            },
        }
        dest = args.out / f"open-{target.name}-post_synthesis"
        if not evs:  # evaluated (by architecture, by size) once, with the first target's fit
            fitted = fit_and_save(data, dest, "open", seeds=1, extra=extra)
            evs = list(fitted.evaluations)
            for ev in evs:
                print("\n".join(ev.lines()))
        else:
            extra |= {"eval": evs[0].piece, "evaluations": [ev.to_json() for ev in evs]}
            fitted = fit_and_save(data, dest, "open", extra=extra)
        for stale in fitted.path.glob("*.json.gz"):  # a whole-design model written here before
            stale.unlink()
        written[target.name] = report(fitted.path)
    print(
        "FIT_JSON "
        + json.dumps(
            {
                "level": "piece",
                "runs": len(data),
                "architectures": n_arch,
                "seconds": round(time.perf_counter() - t0, 1),
                "evaluations": [ev.to_json() for ev in evs],
                "models": written,
            }
        )
    )
    return 0


def kindred(name: str) -> list[str]:
    """The built-in targets a model calibrated on ``name`` answers for (same family and clock)."""
    from fpga_targets import builtin_targets

    t = get_target(name)
    return sorted(
        o.name
        for o in builtin_targets().values()
        if (o.family, o.clock_period_ns) == (t.family, t.clock_period_ns)
    )


if __name__ == "__main__":
    raise SystemExit(main())
