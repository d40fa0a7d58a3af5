"""``hwloop compress``: quantisation-aware training and iterative pruning of one arch."""

from __future__ import annotations

from pathlib import Path

import click
from rich import box
from rich.table import Table

from hwloop import HwloopError
from hwloop.cli._common import config_option, console, limit_option, si, writable_dir
from hwloop.local import CompressConfig, run_compress
from hwloop.synth import FLOWS
from hwloop.tasks import TASKS


def _bits(text: str) -> tuple[int, ...]:
    try:
        bits = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise HwloopError(f"--bits: a comma-separated list of integers, got {text!r}") from None
    if len(set(bits)) != len(bits):
        raise HwloopError(f"--bits lists a width twice: {text}")
    return bits


@click.command("compress")
@click.argument("arch")
@click.option(
    "--task",
    default="",
    help=f"Task: {', '.join(TASKS)} or an experiment file (.toml) [default: the arch's own, "
    "else bragg].",
)
@click.option("--bits", default="4,6,8,16", show_default=True, help="Bit widths to train at.")
@config_option(
    CompressConfig,
    "iterations",
    help="Pruning iterations per bit width (each removes --prune-fraction of what remains).",
)
@config_option(
    CompressConfig,
    "prune_fraction",
    help="Fraction of the remaining weights each pruning iteration removes (global magnitude).",
)
@config_option(
    CompressConfig,
    "epochs",
    help="Quantisation-aware training epochs at each bit width (and the float model's, "
    "without a tuned config).",
)
@config_option(
    CompressConfig,
    "finetune_epochs",
    help="Fine-tuning epochs after each pruning step [default: --epochs].",
    type=int,
)
@config_option(
    CompressConfig,
    "qat_lr_scale",
    help="Learning rate of QAT and fine-tuning, as a fraction of the training config's.",
)
@limit_option
@config_option(
    CompressConfig,
    "seed",
    help="Seed of the data split and training.",
)
@config_option(
    CompressConfig,
    "target",
    help="FPGA target of the predicted resources.",
)
@config_option(
    CompressConfig,
    "flow",
    help="Synthesis flow whose surrogate predicts each point's resources.",
    type=click.Choice(FLOWS),
)
@config_option(
    CompressConfig,
    "tolerance",
    help="Chosen model: lowest bits, then highest sparsity, whose validation metric is within "
    "this fraction of the float model's.",
)
@click.option(
    "--train-config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Training config from `hwloop tune` [default: ARCH.train.json beside an arch file].",
)
@click.option(
    "--surrogate",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Surrogate model directory [default: yours for --flow and --target, else shipped].",
)
@click.option(
    "--no-hls4ml", is_flag=True, help="Skip the chosen model's check in hls4ml's C++ emulation."
)
@click.option(
    "--synthesize", is_flag=True, help="Synthesise the chosen model's design with --flow."
)
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path),
    default=Path("hwloop-compress"),
    callback=writable_dir,
    show_default=True,
    help="Output directory: compress.csv/json, metric_vs_bops.png, metric_vs_lut.png, "
    "chosen/ and state/ (checkpoints: a re-run resumes).",
)
def compress(
    arch: str,
    task: str,
    bits: str,
    iterations: int,
    prune_fraction: float,
    epochs: int,
    finetune_epochs: int | None,
    qat_lr_scale: float,
    limit: int,
    seed: int,
    target: str,
    flow: str,
    tolerance: float,
    train_config: Path | None,
    surrogate: Path | None,
    no_hls4ml: bool,
    synthesize: bool,
    out: Path,
) -> None:
    """Quantisation-aware training of ARCH (Brevitas, power-of-two scales) at each of --bits,
    each followed by iterative global magnitude pruning with fine-tuning; every point is
    scored on the metric, BOPs and the predicted resources on --target.
    """
    cfg = CompressConfig(
        arch=arch,
        task=task,
        bits=_bits(bits),
        iterations=iterations,
        prune_fraction=prune_fraction,
        epochs=epochs,
        finetune_epochs=finetune_epochs,
        qat_lr_scale=qat_lr_scale,
        limit=limit or None,
        seed=seed,
        target=target,
        flow=flow,
        tolerance=tolerance,
        out=out,
        train_config=train_config,
        surrogate=surrogate,
        hls4ml=not no_hls4ml,
        synthesize=synthesize,
    )
    r = run_compress(cfg)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title=f"{arch}: {r.metric_name}")
    for col in ("model", "sparsity", "val", "test", "BOPs", "non-zero", "LUT pred", "lat ns"):
        table.add_column(col, justify="right")
    show = [
        r.reference,
        *(p for p in r.points if p.iteration in (0, cfg.iterations) or p is r.chosen),
    ]
    for p in show:
        lut = p.predicted.get("lut")
        table.add_row(
            p.label + (" *" if p is r.chosen else ""),
            f"{p.sparsity:.0%}",
            f"{p.val_metric:.4f}",
            f"{p.test_metric:.4f}",
            si(p.bops),
            f"{p.nonzero:,}",
            si(lut[1]) if lut else "-",
            f"{p.latency_ns:.0f}" if p.latency_ns is not None else "-",
        )
    console.print(table)
    if r.chosen is None:
        console.print(f"no model within {tolerance:.0%} of the float model's {r.metric_name}")
    else:
        h = r.notes.get("hls4ml", {})
        exact = (
            f"hls4ml emulation bit-exact on {h['outputs_equal']}/{h['samples']} samples"
            if h.get("converted") and "samples" in h
            else f"hls4ml: {h.get('reason', 'not checked')}"
        )
        console.print(f"chosen (*): {r.chosen.label} in {r.chosen_dir}; {exact}")
        s = r.notes.get("synthesis")
        if s:  # the real result, beside the predictions above
            nums = ", ".join(
                f"{k.upper()} {s[k]:,.0f}" for k in ("lut", "ff", "dsp", "bram_18k") if k in s
            )
            lat = f", latency {s['latency_ns']:,.1f} ns" if "latency_ns" in s else ""
            console.print(
                f"real {s['flow']} synthesis ({s['status']}, cache key {s['key']}): "
                + (nums + lat if s["status"] == "ok" else s.get("error", ""))
            )
    console.print(f"wrote {', '.join(str(f) for f in r.files)}")
