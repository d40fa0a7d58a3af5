"""Search configuration and results (typed, frozen)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwloop import HwloopError


@dataclass(frozen=True)
class SearchConfig:
    task: str = "bragg"
    target: str = "vu13p"
    space: str = "block"
    trials: int = 40
    epochs: int = 5
    limit: int | None = 8000
    population: int = 20
    bits: int = 32
    storage: str | None = None
    study: str | None = None
    out: Path = Path("hwloop-out")
    seed: int = 0
    enqueue_baselines: bool = False
    batch_size: int = 64
    lr: float = 2e-3

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise HwloopError(f"--trials must be at least 1, got {self.trials}")
        if self.epochs < 1:
            raise HwloopError(f"--epochs must be at least 1, got {self.epochs}")
        if self.population < 2:
            raise HwloopError(f"--population must be at least 2, got {self.population}")

    @property
    def study_name(self) -> str:
        return self.study or f"{self.task}-{self.space}-{self.target}"

    @property
    def storage_url(self) -> str:
        return self.storage or f"sqlite:///{(self.out / 'study.db').as_posix()}"


@dataclass(frozen=True)
class FrontMember:
    trial: int
    metric: float
    bops: float
    parameters: int
    test_metric: float
    arch_digest: str
    params: dict[str, Any] = field(default_factory=dict)
    arch: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchResult:
    study_name: str
    storage: str
    n_complete: int
    n_failed: int
    front: tuple[FrontMember, ...]
    metric_name: str
    files: tuple[Path, ...]
