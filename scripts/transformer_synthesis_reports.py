"""Copy the layer-norm reports of rianbrooksflynn/transformer-synthesis out of a git checkout.

    python scripts/transformer_synthesis_reports.py CHECKOUT OUT

``CHECKOUT`` is a clone (or the bare mirror ``fetch`` gives) of the public repository
rianbrooksflynn/transformer-synthesis; ``OUT`` receives, under
``rianbrooksflynn__transformer-synthesis/hls4ml_projects/<project>/``, the C-synthesis reports
(and Vivado utilisation reports) of the projects that ``synth_cache``'s
``data/hls-reports/networks.json`` describes: single hls4ml LayerNormalization layers on a
VU13P, the only public hls4ml layer-norm syntheses found. Import them with ``hwloop cache
import OUT`` or pass ``OUT`` to ``scripts/fit_vivado_surrogates.py --extra`` /
``scripts/bench_vivado_surrogate.py --extra``. The repository has no licence file, so its
reports are read from a checkout, never copied into this one. Exit 2 when a described project
is missing from the checkout.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PREFIX = "rianbrooksflynn__transformer-synthesis/"
REPORTS = (
    "myproject_prj/solution1/syn/report/myproject_csynth.rpt",
    "myproject_prj/solution1/syn/report/myproject_csynth.xml",
    "vivado_synth.rpt",
)


def _git(checkout: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["git", *args], cwd=checkout, capture_output=True, timeout=120, check=False
    )


def main() -> int:
    checkout, out = Path(sys.argv[1]), Path(sys.argv[2])
    doc = json.loads((REPO / "synth_cache/data/hls-reports/networks.json").read_text())
    projects = [k[len(PREFIX) :] for k in doc["networks"] if k.startswith(PREFIX)]
    copied = 0
    for project in projects:
        found = 0
        for name in REPORTS:
            got = _git(checkout, "show", f"HEAD:{project}/{name}")
            if got.returncode != 0:
                continue
            dest = out / PREFIX / project / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(got.stdout)
            found += 1
        if not found:
            print(f"no reports of {project} in {checkout}", file=sys.stderr)
            return 2
        copied += found
    print(f"{copied} reports of {len(projects)} projects in {out / PREFIX}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
