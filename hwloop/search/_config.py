"""Search configuration and results (typed, frozen)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwloop import HwloopError
from hwloop.search.objectives import get_objective, needs_of
from hwloop.synth import check_flow

SAMPLERS = ("nsga2", "tpe", "gp", "random")
SCALARIZATIONS = ("chebyshev",)


@dataclass(frozen=True)
class SearchConfig:
    task: str = "bragg"
    target: str = "vu13p"
    space: str = ""  # "": the task's default space (the first of its Task.spaces)
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
    # hls4ml reuse factors (vivado flow): "4" every layer, "fc0=2" per layer (rounded to what
    # hls4ml realises), or "auto": per design, N-TORC's ILP under --max-latency-ns
    reuse_factor: str = "1"
    surrogate: Path | None = None  # a model directory instead of the user's / shipped default
    cache: str | None = None  # synthesis cache URL (default: the user's cache)
    synth_every: int = 0  # real synthesis of the front every N finished trials (0: never)
    synth_batch: int = 4
    synth_timeout: float = 900.0
    executor: str | None = None  # dask://HOST:PORT sends the loop's syntheses to a Dask cluster
    artifacts: Path | None = None  # trained weights of candidates (default OUT/artifacts)
    bootstrap: int = 12  # designs calibrated first when no surrogate answers for flow + target
    # edge models (docs/xray.md): task size, samplers, scalarisation, measured objectives
    size: int | None = None  # ptycho: the map size (default 64)
    sampler: str = "nsga2"
    scalarize: str | None = None  # "chebyshev": one value per trial from the raw objectives
    weights: tuple[float, ...] = ()
    latency_backend: str = "torch"  # where latency_ms / energy_mj are measured (hwloop.measure)
    measure_repeats: int = 30

    def __post_init__(self) -> None:
        from hwloop.experiment import is_experiment_path, load_experiment
        from hwloop.tasks import task_class

        task = task_class(self.task)  # None: unknown, which get_task names later
        file = is_experiment_path(self.task)
        names = tuple(c.name for c in task.spaces) if task is not None and not file else ()
        if not self.space and names:
            object.__setattr__(self, "space", names[0])
        elif not self.space and is_experiment_path(self.task):  # the file's space
            object.__setattr__(self, "space", load_experiment(self.task).space.kind)
        for name in self.objectives:
            get_objective(name)  # one line naming an unknown objective
        check_flow(self.flow, self.strategy)
        if self.reuse_factor not in ("1", "") and self.flow == "open":
            raise HwloopError(
                "--reuse-factor: the open flow builds every layer fully parallel (reuse factor "
                "1); reuse factors are an hls4ml choice, use --flow vivado"
            )
        if self.reuse_factor == "auto" and self.max_latency_ns is None:
            raise HwloopError(
                "--reuse-factor auto minimises resources under a latency bound: give "
                "--max-latency-ns"
            )
        elif names and self.space not in names:
            raise HwloopError(
                f"--space {self.space!r} is not a space of task {self.task!r} "
                f"(its spaces: {', '.join(names)})"
            )
        if self.trials < 1:
            raise HwloopError(f"--trials must be at least 1, got {self.trials}")
        if self.epochs < 1:
            raise HwloopError(f"--epochs must be at least 1, got {self.epochs}")
        if self.population < 2:
            raise HwloopError(f"--population must be at least 2, got {self.population}")
        if not 2 <= self.hw_bits <= 32:  # the widths predict and calibrate take: same designs
            raise HwloopError(
                f"--hw-bits must be in 2..32 (the fixed-point widths the synthesis flows take), "
                f"got {self.hw_bits}"
            )
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
        if self.sampler not in SAMPLERS:
            raise HwloopError(f"--sampler: unknown {self.sampler!r}; choose from {SAMPLERS}")
        if self.scalarize is not None and self.scalarize not in SCALARIZATIONS:
            raise HwloopError(
                f"--scalarize: unknown {self.scalarize!r}; choose from {SCALARIZATIONS}"
            )
        if self.scalarize is None and self.weights:
            raise HwloopError("--weights needs --scalarize chebyshev")
        if self.scalarize is not None:
            if len(self.weights) != len(self.objectives):
                raise HwloopError(
                    f"--weights: {len(self.weights)} weights for {len(self.objectives)} "
                    f"objectives ({','.join(self.objectives)}): give one weight per objective"
                )
            if any(not w > 0 for w in self.weights):
                raise HwloopError(f"--weights must all be positive, got {list(self.weights)}")
        if self.size is not None and task is not None and "size" not in task.options:
            raise HwloopError(f"--size sets the ptycho map size; task {self.task!r} has none")
        if self.size is not None and not 8 <= self.size <= 256:
            raise HwloopError(f"--size must be in 8..256, got {self.size}")
        if task is not None and task.no_hardware and self.hardware:
            raise HwloopError(task.no_hardware)
        if self.measure_repeats < 3:
            raise HwloopError(f"--measure-repeats must be at least 3, got {self.measure_repeats}")

    @property
    def hardware(self) -> bool:
        """Whether candidates get designs and predicted resources (hardware objectives,
        constraints or real synthesis rounds)."""
        return bool(
            "hardware" in needs_of(self.objectives)
            or self.max_util is not None
            or self.max_latency_ns is not None
            or self.synth_every
        )

    @property
    def measured(self) -> tuple[str, ...]:
        """The measured objectives asked for (latency_ms, energy_mj)."""
        return tuple(o for o in self.objectives if "measure" in get_objective(o).needs)

    @property
    def study_name(self) -> str:
        from hwloop.tasks import task_label

        return self.study or f"{task_label(self.task)}-{self.space}-{self.target}"

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
    # p75 / p95 of the per-sample error, latency / energy measurements, sampled training settings
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchResult:
    study_name: str
    storage: str
    n_complete: int
    n_failed: int
    front: tuple[FrontMember, ...]
    metric_name: str
    files: tuple[Path, ...]
