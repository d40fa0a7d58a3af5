"""The objectives' registry (issue 20): the contract every registered objective meets, and a new
objective added by registering it alone runs a real search and reaches the front's CSV."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from hwloop import HwloopError
from hwloop.search import SearchConfig, parse_objectives, run_search
from hwloop.search import objectives as registry
from hwloop.search._config import FrontMember
from hwloop.search._hardware import HardwareScore
from hwloop.search.objectives import (
    NEEDS,
    Objective,
    TrialOutcome,
    all_objectives,
    needs_of,
    objectives_help,
)

HW = HardwareScore(
    key="k",
    predicted={"lut": (900.0, 1000.0, 1100.0), "dsp": (1.0, 2.0, 3.0), "latency": (4, 5, 6)},
    latency_ns=25.0,
    utilisation={},
    constraints={},
)
MEASURE = {"median_ms": 0.4, "p10_ms": 0.3, "p90_ms": 0.5, "backend": "torch", "device": "cpu"}
FULL = TrialOutcome(
    val_metric=0.25,
    bops=1.5e6,
    parameters=1200,
    val_report={"p75": 0.3, "p95": 0.7},
    measure=MEASURE | {"energy_mj": 2.0, "energy_spread_mj": 0.1},
    hw=HW,
)
MEMBER = FrontMember(
    trial=3,
    metric=0.25,
    bops=1.5e6,
    parameters=1200,
    test_metric=0.26,
    arch_digest="d",
    extra={
        "val_percentiles": {"p75": 0.3, "p95": 0.7},
        "test_percentiles": {"p75": 0.31, "p95": 0.72},
        "measure": FULL.measure,
    },
)


@pytest.mark.parametrize("objective", all_objectives(), ids=lambda o: o.name)
def test_every_objective_meets_the_contract(objective: Objective) -> None:
    assert objective.help and objective.needs <= set(NEEDS)
    assert math.isfinite(objective.value(FULL))
    assert set(objective.report(MEMBER)) <= set(objective.report_columns)
    assert all(isinstance(v, str) for v in objective.cells(MEMBER).values())
    bare = FrontMember(trial=0, metric=0.1, bops=1.0, parameters=1, test_metric=0.1, arch_digest="")
    assert objective.cells(bare) == {}  # a member without the data shows no cells


def test_the_builtin_objectives_and_what_they_need() -> None:
    names = [o.name for o in all_objectives()]
    assert names == ["metric", "bops", "params", "p95", "latency_ms", "energy_mj"] + [
        "lut",
        "dsp",
        "latency",
    ]
    assert needs_of(["metric", "bops"]) == frozenset()
    assert needs_of(["metric", "lut", "energy_mj"]) == {"hardware", "measure", "energy"}
    assert registry.get_objective("lut").value(FULL) == 1000.0
    assert registry.get_objective("latency").value(FULL) == 25.0  # ns, not cycles
    assert all(o.name in objectives_help() for o in all_objectives())
    with pytest.raises(HwloopError, match="unknown area"):
        parse_objectives("metric,area")
    with pytest.raises(HwloopError, match="objectives: unknown 'area'"):
        SearchConfig(objectives=("metric", "area"))


def _weights_per_bop(o: TrialOutcome) -> float:
    return o.parameters / o.bops


def test_a_new_objective_is_one_registration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a new file in hwloop/search/objectives/ does: register; nothing else changes."""
    all_objectives()  # the built-ins first, so the patch is undone onto a full registry
    new = Objective(
        "weights_per_bop",
        "parameters per bit operation",
        _weights_per_bop,
        rank=25,
        report_columns=("weights_per_bop",),
        report=lambda m: {"weights_per_bop": m.parameters / m.bops},
        cells=lambda m: {"w/BOP": f"{m.parameters / m.bops:.2e}"},
    )
    monkeypatch.setitem(registry._REGISTRY, new.name, new)
    assert parse_objectives("metric,weights_per_bop") == ("metric", "weights_per_bop")
    cfg = SearchConfig(
        task="bragg",
        trials=2,
        epochs=1,
        limit=120,
        population=2,
        out=tmp_path,
        objectives=("metric", "weights_per_bop"),
    )
    result = run_search(cfg)
    assert result.front
    doc = json.loads((tmp_path / "pareto.json").read_text())
    for m in doc["front"]:
        assert m["values"]["weights_per_bop"] == pytest.approx(m["parameters"] / m["bops"])
    with (tmp_path / "pareto.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert float(rows[0]["weights_per_bop"]) > 0
