"""Fault probes of issue 21: fuzzed imports and killed calibrations, counted.

    python scripts/probe_faults.py fuzz [--cases 2000]   # mutated fixtures through the importer
    python scripts/probe_faults.py kills [--kills 5]     # kill -9 of calibrate's main process

``fuzz`` mutates the real fixtures (a csynth XML, a wa-hls4ml JSON record list, five rows of the
wa-hls4ml CSV, an hwloop JSON export) as the fuzz test does, imports each as a named file, and
counts typed errors (``CacheError``, one line naming the file) against anything else (a raw
traceback). ``kills`` starts ``hwloop calibrate --jobs 2`` repeatedly, kills only its main
process at a random moment while workers synthesise, and counts workers still alive 5 s later,
then lets a fresh run go: work folders of dead runs left in the temp folder afterwards, rows in
the cache, keys synthesised twice. Prints a table and a ``BENCH_JSON`` line.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO / "../shared/fixtures"
NASTY = ["-1", "0", "1e400", "99999999999999999999", "x", "", "nan", "inf", "null", "[]"]


def _mutate(rng: random.Random, text: str) -> str:
    how = rng.choice(["number", "number", "token", "truncate", "drop-line", "drop-column"])
    if how in ("number", "token"):
        pat = r"-?\d+(\.\d+)?([eE][-+]?\d+)?" if how == "number" else r"[A-Za-z_]+"
        spots = [m.span() for m in re.finditer(pat, text)]
        if not spots:
            return text
        a, b = rng.choice(spots)
        return text[:a] + rng.choice(NASTY) + text[b:]
    if how == "truncate":
        return text[: rng.randint(0, len(text))]
    lines = text.splitlines()
    if how == "drop-line" and lines:
        del lines[rng.randrange(len(lines))]
        return "\n".join(lines)
    if lines and "," in lines[0]:
        j = rng.randint(0, lines[0].count(","))
        return "\n".join(",".join(c for i, c in enumerate(r.split(",")) if i != j) for r in lines)
    return text


def fuzz(cases: int) -> dict[str, object]:
    from synth_cache import CacheError, SqlCache, export_rows, import_paths, write_export

    tmp = Path(tempfile.mkdtemp(prefix="hwloop-fuzz-"))
    csynth = next((SHARED / "hls-reports").rglob("*_csynth.xml"))
    wa_json = SHARED / "wa-hls4ml/test_2layer_merged.json"
    csv_rows = (SHARED / "wa-hls4ml/wa-hls4ml-search_results_resource.csv").read_text()
    seed_cache = SqlCache(f"sqlite:///{tmp}/seed.db")
    import_paths(seed_cache, [wa_json])
    write_export(export_rows(seed_cache), "json", tmp / "export.json")
    seeds = [
        ("x_csynth.xml", csynth.read_text()),
        ("records.json", wa_json.read_text()),
        ("table.csv", "\n".join(csv_rows.splitlines()[:6]) + "\n"),
        ("export.json", (tmp / "export.json").read_text()),
    ]
    rng = random.Random(0)
    counts: collections.Counter[str] = collections.Counter()
    cache = SqlCache(f"sqlite:///{tmp}/fuzz.db")
    for i in range(cases):
        name, text = rng.choice(seeds)
        f = tmp / f"{i}-{name}"
        f.write_text(_mutate(rng, text))
        try:
            import_paths(cache, [f])
            counts["imported"] += 1
        except CacheError:
            counts["typed error"] += 1
        except Exception as exc:  # what the probe counts: a raw traceback
            counts[f"untyped {type(exc).__name__}"] += 1
        f.unlink()
    untyped = sum(v for k, v in counts.items() if k.startswith("untyped"))
    print(f"{cases} mutated files: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return {"cases": cases, "untyped": untyped, "counts": dict(counts)}


def _children(pid: int) -> set[int]:
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            out.add(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def kills(n: int) -> dict[str, object]:
    import sqlite3

    work = Path(tempfile.mkdtemp(prefix="hwloop-kills-"))
    tmp = work / "tmp"
    tmp.mkdir()
    url = f"sqlite:///{work}/c.db"
    cmd = [sys.executable, "-m", "hwloop.cli.main", "calibrate", "--space", "bragg:mlp", "--n",
           "12", "--bits", "4", "--max-bops", "6e4", "--jobs", "2", "--seed", "7", "--cache",
           url]  # fmt: skip
    env = {**os.environ, "TMPDIR": str(tmp)}
    rng = random.Random(1)
    orphans = 0
    for _ in range(n):
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 120
        workers: set[int] = set()
        while time.monotonic() < deadline and proc.poll() is None and not workers:
            workers = {c for c in _children(proc.pid) if _children(c)}
            time.sleep(0.3)
        time.sleep(rng.uniform(0.0, 8.0))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        time.sleep(5.0)
        orphans += sum(_alive(w) for w in workers)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever is left, before the next try
        except ProcessLookupError:
            pass
    done = subprocess.run(cmd, cwd=work, env=env, capture_output=True, timeout=3600)
    left = list(tmp.glob("hwloop-calibrate-*"))
    with sqlite3.connect(f"{work}/c.db") as db:
        rows = db.execute("select count(*), count(distinct key) from runs").fetchone()
    hidden = list((work / "artifacts").rglob(".*-*")) if (work / "artifacts").exists() else []
    print(
        f"{n} kills of calibrate's main process (--jobs 2): {orphans} workers alive 5 s after; "
        f"then a full run (exit {done.returncode}): {len(left)} work folders of dead runs left "
        f"in $TMPDIR, {len(hidden)} half-copied artifact folders, {rows[0]} rows for "
        f"{rows[1]} keys"
    )
    return {
        "kills": n,
        "orphan_workers": orphans,
        "tmp_left": len(left),
        "hidden_left": len(hidden),
        "rows": rows[0],
        "keys": rows[1],
        "exit": done.returncode,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("probe", choices=("fuzz", "kills"))
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--kills", type=int, default=5)
    args = ap.parse_args()
    out = fuzz(args.cases) if args.probe == "fuzz" else kills(args.kills)
    print("BENCH_JSON " + json.dumps({"bench": f"faults-{args.probe}", **out}))


if __name__ == "__main__":
    main()
