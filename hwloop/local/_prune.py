"""Iterative global magnitude pruning with masks that fine-tuning keeps in force."""

from __future__ import annotations

from typing import Any

import torch

Masks = dict[str, torch.Tensor]  # layer name -> bool tensor (True: weight kept)


def full_masks(layers: dict[str, Any]) -> Masks:
    return {name: torch.ones_like(m.weight, dtype=torch.bool) for name, m in layers.items()}


def prune_global(layers: dict[str, Any], masks: Masks, fraction: float) -> Masks:
    """Masks that also remove the ``fraction`` of still-kept weights with the smallest
    magnitude, ranked across all layers together (global, unstructured)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"prune fraction must be in (0, 1), got {fraction}")
    kept = torch.cat([m.weight.detach().abs()[masks[n]] for n, m in layers.items()])
    k = int(round(fraction * kept.numel()))
    if k == 0:
        return {n: v.clone() for n, v in masks.items()}
    threshold = kept.kthvalue(k).values
    out: Masks = {}
    for name, m in layers.items():
        out[name] = masks[name] & (m.weight.detach().abs() > threshold)
    # ties at the threshold can remove a few more than k; never more than every weight
    return out


def apply_masks(layers: dict[str, Any], masks: Masks) -> None:
    with torch.no_grad():
        for name, m in layers.items():
            m.weight.mul_(masks[name])


def kept_fraction(masks: Masks) -> float:
    total = sum(int(v.numel()) for v in masks.values())
    return sum(int(v.sum()) for v in masks.values()) / total if total else 1.0
