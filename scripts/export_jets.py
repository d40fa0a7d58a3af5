"""Copy the generated jet shards of the cache into the repository (``data/jets/<GENERATOR>/``),
so the next checkout has them without regenerating (``hwloop data jets`` and the jets task read
shards from there when the cache has none).

Run while or after ``hwloop data jets --n 300000 --jobs 2`` runs, then commit ``data/jets``.
Shards are the cache's files unchanged (compressed npz, ~61 kB per 200 det1 jets); only complete
files are copied (the generator writes each shard atomically). Prints a JSON line.
"""

from __future__ import annotations

import json
import shutil

from hwloop.tasks.jets._dataset import cache_dir, exported_dir


def main() -> None:
    src, dst = cache_dir(), exported_dir()
    dst.mkdir(parents=True, exist_ok=True)
    copied = 0
    for path in sorted(src.glob("*.npz")):
        if path.name.startswith("."):  # a shard being written
            continue
        if not (dst / path.name).is_file():
            shutil.copyfile(path, dst / f".{path.name}.part")
            (dst / f".{path.name}.part").replace(dst / path.name)
            copied += 1
    files = [f for f in sorted(dst.glob("*.npz")) if not f.name.startswith(".")]
    size = sum(f.stat().st_size for f in files)
    print(f"copied {copied} shards; {dst} holds {len(files)} ({size / 1e6:.1f} MB)")
    print(json.dumps({"copied": copied, "shards": len(files), "bytes": size}))


if __name__ == "__main__":
    main()
