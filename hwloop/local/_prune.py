"""Iterative global magnitude pruning with masks that fine-tuning keeps in force."""

from __future__ import annotations

from typing import Any

import torch

Masks = dict[str, torch.Tensor]  # layer name -> bool tensor (True: weight kept)


def full_masks(layers: dict[str, Any]) -> Masks:
    return {name: torch.ones_like(m.weight, dtype=torch.bool) for name, m in layers.items()}


def magnitudes(
    layers: dict[str, Any], scales: dict[str, torch.Tensor] | None = None
) -> dict[str, torch.Tensor]:
    """|w| of every layer; with ``scales`` (per output channel) divided by them: a layer whose
    batch norm was folded in is ranked by its weights before the fold, as pruning the model with
    separate batch norms would (a folded norm can shrink a whole layer below the rest)."""
    out = {}
    for name, m in layers.items():
        w = m.weight.detach().abs()
        if scales is not None and name in scales:
            s = scales[name].detach().abs().clamp_min(1e-12)
            w = w / s.reshape((-1,) + (1,) * (w.dim() - 1))
        out[name] = w
    return out


def prune_global(
    layers: dict[str, Any],
    masks: Masks,
    fraction: float,
    scales: dict[str, torch.Tensor] | None = None,
) -> Masks:
    """Masks that also remove the ``fraction`` of still-kept weights with the smallest
    magnitude (see :func:`magnitudes`), ranked across all layers together (global,
    unstructured). No layer loses its last weights: the largest ``out_features`` of each layer
    (one per output on average) are never pruned, so no layer is cut off entirely."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"prune fraction must be in (0, 1), got {fraction}")
    mags = magnitudes(layers, scales)
    score = {}
    for name, mag in mags.items():
        sc = mag.clone()
        keep = min(int(masks[name].sum()), int(mag.shape[0]))
        if keep:
            top = torch.topk((mag * masks[name]).flatten(), keep).indices
            sc.view(-1)[top] = float("inf")  # protected
        score[name] = sc
    kept = torch.cat([score[n][masks[n]] for n in layers])
    candidates = kept[torch.isfinite(kept)]
    k = min(int(round(fraction * kept.numel())), int(candidates.numel()))
    if k == 0:
        return {n: v.clone() for n, v in masks.items()}
    threshold = candidates.kthvalue(k).values
    # ties at the threshold can remove a few more than k
    return {n: masks[n] & (score[n] > threshold) for n in layers}


def apply_masks(layers: dict[str, Any], masks: Masks) -> None:
    with torch.no_grad():
        for name, m in layers.items():
            m.weight.mul_(masks[name])


def kept_fraction(masks: Masks) -> float:
    total = sum(int(v.numel()) for v in masks.values())
    return sum(int(v.sum()) for v in masks.values()) / total if total else 1.0
