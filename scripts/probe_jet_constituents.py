"""How many detector candidates does the Deep Sets baseline need? (issue 19, a probe)

    python scripts/probe_jet_constituents.py [--counts 8,16,32] [--radii 0,0.05] [--epochs 60]

Reads the committed det1 shards' 32 stored candidates (``cand``), keeps the N hardest above
2 GeV, scales them as the task does (median, 5-95 % range of the training split), and trains
the seed's baseline Deep Set (φ 3-32-32-32 ReLU, mean, ρ 32-32-5; batch 1024, Adam 3.2e-3,
patience 7 on the validation loss) on the same 80/10/10 split for each N. Prints test accuracy
and per-class AUC per N, and one JSON line (prefix ``PROBE_JSON``).

``--radii``: before keeping the N hardest, recluster each jet's candidates with anti-kt of that
radius (fastjet; 0 keeps them as stored), i.e. merge candidates closer than R into one, as a
coarser detector or an e-flow merging would.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from hwloop.tasks.jets import CLASSES
from hwloop.tasks.jets._dataset import exported_dir


def load() -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for c, label in enumerate(CLASSES):
        for f in sorted(exported_dir().glob(f"{label}-*.npz")):
            with np.load(f) as z:
                xs.append(z["cand"].astype(np.float32))
            ys.append(np.full(len(xs[-1]), c))
    order = np.random.default_rng(0).permutation(sum(len(y) for y in ys))
    return np.concatenate(xs)[order], np.concatenate(ys)[order]


def merged(cand: np.ndarray, radius: float) -> np.ndarray:
    """Each jet's candidates reclustered by anti-kt of ``radius``, hardest first (pT, η, φ)."""
    import fastjet

    jetdef = fastjet.JetDefinition(fastjet.antikt_algorithm, radius)
    out = np.zeros((len(cand), cand.shape[1], 3), np.float32)
    for j, jet in enumerate(cand.astype(np.float64)):
        pt, eta, phi = jet[jet[:, 0] > 0, :3].T
        inputs = [
            fastjet.PseudoJet(p * np.cos(f), p * np.sin(f), p * np.sinh(e), p * np.cosh(e))
            for p, e, f in zip(pt, eta, phi, strict=True)
        ]
        subjets = sorted(fastjet.ClusterSequence(inputs, jetdef).inclusive_jets(), key=_minus_pt)
        for k, s in enumerate(subjets):
            out[j, k] = (s.pt(), s.rap(), s.phi_std())
    return out


def _minus_pt(s: Any) -> float:
    return -float(s.pt())


def scaled(cand: np.ndarray, n: int, n_train: int) -> torch.Tensor:
    x = cand[:, :n, :3].copy()
    real = x[..., 0] > 2.0
    x[~real] = 0
    for f in range(3):
        v = x[:n_train][..., f][real[:n_train]]
        q05, q50, q95 = np.quantile(v, [0.05, 0.5, 0.95])
        x[..., f] = np.where(real, (x[..., f] - q50) / (q95 - q05), 0)
    return torch.from_numpy(x)


def deep_set() -> torch.nn.Module:
    class DeepSet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers: list[torch.nn.Module] = []
            for a, b in ((3, 32), (32, 32), (32, 32)):
                layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
            self.phi = torch.nn.Sequential(*layers)
            self.rho = torch.nn.Sequential(
                torch.nn.Linear(32, 32), torch.nn.ReLU(), torch.nn.Linear(32, 5)
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.rho(self.phi(x).mean(1))

    return DeepSet()


def run(x: torch.Tensor, y: torch.Tensor, n_train: int, n_val: int, epochs: int) -> dict[str, Any]:
    torch.manual_seed(0)
    model = deep_set()
    opt = torch.optim.Adam(model.parameters(), 3.2e-3)
    loss = torch.nn.functional.cross_entropy
    best, state, bad, ran = float("inf"), model.state_dict(), 0, 0
    t0 = time.perf_counter()
    for _ in range(epochs):
        ran += 1
        model.train()
        for i in range(0, n_train, 1024):
            opt.zero_grad()
            loss(model(x[i : i + 1024]), y[i : i + 1024]).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            val = float(loss(model(x[n_train : n_train + n_val]), y[n_train : n_train + n_val]))
        if val < best - 1e-4:
            best, state, bad = val, {k: v.clone() for k, v in model.state_dict().items()}, 0
        elif (bad := bad + 1) >= 7:
            break
    model.load_state_dict(state)
    with torch.no_grad():
        p = torch.softmax(model(x[n_train + n_val :]), 1).numpy()
        val_pred = model(x[n_train : n_train + n_val]).argmax(1)
    val_accuracy = float((val_pred == y[n_train : n_train + n_val]).float().mean())
    truth = y[n_train + n_val :].numpy()
    auc = {c: float(roc_auc_score(truth == i, p[:, i])) for i, c in enumerate(CLASSES)}
    accuracy = float((p.argmax(1) == truth).mean())
    return {
        "accuracy": accuracy,
        "val_accuracy": val_accuracy,
        "auc": auc,
        "epochs": ran,
        "seconds": time.perf_counter() - t0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", default="8,16,32")
    ap.add_argument("--radii", default="0")
    ap.add_argument("--epochs", type=int, default=60)
    args = ap.parse_args()
    cand, labels = load()
    n_train, n_val = int(0.8 * len(labels)), int(0.1 * len(labels))
    y = torch.from_numpy(labels)
    rows = []
    for radius in (float(r) for r in args.radii.split(",")):
        inputs = merged(cand, radius) if radius > 0 else cand
        for n in (int(c) for c in args.counts.split(",")):
            x = scaled(inputs, n, n_train)
            row = {"constituents": n, "radius": radius} | run(x, y, n_train, n_val, args.epochs)
            rows.append(row)
            auc = " ".join(f"{c} {v:.3f}" for c, v in row["auc"].items())
            acc = 100 * row["accuracy"]
            print(
                f"{n:>3} candidates, R {radius:.2f}: test {acc:.2f} % "
                f"(validation {100 * row['val_accuracy']:.2f} %), AUC {auc}"
                f" ({row['epochs']} epochs)",
                flush=True,
            )
    print("PROBE_JSON " + json.dumps({"jets": len(labels), "rows": rows}))


if __name__ == "__main__":
    main()
