"""``hwloop predict``: resources of a design from a trained surrogate, in seconds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.table import Table

from fpga_targets import get_target
from hwloop import HwloopError
from hwloop.cli._common import console
from hwloop.prediction import Prediction, find_model
from hwloop.synth import STRATEGIES, check_flow, default_strategy
from synth_cache import default_cache_url


def _number(cfg: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = cfg.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise HwloopError(f"{where}'{key}' must be a number, got {value!r}")
    try:
        return kind(value)
    except ValueError:
        raise HwloopError(f"{where}'{key}' must be a number, got {value!r}") from None


def build_design(
    item: Any,
    defaults: dict[str, Any],
    part: str,
    clock: float,
    where: str = "",
    task: Any = None,
    flow: str = "open",
) -> tuple[Any, str]:
    """One ``--batch`` line (or ARCH) as a design, and which weights it carries."""
    from hwloop.api import DesignRequest, make_design

    if not isinstance(item, dict):
        raise HwloopError(f'{where}each design is a JSON object ({{"arch": ...}}), got {item!r}')
    cfg = {**defaults, **item}
    arch = cfg.get("arch")
    if not isinstance(arch, (dict, str)):
        raise HwloopError(
            f"{where}each design needs 'arch': a built-in name, a .json path, a model file or "
            "a spec"
        )
    bits, sparsity = _number(cfg, "bits", int, where), _number(cfg, "sparsity", float, where)
    try:
        req = DesignRequest(
            bits=bits,
            sparsity=sparsity,
            reuse_factor=cfg["reuse_factor"],
            strategy=cfg["strategy"],
            seed=int(cfg.get("seed", 0)),
            factory=cfg.get("factory"),
        )
        design, weights = make_design(arch, req, part, clock, flow)
    except HwloopError as exc:
        raise HwloopError(f"{where}{exc}") from None
    spec = design.arch
    if task is not None and (
        tuple(spec.input_shape) != tuple(task.input_shape) or spec.output_size != task.output_size
    ):
        raise HwloopError(
            f"{where}arch {spec.name or '(inline)'!r} maps {list(spec.input_shape)} to "
            f"{spec.output_size} values; task {task.name!r} has inputs {list(task.input_shape)} "
            f"and {task.output_size} outputs"
        )
    return design, weights


def _show(p: Prediction) -> None:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("metric", "predicted", "80% interval", "% of target"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for m, (lo, mid, hi) in p.metrics.items():
        util = p.utilisation_pct.get(m)
        table.add_row(
            m, f"{mid:,.0f}", f"{lo:,.0f} - {hi:,.0f}", "" if util is None else f"{util:.1f}"
        )
    console.print(table)
    if p.latency_ns is not None:
        console.print(f"latency ≈ {p.latency_ns:,.1f} ns at the design's clock")
    console.print(f"fits {p.target}: {'yes' if p.fits else 'NO'}")
    console.print(f"answered by {p.model_description}")
    console.print(f"weights: {p.weights}")
    if p.extrapolated:
        console.print(
            "[yellow]extrapolating[/] (outside the training data): "
            + "; ".join(p.extrapolated)
            + " (calibrate designs like this one to make the prediction trustworthy)"
        )
    if p.cached is not None:
        r = p.cached
        console.print(
            f"real {p.flow} result in the cache ({p.key}): {r.status}, LUT {r.lut}, FF {r.ff}, "
            f"DSP {r.dsp}, BRAM_18K {r.bram_18k}, latency {r.latency_max} cycles"
        )


@click.command("predict")
@click.argument("arch", required=False)
@click.option("--target", default="vu13p", show_default=True)
@click.option("--flow", default="open", show_default=True)
@click.option(
    "--kind",
    type=click.Choice(["post_synthesis", "hls_estimate"]),
    default=None,
    help="[default: post_synthesis for the open flow, hls_estimate for vivado: what ships]",
)
@click.option("--bits", type=int, default=8, show_default=True)
@click.option("--sparsity", type=float, default=0.0, show_default=True)
@click.option(
    "--reuse-factor",
    default="1",
    show_default=True,
    help="Every layer's (4), per layer (fc0=2,stem=1) or both (4,fc0=2); the vivado flow "
    "rejects one hls4ml cannot realise, naming what it would round to.",
)
@click.option(
    "--strategy",
    type=click.Choice(STRATEGIES),
    default=None,
    help="[default: distributed_arithmetic for open, latency otherwise]",
)
@click.option(
    "--model", "model_dir", type=click.Path(path_type=Path), default=None, help="Model directory."
)
@click.option(
    "--cache", "cache_url", default=None, metavar="URL", help="Cache to look for a real result."
)
@click.option(
    "--batch",
    type=click.File("r"),
    default=None,
    help="JSON lines in ({'arch': ..., 'bits': ...}), JSON lines out.",
)
@click.option(
    "--task",
    "task_name",
    default=None,
    help="A task (built-in, or an experiment file: its hardware section sets --target, --flow, "
    "--bits, --reuse-factor and --strategy where not given here); ARCH must fit its data.",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def predict(
    ctx: click.Context,
    arch: str | None,
    target: str,
    flow: str,
    kind: str | None,
    bits: int,
    sparsity: float,
    reuse_factor: str,
    strategy: str | None,
    model_dir: Path | None,
    cache_url: str | None,
    batch: Any,
    task_name: str | None,
    as_json: bool,
) -> None:
    """Predicted LUT / FF / DSP / BRAM / latency of ARCH (a built-in or an arch JSON) on a target,
    with 80 % intervals, utilisation, whether it fits, and the real result if the cache has one."""
    task = None
    if task_name:
        from hwloop.experiment import is_experiment_path, load_experiment
        from hwloop.tasks import get_task

        if is_experiment_path(task_name):
            h = load_experiment(task_name).hardware
            given = {
                k: ctx.get_parameter_source(k) != click.core.ParameterSource.DEFAULT
                for k in ("target", "flow", "bits", "reuse_factor", "strategy")
            }
            target = target if given["target"] else h.target
            flow = flow if given["flow"] else h.flow
            bits = bits if given["bits"] else h.bits
            reuse_factor = reuse_factor if given["reuse_factor"] else h.reuse_factor
            strategy = strategy if given["strategy"] else h.strategy
            check_flow(flow, strategy)
        task = get_task(task_name)
    tgt = get_target(target)
    kind = kind or ("post_synthesis" if flow == "open" else "hls_estimate")
    path = find_model(flow, tgt, kind, model_dir)
    defaults = {
        "bits": bits,
        "sparsity": sparsity,
        "reuse_factor": reuse_factor,
        "strategy": default_strategy(flow, strategy),
    }
    if flow == "open" and (reuse_factor != "1" or strategy == "resource"):
        # the open flow builds every layer fully unrolled (multiplierless, or on DSPs with
        # --strategy latency): hls4ml's reuse factor and resource strategy mean nothing to it
        raise HwloopError(
            "the open flow takes no --reuse-factor or --strategy resource (it unrolls every "
            "layer): use --flow vivado for hls4ml's reuse factors and strategies"
        )
    if batch is not None:
        items: list[tuple[str, Any]] = []
        for n, line in enumerate(batch, 1):
            if line.strip():
                try:
                    items.append((f"--batch line {n}: ", json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise HwloopError(f"--batch line {n}: not JSON ({exc.msg})") from None
        if not items:
            raise HwloopError("--batch: the file holds no designs (one JSON object per line)")
    elif arch:
        items = [("", {"arch": arch})]
    else:
        raise HwloopError("give ARCH (a built-in name or an arch JSON file) or --batch FILE")
    from hwloop.api import predict_made

    clock = tgt.clock_period_ns
    made = [build_design(it, defaults, tgt.part, clock, w, task, flow) for w, it in items]
    preds = predict_made(made, tgt, path, cache_url or default_cache_url(), flow)
    if batch is not None or as_json:
        for p in preds:
            click.echo(json.dumps(p.to_json()))
        return
    _show(preds[0])
