"""Benchmark the resource surrogates: prediction throughput, fit time, held-out evaluation.

    python scripts/bench_surrogate.py [--cache URL]

- predictions per second for a batch of 10,000 designs sampled from the Bragg block and MLP
  spaces (feature extraction from the design documents + the XGBoost models), with a model
  fitted on the wa-hls4ml CSV;
- fit time for 1,000 and 10,000 records: rows drawn with replacement from the real results
  (wa-hls4ml CSV HLS estimates; only the timing is of interest, the records repeat);
- the held-out evaluation (architectures held out) of (a) the open-flow runs in the cache and
  (b) the wa-hls4ml CSV;
- the open flow's piece-level surrogate (issue 17) on the runs that carry piece tables: held out
  by architecture (5 folds) and by size (trained below the median LUT, tested above), each
  against the whole-design model on the same split; each published Bragg arch (nac-*, braggnn)
  held out of training in turn, predicted vs real at each bit width; and its throughput on the
  same 10,000 sampled designs (descriptor planning + one batched XGBoost call).

Without ``--cache`` it builds a throw-away cache from ``surrogates/data/calibration/*.parquet`` and
``../shared/fixtures/wa-hls4ml``. Prints a table and one JSON line (prefix ``BENCH_JSON``).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from hwloop import HwloopError
from hwloop.prediction import by_arch, by_size, evaluate, held_out_pairs, piece_set, training_set
from hwloop.spaces import get_space
from hwloop.synth import HardwareConfig
from surrogates import ResourceSurrogate, feature_matrix
from synth_cache import SqlCache, import_paths

REPO = Path(__file__).resolve().parents[1]
PART = "xcvu13p-flga2577-2-e"
CSV_NAME = "wa-hls4ml-search_results_resource.csv"


def design_docs(n: int, seed: int = 0) -> list[dict]:  # type: ignore[type-arg]
    """Canonical design documents (as the cache stores them) of ``n`` sampled architectures."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rng = np.random.default_rng(seed)
    spaces = [get_space("bragg", "block"), get_space("bragg", "mlp")]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    docs = []
    for i in range(n):
        trial = study.ask()
        spec = spaces[i % 2].sample(trial)
        study.tell(trial, 0.0)
        hw = HardwareConfig.uniform(
            PART, int(rng.choice([4, 6, 8])), strategy="distributed_arithmetic"
        )
        docs.append(
            {
                "arch": spec.structure(),
                "arch_digest": spec.digest,
                "sparsity": float(rng.choice([0.0, 0.5, 0.75])),
                "hw": hw.to_json(),
            }
        )
    return docs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=None)
    args = ap.parse_args()
    if args.cache:
        cache = SqlCache(args.cache)
    else:
        cache = SqlCache(f"sqlite:///{tempfile.mkdtemp()}/bench.db")
        import_paths(cache, sorted((REPO / "surrogates/data/calibration").glob("*.parquet")))
        # (b) is the resource CSV alone (the JSON records are other architectures and versions)
        import_paths(cache, [REPO / "../shared/fixtures/wa-hls4ml" / CSV_NAME])
    wa = training_set(cache, "vivado", "hls_estimate")
    caps = {"lut": 1_728_000.0, "dsp": 12_288.0}

    model = ResourceSurrogate(flow="vivado", kind="hls_estimate").fit(wa.X, wa.Y, wa.groups)
    docs = design_docs(10_000)
    t0 = time.perf_counter()
    X = feature_matrix(docs, caps)
    t_feat = time.perf_counter() - t0
    t0 = time.perf_counter()
    model.predict(X)
    t_pred = time.perf_counter() - t0
    per_s = len(docs) / (t_feat + t_pred)

    fit_s = {}
    rng = np.random.default_rng(0)
    for n in (1_000, 10_000):
        rows = rng.integers(0, len(wa), n)
        t0 = time.perf_counter()
        ResourceSurrogate(flow="vivado", kind="hls_estimate").fit(
            wa.X[rows], {k: v[rows] for k, v in wa.Y.items()}, wa.groups[rows]
        )
        fit_s[n] = time.perf_counter() - t0

    print(
        f"predictions: {per_s:,.0f} designs/s for 10,000 designs "
        f"(features {t_feat:.2f} s, models {t_pred:.2f} s)"
    )
    for n, s in fit_s.items():
        print(f"fit on {n:,} records: {s:.1f} s (6 metrics, conformal split + refit)")
    evals = {}
    for name, flow, kind in (
        ("open", "open", "post_synthesis"),
        ("wa-hls4ml", "vivado", "hls_estimate"),
    ):
        try:
            data = training_set(cache, flow, kind)
        except HwloopError as exc:  # no data of that flow in this cache
            print(f"{name}: {exc}")
            continue
        ev = evaluate(data)
        evals[name] = ev.to_json()
        print(
            f"\n{name} ({flow}, {kind}): {len(data)} designs, {len(set(data.groups))} "
            f"architectures; held out {ev.n_test} designs of {ev.n_test_archs}"
        )
        print(f"{'metric':<9} {'R2':>7} {'SMAPE%':>7} {'MAPE%':>8} {'cov80':>6}")
        for m, s in ev.scores.items():
            vals = [s["r2"], s["smape"], s["mape"], s["coverage80"]]
            cells = ["-" if math.isnan(v) else f"{v:.3f}" for v in vals]
            print(f"{m:<9} {cells[0]:>7} {cells[1]:>7} {cells[2]:>8} {cells[3]:>6}")
        print(
            "learning curve (LUT SMAPE %): "
            + ", ".join(f"{n} -> {s.get('lut', math.nan):.1f}" for n, s in ev.curve)
        )
    pieces = bench_pieces(cache, docs)
    print(
        "BENCH_JSON "
        + json.dumps(
            {
                "bench": "surrogate",
                "predictions_per_s": round(per_s),
                "fit_s": {str(k): round(v, 2) for k, v in fit_s.items()},
                "eval": evals,
                "pieces": pieces,
            }
        )
    )


PUBLISHED = ("nac-tiny", "nac-small", "nac-medium", "nac-base", "nac-large", "braggnn")


def bench_pieces(cache: SqlCache, docs: list[dict[str, Any]]) -> dict[str, Any]:
    try:
        ps = piece_set(cache)
    except HwloopError as exc:
        print(f"piece-level: {exc}")
        return {}
    out: dict[str, Any] = {"designs": len(ps), "families": sorted(set(ps.families.tolist()))}
    print(f"\npiece-level surrogate: {len(ps)} open-flow runs with piece tables")
    for ev in (by_arch(ps), by_size(ps)):
        out[ev.split] = ev.to_json()
        print("\n".join(ev.lines()))
    rows = held_out_pairs(ps, PUBLISHED)
    out["published_held_out"] = rows
    print("published archs, each held out of training (prediction / real - 1):")
    for r in rows:
        cells = []
        for m in ("lut", "ff", "dsp", "latency"):
            real, pred = r[m], r[f"{m}_pred"]
            cells.append(f"{m} {pred / real - 1:+6.1%}" if real else f"{m} {pred:.0f} vs 0")
        print(f"  {r['arch']:<10} {r['bits']}b  real LUT {r['lut']:>11,.0f}  " + "  ".join(cells))
    model = ps.fit()
    t0 = time.perf_counter()
    model.predict_documents(docs)
    dt = time.perf_counter() - t0
    out["predictions_per_s"] = round(len(docs) / dt)
    print(f"piece-level predictions: {len(docs) / dt:,.0f} designs/s for {len(docs):,} designs")
    return out


if __name__ == "__main__":
    main()
