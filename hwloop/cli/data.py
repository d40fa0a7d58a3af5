"""``hwloop data``: build task datasets ahead of a search."""

from __future__ import annotations

import click
import numpy as np

from hwloop.cli._common import jobs_option
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
