"""Your own model (issue 24): trained models imported through each route, and what their real
weights buy a prediction.

1. A real search (Bragg MLP space, hardware objectives, weights kept) trains the models: its
   front members, topped up with its other complete trials up to ``--models``.
2. Each model is imported through torch (a factory + safetensors), ``torch.export``'s .pt2,
   ONNX, QONNX (Brevitas' export of its quantised twin) and hls4ml (the real converter's
   ModelGraph, and the project folder it writes); all must give the torch route's spec and
   weights (hls4ml's spec also carries its precisions), QONNX the same layers with weights on
   its quantisation grid.
3. Each model's design (trained weights, ``--bits``) is synthesised for real with the open flow;
   the shipped surrogate predicts it with the trained weights (piece model, and da4ml's trace of
   them: what ``hwloop.predict`` does by default for trained weights) and with random weights of
   the same spec. Errors are against the real synthesis, on models no surrogate trained on.

4. ``hwloop.predict_many`` on ``--batch`` specs sampled from the Bragg spaces: designs per
   second (``--batch-only`` runs just this).

Prints a line per model and a JSON line with the summary (prefix ``BENCH_JSON``).

    python scripts/bench_own_model.py [--models 10] [--trials 24] [--bits 6] [--out runs/own]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import torch
from optuna.artifacts import FileSystemArtifactStore
from safetensors.torch import save_file

from fpga_targets import get_target
from hwloop.api import predict
from hwloop.archs import ArchSpec, Imported, graph_to_spec, import_model, save_imported
from hwloop.cli.main import main as cli
from hwloop.local._export import export_qonnx
from hwloop.local._quant import quantised_from_float
from hwloop.search import load_trial_model
from hwloop.synth import (
    HardwareConfig,
    design_from_model,
    get_synthesizer,
    synthesize,
    to_hls4ml,
)
from synth_cache import SqlCache

FACTORY = """from hwloop.archs import ArchSpec, build_model
def make():
    return build_model(ArchSpec.load({spec!r}))
"""


def smape(pred: float, real: float) -> float:
    return 0.0 if pred == real == 0 else 200 * abs(pred - real) / (abs(pred) + abs(real))


def trained_models(
    out: Path, trials: int, n: int, bits: int, max_lut: float
) -> list[tuple[int, torch.nn.Module]]:
    """Front members first, then other complete trials, each predicted below ``max_lut`` (real
    synthesis of a 300 k LUT MLP takes 10 minutes on one core)."""
    args = ["search", "--task", "bragg", "--space", "mlp", "--objectives", "metric,lut,latency"]
    args += ["--trials", str(trials), "--epochs", "3", "--limit", "4000", "--out", str(out)]
    args += ["--hw-bits", str(bits)]
    if cli(args) != 0:
        sys.exit("the search failed")
    study = optuna.load_study(study_name="bragg-mlp-vu13p", storage=f"sqlite:///{out}/study.db")
    store = FileSystemArtifactStore(str(out / "artifacts"))
    front = {t.number for t in study.best_trials}

    def lut(t: optuna.trial.FrozenTrial) -> float:
        return float(
            ((t.user_attrs.get("hw") or {}).get("predicted") or {}).get("lut", [0, 1e12])[1]
        )

    done = [t for t in study.trials if t.state.name == "COMPLETE" and lut(t) <= max_lut]
    done.sort(key=lambda t: (t.number not in front, t.user_attrs.get("val_metric", 1e9)))
    return [(t.number, load_trial_model(t, store)) for t in done[:n]]


def routes(model: torch.nn.Module, folder: Path, bits: int) -> dict[str, object]:
    """Import ``model`` through every route; check that they agree."""
    folder.mkdir(parents=True, exist_ok=True)
    spec: ArchSpec = model.spec  # type: ignore[assignment]
    spec.save(folder / "arch.json")
    (folder / "factory_mod.py").write_text(FACTORY.format(spec=str(folder / "arch.json")))
    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "w.safetensors")
    )
    x = torch.zeros(1, *spec.input_shape)
    torch.onnx.export(model, (x,), str(folder / "m.onnx"), dynamo=True)
    q = quantised_from_float(model, bits, torch.rand(256, *spec.input_shape), False).eval()
    export_qonnx(q, folder / "m.qonnx.onnx")
    sys.path.insert(0, str(folder))
    sys.modules.pop("factory_mod", None)
    t0 = time.perf_counter()
    shape = tuple(spec.input_shape)
    via_torch = import_model(
        folder / "w.safetensors", factory="factory_mod:make", input_shape=shape, name="m"
    )
    t_torch = time.perf_counter() - t0
    sys.path.remove(str(folder))
    t0 = time.perf_counter()
    via_onnx = import_model(folder / "m.onnx", name="m")
    t_onnx = time.perf_counter() - t0
    via_qonnx = import_model(folder / "m.qonnx.onnx", name="m")
    torch.export.save(torch.export.export(model, (x,)), str(folder / "m.pt2"))
    via_pt2 = import_model(folder / "m.pt2", name="m")
    # hls4ml: the real converter's ModelGraph, and the project folder it writes
    hw = HardwareConfig.uniform("xcu250-figd2104-2L-e", bits, 5.0, strategy="latency")
    graph = to_hls4ml(design_from_model(model, hw), model, folder / "hls4ml")
    t0 = time.perf_counter()
    via_graph = graph_to_spec(graph, "m")
    t_graph = time.perf_counter() - t0
    graph.write()
    via_project = import_model(folder / "hls4ml", name="m")
    q_struct = [(x.op, getattr(x, "out_features", None)) for x in via_qonnx.spec.layers]
    o_struct = [(x.op, getattr(x, "out_features", None)) for x in via_onnx.spec.layers]
    save_imported(via_onnx, folder / "imported.json")
    return {
        "torch_equals_onnx": same(via_torch, via_onnx),
        "torch_equals_pt2": same(via_torch, via_pt2),
        "torch_equals_hls4ml_graph": same(via_torch, via_graph, precisions=False),
        "torch_equals_hls4ml_project": same(via_torch, via_project, precisions=False),
        "qonnx_same_layers": q_struct == o_struct,
        "import_s_torch": round(t_torch, 3),
        "import_s_onnx": round(t_onnx, 3),
        "import_s_hls4ml_graph": round(t_graph, 3),
    }


def same(a: Imported, b: Imported, precisions: bool = True) -> bool:
    """The same spec (hls4ml's also carries its layer precisions: compared without them) and
    the same weights."""

    def layers(imp: Imported) -> list[dict[str, object]]:
        return [
            {k: v for k, v in layer.items() if precisions or k != "precision"}
            for layer in imp.spec.structure()["layers"]
        ]

    return (
        layers(a) == layers(b)
        and tuple(a.spec.input_shape) == tuple(b.spec.input_shape)
        and a.weights.keys() == b.weights.keys()
        and all(np.allclose(a.weights[k], b.weights[k], atol=1e-6) for k in a.weights)
    )


def batch_speed(n: int) -> dict[str, float]:
    """``hwloop.predict_many`` on ``n`` specs sampled from the Bragg block and MLP spaces
    (random weights, in expectation): designs per second of the first call (imports and the
    model load included) and of a second one."""
    from hwloop.api import predict_many
    from hwloop.spaces import get_space

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    spaces = [get_space("bragg", "block"), get_space("bragg", "mlp")]
    specs = []
    for i in range(n):
        trial = study.ask()
        specs.append(spaces[i % 2].sample(trial))
        study.tell(trial, 0.0)
    out: dict[str, float] = {}
    for label in ("first_call", "warm"):
        t0 = time.perf_counter()
        preds = predict_many(specs, target="vu13p", bits=6)
        out[f"designs_per_s_{label}"] = round(len(preds) / (time.perf_counter() - t0))
    out.update(expectation_vs_draw(specs[:150]))
    return out


def expectation_vs_draw(specs: list[ArchSpec]) -> dict[str, float]:
    """Random weights in expectation against a real draw (seed 0) of the same designs, both
    predicted by the shipped model, at 4 / 6 / 8 bits and 0 / 50 / 75 % sparsity: the mean and
    largest |expected / drawn - 1| per metric (%)."""
    from hwloop.api import DesignRequest, make_design, predict_made
    from hwloop.prediction import find_model

    target = get_target("vu13p")
    path = find_model("open", target, "post_synthesis", None)
    ratios: dict[str, list[float]] = {"lut": [], "ff": [], "latency": []}
    for bits, sparsity in ((4, 0.0), (6, 0.5), (8, 0.75)):
        req = DesignRequest(bits=bits, sparsity=sparsity)
        made = [make_design(x, req, target.part, target.clock_period_ns) for x in specs]
        drawn = [(d.draw(), w) for d, w in made]  # type: ignore[union-attr]
        exp = predict_made(made, target, path, None, "open", traced=False)
        real = predict_made(drawn, target, path, None, "open", traced=False)
        for e, r in zip(exp, real, strict=True):
            for m in ratios:
                ratios[m].append(e.metrics[m][1] / max(r.metrics[m][1], 1.0) - 1)
    out: dict[str, float] = {"expectation_designs": float(len(specs) * 3)}
    for m, v in ratios.items():
        a = np.abs(np.asarray(v)) * 100
        out[f"expectation_vs_draw_{m}_mean_pct"] = round(float(a.mean()), 2)
        out[f"expectation_vs_draw_{m}_max_pct"] = round(float(a.max()), 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=10)
    ap.add_argument("--trials", type=int, default=24)
    ap.add_argument("--bits", type=int, default=6)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--max-lut", type=float, default=60_000, help="largest predicted design")
    ap.add_argument("--out", type=Path, default=Path("runs/bench-own-model"))
    ap.add_argument("--batch", type=int, default=2000, help="specs in the batch-speed check")
    ap.add_argument("--batch-only", action="store_true", help="only the batch-speed check")
    args = ap.parse_args()
    if args.batch_only:
        print("BENCH_JSON " + json.dumps({"bench": "own_model", **batch_speed(args.batch)}))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    models = trained_models(args.out / "search", args.trials, args.models, args.bits, args.max_lut)
    target = get_target("vu13p")
    hw = HardwareConfig.uniform(
        target.part, args.bits, target.clock_period_ns, strategy="distributed_arithmetic"
    )
    synth = get_synthesizer("open")
    cache = SqlCache(f"sqlite:///{(args.out / 'cache.db').resolve()}")
    rows = []
    for trial, model in models:
        folder = args.out / f"trial-{trial}"
        row: dict[str, object] = {"trial": trial, **routes(model, folder, args.bits)}
        t0 = time.perf_counter()
        own = predict(str(folder / "imported.json"), bits=args.bits)  # traced: the middle fidelity
        row["import_predict_s"] = round(float(row["import_s_onnx"]) + time.perf_counter() - t0, 3)  # type: ignore[arg-type]
        plain = predict(str(folder / "imported.json"), bits=args.bits, traced=False)
        (folder / "imported.safetensors").rename(folder / "aside.safetensors")
        rand = predict(str(folder / "imported.json"), bits=args.bits)
        (folder / "aside.safetensors").rename(folder / "imported.safetensors")
        t0 = time.perf_counter()
        outcome = synthesize(design_from_model(model, hw), synth, cache, timeout_s=args.timeout)
        result = outcome.entry.results[0]
        row["synth_s"] = round(time.perf_counter() - t0, 1)
        row["status"] = result.status
        if result.status == "ok":
            for m, real in (
                ("lut", result.lut),
                ("ff", result.ff),
                ("latency", result.latency_max),
            ):
                row[f"{m}_real"] = real
                for label, p in (("traced", own), ("trained", plain), ("random", rand)):
                    row[f"{m}_{label}"] = round(p.metrics[m][1])
                    row[f"{m}_smape_{label}"] = round(smape(p.metrics[m][1], float(real or 0)), 1)
        rows.append(row)
        print(json.dumps(row))
    ok = [r for r in rows if r.get("status") == "ok"]
    summary: dict[str, object] = {
        "models": len(rows),
        "synthesised_ok": len(ok),
        "bits": args.bits,
        **{
            k: sum(bool(r[k]) for r in rows)
            for k in (
                "torch_equals_onnx",
                "torch_equals_pt2",
                "torch_equals_hls4ml_graph",
                "torch_equals_hls4ml_project",
                "qonnx_same_layers",
            )
        },
        "import_predict_s_median": float(np.median([r["import_predict_s"] for r in rows])),
    }
    for m in ("lut", "ff", "latency"):
        for w in ("traced", "trained", "random"):
            vals = [float(r[f"{m}_smape_{w}"]) for r in ok]  # type: ignore[arg-type]
            summary[f"{m}_smape_{w}"] = round(float(np.mean(vals)), 1) if vals else None
    summary.update(batch_speed(args.batch))
    print(
        f"{len(rows)} trained models ({len(ok)} synthesised): the torch route's spec and weights "
        f"from ONNX for {summary['torch_equals_onnx']}, .pt2 {summary['torch_equals_pt2']}, "
        f"hls4ml ModelGraph {summary['torch_equals_hls4ml_graph']}, hls4ml project "
        f"{summary['torch_equals_hls4ml_project']}; QONNX the same layers for "
        f"{summary['qonnx_same_layers']}"
    )
    print(
        f"  hwloop.predict_many on {args.batch} sampled specs: "
        f"{summary['designs_per_s_first_call']} designs/s (first call, imports included), "
        f"{summary['designs_per_s_warm']} designs/s warm"
    )
    for m in ("lut", "ff", "latency"):
        print(
            f"  {m:<8} SMAPE vs real synthesis: trained weights {summary[f'{m}_smape_trained']} "
            f"% (da4ml-traced: {summary[f'{m}_smape_traced']} %), random weights "
            f"{summary[f'{m}_smape_random']} %"
        )
    print("BENCH_JSON " + json.dumps({"bench": "own_model", **summary}))


if __name__ == "__main__":
    main()
