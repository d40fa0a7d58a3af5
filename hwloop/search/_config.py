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
    space: str = ""  # "": the task's default space (hwloop.spaces.SPACES)
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
    # hardware in the loop (docs/loop.md)
    objectives: tuple[str, ...] = ("metric", "bops")
    flow: str = "open"
    hw_bits: int = 8
    strategy: str | None = None  # default: the flow's (distributed_arithmetic for open)
    max_util: float | None = None
    max_latency_ns: float | None = None
    surrogate: Path | None = None  # a model directory instead of the user's / shipped default
    cache: str | None = None  # synthesis cache URL (default: the user's cache)
    synth_every: int = 0  # real synthesis of the front every N finished trials (0: never)
    synth_batch: int = 4
    synth_timeout: float = 900.0
    executor: str | None = None  # dask://HOST:PORT sends the loop's syntheses to a Dask cluster
    artifacts: Path | None = None  # trained weights of candidates (default OUT/artifacts)
    bootstrap: int = 12  # designs calibrated first when no surrogate answers for flow + target

    def __post_init__(self) -> None:
        from hwloop.spaces import SPACES

        if not self.space and self.task in SPACES:  # (an unknown task is named by get_task)
            object.__setattr__(self, "space", SPACES[self.task][0])
        elif self.task in SPACES and self.space not in SPACES[self.task]:
            raise HwloopError(
                f"--space {self.space!r} is not a space of task {self.task!r} "
                f"(its spaces: {', '.join(SPACES[self.task])})"
            )
        if self.trials < 1:
            raise HwloopError(f"--trials must be at least 1, got {self.trials}")
        if self.epochs < 1:
            raise HwloopError(f"--epochs must be at least 1, got {self.epochs}")
        if self.population < 2:
            raise HwloopError(f"--population must be at least 2, got {self.population}")
        if not 2 <= self.hw_bits <= 16:
            raise HwloopError(f"--hw-bits must be in 2..16, got {self.hw_bits}")
        if self.max_util is not None and not 0 < self.max_util <= 1:
            raise HwloopError(f"--max-util is a fraction in (0, 1], got {self.max_util}")
        if self.max_latency_ns is not None and self.max_latency_ns <= 0:
            raise HwloopError(f"--max-latency-ns must be positive, got {self.max_latency_ns}")
        if self.bootstrap < 2:
            raise HwloopError(f"--bootstrap must be at least 2 designs, got {self.bootstrap}")
        if self.synth_every < 0 or self.synth_batch < 1:
            raise HwloopError("--synth-every must be >= 0 and --synth-batch >= 1")
        if self.executor is not None and not self.executor.startswith("dask://"):
            raise HwloopError(f"--executor: expected dask://HOST:PORT, got {self.executor!r}")

    @property
    def hardware(self) -> bool:
        """Whether candidates get designs and predicted resources (hardware objectives,
        constraints or real synthesis rounds)."""
        return bool(
            set(self.objectives) - {"metric", "bops"}
            or self.max_util is not None
            or self.max_latency_ns is not None
            or self.synth_every
        )

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
    values: dict[str, float] = field(default_factory=dict)  # objective -> value
    hw: dict[str, Any] = field(default_factory=dict)  # HardwareScore.to_json() of the candidate


@dataclass(frozen=True)
class SearchResult:
    study_name: str
    storage: str
    n_complete: int
    n_failed: int
    front: tuple[FrontMember, ...]
    metric_name: str
    files: tuple[Path, ...]
