"""The objectives a search can minimise: a registry, filled by this package's modules.

An :class:`Objective` names a quantity (lower is better), says what a trial must compute for it
(``needs``), computes its value from the trial's :class:`TrialOutcome`, and may add columns to
the front's CSV (``report_columns`` / ``report``) and cells to the CLI's front table
(``cells``). Every module of this package is imported on first use of the registry, so a new
objective is one file here that calls :func:`register`, plus its test (docs/loop.md).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hwloop import HwloopError

if TYPE_CHECKING:
    from hwloop.search._config import FrontMember
    from hwloop.search._hardware import HardwareScore

# What a trial can compute besides training and BOPs, and which objectives ask for it:
NEEDS = (
    "sample_errors",  # the task's per-sample errors (p75 / p95 of the validation split)
    "measure",  # latency measured on this machine (hwloop.measure)
    "energy",  # energy from a hardware counter, with the measurement
    "hardware",  # the candidate's design and its predicted (or real) resources
)


@dataclass(frozen=True)
class TrialOutcome:
    """What a trained candidate produced, as objectives read it.

    ``val_report``: ``task.report`` on the validation split, with p75 / p95 where the task has
    per-sample errors; ``measure``: the latency / energy measurement's JSON; ``hw``: the
    hardware score. Each is empty / None when the search did not compute it.
    """

    val_metric: float
    bops: float
    parameters: int
    val_report: Mapping[str, float] = field(default_factory=dict)
    measure: Mapping[str, Any] | None = None
    hw: HardwareScore | None = None


def _nothing(member: FrontMember) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Objective:
    """A quantity a search can minimise.

    Contract: ``value(outcome)`` returns a float, lower better, and may rely on everything named
    in ``needs`` being in ``outcome``. ``report(member)`` maps each of ``report_columns`` that the
    front member has to its value (missing ones are written empty); ``cells(member)`` maps CLI
    table headers to text, {} when the member lacks the data, and a header is shown when any
    member has it. ``rank`` orders objectives in help texts, the CSV and the table.
    """

    name: str
    help: str
    value: Callable[[TrialOutcome], float]
    rank: float
    needs: frozenset[str] = frozenset()
    report_columns: tuple[str, ...] = ()
    report: Callable[[FrontMember], dict[str, Any]] = _nothing
    cells: Callable[[FrontMember], dict[str, str]] = _nothing

    def __post_init__(self) -> None:
        unknown = self.needs - set(NEEDS)
        if unknown:
            raise ValueError(f"objective {self.name!r} needs unknown {sorted(unknown)}")


_REGISTRY: dict[str, Objective] = {}
_loaded = False


def register(objective: Objective) -> Objective:
    """Add ``objective`` to the registry (a module of this package calls it at import)."""
    if objective.name in _REGISTRY and _REGISTRY[objective.name] != objective:
        raise ValueError(f"objective {objective.name!r} is registered twice")
    _REGISTRY[objective.name] = objective
    return objective


def _load() -> None:
    global _loaded
    if not _loaded:
        for module in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{module.name}")
        _loaded = True


def all_objectives() -> tuple[Objective, ...]:
    """Every registered objective, by rank."""
    _load()
    return tuple(sorted(_REGISTRY.values(), key=lambda o: (o.rank, o.name)))


def objective_names() -> tuple[str, ...]:
    return tuple(o.name for o in all_objectives())


def get_objective(name: str) -> Objective:
    _load()
    if name not in _REGISTRY:
        raise HwloopError(
            f"objectives: unknown {name!r}; choose from {', '.join(objective_names())}"
        )
    return _REGISTRY[name]


def needs_of(names: Iterable[str]) -> frozenset[str]:
    """What a search minimising ``names`` must compute for each trial."""
    return frozenset().union(*(get_objective(n).needs for n in names))


def parse_objectives(text: str) -> tuple[str, ...]:
    """``metric,bops,lut`` -> ('metric', 'bops', 'lut'); one-line errors for anything else."""
    names = tuple(x.strip() for x in text.split(",") if x.strip())
    bad = [x for x in names if x not in objective_names()]
    if bad or not names:
        raise HwloopError(
            f"--objectives: unknown {', '.join(bad) or '(none given)'}; choose from "
            f"{', '.join(objective_names())}"
        )
    if len(set(names)) != len(names):
        raise HwloopError(f"--objectives lists an objective twice: {text}")
    return names


def objectives_help() -> str:
    """The CLI's help for ``--objectives``, from the registry."""
    parts = "; ".join(f"{o.name}: {o.help}" for o in all_objectives())
    names = ", ".join(objective_names())
    return f"Objectives to minimise, comma-separated, any subset of: {names}. {parts}."


__all__ = [
    "NEEDS",
    "Objective",
    "TrialOutcome",
    "all_objectives",
    "get_objective",
    "needs_of",
    "objective_names",
    "objectives_help",
    "parse_objectives",
    "register",
]
