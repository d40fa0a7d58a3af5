"""Predicted resources of a design: the Python API behind ``hwloop predict``."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fpga_targets import Target
from hwloop import HwloopError
from hwloop.prediction._data import target_capacities
from hwloop.synth import Design
from surrogates import (
    FeatureError,
    LayeredSurrogate,
    PieceSurrogate,
    ReuseFactorError,
    Surrogate,
    check_reuse_factors,
    is_shipped,
    load_surrogate,
    shipped_model_dir,
)
from synth_cache import CacheBackend, SynthResult, design_key

if TYPE_CHECKING:
    from hwloop.synth import ExpectedDesign

log = logging.getLogger(__name__)

CAPACITY = {"lut": "lut", "ff": "ff", "dsp": "dsp", "bram_18k": "bram_18k"}


def describe_model(path: Path, model: Surrogate) -> str:
    """Which model answered, in words: shipped default or the user's, and what it learnt from."""
    meta = getattr(model, "metadata_", {})
    who = "shipped default" if is_shipped(path) else "your model"
    n = max(model.n_train_.values(), default=0)
    lut = ((meta.get("eval") or {}).get("lut") or {}).get("r2")
    quality = f", held-out LUT R² {lut:.2f}" if isinstance(lut, (int, float)) else ""
    return f"{who} {path} ({model.flow}, {model.kind}; {n} runs{quality})"


def default_model_dir(flow: str, target: str | None, kind: str) -> Path:
    base = os.environ.get("HWLOOP_SURROGATE_DIR", "~/.cache/hwloop/surrogates")
    return Path(base).expanduser() / f"{flow}-{target or 'any'}-{kind}"


def _check_flow(path: Path, flow: str, kind: str) -> None:
    """A model of another flow or kind would answer with that flow's strategy and units,
    silently: refuse it, naming the flags that match it."""
    try:
        params = json.loads((path / "metadata.json").read_text()).get("params") or {}
    except (OSError, ValueError, AttributeError):
        return  # the loader says what is wrong with the file
    got_flow, got_kind = params.get("flow"), params.get("kind")
    if (got_flow and got_flow != flow) or (got_kind and got_kind != kind):
        raise HwloopError(
            f"the model in {path} is a {got_flow} {got_kind} model, not {flow} {kind}: pass "
            f"--flow {got_flow} --kind {got_kind}"
        )


def find_model(flow: str, target: Target, kind: str, model_dir: Path | None = None) -> Path:
    """The model that answers: ``model_dir``, else the user's own (fitted with ``hwloop
    surrogate fit``) for this target, else theirs for any target, else the default shipped with
    hwloop for this flow and target. Says how to get one when there is none."""
    candidates = (
        [model_dir]
        if model_dir
        else [default_model_dir(flow, target.name, kind), default_model_dir(flow, None, kind)]
    )
    if model_dir is None and (shipped := shipped_model_dir(flow, target.name, kind)) is not None:
        candidates.append(shipped)
    elif model_dir is None and (kin := _kindred_shipped(flow, target, kind)) is not None:
        candidates.append(kin)
    for path in candidates:
        if (path / "metadata.json").is_file():
            _check_flow(path, flow, kind)
            return path
    raise HwloopError(
        f"no trained {flow} surrogate ({kind}) for {target.name}"
        + (f" in {model_dir}" if model_dir else "")
        + f": run `hwloop calibrate --flow {flow} --target {target.name} ...`, then "
        f"`hwloop surrogate fit --flow {flow} --target {target.name}`"
    )


def _kindred_shipped(flow: str, target: Target, kind: str) -> Path | None:
    """For a built-in target without a shipped model of its own (the Zynq parts): the shipped
    default of another built-in with the same fabric family and clock. The open flow's numbers
    depend on those, not on the device's size; utilisation and fit are still computed against
    ``target``'s capacities. A user's own target is calibrated for instead (the search's
    bootstrap), as its clock or part may differ in ways this cannot see."""
    from fpga_targets import builtin_targets

    builtins = builtin_targets()
    if builtins.get(target.name) != target:
        return None
    # the open calibration ran for vu13p (surrogates/data/calibration): its model first
    for other in sorted(builtins.values(), key=lambda t: t.name != "vu13p"):
        same = (other.family, other.clock_period_ns) == (target.family, target.clock_period_ns)
        path = shipped_model_dir(flow, other.name, kind) if same else None
        if path is not None and other.name != target.name:
            log.info(
                "no shipped %s model for %s: using %s's (same family %s, %g ns clock)",
                flow,
                target.name,
                other.name,
                target.family,
                target.clock_period_ns,
            )
            return path
    return None


@dataclass(frozen=True)
class Prediction:
    """Median and 80 % interval per metric, utilisation of the target, and a real result of the
    identical design when the cache has one."""

    model: str
    model_description: str
    flow: str
    kind: str
    target: str
    metrics: dict[str, tuple[float, float, float]]  # latency in clock cycles
    utilisation: dict[str, float]  # fraction of the target's capacity, by the median
    fits: bool
    latency_ns: float | None
    key: str | None = None
    cached: SynthResult | None = None
    extrapolated: tuple[str, ...] = ()  # features outside the training set's range
    weights: str = "random"  # which weights the design carries: trained (...) or random (...)
    error: str | None = None  # why the model cannot read this design (its metrics are NaN)

    @property
    def utilisation_pct(self) -> dict[str, float]:
        return {m: 100.0 * u for m, u in self.utilisation.items()}

    def _metric(self, name: str) -> tuple[float, float, float] | None:
        return self.metrics.get(name)

    @property
    def lut(self) -> tuple[float, float, float] | None:
        """(low, median, high) of the 80 % interval."""
        return self._metric("lut")

    @property
    def ff(self) -> tuple[float, float, float] | None:
        return self._metric("ff")

    @property
    def dsp(self) -> tuple[float, float, float] | None:
        return self._metric("dsp")

    @property
    def bram_18k(self) -> tuple[float, float, float] | None:
        return self._metric("bram_18k")

    @property
    def latency(self) -> tuple[float, float, float] | None:
        """In clock cycles (``latency_ns`` in ns)."""
        return self._metric("latency")

    def to_frame(self) -> Any:
        """One row (pandas): every metric's median, low80, high80, utilisation, fit, latency."""
        import pandas as pd

        row: dict[str, Any] = {"target": self.target, "flow": self.flow, "kind": self.kind}
        for m, (lo, mid, hi) in self.metrics.items():
            row.update({m: mid, f"{m}_low80": lo, f"{m}_high80": hi})
            if m in self.utilisation:
                row[f"{m}_util_pct"] = 100.0 * self.utilisation[m]
        row.update(
            latency_ns=self.latency_ns,
            fits=self.fits,
            weights=self.weights,
            extrapolated="; ".join(self.extrapolated),
            model=self.model,
        )
        return pd.DataFrame([row])

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "model": self.model,
            "model_description": self.model_description,
            "shipped_model": is_shipped(Path(self.model)),
            "flow": self.flow,
            "kind": self.kind,
            "target": self.target,
            **{m: {"median": v[1], "low80": v[0], "high80": v[2]} for m, v in self.metrics.items()},
            "latency_ns": self.latency_ns,
            "utilisation_pct": self.utilisation_pct,
            "fits": self.fits,
            "key": self.key,
            "extrapolated": list(self.extrapolated),
            "weights": self.weights,
        }
        if self.cached is not None:
            doc["cached"] = self.cached.to_json()
        return doc


TRACED = " + da4ml trace of its weights"


def predict_documents_traced(
    model: Surrogate,
    designs: list[Design],
    docs: list[dict[str, Any]],
    caps: dict[str, float] | None,
) -> tuple[dict[str, Any], list[list[str]], bool]:
    """The middle fidelity where it exists: a piece-level model answers designs with real
    weights from their da4ml-traced pieces (LUT estimate, register bits, exact pipeline
    stages; seconds per design); any other model, or a design da4ml cannot trace, gets the
    model's plain prediction. The flag says whether the trace answered."""
    if isinstance(model, PieceSurrogate):
        from hwloop.synth import trace_pieces

        try:
            tables = [trace_pieces(d, model.row_block) for d in designs]
            pred, outside = model.predict_traced(docs, tables)
            return pred, outside, True
        except Exception as exc:  # da4ml rejects what it cannot build: fall back, say why
            log.warning("no da4ml trace (%s): the piece model answers from the plan alone", exc)
    pred, outside = model.predict_documents(docs, caps)
    return pred, outside, False


class Predictor:
    """One surrogate answering for one target: the single prediction path of ``hwloop
    predict``, the Python API, the search's scorer and ``hwloop compress``.

    ``model_dir``: the model (``find_model``); ``model``: it loaded already, for callers that
    predict again and again. ``tool_version``: the version the model's flow keys real runs
    with, so that each prediction carries its design's cache key; ``cache``: where a real
    result of the identical design is looked up (``Prediction.cached``).
    """

    def __init__(
        self,
        model_dir: Path,
        target: Target,
        model: Surrogate | None = None,
        tool_version: str | None = None,
        cache: CacheBackend | None = None,
    ) -> None:
        self.model_dir = model_dir
        self.target = target
        self.model = model if model is not None else load_surrogate(model_dir)
        self.tool_version = tool_version
        self.cache = cache
        self.description = describe_model(model_dir, self.model)

    def predict(
        self,
        designs: list[Design | ExpectedDesign],
        traced: bool = False,
        tolerant: bool = False,
    ) -> list[Prediction]:
        """Predictions of ``designs``, in order. ``traced``: they hold trained weights; let a
        piece-level model answer from their da4ml trace (the middle fidelity,
        :func:`predict_documents_traced`). ``tolerant``: a design the model cannot read gets
        NaN metrics and its reason in ``error`` (a search scores it infeasible); otherwise
        that is a one-line :class:`HwloopError`."""
        model, caps = self.model, target_capacities(self.target)
        about = self.description
        docs = [d.canonical() for d in designs]
        errors: list[str | None] = [None] * len(docs)
        try:
            if isinstance(model, LayeredSurrogate) and not tolerant:
                for doc in docs:  # hls4ml would silently use another reuse factor: say which
                    check_reuse_factors(doc)
            if traced:  # a trace needs weights: random ones are drawn
                drawn = [d if isinstance(d, Design) else d.draw() for d in designs]
                pred, outside, used = predict_documents_traced(model, drawn, docs, caps)
                about += TRACED if used else ""
            elif tolerant:
                pred, outside, errors = _predict_each(model, docs, caps)
            else:
                pred, outside = model.predict_documents(docs, caps)
        except (FeatureError, ReuseFactorError) as exc:
            raise HwloopError(str(exc)) from None
        return [
            self._prediction(designs[i], doc, pred, i, about, tuple(outside[i]), errors[i])
            for i, doc in enumerate(docs)
        ]

    def _prediction(
        self,
        design: Design | ExpectedDesign,
        doc: dict[str, Any],
        pred: dict[str, Any],
        i: int,
        about: str,
        outside: tuple[str, ...],
        error: str | None,
    ) -> Prediction:
        model, res = self.model, self.target.resources
        metrics = {m: (float(p[i, 0]), float(p[i, 1]), float(p[i, 2])) for m, p in pred.items()}
        util = {
            m: metrics[m][1] / getattr(res, CAPACITY[m])
            for m in CAPACITY
            if m in metrics and getattr(res, CAPACITY[m])
        }
        cycles = metrics.get("latency")
        key = cached = None
        if self.tool_version:
            # random weights in expectation: the seed's draw is keyed
            keyed = doc if isinstance(design, Design) else design.draw().canonical()
            key = design_key(keyed, model.flow, self.tool_version)
            entry = self.cache.get(key) if self.cache is not None else None
            cached = entry.result(model.kind) if entry else None  # type: ignore[arg-type]
        return Prediction(
            str(self.model_dir),
            about,
            model.flow,
            model.kind,
            self.target.name,
            metrics,
            util,
            all(u <= 1.0 for u in util.values()),
            None if cycles is None else cycles[1] * design.hw.clock_period_ns,
            key,
            cached,
            outside,
            error=error,
        )


def _predict_each(
    model: Surrogate,
    docs: list[dict[str, Any]],
    caps: dict[str, float] | None,
) -> tuple[dict[str, Any], list[list[str]], list[str | None]]:
    """Predictions of ``docs``; a design the surrogate cannot read (a layer kind without
    records) gets NaN and its reason, the others their numbers."""
    import numpy as np

    try:
        together, outside_all = model.predict_documents(docs, caps)
        return together, outside_all, [None] * len(docs)
    except FeatureError:
        pass
    rows: list[dict[str, Any] | None] = []
    outside: list[list[str]] = []
    errors: list[str | None] = []
    for doc in docs:
        try:
            p, o = model.predict_documents([doc], caps)
            rows.append(p)
            outside.append(o[0])
            errors.append(None)
        except FeatureError as exc:
            rows.append(None)
            outside.append([])
            errors.append(str(exc))
    metrics = sorted({m for r in rows if r for m in r})
    pred = {
        m: np.vstack([r[m] if r and m in r else np.full((1, 3), np.nan) for r in rows])
        for m in metrics
    }
    return pred, outside, errors


def predict_designs(
    designs: list[Design | ExpectedDesign],
    target: Target,
    model_dir: Path,
    cache: CacheBackend | None = None,
    tool_version: str | None = None,
    model: Surrogate | None = None,
    traced: bool = False,
) -> list[Prediction]:
    """``Predictor(model_dir, target, model, tool_version, cache).predict(designs, traced)``:
    many designs with one model, each looked up in ``cache`` under ``tool_version``."""
    predictor = Predictor(model_dir, target, model, tool_version, cache if tool_version else None)
    return predictor.predict(designs, traced=traced)


def parse_reuse(spec: Any) -> tuple[int | None, dict[str, int]]:
    """A reuse-factor setting: ``4`` (every layer), ``"fc0=2,stem=1"`` (per layer), both
    (``"4,fc0=2"``) or a mapping ``{"fc0": 2}``; returns (global, per layer)."""
    if isinstance(spec, bool):
        raise HwloopError(f"reuse factor: expected a number or name=number pairs, got {spec!r}")
    if isinstance(spec, int):
        pairs: list[tuple[str | None, Any]] = [(None, spec)]
    elif isinstance(spec, dict):
        pairs = list(spec.items())
    else:
        pairs = []
        for part in str(spec).split(","):
            key, sep, value = part.strip().rpartition("=")
            pairs.append((key.strip() if sep else None, value.strip()))
    whole: int | None = None
    per: dict[str, int] = {}
    for layer, value in pairs:
        try:
            rf = int(value)
        except (TypeError, ValueError):
            raise HwloopError(f"reuse factor {value!r} is not a whole number") from None
        if rf < 1:
            raise HwloopError(f"a reuse factor must be at least 1, got {rf}")
        if layer is None:
            whole = rf
        else:
            per[str(layer)] = rf
    return whole, per


def with_reuse(design_hw: Any, reuse: Any, layers: tuple[str, ...] | None = None) -> Any:
    """``design_hw`` with reuse factors set: a number for every layer, or per-layer settings
    (:func:`parse_reuse`); ``layers`` are the design's layer names, to catch misspelt ones."""
    whole, per = parse_reuse(reuse)
    if layers is not None and (unknown := sorted(set(per) - set(layers))):
        raise HwloopError(
            f"reuse factor for unknown layer(s) {', '.join(unknown)}; the layers are "
            + ", ".join(layers)
        )
    hw = design_hw
    if whole is not None:
        hw = replace(hw, model=replace(hw.model, reuse_factor=whole))
    if per:
        from hwloop.synth import LayerHW

        named = dict(hw.by_name)
        for name, rf in per.items():
            named[name] = replace(named.get(name, LayerHW()), reuse_factor=rf)
        hw = replace(hw, by_name=tuple(sorted(named.items())))
    return hw


def predict_model(
    model: Any,
    hw: Any,
    target: Target,
    flow: str = "open",
    kind: str = "post_synthesis",
    model_dir: Path | None = None,
) -> Prediction:
    """The Python API: predicted resources of a torch model (an ``hwloop.archs`` SpecModule with
    its trained, possibly pruned weights) under hardware config ``hw``."""
    from hwloop.synth import design_from_model

    design = design_from_model(model, hw)
    return predict_designs([design], target, find_model(flow, target, kind, model_dir))[0]
