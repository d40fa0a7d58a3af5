"""Hardware objectives of a search candidate: its design, predicted resources and feasibility.

A trained candidate becomes a :class:`~hwloop.synth.Design` (weights quantised to ``--hw-bits``,
batch norms folded) for the search's target and flow; the current surrogate predicts its LUT /
FF / DSP / BRAM / latency with 80 % intervals, and the target's capacities turn them into
constraint values (Optuna's convention: feasible when every value is <= 0).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fpga_targets import Target
from hwloop.prediction import Predictor, describe_model
from hwloop.synth import Design, HardwareConfig, Synthesizer, default_strategy, design_from_model
from surrogates import (
    METRICS,
    AssignmentError,
    FeatureError,
    LayeredSurrogate,
    PieceSurrogate,
    Surrogate,
    assign_reuse_factors,
    capacity_weights,
    closest_reuse_factor,
    hls_layers,
    load_surrogate,
)
from synth_cache import CacheBackend, SqlCache, SynthResult

log = logging.getLogger(__name__)

_CAPACITY = ("lut", "ff", "dsp", "bram_18k")


@dataclass(frozen=True)
class HardwareScore:
    """A candidate's design key, predicted metrics (low, median, high), latency in ns, utilisation
    (fraction of the target, by median) and constraint values (<= 0: satisfied)."""

    key: str
    predicted: dict[str, tuple[float, float, float]]
    latency_ns: float
    utilisation: dict[str, float]
    constraints: dict[str, float]
    unsupported: str | None = None
    model: str = ""
    real: dict[str, Any] | None = None  # the cache's real outcome of this very design, if any
    extrapolated: tuple[str, ...] = ()  # features outside the surrogate's training range
    reuse_factors: tuple[tuple[str, int], ...] = ()  # hls4ml's per layer (vivado flow)

    @property
    def feasible(self) -> bool:
        return all(v <= 0 for v in self.constraints.values())

    def objective(self, name: str) -> float:
        """The value the search minimises: the real number when the design was synthesised,
        else the surrogate's median."""
        real = self.real if self.real and self.real.get("status") == "ok" else None
        if name == "latency":
            return float(real["latency_ns"]) if real and "latency_ns" in real else self.latency_ns
        if real and name in real:
            return float(real[name])
        return self.predicted[name][1]

    def uncertainty(self) -> float:
        """Relative width of the LUT interval (how much a real synthesis would teach)."""
        lo, mid, hi = self.predicted.get("lut", (0.0, 0.0, 0.0))
        return (hi - lo) / max(mid, 1.0)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "predicted": {m: list(v) for m, v in self.predicted.items()},
            "latency_ns": self.latency_ns,
            "utilisation": self.utilisation,
            "constraints": self.constraints,
            "unsupported": self.unsupported,
            "model": self.model,
            "real": self.real,
            "extrapolated": list(self.extrapolated),
            "reuse_factors": dict(self.reuse_factors),
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> HardwareScore:
        """The score :meth:`to_json` wrote (a trial's ``hw`` user attribute)."""
        return cls(
            key=str(doc.get("key", "")),
            predicted={
                m: (float(v[0]), float(v[1]), float(v[2]))
                for m, v in (doc.get("predicted") or {}).items()
            },
            latency_ns=float(doc.get("latency_ns", math.nan)),
            utilisation={k: float(v) for k, v in (doc.get("utilisation") or {}).items()},
            constraints={k: float(v) for k, v in (doc.get("constraints") or {}).items()},
            unsupported=doc.get("unsupported"),
            model=str(doc.get("model") or ""),
            real=doc.get("real"),
            extrapolated=tuple(doc.get("extrapolated") or ()),
            reuse_factors=tuple(
                (str(k), int(v)) for k, v in (doc.get("reuse_factors") or {}).items()
            ),
        )


@dataclass
class HardwareScorer:
    """Scores candidates with the current surrogate; :meth:`swap` installs a refitted one (the
    loop's rounds), safely while other threads score."""

    target: Target
    synth: Synthesizer
    bits: int
    strategy: str
    model_dir: Path
    max_util: float | None = None
    max_latency_ns: float | None = None
    cache_url: str | None = None  # designs with a real outcome there are scored on it
    reuse: str = "1"  # hls4ml reuse factors: "4", "fc0=2,...", or "auto" (the ILP)
    input_integer: int = 1  # integer bits of the inputs, from the training data's range
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._model = load_surrogate(self.model_dir)
        self.description = describe_model(self.model_dir, self._model)

    @property
    def model(self) -> Surrogate:
        with self._lock:
            return self._model

    def swap(self, model_dir: Path) -> None:
        model = load_surrogate(model_dir)
        with self._lock:
            self._model, self.model_dir = model, model_dir
            self.description = describe_model(model_dir, model)

    def hardware(self) -> HardwareConfig:
        return HardwareConfig.uniform(
            self.target.part,
            self.bits,
            self.target.clock_period_ns,
            input_integer=self.input_integer,
            strategy=self.strategy,
        )

    def design(self, model: Any) -> Design:
        design = design_from_model(model, self.hardware())
        if self.reuse in ("1", ""):
            return design
        return self._with_reuse(design)

    def _with_reuse(self, design: Design) -> Design:
        """``design`` with hls4ml's per-layer reuse factors: the requested ones rounded as hls4ml
        rounds them, or (``auto``) the cheapest meeting the latency bound (N-TORC's ILP over the
        layer-level surrogate's predictions). A design the ILP cannot place keeps factor 1 and
        is left to the latency constraint."""
        from hwloop.prediction import parse_reuse, with_reuse

        doc = design.canonical()
        try:
            layers = [x for x in hls_layers(doc).layers if x.kind in ("dense", "conv1d", "conv2d")]
        except FeatureError:
            return design  # scored as inexpressible by the surrogate
        model = self.model
        if self.reuse == "auto" and isinstance(model, LayeredSurrogate):
            assert self.max_latency_ns is not None  # SearchConfig insists
            try:
                options = model.reuse_options(doc)
                bound = self.max_latency_ns / design.hw.clock_period_ns
                caps = {m: float(getattr(self.target.resources, m)) for m in _CAPACITY}
                chosen = assign_reuse_factors(options, bound, capacity_weights(caps))
            except (AssignmentError, FeatureError) as exc:
                log.debug("reuse-factor ILP: %s", exc)
                return design
            per = chosen.reuse_factors
        else:
            whole, named = parse_reuse(self.reuse)
            per = {
                x.name: closest_reuse_factor(x.n_in, x.n_out, named.get(x.name, whole or 1))
                for x in layers
            }
        spec = ",".join(f"{k}={v}" for k, v in per.items())
        if not spec:
            return design
        hw = with_reuse(design.hw, spec)
        return design.with_hw(model=hw.model, by_name=hw.by_name)

    def score_designs(self, designs: list[Design], traced: bool = False) -> list[HardwareScore]:
        """Scores of ``designs`` (the one prediction path, ``hwloop.prediction.Predictor``).
        ``traced``: they hold trained weights worth da4ml's trace (the middle fidelity of a
        piece-level model on the open flow: seconds per design, so for front members, not every
        trial)."""
        with self._lock:
            model, model_dir = self._model, self.model_dir
        traced = traced and isinstance(model, PieceSurrogate) and self.synth.flow == "open"
        predictor = Predictor(model_dir, self.target, model, self.synth.tool_version())
        preds = predictor.predict(list(designs), traced=traced, tolerant=True)
        layered = isinstance(model, LayeredSurrogate)
        cache = SqlCache(self.cache_url) if self.cache_url else None
        out = []
        try:
            for design, p in zip(designs, preds, strict=True):
                clock = design.hw.clock_period_ns
                real = real_outcome(cache, p.key, clock) if cache else None
                score = self._score(
                    design, p.key or "", p.metrics, p.model_description, real, p.error
                )
                reuse = _reuse_of(design.canonical()) if layered else ()
                out.append(
                    dataclasses.replace(score, extrapolated=p.extrapolated, reuse_factors=reuse)
                )
        finally:
            if cache is not None:
                cache.close()
        return out

    def _score(
        self,
        design: Design,
        key: str,
        p: dict[str, tuple[float, float, float]],
        about: str,
        real: dict[str, Any] | None,
        error: str | None = None,
    ) -> HardwareScore:
        res = self.target.resources
        ok = real is not None and real.get("status") == "ok"
        numbers = real if real is not None and ok else {m: v[1] for m, v in p.items()}
        util = {
            m: float(numbers[m]) / float(getattr(res, m))
            for m in _CAPACITY
            if m in numbers and getattr(res, m, None)
        }
        cycles = p.get("latency", (math.nan,) * 3)[1]
        latency_ns = cycles * design.hw.clock_period_ns
        real_ns = float(real["latency_ns"]) if ok and real and "latency_ns" in real else latency_ns
        reason = error or self.synth.unsupported(design)
        constraints = {"expressible": 0.0 if reason is None else 1.0}
        if real is not None:  # a real run that failed or timed out makes the design infeasible
            constraints["synthesised"] = 0.0 if ok else 1.0
        if self.max_util is not None:
            constraints["utilisation"] = max(util.values(), default=0.0) - self.max_util
        if self.max_latency_ns is not None:
            constraints["latency_ns"] = (
                real_ns - self.max_latency_ns if math.isfinite(real_ns) else 1.0
            )
        missing = [m for m in METRICS if m not in p]
        if missing:
            log.debug("surrogate has no model for %s", ", ".join(missing))
        return HardwareScore(key, p, latency_ns, util, constraints, reason, about, real)


def _reuse_of(doc: dict[str, Any]) -> tuple[tuple[str, int], ...]:
    try:
        layers = hls_layers(doc).layers
    except FeatureError:
        return ()
    return tuple((x.name, int(x.reuse)) for x in layers if x.kind in ("dense", "conv1d", "conv2d"))


def real_values(result: SynthResult, clock_ns: float) -> dict[str, float]:
    """A synthesis result as the metrics the surrogate predicts (latency also in ns)."""
    out = {
        "lut": result.lut,
        "ff": result.ff,
        "dsp": result.dsp,
        "bram_18k": result.bram_18k,
        "latency": result.latency_max,
        "ii": result.ii_max,
    }
    doc = {k: float(v) for k, v in out.items() if v is not None}
    if "latency" in doc:
        doc["latency_ns"] = doc["latency"] * clock_ns
    return doc


def real_outcome(cache: CacheBackend, key: str | None, clock_ns: float) -> dict[str, Any] | None:
    """The cache's post-synthesis outcome of ``key``: its status, and its metrics when ok."""
    entry = cache.get(key) if key else None
    result = entry.result("post_synthesis") if entry is not None else None
    if result is None:
        return None
    if not result.ok:
        return {"status": result.status, "error": (result.error or "")[:200]}
    return {"status": "ok", **real_values(result, clock_ns)}


def within_limits(
    numbers: dict[str, Any], target: Target, max_util: float | None, max_latency_ns: float | None
) -> bool:
    """Whether resource counts and ``latency_ns`` meet ``--max-util`` / ``--max-latency-ns``."""
    if max_util is not None:
        for m in _CAPACITY:
            cap = float(getattr(target.resources, m, 0) or 0)
            if cap and float(numbers.get(m, 0.0)) / cap > max_util:
                return False
    if max_latency_ns is not None:
        lat = float(numbers.get("latency_ns", math.nan))
        if not math.isfinite(lat) or lat > max_latency_ns:
            return False
    return True


def hardware_scorer(cfg: Any, target: Target, space: Any, input_integer: int = 1) -> HardwareScorer:
    """The scorer of a search: its flow's synthesizer and the surrogate that answers
    (``--surrogate``, the loop's latest refit in ``OUT/surrogate``, the user's own model, the
    shipped default; with none of those, a small calibration of the space first). Logs which.
    ``input_integer``: the inputs' integer bits (``integer_bits_for`` the training data)."""
    from hwloop import HwloopError
    from hwloop.synth import get_synthesizer
    from synth_cache import default_cache_url

    synth = get_synthesizer(cfg.flow)
    strategy = default_strategy(cfg.flow, cfg.strategy)
    latest = latest_refit(cfg.out)
    if cfg.surrogate is not None:
        model_dir = Path(cfg.surrogate)
    elif latest is not None:
        model_dir = latest
    else:
        try:
            model_dir = _find_flow_model(cfg.flow, target)
        except HwloopError as exc:
            log.warning("%s; calibrating a small batch of the search space first", exc)
            model_dir = bootstrap_surrogate(cfg, target, space, synth, strategy, cfg.bootstrap)
    scorer = HardwareScorer(
        target,
        synth,
        cfg.hw_bits,
        strategy,
        model_dir,
        cfg.max_util,
        cfg.max_latency_ns,
        cfg.cache or default_cache_url(),
        cfg.reuse_factor,
        input_integer,
    )
    log.info("hardware objectives predicted by %s", scorer.description)
    return scorer


def _find_flow_model(flow: str, target: Target) -> Path:
    """The flow's post-synthesis model, else (the vivado flow ships HLS estimates) its
    ``hls_estimate`` one."""
    from hwloop import HwloopError
    from hwloop.prediction import find_model

    try:
        return find_model(flow, target, "post_synthesis")
    except HwloopError:
        if flow == "open":
            raise
        return find_model(flow, target, "hls_estimate")


def latest_refit(out: Path) -> Path | None:
    """The newest surrogate the loop refitted for this search (``OUT/surrogate/round-N``), else
    the one calibrated for it when nothing else answered (``OUT/surrogate/bootstrap``)."""
    rounds = sorted(
        (p for p in (out / "surrogate").glob("round-*") if (p / "metadata.json").is_file()),
        key=lambda p: int(p.name.split("-")[1]),
    )
    if rounds:
        return rounds[-1]
    boot = out / "surrogate" / "bootstrap"
    return boot if (boot / "metadata.json").is_file() else None


def bootstrap_surrogate(
    cfg: Any, target: Target, space: Any, synth: Synthesizer, strategy: str, n: int = 12
) -> Path:
    """Synthesise ``n`` small designs of the search space (at most 5e4 BOPs each, so this takes
    minutes, not hours) into the cache and fit a first surrogate on every result the cache holds
    for this flow and target."""
    from hwloop import HwloopError
    from hwloop.prediction import fit_and_save, piece_set, training_set
    from hwloop.synth import run_calibration, sample_space
    from synth_cache import SqlCache, default_cache_url

    reason = synth.available()
    if reason is not None:
        raise HwloopError(
            f"no {cfg.flow} surrogate for {target.name}, and the {cfg.flow} flow is not "
            f"available here to calibrate one: {reason}"
        )
    url = cfg.cache or default_cache_url()
    items = sample_space(space, n, [cfg.hw_bits], [0.0, 0.5], seed=cfg.seed, max_bops=5e4)
    summary = run_calibration(
        items,
        synth,
        url,
        target.part,
        target.clock_period_ns,
        jobs=2,
        timeout_s=cfg.synth_timeout,
        strategy=strategy,
    )
    log.warning("calibrated %d designs: %s", len(items), dict(summary.counts))
    # the open flow: the pieces these runs synthesised, composed like synthesis
    cache = SqlCache(url)
    data = (
        piece_set(cache)
        if cfg.flow == "open"
        else training_set(cache, cfg.flow, "post_synthesis", target.part)
    )
    extra = {"target": target.name, "trained_on": {"bootstrap": True}}
    return fit_and_save(data, cfg.out / "surrogate" / "bootstrap", cfg.flow, extra=extra).path
