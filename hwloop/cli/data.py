"""``hwloop data``: build task datasets ahead of a search."""

from __future__ import annotations

import click
import numpy as np

from hwloop.tasks.bragg import build_dataset, default_cache_dir


@click.group("data")
def data() -> None:
    """Build and cache task datasets."""


@data.command("bragg")
@click.option("--limit", type=int, default=None, help="Use this many peaks (default: all 69,347).")
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of rendering, subset, split."
)
@click.option(
    "--jobs", "-j", type=int, default=-1, show_default=True, help="Workers (-1: all cores)."
)
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
