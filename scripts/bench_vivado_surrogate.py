"""Benchmark of the layer-level hls4ml + Vivado surrogate (issue 18).

    python scripts/bench_vivado_surrogate.py [--seeds 3] [--model-dir DIR]

Imports every real hls4ml record the project has (../shared/fixtures: wa-hls4ml, N-TORC,
hls-reports, and copies of hls4ml's baselines / wa-hls4ml's 3-layer table where present; plus
``--extra`` paths) into a throw-away cache and
prints:

- held out by architecture (a fifth of the layer shapes / networks, every precision and reuse
  variant on one side, ``--seeds`` splits averaged) and held out by source (trained on the
  wa-hls4ml records only, tested on every other source): LUT, FF, DSP and latency R² and SMAPE
  of the layer-level model and of the plain-XGBoost baseline (whole-design features) on the
  same splits;
- predictions with 80 % intervals from the shipped models for nac-tiny/small/medium/large at 8
  bits, reuse factor 4 on a U250 and deepsets-baseline/tiny/small/medium/large at 8 bits, reuse
  factor 2 on a VU13P (each layer at the factor hls4ml rounds the request to, printed);
- the tools' own disagreement: hls4ml's baselines hold the same test synthesised by several HLS
  tools and versions; the SMAPE between two tools' numbers for one design is a floor under any
  surrogate asked to carry numbers from one tool to another (the held-out-by-source split);
- one JSON line (prefix ``BENCH_JSON``).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path
from typing import Any

from fpga_targets import get_target
from hwloop import HwloopError
from hwloop.archs import resolve_arch
from hwloop.prediction import (
    document_set,
    evaluate_by_arch,
    evaluate_by_source,
    find_model,
    predict_designs,
    vivado_record_paths,
    with_reuse,
)
from hwloop.synth import HardwareConfig, random_design
from surrogates import FeatureError, closest_reuse_factor, hls_layers
from synth_cache import SqlCache, import_paths, parse_hls4ml_baseline

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "../shared/fixtures"
METRICS = ("lut", "ff", "dsp", "latency")
CASES = (
    ("u250", 4, ("nac-tiny", "nac-small", "nac-medium", "nac-large")),
    (
        "vu13p",
        2,
        (
            "deepsets-baseline",
            "deepsets-tiny",
            "deepsets-small",
            "deepsets-medium",
            "deepsets-large",
        ),
    ),
)


def _cell(v: Any) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def _table(title: str, ev: Any) -> None:
    print(
        f"\n{title}: trained on {ev.n_train}, tested on {ev.n_test} records "
        f"(baseline tested on {ev.n_baseline_test})"
    )
    print(
        f"{'metric':<8} {'R2':>8} {'SMAPE%':>8} {'cov80':>6} | {'base R2':>8} {'base SMAPE%':>11}"
    )
    for m in METRICS:
        s, b = ev.layered.get(m, {}), ev.baseline.get(m, {})
        print(
            f"{m:<8} {_cell(s.get('r2')):>8} {_cell(s.get('smape')):>8} "
            f"{_cell(s.get('coverage80')):>6} | {_cell(b.get('r2')):>8} "
            f"{_cell(b.get('smape')):>11}"
        )
    for source, scores in ev.by_source.items():
        cells = ", ".join(
            f"{m} R2 {_cell(scores[m]['r2'])} SMAPE {_cell(scores[m]['smape'])}"
            for m in METRICS
            if m in scores
        )
        print(f"  {source}: {cells}")


def domain_by_source(ds: Any, sources: list[str]) -> dict[str, dict[str, list[Any]]]:
    """Per source, the weight precisions and io types of its layers: what a split by source
    asks the model to carry over."""
    out: dict[str, dict[str, set[Any]]] = {}
    for doc, src in zip(ds.docs, ds.sources, strict=True):
        if src not in sources:
            continue
        try:
            design = hls_layers(doc)
        except FeatureError:
            continue
        row = out.setdefault(str(src), {"w_bits": set(), "io_type": set()})
        row["io_type"].add(design.io_type)
        row["w_bits"].update(x.w_bits for x in design.layers if not math.isnan(x.w_bits))
    return {s: {k: sorted(v) for k, v in d.items()} for s, d in sorted(out.items())}


def _design(arch: str, part: str, clock: float, reuse: int) -> tuple[Any, dict[str, int]]:
    """The design at 8 bits with every layer at the reuse factor hls4ml makes of ``reuse``."""
    spec = resolve_arch(arch)
    hw = HardwareConfig.uniform(part, 8, clock, strategy="resource")
    design = random_design(spec, hw, seed=0)
    used = {
        x.name: closest_reuse_factor(x.n_in, x.n_out, reuse)
        for x in hls_layers(design.canonical()).layers
        if x.kind in ("dense", "conv1d", "conv2d")
    }
    hw = with_reuse(hw, ",".join([str(reuse), *(f"{k}={v}" for k, v in used.items())]))
    return random_design(spec, hw, seed=0), used


def predictions(model_dir: Path | None) -> list[dict[str, Any]]:
    out = []
    for target_name, reuse, archs in CASES:
        target = get_target(target_name)
        own = model_dir / f"vivado-{target.name}-hls_estimate" if model_dir else None
        path = find_model(
            "vivado", target, "hls_estimate", own if own and own.is_dir() else model_dir
        )
        print(f"\n{target.name}, 8 bits, reuse factor {reuse} (strategy resource), model {path}")
        for arch in archs:
            design, used = _design(arch, target.part, target.clock_period_ns, reuse)
            row: dict[str, Any] = {"arch": arch, "target": target.name, "reuse": used}
            try:
                (p,) = predict_designs([design], target, path)
            except HwloopError as exc:
                row["error"] = str(exc)
                print(f"  {arch:<18} cannot predict: {exc}")
                out.append(row)
                continue
            row.update({m: p.metrics[m] for m in METRICS if m in p.metrics})
            row["extrapolated"] = list(p.extrapolated)
            cells = "  ".join(
                f"{m} {p.metrics[m][1]:,.0f} [{p.metrics[m][0]:,.0f}-{p.metrics[m][2]:,.0f}]"
                for m in METRICS
                if m in p.metrics
            )
            changed = {k: v for k, v in used.items() if v != reuse}
            print(f"  {arch:<18} {cells}")
            print(
                f"  {'':<18} reuse rounded by hls4ml: {changed or 'none'}; "
                f"outside the training domain: {len(p.extrapolated)} layer(s)"
            )
            out.append(row)
    return out


def tool_disagreement(paths: list[Path]) -> list[dict[str, Any]]:
    """Per pair of HLS tool versions, the mean SMAPE between their numbers for the same hls4ml
    baseline test (the design without its backend), over the tests both synthesised."""
    by_design: dict[str, dict[str, Any]] = {}
    for root in paths:
        for f in sorted(Path(root).rglob("*.json")):
            backend, version = f.parent.parent.name, f.parent.name
            try:
                run = parse_hls4ml_baseline(f.read_text(), f.name, backend, version)
            except (ValueError, OSError):
                continue
            design = {k: v for k, v in run.design.items() if k != "hls4ml_backend"}
            key = json.dumps(design, sort_keys=True)
            by_design.setdefault(key, {})[f"{run.results[0].tool} {version}"] = run.results[0]
    tools = sorted({t for d in by_design.values() for t in d})
    rows = []
    for i, a in enumerate(tools):
        for b in tools[i + 1 :]:
            both = [d for d in by_design.values() if a in d and b in d]
            if len(both) < 5:
                continue
            row: dict[str, Any] = {"tools": [a, b], "designs": len(both)}
            for m, field in (
                ("lut", "lut"),
                ("ff", "ff"),
                ("dsp", "dsp"),
                ("latency", "latency_max"),
            ):
                x = [(getattr(d[a], field), getattr(d[b], field)) for d in both]
                row[m] = (
                    100
                    * sum(0.0 if p == q else 2 * abs(p - q) / (abs(p) + abs(q)) for p, q in x)
                    / len(x)
                )
            rows.append(row)
    if rows:
        print("\nthe HLS tools' own disagreement (hls4ml baselines, same test, SMAPE %):")
        for r in rows:
            cells = "  ".join(f"{m} {r[m]:.1f}" for m in METRICS)
            print(f"  {r['tools'][0]} vs {r['tools'][1]} ({r['designs']} designs): {cells}")
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help="a model, or a folder of vivado-<target>-hls_estimate models (fit --out)",
    )
    ap.add_argument("--extra", type=Path, nargs="*", default=[], help="more record paths")
    args = ap.parse_args()
    paths = vivado_record_paths(FIXTURES, args.extra)
    cache = SqlCache(f"sqlite:///{tempfile.mkdtemp()}/bench.db")
    import_paths(cache, paths)
    ds = document_set(cache, "vivado", "hls_estimate")
    sources = sorted(set(ds.sources.tolist()))
    print(
        f"{len(ds)} successful hls_estimate records; sources: "
        + ", ".join(f"{s} {int((ds.sources == s).sum())}" for s in sources)
    )
    by_arch = evaluate_by_arch(ds, seeds=range(args.seeds))
    _table(f"held out by architecture ({args.seeds} seeds)", by_arch)
    train = [s for s in sources if s.startswith("wa-hls4ml")]
    by_source = evaluate_by_source(ds, train, [s for s in sources if s not in train])
    _table(f"held out by source (train {', '.join(train)})", by_source)
    domains = domain_by_source(ds, sources)
    for src, d in domains.items():
        bits = ", ".join(f"{b:g}" for b in d["w_bits"])
        side = "train" if src in train else "test"
        print(f"  {side} {src}: weight bits {bits}; io {', '.join(d['io_type'])}")
    disagreement = tool_disagreement([p for p in paths if "baselines" in p.name])
    preds = predictions(args.model_dir)
    print(
        "BENCH_JSON "
        + json.dumps(
            {
                "records": len(ds),
                "by_architecture": by_arch.to_json(),
                "by_source": by_source.to_json(),
                "tool_disagreement": disagreement,
                "domain_by_source": domains,
                "predictions": preds,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
