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


@data.command("jets")
@click.option("--n", "n", type=int, default=100_000, show_default=True, help="Jets (all classes).")
@click.option("--jobs", "-j", type=int, default=2, show_default=True, help="Worker processes.")
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
