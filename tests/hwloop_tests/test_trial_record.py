"""The typed trial record (issue 20): what a search trial stores as Optuna user attributes,
written and read back in one place, with the real synthesis result of its design."""

from __future__ import annotations

import math
from pathlib import Path

import optuna

from hwloop.search import TrialRecord
from hwloop.search._hardware import HardwareScore
from synth_cache import CacheEntry, SqlCache, SynthResult

HW = HardwareScore(
    key="k" * 24,
    predicted={"lut": (900.0, 1000.0, 1100.0), "latency": (4.0, 5.0, 6.0)},
    latency_ns=25.0,
    utilisation={"lut": 0.01},
    constraints={"expressible": 0.0},
    reuse_factors=(("fc0", 2),),
)


def test_a_record_round_trips_through_optuna(tmp_path: Path) -> None:
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}", directions=["minimize"])
    rec = TrialRecord(
        worker="host:1",
        arch={"name": "mlp", "layers": []},
        arch_digest="abc",
        parameters=1200,
        bops=1.5e6,
        val_metric=0.25,
        test_metric=0.26,
        train_seconds=3.5,
        epochs_run=4,
        train={"lr": 0.01},
        val_report={"mae": 0.25, "p75": 0.3, "p95": 0.7},
        measure={"median_ms": 0.4},
        hw=HW,
        objectives={"metric": 0.25, "lut": 1000.0},
        baseline="nac-tiny",
    )
    trial = study.ask({"units": optuna.distributions.IntDistribution(1, 8)})
    rec.write(trial)
    study.tell(trial, 0.25)
    back = TrialRecord.from_trial(study.trials[0])
    assert back == TrialRecord(**{**rec.__dict__, "number": 0, "params": back.params})
    assert back.hw == HW and back.outcome().hw == HW and back.outcome().bops == 1.5e6
    assert "real" not in rec.to_attrs() and "test_report" not in rec.to_attrs()  # unset: absent
    empty = TrialRecord.from_trial(optuna.trial.create_trial(value=1.0))  # nothing stored
    assert math.isnan(empty.val_metric) and empty.hw is None and empty.baseline == ""


def test_with_real_reads_the_cache(tmp_path: Path) -> None:
    cache = SqlCache(f"sqlite:///{tmp_path / 'c.db'}")
    rec = TrialRecord(hw=HW)
    assert rec.with_real(cache).real is None  # not synthesised yet
    result = SynthResult("open", "yosys", "0.23", "post_synthesis", status="ok", lut=987)
    cache.put(CacheEntry(HW.key, {"note": "stand-in"}, (result,)))
    real = rec.with_real(cache).real
    assert real is not None and real.lut == 987 and real.kind == "post_synthesis"
    assert TrialRecord().with_real(cache).real is None  # no hardware score: nothing to look up
