"""What ``tune`` and ``compress`` share: the arch argument, tuned configs, tables on disk."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from hwloop import HwloopError
from hwloop.archs import ArchSpec, resolve_arch
from hwloop.runtime import atomic_path
from hwloop.tasks import Task, get_task
from hwloop.training import TrainConfig

TRAIN_SUFFIX = (
    ".train.json"  # a tuned config beside its arch: nac-small.json -> nac-small.train.json
)
_TRAIN_KEYS = ("epochs", "batch_size", "lr", "weight_decay", "optimizer", "cosine", "patience")


def resolve_local_arch(text: str) -> tuple[ArchSpec, Path | None]:
    """The arch a local search works on, and its file (None for a built-in): a built-in name, an
    arch spec ``.json`` file, or ``OUT/pareto.json:TRIAL``, a member of a search's front."""
    spec = resolve_arch(text)
    file = Path(text) if text.endswith(".json") else None  # a front member has none
    if not spec.name:
        spec = spec.with_name(file.stem if file else "arch")
    return spec, file


def local_task(spec: ArchSpec, name: str) -> tuple[str, Task]:
    """The task a local search trains ``spec`` on: ``name``, else the arch's own task, else
    bragg; refused in one line when the arch's input or output does not fit the task's."""
    name = name or spec.task or "bragg"
    task = get_task(name)
    shape = tuple(spec.input_shape)
    if shape != tuple(task.input_shape) or spec.output_size != task.output_size:
        raise HwloopError(
            f"arch {spec.name!r} maps {shape} to {spec.output_size} values, task {name!r} has "
            f"inputs {tuple(task.input_shape)} and {task.output_size} outputs (pass --task)"
        )
    return name, task


def config_to_json(cfg: TrainConfig) -> dict[str, Any]:
    return {k: getattr(cfg, k) for k in _TRAIN_KEYS}


def load_train_config(path: Path, seed: int = 0) -> TrainConfig:
    """A training config written by ``hwloop tune`` (unknown keys are an error)."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise HwloopError(f"cannot read training config {path}: {exc}") from None
    if isinstance(doc, dict) and "config" in doc:
        doc = doc["config"]
    if not isinstance(doc, dict):
        raise HwloopError(f"{path}: a training config is a JSON object")
    unknown = set(doc) - set(_TRAIN_KEYS)
    if unknown:
        raise HwloopError(f"{path}: unknown training settings {sorted(unknown)}")
    try:
        return TrainConfig(**doc, seed=seed)
    except TypeError as exc:
        raise HwloopError(f"{path}: {exc}") from None


def train_config_beside(arch_path: Path | None) -> Path | None:
    """``X.train.json`` next to arch file ``X.json``, where ``hwloop tune`` leaves it."""
    if arch_path is None:
        return None
    beside = arch_path.with_name(arch_path.stem + TRAIN_SUFFIX)
    return beside if beside.is_file() else None


def write_json(path: Path, doc: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(doc, indent=2, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_table(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    """A CSV of ``rows`` (``columns`` in order; nested values as JSON)."""
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    k: json.dumps(v) if isinstance(v, (dict, list, tuple)) else v
                    for k, v in row.items()
                }
            )


def dataclass_columns(cls: Any) -> list[str]:
    return [f.name for f in fields(cls)]
