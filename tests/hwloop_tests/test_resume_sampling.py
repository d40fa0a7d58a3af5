"""A resumed search continues its sampler's sequence (issue 21, item 1): before, every process
seeded the sampler alike, so the trials after a resume replayed the first trials' parameters."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from hwloop import HwloopError
from hwloop.search import SearchConfig, open_study, session_seed


@pytest.mark.slow
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


def test_a_dead_workers_running_trial_is_failed_and_queued_at_resume(tmp_path: Path) -> None:
    """Issue 21, item 6: a rerun within the heartbeat's 180 s grace never failed the trial of a
    killed worker, and a later run with nothing left to do never touched it."""
    cfg = SearchConfig(out=tmp_path, study="s", trials=1)
    study = open_study(cfg)
    host = socket.gethostname()
    gone = subprocess.Popen(["true"], cwd=tmp_path)
    gone.wait(timeout=30)
    dead, live = study.ask(), study.ask()
    dead.suggest_float("x", 0.0, 1.0)
    dead.set_user_attr("worker", f"{host}:{gone.pid}")
    live.set_user_attr("worker", f"{host}:{os.getppid()}")  # a live process: left alone
    resumed = open_study(cfg)
    states = {t.number: t.state for t in resumed.get_trials(deepcopy=False)}
    assert states[dead.number] == TrialState.FAIL and states[live.number] == TrialState.RUNNING
    (queued,) = resumed.get_trials(deepcopy=False, states=(TrialState.WAITING,))
    assert queued.system_attrs["fixed_params"] == dead.params  # what the next run samples
    assert queued.user_attrs["retry_of"] == dead.number


def test_resume_with_other_objectives_is_refused(tmp_path: Path) -> None:
    """Issue 25, item 8: the same number of objectives, other ones, resumed silently."""
    study = open_study(SearchConfig(out=tmp_path, study="s", space="mlp"))
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=1)
    with pytest.raises(HwloopError, match="created with objectives metric,bops, not metric,lut"):
        open_study(SearchConfig(out=tmp_path, study="s", space="mlp", objectives=("metric", "lut")))


def test_a_study_without_finished_trials_is_created_again(tmp_path: Path) -> None:
    """Issue 25, item 12: a first run that failed (--flow vivado without Vitis, --limit 5)
    locked the study to its settings."""
    first = SearchConfig(out=tmp_path, study="s", space="mlp", limit=5)
    open_study(first)
    again = replace(first, limit=1000)
    study = open_study(again)  # nothing finished: the new settings win
    assert study.user_attrs["limit"] == 1000
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=1)
    with pytest.raises(HwloopError, match="created with limit=1000, not 5"):
        open_study(first)  # a finished trial: results would not be comparable


def test_jets_limit_too_small_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hwloop.cli.main", "search", "--task", "jets", "--space", "mlp",
         "--limit", "5", "--trials", "1", "--epochs", "1", "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=600, cwd=tmp_path, env=os.environ.copy(),
    )  # fmt: skip
    assert done.returncode == 2 and "raise --limit" in done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
