"""Does nac-opt's per-slot batch norm explain the tiny Deep Set's gap? (issue 19, a probe)

    python scripts/probe_jet_slot_norm.py [--n 300000] [--heads bn-relu,none]

nac-opt's tiny Deep Set normalises φ's output with ``BatchNorm1d(8)`` over the 8 constituent
slots (per-slot statistics: the slot, i.e. the constituent's pT rank, changes its features),
while hwloop's arch spec normalises features, shared by every constituent (docs/jets.md). This
trains the tiny config both ways in plain torch (φ 3-8, mean, ρ 8-8 (BN, ReLU)-8 (GELU)-4
(ReLU)-5 (BN, ReLU); batch 1024, Adam 3.2e-3, patience 7, up to 100 epochs) on the jets task's
own data and 80/10/10 split (merged candidates, robust scaling), and prints test accuracy and
per-class AUC, and one JSON line (prefix ``PROBE_JSON``).

``--heads``: the output layer's head, for each norm: ``bn-relu`` (nac-opt's ``Rho`` puts its
norm and activation after the output layer too, so the logits pass a ReLU), ``bn`` (without the
ReLU) or ``none`` (plain logits).
"""

from __future__ import annotations

import argparse
import itertools
import json

import torch
from sklearn.metrics import roc_auc_score

from hwloop.tasks.jets import CLASSES, JetsTask


class Tiny(torch.nn.Module):
    def __init__(self, per_slot: bool, head: str = "bn-relu") -> None:
        super().__init__()
        self.per_slot = per_slot
        tail: list[torch.nn.Module] = []
        if head in ("bn-relu", "bn"):
            tail.append(torch.nn.BatchNorm1d(5))
        if head == "bn-relu":
            tail.append(torch.nn.ReLU())
        self.phi = torch.nn.Linear(3, 8)
        self.norm = torch.nn.BatchNorm1d(8)  # 8 slots, or 8 features
        self.rho = torch.nn.Sequential(
            torch.nn.Linear(8, 8),
            torch.nn.BatchNorm1d(8),
            torch.nn.ReLU(),
            torch.nn.Linear(8, 8),
            torch.nn.GELU(),
            torch.nn.Linear(8, 4),
            torch.nn.ReLU(),
            torch.nn.Linear(4, 5),
            *tail,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.phi(x)  # (batch, slot, feature)
        h = self.norm(h) if self.per_slot else self.norm(h.transpose(1, 2)).transpose(1, 2)
        return self.rho(torch.relu(h).mean(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300_000)
    ap.add_argument("--heads", default="bn-relu", help="comma-separated: bn-relu, bn, none")
    args = ap.parse_args()
    heads = args.heads.split(",")
    if unknown := [h for h in heads if h not in ("bn-relu", "bn", "none")]:
        ap.error(f"unknown head {unknown[0]!r}: choose from bn-relu, bn, none")
    data = JetsTask().load(limit=args.n, seed=0)
    xs = {s: torch.from_numpy(getattr(data, s).x) for s in ("train", "val", "test")}
    ys = {s: torch.from_numpy(getattr(data, s).y).long().view(-1) for s in ("train", "val", "test")}
    loss = torch.nn.functional.cross_entropy
    rows = []
    for head, per_slot in itertools.product(heads, (False, True)):
        torch.manual_seed(0)
        model = Tiny(per_slot, head)
        opt = torch.optim.Adam(model.parameters(), 3.2e-3)
        best, state, bad, epochs = float("inf"), model.state_dict(), 0, 0
        for epoch in range(1, 101):
            epochs = epoch
            model.train()
            order = torch.randperm(len(ys["train"]))
            for i in range(0, len(order), 1024):
                idx = order[i : i + 1024]
                opt.zero_grad()
                loss(model(xs["train"][idx]), ys["train"][idx]).backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                val = float(loss(model(xs["val"]), ys["val"]))
            if val < best - 1e-4:
                best, state, bad = val, {k: v.clone() for k, v in model.state_dict().items()}, 0
            elif (bad := bad + 1) >= 7:
                break
        model.load_state_dict(state)
        model.eval()
        with torch.no_grad():
            p = torch.softmax(model(xs["test"]), 1).numpy()
        truth = ys["test"].numpy()
        auc = {c: float(roc_auc_score(truth == i, p[:, i])) for i, c in enumerate(CLASSES)}
        acc = float((p.argmax(1) == truth).mean())
        rows.append(
            {"head": head, "per_slot": per_slot, "accuracy": acc, "auc": auc, "epochs": epochs}
        )
        text = " ".join(f"{c} {v:.3f}" for c, v in auc.items())
        norm = "per-slot" if per_slot else "per-feature"
        print(
            f"tiny, {norm} batch norm, head {head}: test {100 * acc:.2f} % ({epochs} epochs), "
            f"AUC {text}"
        )
    print("PROBE_JSON " + json.dumps({"jets": args.n, "rows": rows}))


if __name__ == "__main__":
    main()
