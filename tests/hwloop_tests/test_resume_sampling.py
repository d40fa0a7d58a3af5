"""A resumed search continues its sampler's sequence (issue 21, item 1): before, every process
seeded the sampler alike, so the trials after a resume replayed the first trials' parameters."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import optuna

from hwloop.search import session_seed


def test_resumed_search_draws_new_parameters(tmp_path: Path) -> None:
    out = tmp_path / "d1"
    for n in (3, 6):  # the reproduction: 3 trials, then resumed to 6
        done = subprocess.run(
            [sys.executable, "-m", "hwloop.cli.main", "search", "--task", "bragg", "--space",
             "mlp", "--trials", str(n), "--epochs", "1", "--limit", "200", "--out", str(out)],
            capture_output=True, text=True, timeout=600, cwd=tmp_path, env=os.environ.copy(),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    study = optuna.load_study(study_name="bragg-mlp-vu13p", storage=f"sqlite:///{out}/study.db")
    trials = sorted(study.trials, key=lambda t: t.number)
    assert len(trials) == 6
    first = [t.params for t in trials[:3]]
    for t in trials[3:]:
        assert t.params not in first, f"trial {t.number} replays an earlier trial: {t.params}"
    lrs = [t.params["train_lr"] for t in trials]
    assert len(set(lrs)) == 6, lrs


def test_session_seed_is_the_seed_on_a_fresh_study_and_moves_on() -> None:
    study = optuna.create_study()
    assert session_seed(7, study) == 7  # a fresh run is reproducible
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    resumed = session_seed(7, study)
    assert resumed != 7 and resumed == session_seed(7, study)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert session_seed(7, study) not in (7, resumed)
