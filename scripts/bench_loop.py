"""Benchmark the hardware loop against a BOPs-only search at the same budget (issue 5).

    python scripts/bench_loop.py [--trials 24] [--epochs 3] [--limit 2000] [--out DIR]

1. A small Bragg search (MLP space, VU13P, open flow) minimising (metric, predicted LUT,
   predicted latency) under ``--max-util`` / ``--max-latency-ns``, with the loop on: every
   ``--synth-every`` trials it synthesises ``--synth-batch`` front members for real, refits the
   surrogate and re-scores the front.
2. Every member of its final front is then synthesised for real (the cache already holds those
   the loop did), and the surrogate's error on the front is reported twice: with the model the
   search started from (the shipped default), and with the last refit. Members the refit was
   trained on are counted apart from the others.
3. The same budget with BOPs as the only cost (metric, BOPs; no hardware objective): each member
   of that front is retrained (training is seeded, so it is the same network), designed at the
   same bits and synthesised for real, and the script counts how many break the constraints.

Prints tables and one JSON line (prefix ``BENCH_JSON``). Real training, real da4ml + yosys.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import optuna

from fpga_targets import get_target
from hwloop.archs import ArchSpec, build_model
from hwloop.prediction import find_model
from hwloop.search import SearchConfig, run_search
from hwloop.search._hardware import HardwareScorer, latest_refit, real_values
from hwloop.search._loop import loop_rounds
from hwloop.synth import get_synthesizer, synthesize
from hwloop.tasks import get_task
from hwloop.training import TrainConfig, train
from synth_cache import SqlCache

METRICS = ("lut", "ff", "latency")


def _smape(pred: float, real: float) -> float:
    d = abs(pred) + abs(real)
    return 0.0 if d == 0 else 200.0 * abs(pred - real) / d


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else math.nan


def _violates(real: dict[str, float], target: Any, max_util: float, max_lat: float) -> list[str]:
    res = target.resources
    out = [
        m
        for m in ("lut", "ff", "dsp", "bram_18k")
        if m in real and getattr(res, m, 0) and real[m] / getattr(res, m) > max_util
    ]
    if real.get("latency_ns", 0.0) > max_lat:
        out.append("latency")
    return out


def _synth_all(
    designs: list[Any], synth: Any, cache_url: str, timeout: float
) -> list[dict[str, Any]]:
    out = []
    for d in designs:
        cache = SqlCache(cache_url)
        entry = synthesize(d, synth, cache, timeout_s=timeout, source="bench_loop").entry
        res = entry.result("post_synthesis")
        out.append({"status": entry.status, "result": res})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=24)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--limit", type=int, default=2000)
    ap.add_argument("--population", type=int, default=8)
    ap.add_argument("--space", default="mlp")
    ap.add_argument("--target", default="vu13p")
    ap.add_argument("--hw-bits", type=int, default=4)
    ap.add_argument("--max-util", type=float, default=0.01)
    ap.add_argument("--max-latency-ns", type=float, default=40.0)
    ap.add_argument("--synth-every", type=int, default=8)
    ap.add_argument("--synth-batch", type=int, default=2)
    ap.add_argument("--synth-timeout", type=float, default=900.0, help="seconds per synthesis")
    ap.add_argument("--out", type=Path, default=Path("bench-loop-out"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    args.out.mkdir(parents=True, exist_ok=True)
    cache_url = f"sqlite:///{(args.out / 'cache.db').resolve()}"
    target = get_target(args.target)
    shipped = find_model("open", target, "post_synthesis")  # the default that answers for it
    common = dict(
        task="bragg",
        space=args.space,
        target=args.target,
        trials=args.trials,
        epochs=args.epochs,
        limit=args.limit,
        population=args.population,
        seed=args.seed,
        hw_bits=args.hw_bits,
        cache=cache_url,
    )
    t0 = time.perf_counter()
    loop_cfg = SearchConfig(
        **common,  # type: ignore[arg-type]
        objectives=("metric", "lut", "latency"),
        max_util=args.max_util,
        max_latency_ns=args.max_latency_ns,
        synth_every=args.synth_every,
        synth_batch=args.synth_batch,
        synth_timeout=args.synth_timeout,
        out=args.out / "loop",
        surrogate=shipped,
    )
    # --surrogate pins the start model; the loop's refits take over from round 1 on
    loop = run_search(loop_cfg)
    t_loop = time.perf_counter() - t0
    study = optuna.load_study(study_name=loop.study_name, storage=loop.storage)
    rounds = loop_rounds(study)
    n_real_loop = sum(d["status"] == "ok" for r in rounds for d in r["designs"])
    trained_on = {d["key"] for r in rounds for d in r["designs"]}

    synth = get_synthesizer("open", jobs=2)
    final = latest_refit(loop_cfg.out) or shipped
    strategy = "distributed_arithmetic"

    def scorer(model_dir: Path) -> HardwareScorer:
        return HardwareScorer(target, synth, args.hw_bits, strategy, model_dir)

    before, after = scorer(shipped), scorer(final)
    from hwloop.search._weights import load_trial_model, weights_store

    store = weights_store(loop_cfg)
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    front_designs = [before.design(load_trial_model(trials[m.trial], store)) for m in loop.front]
    t1 = time.perf_counter()
    reals = _synth_all(front_designs, synth, cache_url, args.synth_timeout)
    t_front = time.perf_counter() - t1
    p_before = before.score_designs(front_designs)
    p_after = after.score_designs(front_designs)
    rows = []
    for m, r, b, a in zip(loop.front, reals, p_before, p_after, strict=True):
        real = real_values(r["result"], target.clock_period_ns) if r["status"] == "ok" else {}
        rows.append(
            {
                "trial": m.trial,
                "metric": m.metric,
                "key": b.key,
                "in_refit": b.key in trained_on,
                "status": r["status"],
                "real": real,
                "before": {k: b.predicted[k][1] for k in METRICS if k in b.predicted},
                "after": {k: a.predicted[k][1] for k in METRICS if k in a.predicted},
                "violates": _violates(real, target, args.max_util, args.max_latency_ns)
                if real
                else ["not synthesised"],
            }
        )

    def err(which: str, subset: list[dict[str, Any]]) -> dict[str, float]:
        out = {}
        for k in METRICS:
            pairs = [
                (r[which][k], r["real"][k]) for r in subset if k in r["real"] and k in r[which]
            ]
            out[k] = _mean([_smape(p, q) for p, q in pairs])
        return out

    ok = [r for r in rows if r["real"]]
    held = [r for r in ok if not r["in_refit"]]
    errors = {
        "before_all": err("before", ok),
        "after_all": err("after", ok),
        "before_held_out": err("before", held),
        "after_held_out": err("after", held),
    }

    # --- the same budget, BOPs as the only cost ---------------------------------------------
    t2 = time.perf_counter()
    bops_cfg = SearchConfig(**common, objectives=("metric", "bops"), out=args.out / "bops")  # type: ignore[arg-type]
    bops = run_search(bops_cfg)
    t_bops = time.perf_counter() - t2
    task = get_task("bragg")
    data = task.load(limit=args.limit, seed=args.seed)
    tc = TrainConfig(epochs=args.epochs, batch_size=64, lr=2e-3, seed=args.seed, patience=3)
    bops_designs = []
    for m in bops.front:
        model = build_model(ArchSpec.from_json(m.arch))
        train(model, task, data, tc)
        bops_designs.append(before.design(model.eval()))
    t3 = time.perf_counter()
    bops_reals = _synth_all(bops_designs, synth, cache_url, args.synth_timeout)
    t_bops_synth = time.perf_counter() - t3
    bops_rows = []
    for m, r in zip(bops.front, bops_reals, strict=True):
        real = real_values(r["result"], target.clock_period_ns) if r["status"] == "ok" else {}
        viol = _violates(real, target, args.max_util, args.max_latency_ns) if real else []
        if r["status"] != "ok":
            viol = [r["status"]]
        bops_rows.append(
            {"trial": m.trial, "metric": m.metric, "bops": m.bops, "real": real, "violates": viol}
        )

    # --- report ------------------------------------------------------------------------------
    lim = f"max util {args.max_util:g} of {target.name}, max latency {args.max_latency_ns:g} ns"
    print(
        f"bench_loop: bragg/{args.space}, {args.trials} trials x {args.epochs} epochs, "
        f"{args.limit} peaks, {args.hw_bits}-bit designs, {lim}"
    )
    print(
        f"\nloop search ({t_loop:.0f} s): {len(rounds)} rounds, {n_real_loop} real syntheses; "
        f"front of {len(loop.front)} (then all synthesised, {t_front:.0f} s)"
    )
    print(
        f"{'trial':>5} {'metric px':>9} {'refit':>5} {'LUT real':>9} {'before':>9} {'after':>9} "
        f"{'lat ns':>7} {'before':>7} {'after':>7}  violates"
    )
    clk = target.clock_period_ns
    for r in rows:
        real, b, a = r["real"], r["before"], r["after"]
        print(
            f"{r['trial']:>5} {r['metric']:>9.3f} {('yes' if r['in_refit'] else 'no'):>5} "
            f"{real.get('lut', math.nan):>9.0f} {b.get('lut', math.nan):>9.0f} "
            f"{a.get('lut', math.nan):>9.0f} {real.get('latency_ns', math.nan):>7.1f} "
            f"{b.get('latency', math.nan) * clk:>7.1f} {a.get('latency', math.nan) * clk:>7.1f}"
            f"  {','.join(r['violates']) or '-'}"
        )
    print("\nsurrogate SMAPE % on the loop's front (real vs predicted):")
    for name, e in errors.items():
        n = len(ok) if name.endswith("all") else len(held)
        cells = "  ".join(f"{k} {v:5.1f}" for k, v in e.items())
        print(f"  {name:<16} (n={n:>2})  {cells}")
    print(
        f"\nBOPs-only search ({t_bops:.0f} s): front of {len(bops.front)}, retrained and "
        f"synthesised ({t_bops_synth:.0f} s)"
    )
    print(f"{'trial':>5} {'metric px':>9} {'BOPs':>10} {'LUT real':>9} {'lat ns':>7}  violates")
    for r in bops_rows:
        real = r["real"]
        print(
            f"{r['trial']:>5} {r['metric']:>9.3f} {r['bops']:>10.3g} "
            f"{real.get('lut', math.nan):>9.0f} {real.get('latency_ns', math.nan):>7.1f}"
            f"  {','.join(r['violates']) or '-'}"
        )
    broken = sum(bool(r["violates"]) and r["real"] != {} for r in bops_rows)
    unfinished = sum(r["real"] == {} for r in bops_rows)
    loop_broken = sum(bool(r["violates"]) for r in rows)
    print(
        f"\n{broken} of {len(bops_rows)} BOPs-only front members break the constraints when "
        f"synthesised ({unfinished} more did not finish synthesis in {args.synth_timeout:g} s); "
        f"{loop_broken} of {len(rows)} of the loop's front do."
    )
    doc = {
        "trials": args.trials,
        "epochs": args.epochs,
        "limit": args.limit,
        "hw_bits": args.hw_bits,
        "max_util": args.max_util,
        "max_latency_ns": args.max_latency_ns,
        "rounds": len(rounds),
        "real_syntheses_in_loop": n_real_loop,
        "loop_front": rows,
        "surrogate_smape": errors,
        "bops_front": bops_rows,
        "bops_front_broken": broken,
        "bops_front_unfinished": unfinished,
        "loop_front_broken": loop_broken,
        "seconds": {
            "loop_search": round(t_loop, 1),
            "front_synthesis": round(t_front, 1),
            "bops_search": round(t_bops, 1),
            "bops_synthesis": round(t_bops_synth, 1),
        },
    }
    (args.out / "bench_loop.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
    print("BENCH_JSON " + json.dumps(doc, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
