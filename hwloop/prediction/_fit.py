"""One way to fit a surrogate and save it (issue 20): ``hwloop surrogate fit``, the search's
bootstrap and refits, and the scripts that ship the defaults all go through :func:`fit_and_save`.

Which model answers for a flow is decided here, once: the open flow's piece-level model (unless
``level="design"``), the vivado flow's layer-level model, else the whole-design model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwloop.prediction._data import DocumentSet, TrainingSet, document_set, training_set
from hwloop.prediction._eval import Evaluation, evaluate
from hwloop.prediction._layered_eval import SplitScores, evaluate_by_arch, evaluate_by_source
from hwloop.prediction._piece_eval import PieceScores, PieceSet, by_arch, by_size, piece_set
from surrogates import LayeredSurrogate, ResourceSurrogate
from synth_cache import CacheBackend

LEVELS = ("piece", "design")  # the open flow's two models: its pieces, or whole designs
Data = PieceSet | DocumentSet | TrainingSet
Scores = PieceScores | SplitScores | Evaluation


@dataclass(frozen=True)
class Fitted:
    """What :func:`fit_and_save` wrote: the model's folder, the model and the held-out
    evaluations stored with it (none unless asked for)."""

    path: Path
    model: Any  # PieceSurrogate | LayeredSurrogate | ResourceSurrogate
    evaluations: tuple[Scores, ...] = ()


def model_level(flow: str, level: str = "piece") -> str:
    """``piece`` (the open flow's pieces), ``layer`` (hls4ml's layers) or ``design``."""
    if flow == "vivado":
        return "layer"
    return "piece" if flow == "open" and level == "piece" else "design"


def layered_evaluations(ds: DocumentSet, seeds: int) -> list[SplitScores]:
    """The layer-level model held out by architecture and by source (trained on the wa-hls4ml
    records, tested on every other source)."""
    train = sorted({s for s in ds.sources.tolist() if s.startswith("wa-hls4ml")})
    test = sorted(set(ds.sources.tolist()) - set(train))
    out = [evaluate_by_arch(ds, seeds=range(seeds))]
    if train and test:
        out.append(evaluate_by_source(ds, train, test))
    return out


def load_data(
    cache: CacheBackend, flow: str, kind: str = "post_synthesis", level: str = "piece",
    part: str | None = None,
) -> Data:  # fmt: skip
    """The training data of the model :func:`model_level` picks."""
    which = model_level(flow, level)
    if which == "piece":
        return piece_set(cache, flow)
    if which == "layer":
        return document_set(cache, flow, kind)
    return training_set(cache, flow, kind, part)


def fit_and_save(
    data: Data,
    dest: str | Path,
    flow: str,
    kind: str = "post_synthesis",
    seeds: int = 0,
    extra: Mapping[str, Any] | None = None,
    compress: bool = False,
) -> Fitted:
    """Fit the model for ``data`` (from :func:`load_data`, or prepared by the caller) and save
    it to ``dest``. With ``seeds`` > 0 it is first evaluated held out (by architecture, and by
    size or by source where they apply; ``seeds`` random splits where the split is random);
    the first evaluation goes in the metadata as ``eval``, all of them as ``evaluations``.
    ``extra`` is merged into the metadata (its ``trained_on`` gains ``runs``)."""
    meta = dict(extra or {})
    evs: tuple[Scores, ...]
    if isinstance(data, PieceSet):
        evs = (by_arch(data), by_size(data)) if seeds else ()
        model: Any = data.fit()
        if evs:
            meta["eval"], meta["evaluations"] = evs[0].piece, [e.to_json() for e in evs]
    elif isinstance(data, DocumentSet):
        splits = layered_evaluations(data, seeds) if seeds else []
        model = LayeredSurrogate(flow=flow, kind=kind).fit(data.docs, data.Y)
        if splits:
            meta["eval"], meta["evaluations"] = splits[0].layered, [e.to_json() for e in splits]
        evs = tuple(splits)
    else:
        evs = (evaluate(data, seeds=range(seeds)),) if seeds else ()
        model = ResourceSurrogate(flow=flow, kind=kind).fit(data.X, data.Y, groups=data.groups)
        if evs:
            meta["eval"] = evs[0].to_json()
    meta["trained_on"] = {"runs": len(data), **dict(meta.get("trained_on") or {})}
    if isinstance(model, ResourceSurrogate):
        path = model.save(dest, meta, compress=compress)
    else:
        path = model.save(dest, meta)
    return Fitted(Path(path), model, evs)
