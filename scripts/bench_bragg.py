"""Benchmark: train published Bragg archs with the same budget on the rendered data.

Prints, per arch: test mean distance (px), BOPs at 32 and 8 bits, parameters and training time,
then one JSON line (prefix ``BENCH_JSON``) with the same numbers.

    python scripts/bench_bragg.py [--archs braggnn,nac-small] [--epochs 15] [--limit 0]
                                  [--seeds 0,1,2]

Each arch is trained once per seed (weights initialised from the seed; data split fixed), because
small heads with an activation on the output can die at initialisation for some seeds.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from hwloop.archs import build_model, builtin_archs
from hwloop.bops import compute_bops
from hwloop.tasks import get_task
from hwloop.training import TrainConfig, train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archs", default="braggnn,nac-small")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--limit", type=int, default=0, help="peaks used (0: all)")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--seed", type=int, default=0, help="data seed (render, split)")
    ap.add_argument("--seeds", default="0,1,2", help="training seeds, comma-separated")
    args = ap.parse_args()

    task = get_task("bragg")
    t0 = time.perf_counter()
    data = task.load(limit=args.limit or None, seed=args.seed, progress=True)
    load_s = time.perf_counter() - t0
    print(
        f"data: {data.description}; train/val/test {len(data.train)}/{len(data.val)}/"
        f"{len(data.test)}; loaded in {load_s:.1f} s; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}"
    )
    centre = np.full_like(data.test.y, 5.5 / 11)
    print(
        f"reference: predicting the patch centre gives "
        f"{task.metric(torch.from_numpy(centre), torch.from_numpy(data.test.y)):.4f} px"
    )
    seeds = [int(x) for x in args.seeds.split(",")]
    header = (
        f"{'arch':<11} {'seed':>4} {'test px':>8} {'val px':>8} {'BOPs@32':>10} "
        f"{'BOPs@8':>10} {'params':>8} {'epochs':>6} {'train s':>8}"
    )
    results, rows, summary = [], [], []
    for name in args.archs.split(","):
        spec = builtin_archs()[name]
        b32, b8 = compute_bops(spec, 32), compute_bops(spec, 8)
        per_seed = []
        for seed in seeds:
            cfg = TrainConfig(
                epochs=args.epochs,
                batch_size=args.batch_size,
                lr=args.lr,
                seed=seed,
                patience=5,
                optimizer="adam",
            )
            res = train(build_model(spec), task, data, cfg)
            per_seed.append(res.test_metric)
            results.append(
                {
                    "arch": name,
                    "seed": seed,
                    "test_mean_distance_px": round(res.test_metric, 5),
                    "val_mean_distance_px": round(res.val_metric, 5),
                    "bops_32": b32.total,
                    "bops_8": b8.total,
                    "parameters": b32.parameters,
                    "epochs_run": res.epochs_run,
                    "train_seconds": round(res.seconds, 1),
                }
            )
            rows.append(
                f"{name:<11} {seed:4d} {res.test_metric:8.4f} {res.val_metric:8.4f} "
                f"{b32.total / 1e6:9.2f}M {b8.total / 1e6:9.2f}M {b32.parameters:8,d} "
                f"{res.epochs_run:6d} {res.seconds:8.1f}"
            )
            print(rows[-1], flush=True)
        arr = np.array(per_seed)
        collapsed = int((arr > 1.0).sum())  # worse than predicting the patch centre
        summary.append(
            f"{name:<11} best {arr.min():.4f} px, median {np.median(arr):.4f} px over "
            f"{len(seeds)} seeds; {collapsed} collapsed run(s) (> 1 px)"
        )
    print()
    print(
        f"budget: {args.epochs} epochs (early stopping patience 5), batch {args.batch_size}, "
        f"Adam lr {args.lr} cosine, training seeds {seeds}, data seed {args.seed}"
    )
    print(header)
    print("\n".join(rows))
    print("\n".join(summary))
    print(
        "BENCH_JSON "
        + json.dumps(
            {
                "bench": "bragg",
                "epochs": args.epochs,
                "batch_size": args.batch_size,
                "lr": args.lr,
                "n_train": len(data.train),
                "n_test": len(data.test),
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
