"""Metrics that several tasks report."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def one_vs_rest_auc(
    pred: torch.Tensor, target: torch.Tensor, names: Sequence[str]
) -> dict[str, float]:
    """One-vs-rest ROC AUC of every class from the softmax scores (Mann-Whitney U); NaN for a
    class absent from ``target`` (or the only one present)."""
    from scipy.stats import rankdata

    scores = torch.softmax(pred.double(), dim=1).numpy()
    y = target.long().numpy()
    out = {}
    for c, name in enumerate(names):
        pos = y == c
        n_pos, n_neg = int(pos.sum()), int((~pos).sum())
        if not n_pos or not n_neg:
            out[name] = float("nan")
            continue
        ranks = rankdata(scores[:, c])
        out[name] = float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    return out
