"""X-ray edge models: searched mlp / cnn models against BraggNN and PtychoNN, latency / energy,
sampler convergence (Optuna NSGA-II, TPE, GP, random; DeepHyper CBO where installed) and ePIE
against the network (docs/xray.md).

Every compared model is retrained with the same budget (``--epochs``, batch 64, lr 2e-3,
seed 0) after the search found it. Prints tables and one JSON line; writes OUT/bench_xray.json.

    python scripts/bench_xray.py --out runs/bench-xray            # ~1 h on 2 cores
    python scripts/bench_xray.py --quick --out /tmp/bx             # a few minutes
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import torch

from hwloop.archs import ArchSpec, build_model, builtin_archs
from hwloop.bops import compute_bops
from hwloop.measure import energy_unavailable_reason, measure_latency
from hwloop.search import SearchConfig, run_search
from hwloop.search._nas import make_objective
from hwloop.search._objectives import split_report
from hwloop.spaces import get_space
from hwloop.tasks import Task, TaskData, get_task
from hwloop.training import TrainConfig, evaluate, train

SAMPLERS = ("nsga2", "tpe", "gp", "random")


def retrain(spec: ArchSpec, task: Task, data: TaskData, epochs: int) -> dict[str, Any]:
    """The same budget for every model: train, then test metric, report and percentiles."""
    model = build_model(spec)
    cfg = TrainConfig(epochs=epochs, batch_size=64, lr=2e-3, seed=0, patience=epochs)
    res = train(model, task, data, cfg)
    out = {
        "arch": spec.name or spec.digest,
        "parameters": compute_bops(spec).parameters,
        "test": evaluate(model, task, data.test),
        "train_s": round(res.seconds, 1),
        **split_report(model, task, data.test),  # the task's report, p75 and p95
    }
    out["model"] = model
    return out


def search_best(
    task: str, space: str, args: argparse.Namespace, out: Path, size: int | None = None
) -> ArchSpec:
    cfg = SearchConfig(
        task=task,
        space=space,
        trials=args.ptycho_trials if task == "ptycho" else args.trials,
        epochs=args.epochs,
        limit=args.ptycho_limit if task == "ptycho" else args.bragg_limit,
        objectives=("metric", "params"),
        sampler="tpe",
        seed=0,
        size=size,
        out=out / f"{task}-{space}",
    )
    res = run_search(cfg)
    best = min(res.front, key=lambda m: m.metric)
    spec = ArchSpec.from_json(best.arch).with_name(f"best-{task}-{space} (trial {best.trial})")
    print(
        f"  {task} {space}: {res.n_complete} trials, best trial {best.trial} val {best.metric:.4f}"
    )
    return spec


def compare(rows: list[dict[str, Any]], base: dict[str, Any], keys: tuple[str, ...]) -> None:
    print(f"  {'model':34s}" + "".join(f"{k:>11s}" for k in keys) + f"{'params':>11s}  vs base")
    for r in rows:
        cells = "".join(f"{r.get(k, math.nan):11.4f}" for k in keys)
        d_err = 100 * (r[keys[0]] - base[keys[0]]) / base[keys[0]]
        d_par = 100 * (r["parameters"] - base["parameters"]) / base["parameters"]
        print(
            f"  {r['arch'][:34]:34s}{cells}{r['parameters']:11,d}  "
            f"error {d_err:+.1f} %, params {d_par:+.1f} %"
        )


def latency_rows(models: dict[str, tuple[torch.nn.Module, TaskData]], repeats: int) -> list[dict]:
    backends = ["torch", "ort-int8"] + (["torch-cuda"] if torch.cuda.is_available() else [])
    rows = []
    for name, (model, data) in models.items():
        for backend in backends:
            energy = energy_unavailable_reason(backend) is None
            m = measure_latency(
                model,
                data.test.x[:32],
                backend=backend,
                repeats=repeats,
                calib=data.train.x[:128],
                energy=energy,
            )
            rows.append({"model": name, **m.to_json()})
            e = f"{m.energy_mj:.2f} mJ" if m.energy_mj is not None else "n/a"
            print(
                f"  {name[:30]:30s} {backend:10s} {m.median_ms:9.3f} ms "
                f"(p10-p90 {m.p10_ms:.3f}-{m.p90_ms:.3f})  max|diff| {m.max_abs_diff:.2e}  {e}"
            )
    return rows


def hypervolume_2d(points: list[tuple[float, float]], ref: tuple[float, float]) -> float:
    """Area dominated by ``points`` (both minimised) up to ``ref``."""
    pts = sorted(p for p in points if p[0] < ref[0] and p[1] < ref[1])
    hv, best_y = 0.0, ref[1]
    for x, y in pts:
        if y < best_y:
            hv += (ref[0] - x) * (best_y - y)
            best_y = y
    return hv


def convergence(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Hypervolume of (val error, log10 params) against trial count on the Bragg mlp problem."""
    traces: dict[str, list[list[tuple[float, float]]]] = {}
    for sampler in SAMPLERS:
        for seed in range(args.seeds):
            cfg = SearchConfig(
                task="bragg",
                space="mlp",
                trials=args.conv_trials,
                epochs=args.conv_epochs,
                limit=args.bragg_limit,
                objectives=("metric", "params"),
                sampler=sampler,
                population=10,
                seed=seed,
                out=out / f"conv-{sampler}-{seed}",
            )
            t0 = time.perf_counter()
            run_search(cfg)
            study = optuna.load_study(study_name=cfg.study_name, storage=cfg.storage_url)
            done = sorted(
                (t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE),
                key=lambda t: t.number,
            )
            pts = [(t.values[0], math.log10(t.values[1])) for t in done]
            traces.setdefault(sampler, []).append(pts)
            print(f"  {sampler} seed {seed}: {len(pts)} trials in {time.perf_counter() - t0:.0f} s")
    dh = deephyper_cbo(args, out)
    if isinstance(dh, dict):
        traces["deephyper-cbo"] = dh["traces"]
    all_pts = [p for runs in traces.values() for pts in runs for p in pts]
    # error up to --hv-ref-px (the interesting region: predicting the patch centre gives
    # ~0.38 px), every size seen; hypervolume as a fraction of that box
    ref = (args.hv_ref_px, max(p[1] for p in all_pts) + 0.05)
    box = ref[0] * (ref[1] - min(p[1] for p in all_pts))
    checkpoints = [n for n in range(5, args.conv_trials + 1, 5)]
    table: dict[str, dict[int, tuple[float, float]]] = {}
    for name, runs in traces.items():
        table[name] = {}
        for n in checkpoints:
            hvs = [hypervolume_2d(pts[:n], ref) / box for pts in runs]
            table[name][n] = (float(np.mean(hvs)), float(np.std(hvs)))
    print(
        f"  hypervolume of (val px, log10 params) up to ({ref[0]:.2f} px, {ref[1]:.2f}), as a "
        f"fraction of that box; mean ± std over {args.seeds} seeds"
    )
    print("  " + f"{'sampler':14s}" + "".join(f"{n:>14d}" for n in checkpoints))
    for name, row in table.items():
        print("  " + f"{name:14s}" + "".join(f"{m:8.3f}±{s:5.3f}" for m, s in row.values()))
    first = {
        name: next((n for n, (m, _) in row.items() if m >= 0.95 * max(row.values())[0]), None)
        for name, row in table.items()
    }
    print(f"  trials to reach 95 % of its own final hypervolume: {first}")
    if not isinstance(dh, dict):
        print(f"  deephyper-cbo: skipped ({dh})")
    return {
        "ref": ref,
        "hypervolume": {k: {str(n): v for n, v in r.items()} for k, r in table.items()},
        "deephyper": dh if not isinstance(dh, dict) else "ran",
    }


def deephyper_cbo(args: argparse.Namespace, out: Path) -> dict[str, Any] | str:
    """DeepHyper's CBO (Chebyshev-scalarised BO, its default for several objectives) on the same
    problem, run function and seeds: each configuration trains exactly as an Optuna trial."""
    try:
        from deephyper.hpo import CBO, HpProblem
    except ImportError:
        return "the deephyper package is not installed: pip install 'hwloop[bench]'"
    from hwloop.spaces._base import BATCH_SIZES, LR_RANGE
    from hwloop.spaces._mlp import UNITS

    task = get_task("bragg")
    space = get_space("bragg", "mlp")
    data = task.load(limit=args.bragg_limit, seed=0)
    traces = []
    for seed in range(args.seeds):
        cfg = SearchConfig(
            task="bragg",
            space="mlp",
            epochs=args.conv_epochs,
            objectives=("metric", "params"),
            seed=seed,
            out=out / "conv-deephyper",
        )
        objective = make_objective(cfg, task, space, data)
        problem = HpProblem()
        problem.add_hyperparameter((1, space.max_hidden), "hidden_layers")  # type: ignore[attr-defined]
        for j in range(space.max_hidden):  # type: ignore[attr-defined]
            problem.add_hyperparameter(list(UNITS), f"fc{j}_units")
        problem.add_hyperparameter(list(BATCH_SIZES), "train_batch_size")
        problem.add_hyperparameter((LR_RANGE[0], LR_RANGE[1], "log-uniform"), "train_lr")
        problem.add_hyperparameter((1, args.conv_epochs), "train_epochs")

        def run(job: Any, objective: Any = objective) -> tuple[float, float]:
            params = dict(job.parameters)
            values = objective(optuna.trial.FixedTrial(params))  # type: ignore[arg-type]
            assert isinstance(values, tuple)
            return (-values[0], -values[1])  # DeepHyper maximises

        log_dir = out / f"conv-deephyper-{seed}"
        log_dir.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        search = CBO(problem, random_state=seed, log_dir=str(log_dir), n_initial_points=10)
        df = search.search(run, max_evals=args.conv_trials)
        df = df.sort_values("job_id")
        pts = [
            (-float(a), math.log10(-float(b)))
            for a, b in zip(df["objective_0"], df["objective_1"], strict=True)
        ]
        traces.append(pts)
        print(f"  deephyper-cbo seed {seed}: {len(pts)} evals in {time.perf_counter() - t0:.0f} s")
    return {"traces": traces}


def epie_vs_network(model: torch.nn.Module, size: int, args: argparse.Namespace) -> dict:
    from hwloop.tasks.ptycho import SimConfig, build_dataset, epie_scan

    cfg = SimConfig(size=size)
    ds = build_dataset(limit=args.ptycho_limit, seed=0, cfg=cfg, progress=False)
    obj = int(np.flatnonzero(ds.object_split == 2)[0])  # a test object
    res = epie_scan(ds.scan(obj), ds.cfg, iterations=args.epie_iterations)
    idx = np.flatnonzero(ds.object_id == obj)
    x = torch.from_numpy(ds.inputs(idx))
    y = torch.from_numpy(ds.targets(idx))
    model.eval()
    with torch.no_grad():
        model(x)  # warm-up
        t0 = time.perf_counter()
        pred = model(x)
        net_s = time.perf_counter() - t0
    rep = get_task("ptycho", size=size).report(pred, y)
    out = {
        "patterns": int(len(idx)),
        "epie_s": res.seconds,
        "epie_iterations": res.iterations,
        "epie_amp_mae": res.amp_mae,
        "epie_phase_mae": res.phase_mae,
        "net_s": net_s,
        "net_amp_mae": rep["amp_mae"],
        "net_phase_mae": rep["phase_mae"],
        "speedup": res.seconds / net_s,
    }
    print(
        f"  ePIE ({res.iterations} iterations, {len(idx)} patterns): {res.seconds:.2f} s, "
        f"amp MAE {res.amp_mae:.4f}, phase MAE {res.phase_mae:.4f} rad (global phase removed)"
    )
    print(
        f"  network (one batch, CPU): {net_s * 1e3:.1f} ms, amp MAE {rep['amp_mae']:.4f}, "
        f"phase MAE {rep['phase_mae']:.4f} rad; {out['speedup']:.0f}x faster"
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("runs/bench-xray"))
    ap.add_argument("--quick", action="store_true", help="tiny budgets (a smoke run)")
    ap.add_argument("--trials", type=int, default=24, help="search trials per Bragg space")
    ap.add_argument("--ptycho-trials", type=int, default=12, help="search trials, ptycho cnn")
    ap.add_argument("--epochs", type=int, default=10, help="the training budget of every model")
    ap.add_argument("--bragg-limit", type=int, default=8000)
    ap.add_argument("--ptycho-limit", type=int, default=1920)
    ap.add_argument("--ptycho-size", type=int, default=32)
    ap.add_argument("--conv-trials", type=int, default=40)
    ap.add_argument("--conv-epochs", type=int, default=6)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--hv-ref-px", type=float, default=0.5, help="hypervolume reference error")
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--epie-iterations", type=int, default=200)
    ap.add_argument(
        "--skip",
        default="",
        help="comma list of sections to skip: bragg,ptycho,latency,convergence,epie",
    )
    args = ap.parse_args()
    if args.quick:
        args.trials, args.epochs, args.bragg_limit, args.ptycho_limit = 4, 2, 1000, 800
        args.ptycho_trials = 3
        args.conv_trials, args.conv_epochs, args.seeds, args.repeats = 5, 1, 1, 5
        args.epie_iterations = 20
    skip = set(args.skip.split(",")) - {""}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    args.out.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {"bench": "xray", "args": {k: str(v) for k, v in vars(args).items()}}
    t_all = time.perf_counter()
    measured: dict[str, tuple[torch.nn.Module, TaskData]] = {}
    if "bragg" not in skip:
        print("== 1. Bragg: best mlp / cnn found vs braggnn (same training budget) ==")
        task = get_task("bragg")
        data = task.load(limit=args.bragg_limit, seed=0)
        rows = [retrain(builtin_archs()["braggnn"], task, data, args.epochs)]
        for space in ("mlp", "cnn"):
            rows.append(
                retrain(search_best("bragg", space, args, args.out), task, data, args.epochs)
            )
        keys = ("test", "p75", "p95")
        compare(rows, rows[0], keys)
        print("  seed (DeepHyper NAS): mlpBragg 31 % lower error at 87.6 % fewer parameters")
        measured.update({r["arch"]: (r.pop("model"), data) for r in rows})
        doc["bragg"] = rows
    if "ptycho" not in skip:
        print(f"== 2. ptycho ({args.ptycho_size}x{args.ptycho_size}): best cnn vs ptychonn ==")
        size = args.ptycho_size
        task = get_task("ptycho", size=size)
        data = task.load(limit=args.ptycho_limit, seed=0, progress=False)
        base = builtin_archs()["ptychonn"].with_input_shape((1, size, size))
        rows = [retrain(base.with_name("ptychonn"), task, data, args.epochs)]
        rows.append(
            retrain(search_best("ptycho", "cnn", args, args.out, size), task, data, args.epochs)
        )
        compare(rows, rows[0], ("mae", "amp_mae", "phase_mae", "p75", "p95"))
        mean = torch.from_numpy(data.train.y.mean(axis=0, keepdims=True))
        ref = task.report(mean.expand(len(data.test), -1), torch.from_numpy(data.test.y))
        print(
            f"  reference: the mean training map for every pattern: mae {ref['mae']:.4f}, amp "
            f"{ref['amp_mae']:.4f}, phase {ref['phase_mae']:.4f} rad"
        )
        doc["ptycho_mean_predictor"] = ref
        print("  seed (DeepHyper NAS): cnnPtycho 16.8 % lower MAE at 12.8 % fewer parameters")
        ptycho_models = {r["arch"]: (r.pop("model"), data) for r in rows}
        measured.update(ptycho_models)
        doc["ptycho"] = rows
        if "epie" not in skip:
            print("== 5. ePIE vs the network on one simulated test scan ==")
            best = list(ptycho_models.values())[-1][0]
            doc["epie"] = epie_vs_network(best, size, args)
    if "latency" not in skip and measured:
        print("== 3. latency / energy at batch 32 on this machine ==")
        reason = energy_unavailable_reason("torch")
        if reason:
            print(f"  energy: {reason}")
        doc["latency"] = latency_rows(measured, args.repeats)
        print(
            "  seed (Jetson AGX Orin, TensorRT INT8): BraggNN 0.19 -> 0.17 ms, "
            "PtychoNN 1.69 -> 1.53 ms"
        )
    if "convergence" not in skip:
        print("== 4. sampler convergence (Bragg mlp; val error, params) ==")
        doc["convergence"] = convergence(args, args.out)
    doc["seconds"] = round(time.perf_counter() - t_all, 1)
    (args.out / "bench_xray.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
    print(json.dumps(doc, default=str))


if __name__ == "__main__":
    main()
