"""What ``hwloop run`` produced: the run's records (the runner writes them, the summary reads
them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwloop.experiment import Experiment
from hwloop.local import CompressResult
from hwloop.search import SearchResult


@dataclass(frozen=True)
class Synthesised:
    """A real synthesis of a chosen model: where it came from and what the flow reported."""

    trial: int
    model: str  # "search" (the trained float model) or a compress point label ("6b-i02")
    result: dict[str, Any]


@dataclass(frozen=True)
class RunResult:
    out: Path
    experiment: Experiment
    search: SearchResult
    local: tuple[tuple[int, CompressResult], ...] = ()
    synthesised: tuple[Synthesised, ...] = ()
    files: tuple[Path, ...] = ()
    seconds: dict[str, float] = field(default_factory=dict)
