"""``hwloop data``: build task datasets ahead of a search."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from hwloop import HwloopError
from hwloop.cli._common import jobs_option, writable_file
from hwloop.tasks.bragg import build_dataset, default_cache_dir


@click.group("data")
def data() -> None:
    """Build and cache task datasets."""


@data.command("bragg")
@click.option("--limit", type=int, default=None, help="Use this many peaks (default: all 69,347).")
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of rendering, subset, split."
)
@jobs_option(-1, "Workers (-1: all cores).")
@click.option(
    "--peaks-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="BraggNN peaks HDF5 (default: $HWLOOP_BRAGG_PEAKS or "
    "../shared/data/braggnn/peaks-exp4train.hdf5).",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Dataset cache (default: $HWLOOP_CACHE_DIR or ~/.cache/hwloop).",
)
def bragg(
    limit: int | None, seed: int, jobs: int, peaks_file: str | None, cache_dir: str | None
) -> None:
    """Render Bragg patches around the real peak positions, fit their labels, cache the set."""
    ds = build_dataset(peaks_file, limit=limit, seed=seed, n_jobs=jobs, cache_dir=cache_dir)
    err = ds.fit_error
    click.echo(f"{len(ds)} patches, key {ds.key} (cache {cache_dir or default_cache_dir()})")
    click.echo(f"split train/val/test: {np.bincount(ds.split, minlength=3).tolist()}")
    click.echo(
        f"label fit vs truth: median {np.median(err):.4f} px, p90 "
        f"{np.quantile(err, 0.9):.4f} px, max {err.max():.4f} px; "
        f"zero pixels {float((ds.patches == 0).mean()):.1%}"
    )


@data.command("jets")
@click.option("--n", "n", type=int, default=100_000, show_default=True, help="Jets (all classes).")
@jobs_option(2, "Worker processes.")
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Generator seed (shard seeds derive)."
)
def jets(n: int, jobs: int, seed: int) -> None:
    """Generate jets with Pythia 8 + FastJet (q, g, W, Z, t; balanced), cached in shards: an
    interrupted run resumes, a larger --n adds to what is there."""
    import time

    from hwloop.tasks.jets import CLASSES, generate, load_jets

    t0 = time.perf_counter()
    generate(n, jobs=jobs, seed=seed)
    js = load_jets(n, gen_seed=seed)  # the cache, backed by the shards committed in data/jets
    n_const = (js.x[..., 0] > 0).sum(axis=1)
    click.echo(f"{len(js)} jets in {js.source} ({time.perf_counter() - t0:.0f} s this run)")
    click.echo(
        "per class: "
        + ", ".join(f"{c} {int((js.y == i).sum())}" for i, c in enumerate(CLASSES))
        + f"; constituents per jet: mean {n_const.mean():.2f} (8 = full)"
    )
    click.echo(
        f"jet pT: median {np.median(js.jet[:, 0]):.0f} GeV; mass by class: "
        + ", ".join(f"{c} {np.median(js.jet[js.y == i, 2]):.0f}" for i, c in enumerate(CLASSES))
        + " GeV"
    )


@data.command("ptycho")
@click.option(
    "--limit", type=int, default=None, help="Patterns (default: 16,000 = 250 objects x 64)."
)
@click.option("--size", type=int, default=64, show_default=True, help="Window / detector side S.")
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of objects, noise and split."
)
@jobs_option(
    1,
    "Workers (-1: all cores; a worker takes ~5 s to start, so on 2 cores 1 is fastest "
    "for the default 16,000 patterns).",
)
@click.option(
    "--photons",
    type=float,
    default=1e6,
    show_default=True,
    help="Incident photons per pattern (Poisson noise).",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Dataset cache (default: $HWLOOP_CACHE_DIR or ~/.cache/hwloop).",
)
def ptycho(
    limit: int | None, size: int, seed: int, jobs: int, photons: float, cache_dir: str | None
) -> None:
    """Simulate far-field ptychography scans (complex objects under a defocused probe, Poisson
    noise), split by object, cache the set."""
    import time

    from hwloop.tasks.ptycho import SimConfig
    from hwloop.tasks.ptycho import build_dataset as build_ptycho

    t0 = time.perf_counter()
    cfg = SimConfig(size=size, photons=photons)
    ds = build_ptycho(limit=limit, seed=seed, cfg=cfg, n_jobs=jobs, cache_dir=cache_dir)
    dt = time.perf_counter() - t0
    per_split = np.bincount(ds.split, minlength=3).tolist()
    objects = np.bincount(ds.object_split, minlength=3).tolist()
    totals = ds.counts.sum(axis=(1, 2), dtype=np.int64)
    click.echo(
        f"{len(ds)} patterns of {size}x{size} from {ds.n_objects} objects "
        f"({cfg.object_side} px, {cfg.positions_per_object} positions each), key {ds.key} "
        f"(cache {cache_dir or default_cache_dir()})"
    )
    click.echo(
        f"split train/val/test: objects {objects}, patterns {per_split} (whole objects apart)"
    )
    click.echo(
        f"photons: {photons:.3g} incident per pattern; detected per pattern median "
        f"{np.median(totals):.0f} (min {totals.min()}, max {totals.max()}); brightest pixel "
        f"{int(ds.counts.max())}; {dt:.1f} s"
    )


@data.command("export")
@click.argument("task_name", metavar="TASK", type=click.Choice(["bragg", "jets", "ptycho"]))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path), callback=writable_file)
@click.option("--limit", type=int, default=None, help="Samples (default: the task's all).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the task's split.")
@click.option("--size", type=int, default=None, help="ptycho: the map size [default: 64].")
def export(task_name: str, out: Path, limit: int | None, seed: int, size: int | None) -> None:
    """Write a built-in task's data as the task trains on it (its scaling and split) to an .npz
    of x_train / y_train / x_val / y_val / x_test / y_test, which an experiment file reads with
    split = "suffix" (examples/TASK.toml). Regression targets are in the task's own units
    (Bragg: pixels)."""
    from hwloop.runtime import atomic_path
    from hwloop.tasks import get_task

    if out.suffix != ".npz":
        raise HwloopError(f"{out}: export writes an .npz file")
    if size is not None and task_name != "ptycho":
        raise HwloopError("--size is the ptycho map size; other tasks have none")
    task = get_task(task_name, **({"size": size} if size else {}))
    d = task.load(limit=limit, seed=seed, progress=True)
    scale = float(getattr(task, "scale", 1.0))  # Bragg trains on pixels / 11
    arrays = {}
    for name, part in (("train", d.train), ("val", d.val), ("test", d.test)):
        arrays[f"x_{name}"] = part.x
        arrays[f"y_{name}"] = part.y * scale if scale != 1.0 else part.y
    with atomic_path(out) as tmp, tmp.open("wb") as f:
        np.savez_compressed(f, **arrays)  # type: ignore[arg-type]
    click.echo(
        f"wrote {out}: {task.name}, inputs {list(task.input_shape)}, train / val / test "
        f"{len(d.train)} / {len(d.val)} / {len(d.test)} ({out.stat().st_size / 1e6:.1f} MB)"
    )


@data.command("qubit")
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("qubit.npz"),
    callback=writable_file,
    show_default=True,
    help="The .npz to write: x (I/Q interleaved), y (state asked for), state, decay_ns.",
)
@click.option("--n", "n", type=int, default=20_000, show_default=True, help="Traces (half |1>).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--duration-ns", type=float, default=2000.0, show_default=True)
@click.option("--dt-ns", type=float, default=4.0, show_default=True, help="Sample period.")
@click.option("--kappa-mhz", type=float, default=1.5, show_default=True, help="κ/2π.")
@click.option("--chi-mhz", type=float, default=0.75, show_default=True, help="χ/2π.")
@click.option("--t1-us", type=float, default=15.0, show_default=True)
@click.option(
    "--snr",
    type=float,
    default=0.4,
    show_default=True,
    help="Pointer-state separation over the noise sd of one sample and quadrature.",
)
@click.option("--prep-error", type=float, default=0.01, show_default=True)
def qubit(
    out: Path,
    n: int,
    seed: int,
    duration_ns: float,
    dt_ns: float,
    kappa_mhz: float,
    chi_mhz: float,
    t1_us: float,
    snr: float,
    prep_error: float,
) -> None:
    """Simulate dispersive readout traces of a transmon (resonator ring-up with linewidth κ,
    pointer states ±χ, Gaussian amplifier noise at --snr, T1 decay during readout, state
    preparation errors; docs/qubit.md) and print the reference classifiers' fidelities."""
    import json

    from hwloop.runtime import atomic_path
    from hwloop.tasks.file import random_split
    from hwloop.tasks.qubit import ReadoutConfig, reference_fidelities, simulate

    if not 2 <= n <= 2_000_000:
        raise HwloopError(f"--n must be in 2..2,000,000, got {n}")
    cfg = ReadoutConfig(duration_ns, dt_ns, kappa_mhz, chi_mhz, t1_us, snr, prep_error)
    x, y, meta = simulate(cfg, n, seed)
    with atomic_path(out) as tmp, tmp.open("wb") as f:
        np.savez_compressed(
            f,
            x=x,
            y=y,
            config=np.array(json.dumps(cfg.to_json())),
            **meta,  # type: ignore[arg-type]
        )
    decayed = float((meta["decay_ns"][meta["state"] == 1] < cfg.duration_ns).mean())
    click.echo(
        f"wrote {out}: {n} traces of {cfg.samples} I/Q samples ({cfg.dt_ns:g} ns), "
        f"{decayed:.1%} of |1> traces decay within the window"
    )
    if n >= 100:  # the split an experiment file's defaults make (0.8 / 0.1 / 0.1, seed 0)
        s = random_split(n, (0.8, 0.1, 0.1), 0)
        fids = reference_fidelities(x[s == 0], y[s == 0], x[s == 2], y[s == 2])
        click.echo(
            "assignment fidelity on the test split: "
            + ", ".join(f"{k.replace('_', ' ')} {v:.4f}" for k, v in fids.items())
        )
