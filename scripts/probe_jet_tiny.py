"""Why does the tiny Deep Set stay under its published 61.2 %? (issue 19, a probe)

    python scripts/probe_jet_tiny.py [--variants pt,ptrel,fast,ptrel-fast] [--seeds 0,1,2]
        [--radius 0.07] [--schedule nac] [--arch deepsets-tiny] [--n 300000] [--threads N]
        [--band LO,HI]

Trains a built-in Deep Set (hwloop's model of the arch spec) in plain torch on the task's
jets, 80/10/10 as the task splits them, and varies one cause at a time:

- ``--variants``: the constituents' features. ``pt``: the task's (pT [GeV], η_rel, φ_rel), each
  minus its median over the 5-95 % range, padding 0; ``ptrel``: pT divided by the jet's pT
  (the rest as ``pt``); ``fast``: l1-jet-id's ``robust_fast`` scaling (no median shift, range
  over every slot, padding included, so padding stays below every real constituent);
  ``ptrel-fast``: both.
- ``--radius``: the anti-kt radius that merges each jet's stored candidates (the task's 0.07).
- ``--band``: only jets with pT in [LO, HI] GeV, as many of each class (the least-filled
  class's count), against ``band-control``: as many jets of each class drawn at random from
  all of them. A narrow band stands in for a narrower jet pT than the hard-process window gives
  (the original's and det3's 1 TeV ± 0.5 %, det2's ± 10 %), so absolute pT is nearly pT / jet pT.
- ``--schedule``: ``nac`` is nac-opt's ``evaluate_deepsets``: Adam 3.2e-3, batch 1024 (last
  partial batch dropped), ReduceLROnPlateau(0.1, 3) on the validation loss, stopped once the
  loss has not beaten the epoch before for 7 epochs in a row, at most 100 epochs; ``const``:
  the rate constant, stopped 7 epochs after the best; ``cosine``: annealed to zero over all 100
  epochs, no early stop. Each keeps the best validation-loss weights.

Prints a row per run with, per ReLU, how many of its units output 0 for every validation jet
(dead) after epoch 1 and for the kept weights; the mean and spread per setting; and one JSON
line (``PROBE_JSON``).
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import time
from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from hwloop.archs import build_model, builtin_archs
from hwloop.tasks.jets import CLASSES
from hwloop.tasks.jets._dataset import (
    JetSet,
    _find_shard,
    _folders,
    _read,
    _shard_seed,
    load_jets,
    split_and_scale,
)
from hwloop.tasks.jets._merge import MERGE_RADIUS, merge_candidates

VARIANTS = ("pt", "ptrel", "fast", "ptrel-fast")


def jets(n: int, radius: float) -> JetSet:
    """The task's jets; at another radius, the same shards in the same order, merged anew."""
    js = load_jets(n)
    if radius == MERGE_RADIUS:
        return js
    per_class, xs = -(-n // len(CLASSES)), []
    for c, label in enumerate(CLASSES):
        got, i = 0, 0
        while got < per_class:
            path = _find_shard(_folders(None), label, _shard_seed(0, c, i))
            assert path is not None, f"shard {i} of {label} missing"
            cand = _read(path)["cand"][: per_class - got]
            xs.append(merge_candidates(cand, radius))
            got, i = got + len(cand), i + 1
    return JetSet(np.concatenate(xs), js.y, js.jet, js.source)


def band(js: JetSet, lo: float, hi: float, control: bool) -> JetSet:
    """Jets in the pT band, or (``control``) as many drawn at random; equal per class."""
    inside = (js.jet[:, 0] >= lo) & (js.jet[:, 0] <= hi)
    y = js.y.ravel()
    m = min(int((inside & (y == i)).sum()) for i in range(len(CLASSES)))
    rng = np.random.default_rng(1)
    keep = []
    for i in range(len(CLASSES)):
        pool = np.flatnonzero((y == i) & (inside | control))
        keep.append(rng.choice(pool, m, replace=False) if control else pool[:m])
    idx = np.sort(np.concatenate(keep))
    return JetSet(js.x[idx], js.y[idx], js.jet[idx], js.source)


def features(js: JetSet, variant: str) -> list[tuple[np.ndarray, np.ndarray]]:
    x = js.x.copy()
    real = x[..., 0] > 0
    if variant.startswith("ptrel"):
        x[..., 0] = np.where(real, x[..., 0] / js.jet[:, :1], 0)
    parts, stats = split_and_scale(JetSet(x, js.y, js.jet, js.source), seed=0)
    if not variant.endswith("fast"):
        return parts
    # undo the median shift; robust_fast's range is over every slot of the training split
    raw = [
        (np.where((x != 0).any(-1, keepdims=True), x * stats[1] + stats[0], 0), y) for x, y in parts
    ]
    q05, q95 = np.percentile(raw[0][0].reshape(-1, 3), [5, 95], axis=0)
    return [((r / (q95 - q05)).astype(np.float32), y) for r, y in raw]


def dead_units(model: torch.nn.Module, x: torch.Tensor) -> dict[str, int]:
    """Per ReLU: how many of its units output 0 for every input of ``x`` (and every slot)."""
    seen: dict[str, torch.Tensor] = {}
    hooks = [
        m.register_forward_hook(
            lambda _m, _i, out, name=name: seen.__setitem__(
                name, (out > 0).reshape(-1, out.shape[-1]).any(0)
            )
        )
        for name, m in model.named_modules()
        if isinstance(m, torch.nn.ReLU)
    ]
    model.eval()
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return {name: int((~alive).sum()) for name, alive in seen.items()}


def run(arch: str, parts: list[Any], seed: int, schedule: str) -> dict[str, Any]:
    xs = [torch.from_numpy(np.ascontiguousarray(p[0])) for p in parts]
    ys = [torch.from_numpy(p[1]).long().view(-1) for p in parts]
    torch.manual_seed(seed)
    model = build_model(builtin_archs()[arch])
    loss = torch.nn.functional.cross_entropy
    opt = torch.optim.Adam(model.parameters(), 3.2e-3)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.1, patience=3)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 100 * (len(ys[0]) // 1024))
    best, state, best_epoch, prev, left = float("inf"), None, 0, float("inf"), 7
    epoch, dead = 0, {}
    for epoch in range(1, 101):
        model.train()
        order = torch.randperm(len(ys[0]))
        for i in range(0, len(order) - 1023, 1024):
            idx = order[i : i + 1024]
            opt.zero_grad()
            loss(model(xs[0][idx]), ys[0][idx]).backward()
            opt.step()
            if schedule == "cosine":
                cosine.step()
        if epoch == 1:
            dead["epoch 1"] = dead_units(model, xs[1])
        model.eval()
        with torch.no_grad():
            val = float(loss(model(xs[1]), ys[1]))
        if val < best:
            best, state, best_epoch = val, copy.deepcopy(model.state_dict()), epoch
        if schedule == "nac":
            plateau.step(val)
            left = 7 if val < prev else left - 1
            prev = val
            if left <= 0:
                break
        elif schedule == "const" and epoch - best_epoch >= 7:
            break
    assert state is not None
    model.load_state_dict(state)
    dead["best"] = dead_units(model, xs[1])
    model.eval()
    with torch.no_grad():
        p = torch.softmax(model(xs[2]), 1).numpy()
    t = ys[2].numpy()
    auc = {c: float(roc_auc_score(t == i, p[:, i])) for i, c in enumerate(CLASSES)}
    acc = float((p.argmax(1) == t).mean())
    return {"accuracy": acc, "auc": auc, "epochs": epoch, "best_epoch": best_epoch, "dead": dead}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default="pt,ptrel")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--radius", type=float, default=MERGE_RADIUS)
    ap.add_argument("--schedule", choices=("nac", "const", "cosine"), default="nac")
    ap.add_argument("--arch", default="deepsets-tiny")
    ap.add_argument("--n", type=int, default=300_000)
    ap.add_argument("--band", default="", help="LO,HI: jets in this pT band against a control")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    variants = args.variants.split(",")
    if unknown := [v for v in variants if v not in VARIANTS]:
        ap.error(f"unknown variant {unknown[0]!r}: choose from {', '.join(VARIANTS)}")
    js = jets(args.n, args.radius)
    real = js.x[..., 0] > 0
    short = {c: float((~real[js.y == i]).any(1).mean()) for i, c in enumerate(CLASSES)}
    print(
        f"{len(js)} jets, R = {args.radius:g}: jets with fewer than 8 constituents "
        + " ".join(f"{c} {100 * v:.0f} %" for c, v in short.items())
    )
    sets = {"": js}
    if args.band:
        lo, hi = (float(v) for v in args.band.split(","))
        sets = {"band ": band(js, lo, hi, False), "band-control ": band(js, lo, hi, True)}
        print(f"band {lo:g}-{hi:g} GeV: {len(sets['band '])} jets in each set")
    rows = []
    for (prefix, subset), base in itertools.product(sets.items(), variants):
        variant = prefix + base
        parts = features(subset, base)
        for seed in (int(s) for s in args.seeds.split(",")):
            t0 = time.perf_counter()
            row = {"variant": variant, "seed": seed} | run(args.arch, parts, seed, args.schedule)
            rows.append(row)
            text = " ".join(f"{c} {v:.3f}" for c, v in row["auc"].items())
            print(
                f"  {variant:<16} seed {seed}: test {100 * row['accuracy']:.2f} % "
                f"({row['epochs']} epochs, best {row['best_epoch']}, "
                f"{time.perf_counter() - t0:.0f} s); AUC {text}"
            )
            for when, counts in row["dead"].items():
                units = " ".join(f"{k} {v}" for k, v in counts.items())
                print(f"    dead ReLU units, {when}: {units}")
    print(f"\n{args.arch}, schedule {args.schedule}: test accuracy %, mean ± sd over seeds (max)")
    for variant, group in itertools.groupby(rows, key=lambda r: r["variant"]):
        acc = 100 * np.array([r["accuracy"] for r in group])
        print(f"  {variant:<16} {acc.mean():6.2f} ± {acc.std():.2f} ({acc.max():.2f})")
    doc = {"arch": args.arch, "radius": args.radius, "schedule": args.schedule, "rows": rows}
    print("PROBE_JSON " + json.dumps(doc | {"jets": len(js), "short": short}))


if __name__ == "__main__":
    main()
