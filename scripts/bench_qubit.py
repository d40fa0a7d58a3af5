"""Qubit readout (issue 23): the reference classifiers against the best searched model, at equal
data, on simulated dispersive-readout traces (hwloop.tasks.qubit, default parameters).

Every classifier is fitted on the same training traces and scored on the same held-out test
traces (the experiment file's split: random 0.8 / 0.1 / 0.1, seed 0); the searched model is the
front member of ``examples/qubit.toml``'s search with the lowest validation error, its test
fidelity read from the search's test report, its LUT / DSP / latency predicted for the XCZU49DR
(the RFSoC of QICK's ZCU216). Prints a table and a JSON line.

    python scripts/bench_qubit.py [--n 20000] [--trials 24] [--epochs 20] [--out runs/bench-qubit]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from hwloop.experiment import load_experiment
from hwloop.pipeline import best_members, run_experiment
from hwloop.tasks.file import random_split
from hwloop.tasks.qubit import ReadoutConfig, reference_fidelities, simulate

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000, help="traces (half |1>)")
    ap.add_argument("--trials", type=int, default=24)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0, help="simulation seed")
    ap.add_argument("--out", type=Path, default=Path("runs/bench-qubit"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    cfg = ReadoutConfig()
    t0 = time.perf_counter()
    x, y, meta = simulate(cfg, args.n, args.seed)
    data = args.out / "qubit.npz"
    np.savez(data, x=x, y=y, **meta)
    t_sim = time.perf_counter() - t0
    split = random_split(len(x), (0.8, 0.1, 0.1), 0)
    t0 = time.perf_counter()
    refs = reference_fidelities(x[split == 0], y[split == 0], x[split == 2], y[split == 2])
    t_refs = time.perf_counter() - t0

    exp = load_experiment(
        REPO / "examples" / "qubit.toml",
        [
            f"data.path='{data.resolve()}'",
            f"search.trials={args.trials}",
            f"search.epochs={args.epochs}",
            "local.iterations=0",
            "output.synthesize=0",
        ],
    )
    t0 = time.perf_counter()
    run = run_experiment(exp, args.out / "run")
    t_search = time.perf_counter() - t0
    best = best_members(run.search.front, 1)
    row: dict[str, object] = {"traces": args.n, "test_traces": int((split == 2).sum())}
    row.update({f"fidelity_{k}": round(v, 4) for k, v in refs.items()})
    if best:
        m = best[0]
        pred = m.hw.get("predicted") or {}
        row.update(
            fidelity_searched=round(float(m.extra["test_report"]["fidelity"]), 4),
            searched_val_error=round(m.metric, 4),
            searched_trial=m.trial,
            searched_hidden=[  # the hidden layers' widths (the last linear is the output)
                layer.get("out_features")
                for layer in m.arch.get("layers", [])
                if layer.get("op") == "linear"
            ][:-1],
            lut=round(pred["lut"][1]),
            lut_80=[round(pred["lut"][0]), round(pred["lut"][2])],
            dsp=round(pred["dsp"][1]),
            latency_ns=round(float(m.hw.get("latency_ns", float("nan"))), 1),
            target=exp.hardware.target,
        )
        row["beats_matched_filter"] = row["fidelity_searched"] > refs["matched_filter"]  # type: ignore[operator]
    row.update(
        seconds_simulate=round(t_sim, 1),
        seconds_references=round(t_refs, 1),
        seconds_search=round(t_search, 1),
        trials=run.search.n_complete,
    )
    print(
        f"qubit readout, {args.n} traces ({cfg.samples} I/Q samples of {cfg.dt_ns:g} ns), "
        f"T1 {cfg.t1_us:g} us, SNR {cfg.snr:g}; test split {row['test_traces']} traces"
    )
    for k in ("boxcar", "matched_filter", "gaussian_mixture"):
        print(f"  {k:<18} fidelity {refs[k]:.4f}")
    if best:
        print(
            f"  {'searched model':<18} fidelity {row['fidelity_searched']:.4f} "
            f"(trial {row['searched_trial']}, hidden {row['searched_hidden']}); predicted on "
            f"{exp.hardware.target}: LUT {row['lut']:,} (80 % {row['lut_80']}), DSP {row['dsp']}, "
            f"latency {row['latency_ns']} ns"
        )
    print(json.dumps(row))


if __name__ == "__main__":
    main()
