"""hwloop's Python API (issue 24): predictions for a model, the synthesis cache and a search's
front as pandas tables. ``hwloop predict`` and the MCP server call these same functions.

>>> import hwloop
>>> p = hwloop.predict("nac-tiny", target="vu13p", bits=4)        # doctest: +SKIP
>>> p.lut, p.fits, p.latency_ns                                    # doctest: +SKIP
((226913.0, 230424.0, 238747.0), True, 62.8)
>>> hwloop.Cache().to_frame(status="ok")                           # doctest: +SKIP
>>> hwloop.load_front("hwloop-out")                                # doctest: +SKIP

A model is a built-in arch name, an arch spec ``.json`` (with trained weights when a
``.safetensors`` of the same stem lies beside it), ``OUT/pareto.json:TRIAL``, an ``.onnx`` /
QONNX file, a ``.safetensors`` file with ``factory="package.module:function"``, an
:class:`~hwloop.archs.ArchSpec`, or a torch module (give ``input_shape``). Trained weights are
used wherever they exist (the open flow's cost depends on the actual constants); random ones,
at ``sparsity``, only where there are none. ``Prediction.weights`` says which.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwloop import HwloopError

if TYPE_CHECKING:
    import pandas as pd

    from hwloop.prediction import Prediction
    from hwloop.synth import Design, ExpectedDesign

__all__ = ["Cache", "DesignRequest", "load_front", "predict", "predict_many"]


@dataclass(frozen=True)
class DesignRequest:
    """How to turn a model into the design that is predicted."""

    bits: int = 8
    sparsity: float = 0.0  # random weights only: the fraction set to zero
    reuse_factor: str | int = 1  # vivado: every layer's, or "fc0=2,out=1"
    strategy: str | None = None  # default: distributed_arithmetic (open), latency (vivado)
    seed: int = 0  # random weights only: the draw a cache lookup keys
    input_shape: tuple[int, ...] | None = None  # a torch module's, or to check a file's
    factory: str | None = None  # a .safetensors file's module factory

    def __post_init__(self) -> None:
        if not 2 <= self.bits <= 32:
            raise HwloopError(
                f"bits must be in 2..32 (the fixed-point widths the synthesis flows take), "
                f"got {self.bits}"
            )
        if not 0 <= self.sparsity < 1:
            raise HwloopError(f"sparsity must be in [0, 1), got {self.sparsity}")


def make_design(
    model: Any, req: DesignRequest, part: str, clock_ns: float, flow: str = "open"
) -> tuple[Design | ExpectedDesign, str]:
    """The design of ``model`` and which weights it carries (``trained (...)`` or ``random
    (sparsity X, expected over draws)``: without trained weights the prediction is of random
    weights in expectation, :class:`~hwloop.synth.ExpectedDesign`; the draw of ``req.seed``
    is made only to look the design up in a cache)."""
    from hwloop.archs import (
        ArchSpec,
        graph_to_spec,
        hls4ml_settings,
        import_model,
        is_model_graph,
        iter_layers,
        load_trained,
        resolve_arch,
        torch_to_spec,
        trained_weights,
    )
    from hwloop.prediction import with_reuse
    from hwloop.synth import ExpectedDesign, HardwareConfig, default_strategy

    trained: Any = None
    label = ""
    reuse: dict[str, int] = {}  # an hls4ml model's own reuse factors and strategy
    hls_strategy: str | None = None
    input_bits = None  # a QONNX / hls4ml model's input format
    if isinstance(model, ArchSpec):
        spec = model
    elif isinstance(model, dict):
        spec = ArchSpec.from_json(model)
    elif isinstance(model, (str, Path)) and (
        str(model).lower().endswith((".onnx", ".pt2", ".safetensors")) or Path(model).is_dir()
    ):
        imp = import_model(model, req.factory, req.input_shape)
        spec, trained, label = imp.spec, imp, f"trained ({model})"
        reuse, hls_strategy = imp.reuse_factors, imp.strategy
        input_bits = imp.input_precision
    elif isinstance(model, (str, Path)):
        text = str(model)
        spec = resolve_arch(text)
        beside = trained_weights(text)
        if beside is not None:
            trained, label = load_trained(spec, beside), f"trained ({beside})"
            reuse, hls_strategy, input_bits = hls4ml_settings(beside)
    elif _is_torch_module(model):
        imp = torch_to_spec(model, "model", req.input_shape)
        spec, trained, label = imp.spec, imp, "trained (the module's)"
        input_bits = imp.input_precision
    elif is_model_graph(model):
        imp = graph_to_spec(model, "model", req.input_shape)
        spec, trained, label = imp.spec, imp, "trained (the hls4ml model's)"
        reuse, hls_strategy = imp.reuse_factors, imp.strategy
        input_bits = imp.input_precision
    else:
        raise HwloopError(
            f"cannot predict a {type(model).__name__}: give an arch name or file, an ONNX file, "
            "an hls4ml project or ModelGraph, an ArchSpec or a torch module"
        )
    if req.input_shape is not None and tuple(spec.input_shape) != tuple(req.input_shape):
        raise HwloopError(
            f"input shape {list(req.input_shape)} does not fit the model's {list(spec.input_shape)}"
        )
    # an hls4ml model's own strategy holds for the vivado flow; the open flow is multiplierless
    default = default_strategy(flow, hls_strategy if flow != "open" else None)
    hw = HardwareConfig.uniform(part, req.bits, clock_ns, strategy=req.strategy or default)
    hw = _declared_precisions(hw, spec, input_bits)
    names = tuple(layer.name for layer in iter_layers(spec.layers))
    if reuse and str(req.reuse_factor) == "1":  # not asked for: the model's own
        hw = with_reuse(hw, ",".join(f"{k}={v}" for k, v in reuse.items()), names)
    else:
        hw = with_reuse(hw, str(req.reuse_factor), names)
    if trained is None:  # in expectation: thousands a second (drawn only for a cache lookup)
        design = ExpectedDesign.of(spec, hw, seed=req.seed, sparsity=req.sparsity)
        return design, f"random (sparsity {req.sparsity:g}, expected over draws)"
    if req.sparsity:
        raise HwloopError("sparsity is for random weights; the trained weights set their own")
    from hwloop.synth import design_from_model  # torch: only where there are weights

    module = trained if not hasattr(trained, "weights") else _module(trained)
    return design_from_model(module, hw), label


def _declared_precisions(hw: Any, spec: Any, input_bits: Any) -> Any:
    """``hw`` with the formats the model itself declares (QONNX Quant nodes, an hls4ml model's
    layer types): they win over ``bits``, which fills in the rest."""
    from dataclasses import replace

    from hwloop.archs import iter_layers
    from hwloop.synth import LayerHW

    declared = [
        (layer.name, LayerHW(weight=p.weight, result=p.result))
        for layer in iter_layers(spec.layers)
        if (p := getattr(layer, "precision", None)) is not None
        and (p.weight is not None or p.result is not None)
    ]
    hw = hw.with_layers(declared)
    return hw if input_bits is None else replace(hw, input_precision=input_bits)


def _is_torch_module(obj: Any) -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return isinstance(obj, torch.nn.Module)


def _module(imp: Any) -> Any:
    import torch

    from hwloop.archs import build_model

    model = build_model(imp.spec)
    state = {k: torch.from_numpy(v) for k, v in imp.weights.items()}
    model.load_state_dict(state, strict=False)  # batch norms were folded into the weights
    return model.eval()


def predict_many(
    models: Sequence[Any],
    target: str = "vu13p",
    flow: str = "open",
    kind: str | None = None,
    model_dir: str | Path | None = None,
    cache: str | None = None,
    requests: Sequence[DesignRequest] | None = None,
    traced: bool | None = None,
    **request: Any,
) -> list[Prediction]:
    """Predict many models in one call (one surrogate load; thousands of designs a second).
    ``requests`` gives each model its own settings, else ``**request`` (bits, sparsity,
    reuse_factor, strategy, seed, input_shape, factory) applies to all."""
    from fpga_targets import get_target
    from hwloop.prediction import find_model

    tgt = get_target(target)
    kind = kind or ("post_synthesis" if flow == "open" else "hls_estimate")
    path = find_model(flow, tgt, kind, Path(model_dir) if model_dir else None)
    reqs = list(requests) if requests is not None else [DesignRequest(**request)] * len(models)
    if len(reqs) != len(models):
        raise HwloopError(f"{len(reqs)} requests for {len(models)} models")
    made = [
        make_design(m, r, tgt.part, tgt.clock_period_ns, flow)
        for m, r in zip(models, reqs, strict=True)
    ]
    return predict_made(made, tgt, path, cache, flow, traced)


def predict_made(
    made: Sequence[tuple[Design | ExpectedDesign, str]],
    target: Any,
    path: Path,
    cache: str | None,
    flow: str,
    traced: bool | None = None,
) -> list[Prediction]:
    """Predictions of designs already made (:func:`make_design`), each with its weights' label;
    a real result of the same design is looked up in ``cache`` (an SQLite cache that does not
    exist is not created). ``traced`` (default: wherever the weights are trained) lets the open
    flow's piece model answer from da4ml's trace of the actual weights (the middle fidelity:
    seconds per design, and it sees what the constants cost)."""
    from dataclasses import replace

    from hwloop.prediction import predict_designs
    from synth_cache import SqlCache

    store = None
    if cache is not None:
        missing = cache.startswith("sqlite:///") and not Path(cache[10:]).exists()
        store = None if missing else SqlCache(cache)
    model = _load(path)
    want = [
        (traced if traced is not None else w.startswith("trained")) and flow == "open"
        for _, w in made
    ]
    out: list[Prediction | None] = [None] * len(made)
    for flag in (False, True):
        idx = [i for i, t in enumerate(want) if t == flag]
        if not idx:
            continue
        designs = [made[i][0] for i in idx]
        preds = predict_designs(
            designs, target, path, store, _tool_version(flow), model=model, traced=flag
        )
        for i, p in zip(idx, preds, strict=True):
            out[i] = replace(p, weights=made[i][1])
    return [p for p in out if p is not None]


_LOADED: dict[tuple[str, int], Any] = {}


def _load(path: Path) -> Any:
    """The surrogate in ``path``, loaded once per process (until its files change): a notebook
    that predicts batch after batch pays the XGBoost load once."""
    from surrogates import load_surrogate

    meta = Path(path) / "metadata.json"
    key = (str(Path(path).resolve()), meta.stat().st_mtime_ns if meta.exists() else 0)
    if key not in _LOADED:
        _LOADED.clear()  # one model at a time: a long session does not hold them all
        _LOADED[key] = load_surrogate(path)
    return _LOADED[key]


def predict(
    model: Any,
    input_shape: tuple[int, ...] | None = None,
    target: str = "vu13p",
    flow: str = "open",
    bits: int = 8,
    reuse_factor: str | int = 1,
    sparsity: float = 0.0,
    strategy: str | None = None,
    kind: str | None = None,
    factory: str | None = None,
    model_dir: str | Path | None = None,
    cache: str | None = None,
    traced: bool | None = None,
) -> Prediction:
    """Predicted LUT / FF / DSP / BRAM / latency of one model on ``target`` (median and 80 %
    interval each: ``p.lut == (low, median, high)``), its utilisation, whether it fits, and
    ``p.latency_ns``; ``p.to_frame()`` is a one-row DataFrame. ``traced``: see
    :func:`predict_made` (default: where the weights are trained)."""
    req = DesignRequest(bits, sparsity, reuse_factor, strategy, 0, input_shape, factory)
    (p,) = predict_many(
        [model], target, flow, kind, model_dir, cache, requests=[req], traced=traced
    )
    return p


def _tool_version(flow: str) -> str | None:
    if flow != "open":
        return None
    from hwloop.synth import get_synthesizer

    synth = get_synthesizer("open")
    return None if synth.available() else synth.tool_version()


class Cache:
    """The synthesis cache (default: the user's) as tables."""

    def __init__(self, url: str | None = None) -> None:
        from synth_cache import default_cache_url

        self.url = url or default_cache_url()

    def to_frame(
        self,
        status: str | None = None,
        flow: str | None = None,
        target: str | None = None,
        kind: str | None = None,
    ) -> pd.DataFrame:
        """One row per result (a run has one per kind: post-synthesis, HLS estimate): key,
        flow, tool, version, kind, status, part, target, resources, latency and II in cycles,
        clocks, source and time. ``target`` filters by the target whose part it is."""
        import pandas as pd

        from fpga_targets import list_targets
        from synth_cache import SqlCache

        parts = {t.part: n for n, t in list_targets().items()}
        if target is not None and target not in parts.values():
            raise HwloopError(
                f"unknown target {target!r}; known targets: {', '.join(parts.values())}"
            )
        cols = [
            "key", "flow", "tool", "tool_version", "kind", "status", "part", "target", "lut",
            "ff", "dsp", "bram_18k", "uram", "carry", "latency_min", "latency_max", "ii_min",
            "ii_max", "clock_target_ns", "clock_estimated_ns", "source", "created_at",
        ]  # fmt: skip
        if self.url.startswith("sqlite:///") and not Path(self.url[10:]).exists():
            return pd.DataFrame(columns=cols)
        store = SqlCache(self.url)
        rows = []
        try:
            for e in store.entries(flow=flow, status=status):
                for r in e.results:
                    if kind is not None and r.kind != kind:
                        continue
                    if status is not None and r.status != status:
                        continue
                    name = parts.get(r.part)
                    if target is not None and name != target:
                        continue
                    doc = r.to_json()
                    row = {c: doc.get(c) for c in cols}
                    row.update(key=e.key, target=name, source=e.source, created_at=e.created_at)
                    rows.append(row)
        finally:
            store.close()
        return pd.DataFrame(rows, columns=cols)


def load_front(folder: str | Path) -> pd.DataFrame:
    """A search's front (``FOLDER/pareto.json``) as a DataFrame, one row per member: trial,
    validation and test metric, BOPs, parameters, the objectives, the predicted (median, 80 %
    interval) and real resources and latency, where the numbers came from, and the arch."""
    import pandas as pd

    path = Path(folder) / "pareto.json" if Path(folder).is_dir() else Path(folder)
    try:
        doc = json.loads(path.read_text())
        members = doc["front"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise HwloopError(f"{path} is not a search's pareto.json ({exc})") from None
    metric = doc.get("metric", "metric")
    rows = []
    for m in members:
        hw = m.get("hw") or {}
        pred, real = hw.get("predicted") or {}, hw.get("real") or {}
        row: dict[str, Any] = {
            "trial": m["trial"],
            metric: m["metric"],
            f"test_{metric}": m.get("test_metric"),
            "bops": m.get("bops"),
            "parameters": m.get("parameters"),
            **{f"objective_{k}": v for k, v in (m.get("values") or {}).items()},
        }
        for name, (lo, mid, hi) in pred.items():
            row.update({f"{name}_pred": mid, f"{name}_low80": lo, f"{name}_high80": hi})
        for name, value in real.items():
            row[f"{name}_real"] = value
        if hw:
            row.update(source=hw.get("source"), latency_ns=hw.get("latency_ns"))
        row.update(arch_digest=m.get("arch_digest"), arch=json.dumps(m.get("arch", {})))
        rows.append(row)
    return pd.DataFrame(rows)
