"""Generate (or reuse from the cache) the jet sample shipped in the package.

    python scripts/make_jet_sample.py [--per-class 600] [--jobs 2]

Writes ``hwloop/tasks/jets/data/jets-sample.npz``: the first ``--per-class`` jets of every
class of generator seed 0 (the jets ``hwloop data jets`` caches first, or the committed shards),
their candidates merged as the task does, unscaled, with labels and jet kinematics.
Resumable: the shards land in the jet cache as they are generated.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hwloop.tasks.jets import CLASSES, GENERATOR, generate
from hwloop.tasks.jets._dataset import load_jets, sample_path
from hwloop.tasks.jets._merge import MERGE_RADIUS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-class", type=int, default=600)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    t0 = time.perf_counter()
    generate(args.per_class * len(CLASSES), jobs=args.jobs, seed=0)
    js = load_jets(args.per_class * len(CLASSES))
    out = sample_path()
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out,
        x=js.x,
        y=js.y.astype(np.int8),
        jet=js.jet,
        generator=np.array(f"{GENERATOR}+antikt{MERGE_RADIUS:g}"),
    )
    print(
        f"{len(js)} jets ({args.per_class} per class) -> {out} ({out.stat().st_size:,} bytes) "
        f"in {time.perf_counter() - t0:.0f} s"
    )


if __name__ == "__main__":
    main()
