"""Training sets from the synthesis cache: features of each design, targets per metric."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fpga_targets import Target, list_targets
from hwloop import HwloopError
from surrogates import METRICS, FeatureError, design_features
from synth_cache import CacheBackend, SynthResult

log = logging.getLogger(__name__)
_FIELD = {"latency": "latency_max", "ii": "ii_max"}


def target_capacities(target: Target | None) -> dict[str, float] | None:
    if target is None:
        return None
    return {"lut": float(target.resources.lut), "dsp": float(target.resources.dsp)}


def _target_of_part(part: str) -> Target | None:
    return next((t for t in list_targets().values() if t.part == part), None)


def arch_group(design: Mapping[str, Any]) -> str:
    """The architecture a design belongs to (its precision / sparsity / reuse variants share it)."""
    if "arch_digest" in design:
        return str(design["arch_digest"])
    layers = design.get("layers") or []
    if design.get("source") == "wa-hls4ml-csv" and layers:
        return "dense-" + "x".join(f"{x['d_in']}:{x['d_out']}" for x in layers)
    if layers:  # imported per-layer records: the layer shapes, without precision or reuse
        keep = (
            "class_name",
            "d_in",
            "d_out",
            "n_chan",
            "n_filt",
            "seq_len",
            "units",
            "height",
            "width",
            "kernel_size",
            "n",
            "activation",
            "pool_size",
        )
        return "|".join(
            ",".join(f"{k}={x[k]}" for k in keep if k in x) for x in layers if isinstance(x, dict)
        )
    return str(design.get("source", "?"))


@dataclass
class TrainingSet:
    """Rows of one (flow, kind): features ``X``, targets ``Y`` per metric, architecture groups."""

    flow: str
    kind: str
    X: NDArray[np.float64]
    Y: dict[str, NDArray[np.float64]]
    groups: NDArray[np.str_]
    keys: list[str]
    skipped: Counter[str] = field(default_factory=Counter)

    def __len__(self) -> int:
        return len(self.keys)

    def subset(self, rows: NDArray[np.bool_]) -> TrainingSet:
        return TrainingSet(
            self.flow,
            self.kind,
            self.X[rows],
            {k: v[rows] for k, v in self.Y.items()},
            self.groups[rows],
            [k for k, r in zip(self.keys, rows, strict=True) if r],
        )


def _row(result: SynthResult) -> dict[str, float]:
    out = {}
    for metric in METRICS:
        value = getattr(result, _FIELD.get(metric, metric))
        out[metric] = float(value) if value is not None else np.nan
    return out


def held_elsewhere(cache: CacheBackend, flow: str, kind: str) -> str:
    """What successful results the cache holds of other flows and kinds, with the flags that
    select them (for an error that would otherwise just say "nothing to learn from")."""
    counts: Counter[tuple[str, str]] = Counter()
    stats = getattr(cache, "stats", None)  # SqlCache's counts per flow, kind and status
    for row in stats() if stats is not None else ():
        if row["status"] == "ok" and (row["flow"], row["kind"]) != (flow, kind):
            counts[(row["flow"], row["kind"])] += int(row["runs"])
    if not counts:
        return ""
    held = ", ".join(f"{n:,} {f} {k} (--flow {f} --kind {k})" for (f, k), n in counts.most_common())
    return f"; it holds {held}"


def training_set(
    cache: CacheBackend, flow: str, kind: str = "post_synthesis", part: str | None = None
) -> TrainingSet:
    """Every successful ``flow``/``kind`` result in ``cache`` (on ``part`` if given) whose design
    the feature schema reads; what is skipped is counted in ``skipped``."""
    X, groups, keys = [], [], []
    Y: dict[str, list[float]] = {m: [] for m in METRICS}
    skipped: Counter[str] = Counter()
    for entry in cache.entries(flow=flow, status="ok"):
        result = entry.result(kind)  # type: ignore[arg-type]
        if result is None or not result.ok:
            continue
        if part and result.part and result.part != part:
            skipped["other part"] += 1
            continue
        try:
            feats = design_features(entry.design, target_capacities(_target_of_part(result.part)))
        except FeatureError:
            skipped[f"no features ({entry.design.get('source', '?')})"] += 1
            continue
        X.append(list(feats.values()))  # FEATURES order
        for metric, value in _row(result).items():
            Y[metric].append(value)
        groups.append(arch_group(entry.design))
        keys.append(entry.key)
    if not keys:
        where = f" on {part}" if part else ""
        raise HwloopError(
            f"the cache has no successful {flow} {kind} results{where} to learn from: run "
            f"`hwloop calibrate --flow {flow}` (or `hwloop cache import`) first"
            + held_elsewhere(cache, flow, kind)
        )
    return TrainingSet(
        flow,
        kind,
        np.asarray(X, dtype=np.float64),
        {m: np.asarray(v, dtype=np.float64) for m, v in Y.items()},
        np.asarray(groups, dtype=str),
        keys,
        skipped,
    )


@dataclass
class DocumentSet:
    """Design documents of one (flow, kind) with their targets and sources (for the layer-level
    surrogate, which reads documents rather than a fixed feature matrix)."""

    flow: str
    kind: str
    docs: list[dict[str, Any]]
    Y: dict[str, NDArray[np.float64]]
    sources: NDArray[np.str_]
    groups: NDArray[np.str_]
    parts: list[str]

    def __len__(self) -> int:
        return len(self.docs)

    def subset(self, rows: NDArray[np.bool_]) -> DocumentSet:
        idx = np.flatnonzero(rows)
        return DocumentSet(
            self.flow,
            self.kind,
            [self.docs[i] for i in idx],
            {k: v[rows] for k, v in self.Y.items()},
            self.sources[rows],
            self.groups[rows],
            [self.parts[i] for i in idx],
        )


def document_set(cache: CacheBackend, flow: str, kind: str = "hls_estimate") -> DocumentSet:
    """Every successful ``flow``/``kind`` result in ``cache`` with its design document."""
    docs, sources, groups, parts = [], [], [], []
    Y: dict[str, list[float]] = {m: [] for m in METRICS}
    for entry in cache.entries(flow=flow, status="ok"):
        result = entry.result(kind)  # type: ignore[arg-type]
        if result is None or not result.ok:
            continue
        docs.append(entry.design)
        sources.append(str(entry.design.get("source", "hwloop")))
        groups.append(arch_group(entry.design))
        parts.append(result.part)
        for metric, value in _row(result).items():
            Y[metric].append(value)
    if not docs:
        raise HwloopError(
            f"the cache has no successful {flow} {kind} results to learn from: import some with "
            "`hwloop cache import` first" + held_elsewhere(cache, flow, kind)
        )
    return DocumentSet(
        flow,
        kind,
        docs,
        {m: np.asarray(v, dtype=np.float64) for m, v in Y.items()},
        np.asarray(sources, dtype=str),
        np.asarray(groups, dtype=str),
        parts,
    )
