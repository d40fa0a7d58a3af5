"""The experiment file: one TOML (or YAML) document that says which data, which task, which
space, which hardware and how long to search (issue 23). Validated with pydantic so that every
mistake names its key; pure data, no torch, so every layer of hwloop may read it.

Relative data paths are read from the experiment file's folder; the output folder from the
current directory (so ``hwloop run examples/x.toml`` writes where it is run, not into
``examples/``).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hwloop import HwloopError

SUFFIXES = (".toml", ".yaml", ".yml")
DATA_SUFFIXES = (".npz", ".npy", ".h5", ".hdf5", ".parquet")
METRICS = {"classification": ("error_rate",), "regression": ("mae", "mse", "distance")}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Section):
    """A slice of one input axis (0 = the first axis after the sample axis): ``start:stop``,
    every ``step``-th value, or with ``average`` the mean of each block of ``step`` values
    (decimation, as a readout chain's integrator does)."""

    axis: int = -1
    start: int = Field(0, ge=0)
    stop: int | None = Field(None, ge=1)
    step: int = Field(1, ge=1)
    average: bool = False

    @model_validator(mode="after")
    def _order(self) -> Window:
        if self.stop is not None and self.stop <= self.start:
            raise ValueError(f"stop ({self.stop}) must be after start ({self.start})")
        return self


class DataSection(_Section):
    path: Path
    y_path: Path | None = None  # .npy pairs: the targets' file (path holds the inputs)
    x: str | list[str] = "x"  # array key; parquet: a column of lists, or a list of columns
    y: str = "y"
    split: Literal["random", "key", "suffix"] = "random"
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0
    split_key: str = "split"  # split = "key": 0/1/2 or "train"/"val"/"test" per sample
    shape: list[Annotated[int, Field(ge=1)]] | None = None  # reshape each sample to this
    window: Window | None = None
    normalize: Literal["none", "standard", "global"] = "none"
    normalize_targets: bool = False  # regression: train on standardised targets

    @field_validator("path", "y_path")
    @classmethod
    def _suffix(cls, p: Path | None) -> Path | None:
        if p is not None and p.suffix.lower() not in DATA_SUFFIXES:
            raise ValueError(f"{p}: a data file is one of {', '.join(DATA_SUFFIXES)}")
        return p

    @field_validator("fractions")
    @classmethod
    def _fractions(cls, f: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(not 0 < x < 1 for x in f) or abs(sum(f) - 1) > 1e-6:
            raise ValueError(
                f"train, val and test fractions must each be in (0, 1) and sum to 1; got {list(f)}"
            )
        return f


class TaskSection(_Section):
    kind: Literal["classification", "regression"]
    classes: int | None = Field(None, ge=2, le=1000)  # classification: labels 0..classes-1
    class_names: list[str] | None = None
    metric: str | None = None  # default: error_rate / mae
    name: str | None = None  # default: the experiment's name

    @model_validator(mode="after")
    def _consistent(self) -> TaskSection:
        allowed = METRICS[self.kind]
        if self.metric is not None and self.metric not in allowed:
            raise ValueError(
                f"metric {self.metric!r} is not one of {self.kind}'s: {', '.join(allowed)}"
            )
        if self.kind == "classification" and self.classes is None:
            raise ValueError("classification needs classes (the number of labels)")
        if self.kind == "regression" and self.classes is not None:
            raise ValueError("classes is for classification; regression has none")
        if self.class_names is not None and len(self.class_names) != self.classes:
            raise ValueError(
                f"class_names has {len(self.class_names)} names for {self.classes} classes"
            )
        return self

    @property
    def metric_name(self) -> str:
        return self.metric or METRICS[self.kind][0]


Widths = list[Annotated[int, Field(ge=1, le=4096)]]


class MLPSpace(_Section):
    """Flatten, 1..max_hidden ReLU layers of ``units``, then the outputs."""

    kind: Literal["mlp"]
    units: Widths = [8, 16, 32, 64]
    max_hidden: int = Field(3, ge=1, le=8)
    train: bool = False  # also sample batch size, learning rate and epochs


class CNNSpace(_Section):
    """(C, H, W) inputs: up to max_conv conv layers of ``filters``, a dense head of ``dense``."""

    kind: Literal["cnn"]
    filters: Widths = [4, 8, 16, 32]
    max_conv: int = Field(3, ge=1, le=8)
    dense: list[Annotated[int, Field(ge=0, le=4096)]] = [0, 16, 32, 64]


class DeepSetsSpace(_Section):
    """(N, F) set inputs: phi per element, mean / max aggregation, rho."""

    kind: Literal["deepsets"]
    widths: Widths = [4, 8, 16, 32, 64]
    bottlenecks: Widths = [1, 2, 4, 8, 16, 32]


class BlockSpace(_Section):
    """(C, H, W) inputs: NAC's conv / conv-attention blocks and an MLP head."""

    kind: Literal["block"]
    channels: Widths = [1, 2, 4, 8, 16, 32, 64]
    widths: Widths = [4, 8, 16, 32, 64]


SpaceSection = Annotated[
    MLPSpace | CNNSpace | DeepSetsSpace | BlockSpace, Field(discriminator="kind")
]


class HardwareSection(_Section):
    target: str = "vu13p"
    # flow and strategy are checked against hwloop.synth's registry where the experiment is used
    # (hwloop run, a search, predict), before anything is written: synth sits above this module
    flow: str = "open"
    bits: int = Field(8, ge=2, le=32)  # fixed-point width of the designs (and of BOPs)
    reuse_factor: str = "1"  # vivado: "4", "fc0=2,out=1" or "auto"
    strategy: str | None = None
    max_util: float | None = Field(None, gt=0, le=1)
    max_latency_ns: float | None = Field(None, gt=0)

    @field_validator("target")
    @classmethod
    def _target(cls, name: str) -> str:
        from fpga_targets import TargetError, get_target

        try:
            get_target(name)
        except TargetError as exc:
            raise ValueError(str(exc)) from None
        return name


class SearchSection(_Section):
    trials: int = Field(20, ge=1, le=100_000)
    epochs: int = Field(5, ge=1, le=10_000)
    population: int = Field(10, ge=2)
    sampler: Literal["nsga2", "tpe", "gp", "random"] = "nsga2"
    objectives: list[str] = ["metric", "lut", "latency"]
    storage: str | None = None  # default: sqlite in the output folder
    seed: int = 0
    limit: int | None = Field(None, ge=10)  # samples used (all by default)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(2e-3, gt=0, le=1)

    @field_validator("objectives")
    @classmethod
    def _objectives(cls, names: list[str]) -> list[str]:
        # the names are checked against the search's registry (hwloop.search.objectives)
        # when the experiment runs, before anything is written
        if not names or names[0] != "metric" or len(set(names)) != len(names):
            raise ValueError(f"a list starting with 'metric', each once; got {names}")
        return names


class LocalSection(_Section):
    """Quantisation-aware training x iterative pruning of the best front members."""

    iterations: int = Field(4, ge=0, le=100)  # pruning iterations per bit width; 0: no stage
    bits: list[Annotated[int, Field(ge=2, le=16)]] = [4, 6, 8]
    prune_fraction: float = Field(0.2, gt=0, lt=1)
    epochs: int = Field(3, ge=1, le=10_000)
    points: int = Field(1, ge=1, le=20)  # front members compressed (lowest metric first)
    # the chosen model: lowest bits, then sparsest, within this fraction of the float metric
    tolerance: float = Field(0.05, ge=0, lt=1)
    emulate: bool = False  # check the chosen model in hls4ml's C++ emulation (minutes)


class OutputSection(_Section):
    dir: Path = Path("hwloop-run")
    synthesize: int = Field(1, ge=0, le=20)  # chosen points synthesised for real; 0: none
    synth_timeout: float = Field(900.0, gt=0)
    cache: str | None = None  # synthesis cache URL (default: the user's cache)


class Experiment(_Section):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    description: str = ""
    data: DataSection
    task: TaskSection
    space: SpaceSection
    hardware: HardwareSection = HardwareSection()
    search: SearchSection = SearchSection()
    local: LocalSection = LocalSection()
    output: OutputSection = OutputSection()
    # where it was read from (data paths are relative to it); not a key of the file
    source: Path | None = Field(None, exclude=True)

    def resolve(self, path: Path) -> Path:
        """A data path as written in the file, read from the file's folder."""
        if path.is_absolute() or self.source is None:
            return path
        return self.source.parent / path


def _line(exc: ValidationError) -> str:
    errors = exc.errors()
    e = errors[0]
    loc = ".".join(str(p) for p in e["loc"] if not (isinstance(p, str) and p in _KINDS))
    msg = str(e["msg"]).removeprefix("Value error, ")
    if e["type"] == "extra_forbidden":
        msg = "unknown key"
    elif e["type"] == "missing":
        msg = "missing key"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{loc or '(top level)'}: {msg}{more}"


_KINDS = ("mlp", "cnn", "deepsets", "block")


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise HwloopError(f"experiment file {path} does not exist")
    if path.suffix.lower() not in SUFFIXES:
        raise HwloopError(f"{path}: an experiment file is .toml (or .yaml); got {path.suffix!r}")
    try:
        text = path.read_text()
        if path.suffix.lower() == ".toml":
            doc = tomllib.loads(text)
        else:
            import yaml

            doc = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise HwloopError(f"cannot read experiment file {path}: {exc}") from None
    except Exception as exc:  # tomllib / yaml syntax errors: one line naming the place
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise HwloopError(f"{path}: not valid {path.suffix[1:].upper()}: {first}") from None
    if not isinstance(doc, dict):
        raise HwloopError(f"{path}: an experiment file is a table of sections")
    return doc


def apply_sets(doc: dict[str, Any], sets: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``doc`` with ``section.key=value`` overrides; a value is read as TOML (numbers, booleans,
    lists, quoted strings), else taken as a bare string."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in doc.items()}
    for item in sets:
        key, sep, raw = item.partition("=")
        parts = key.strip().split(".")
        if not sep or not all(parts):
            raise HwloopError(f"--set {item!r}: expected section.key=value")
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        node = out
        for p in parts[:-1]:
            child = node.get(p)
            if child is None:
                child = node[p] = {}
            elif not isinstance(child, dict):
                raise HwloopError(f"--set {item!r}: {p} is a value, not a section")
            else:
                child = node[p] = dict(child)
            node = child
        node[parts[-1]] = value
    return out


def parse_experiment(doc: dict[str, Any], source: Path | None = None) -> Experiment:
    """Validate a document (already read); errors are one ``HwloopError`` line naming the key."""
    where = f"{source}: " if source else ""
    try:
        exp = Experiment.model_validate(doc)
    except ValidationError as exc:
        raise HwloopError(where + _line(exc)) from None
    return exp.model_copy(update={"source": source.resolve() if source else None})


def load_experiment(path: str | Path, sets: tuple[str, ...] | list[str] = ()) -> Experiment:
    """Read and validate an experiment file, with ``--set`` overrides applied first."""
    p = Path(path)
    return parse_experiment(apply_sets(_read(p), sets), p)


def is_experiment_path(text: str) -> bool:
    """Whether a ``--task`` value names an experiment file rather than a built-in task."""
    return text.lower().endswith(SUFFIXES)
