"""The hardware loop: every N finished trials, synthesise part of the feasible front for real,
refit the surrogate with the new records, and re-score the front (docs/loop.md).

A round runs in a background thread while the search goes on: it rebuilds the picked trials'
designs from their stored weights, synthesises them through the cache (joblib: threads here, a
Dask cluster with ``--executor dask://HOST:PORT``), refits the surrogate on every result of the
flow and target (the cache's, plus the calibration runs the shipped default learnt from), and
saves it as ``OUT/surrogate/round-N``. The search thread installs it between trials, records the
round (predicted vs real per new design) as the study user attribute ``loop_round:NNNN`` and
re-scores the feasible front with the refitted model (``loop_rescore:NNNN``).
"""

from __future__ import annotations

import logging
import math
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from joblib import Parallel, delayed, parallel_config
from optuna.trial import TrialState

from fpga_targets import Target
from hwloop import HwloopError
from hwloop.prediction import PieceSet, TrainingSet, fit_and_save, piece_set, training_set
from hwloop.search._config import SearchConfig
from hwloop.search._hardware import HardwareScore, HardwareScorer, real_values, within_limits
from hwloop.search._objectives import raw_front_trials, raw_values
from hwloop.search._record import TrialRecord
from hwloop.search._weights import load_trial_model
from hwloop.synth import Design, synthesize
from surrogates import SHIPPED_DIR
from synth_cache import CacheBackend, SqlCache, import_paths

log = logging.getLogger(__name__)

ROUND_ATTR = "loop_round:"
RESCORE_ATTR = "loop_rescore:"
SHIPPED_CALIBRATION = SHIPPED_DIR / "calibration"
MIN_PIECE_DESIGNS = 10  # the open flow refits its piece-level model from this many runs on
_ERROR_METRICS = ("lut", "ff", "dsp", "bram_18k", "latency")


def _smape(pred: float, real: float) -> float:
    denom = abs(pred) + abs(real)
    return 0.0 if denom == 0 else 200.0 * abs(pred - real) / denom


@dataclass
class _Round:
    number: int
    picked: list[tuple[int, str, dict[str, Any]]]  # (trial, key, predicted at trial time)
    started: float = field(default_factory=time.time)


def concat(a: TrainingSet, b: TrainingSet) -> TrainingSet:
    """Rows of ``a`` and ``b`` (``b``'s keys already in ``a`` are dropped)."""
    seen = set(a.keys)
    rows = np.array([k not in seen for k in b.keys], dtype=bool)
    b = b.subset(rows)
    return TrainingSet(
        a.flow,
        a.kind,
        np.vstack([a.X, b.X]),
        {m: np.concatenate([a.Y[m], b.Y[m]]) for m in a.Y},
        np.concatenate([a.groups, b.groups]),
        [*a.keys, *b.keys],
    )


class SynthesisLoop:
    """Drives the rounds from the search's trial callback (main thread); one round at a time."""

    def __init__(
        self,
        cfg: SearchConfig,
        study: optuna.Study,
        scorer: HardwareScorer,
        store: Any,
        target: Target,
        cache_url: str,
        executor: str | None = None,
    ) -> None:
        self.cfg, self.study, self.scorer, self.store = cfg, study, scorer, store
        self.target, self.cache_url, self.executor = target, cache_url, executor
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hwloop-synth")
        self._pending: tuple[_Round, Future[Path | None]] | None = None
        self._stop = threading.Event()
        done = [k for k in study.user_attrs if k.startswith(ROUND_ATTR)]
        self.rounds = len(done)
        self._last_at = max((int(study.user_attrs[k].get("at_trials", 0)) for k in done), default=0)
        self._base: TrainingSet | None = None
        self._base_pieces: PieceSet | None = None
        self._client = dask_client(executor) if executor else None

    # ---- called by the search ------------------------------------------------------------------
    def on_trial(self, finished: int) -> None:
        if self._pending is not None and self._pending[1].done():
            self._finish()
        if self._pending is None and finished - self._last_at >= self.cfg.synth_every:
            self._start(finished)

    def close(self, wait: bool = True) -> None:
        """End of the search: finish the running round (``wait``) or abandon it (Ctrl-C: its
        finished syntheses are in the cache already)."""
        if self._pending is not None:
            if wait:
                log.info("loop: waiting for round %d to finish", self._pending[0].number)
                self._finish()  # waits; a failed round is logged, not raised
            else:
                self._stop.set()
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
        if self._client is not None:
            self._client.close()

    # ---- a round -------------------------------------------------------------------------------
    def pick(self) -> list[optuna.trial.FrozenTrial]:
        """Up to ``synth_batch`` designs without a real result: the best feasible front member
        for each objective (the front's extremes), those the surrogate extrapolates for
        (features outside its training range), the most uncertain predictions; and, in at least
        one slot of every round when there are any, the best-metric *borderline* candidates,
        infeasible only by the predicted median while the low end of the 80 % interval meets
        every limit (a real number decides whether they belong on the front)."""
        cache = SqlCache(self.cache_url)
        complete = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        records = {t.number: TrialRecord.from_trial(t) for t in complete}
        unknown = [
            t
            for t in complete
            if (hw := records[t.number].hw) is not None and cache.get(hw.key) is None
        ]
        names = list(self.cfg.objectives)  # the raw objectives, even of a scalarised study
        front_numbers = {t.number for t, _ in raw_front_trials(self.study, names)}
        todo = [t for t in unknown if t.number in front_numbers]
        picked: list[optuna.trial.FrozenTrial] = []
        for name in names:
            if todo:
                best = min(todo, key=lambda t: raw_values(t, names)[name])  # noqa: B023
                if best not in picked:
                    picked.append(best)
        rest = sorted(
            (t for t in todo if t not in picked),
            key=lambda t: (
                -len(_hw(records, t).extrapolated),
                -_hw(records, t).uncertainty(),
            ),
        )
        names = list(self.study.metric_names or [])
        borderline = sorted(
            (
                t
                for t in unknown
                if t.number not in front_numbers and self._borderline(t, _hw(records, t))
            ),
            key=lambda t: val_metric(t, names),
        )
        batch = self.cfg.synth_batch
        reserved = borderline[: max(1, batch // 2)] if borderline else []
        order = picked + rest + borderline[len(reserved) :]
        return reserved + order[: batch - len(reserved)]

    def _borderline(self, t: optuna.trial.FrozenTrial, hw: HardwareScore) -> bool:
        """Infeasible by the median prediction, feasible by the interval's low end."""
        cons = t.constraints or {}
        if hw.unsupported or cons.get("expressible", 0) > 0 or hw.real:
            return False
        if all(v <= 0 for v in cons.values()):
            return False  # feasible: a front candidate, not a borderline one
        low = {m: v[0] for m, v in hw.predicted.items()}
        low["latency_ns"] = low.get("latency", math.inf) * self.target.clock_period_ns
        return within_limits(low, self.target, self.cfg.max_util, self.cfg.max_latency_ns)

    def _start(self, finished: int) -> None:
        self._last_at = finished
        trials = self.pick()
        if not trials:
            log.info("loop: every feasible front member already has a real result")
            return
        designs = []
        for t in trials:
            try:
                designs.append(self.scorer.design(load_trial_model(t, self.store)))
            except Exception as exc:  # noqa: BLE001 - one unreadable trial must not stop the loop
                log.warning("loop: trial %d cannot be rebuilt: %s", t.number, exc)
        picked = []
        for t in trials:
            hw = TrialRecord.from_trial(t).hw
            assert hw is not None  # pick() takes scored trials only
            picked.append((t.number, hw.key, hw.to_json()["predicted"]))
        rnd = _Round(self.rounds + 1, picked)
        log.info(
            "loop round %d: synthesising trials %s in the background",
            rnd.number,
            ", ".join(str(n) for n, _, _ in rnd.picked),
        )
        future = self._pool.submit(self._run, rnd, designs)
        self._pending = (rnd, future)

    def _run(self, rnd: _Round, designs: list[Design]) -> Path | None:
        """Background thread: synthesise, then refit. Returns the new model directory."""
        synth, cache_url, timeout = self.scorer.synth, self.cache_url, self.cfg.synth_timeout
        todo = [d for d in designs if not self._stop.is_set()]
        if self.executor:  # each design is a task on the cluster; its workers write the cache
            with parallel_config(backend="dask", n_jobs=len(todo)):
                statuses = Parallel()(
                    delayed(synthesize_into)(d, synth, cache_url, timeout) for d in todo
                )
        else:
            with parallel_config(backend="threading", n_jobs=2):
                statuses = Parallel()(
                    delayed(self._one)(d, synth, cache_url, timeout) for d in todo
                )
        log.info("loop round %d: synthesis %s", rnd.number, statuses)
        if self._stop.is_set():
            return None
        try:
            return self.refit(rnd.number)
        except HwloopError as exc:  # nothing to learn from yet (every synthesis failed)
            log.warning("loop round %d: no refit: %s", rnd.number, exc)
            return None

    def _one(self, design: Design, synth: Any, cache_url: str, timeout: float) -> str:
        if self._stop.is_set():  # Ctrl-C: designs not yet started are left for the next search
            return "skipped"
        return synthesize_into(design, synth, cache_url, timeout)

    def training_data(self) -> TrainingSet:
        """Every result of the flow and target in the cache, plus the shipped calibration runs
        (the data of the default surrogate) where they exist for this flow."""
        own = training_set(SqlCache(self.cache_url), self.cfg.flow, "post_synthesis")
        if self._base is None:
            files = sorted(SHIPPED_CALIBRATION.glob(f"{self.cfg.flow}-*.parquet"))
            if files:
                with tempfile.TemporaryDirectory(prefix="hwloop-calibration-") as tmp:
                    base = SqlCache(f"sqlite:///{tmp}/base.db")
                    import_paths(base, files)
                    self._base = training_set(base, self.cfg.flow, "post_synthesis")
                    base.close()
        return concat(own, self._base) if self._base is not None else own

    def piece_data(self) -> PieceSet | None:
        """Open-flow runs with piece tables: the cache's and the shipped calibration's."""
        if self._base_pieces is None:
            files = sorted(SHIPPED_CALIBRATION.glob("open-*.parquet"))
            with tempfile.TemporaryDirectory(prefix="hwloop-calibration-") as tmp:
                base = SqlCache(f"sqlite:///{tmp}/base.db")
                import_paths(base, files)
                try:
                    self._base_pieces = piece_set(base)
                except HwloopError:
                    pass
                base.close()
        try:
            own = piece_set(SqlCache(self.cache_url))
        except HwloopError:
            return self._base_pieces
        return own.concat(self._base_pieces) if self._base_pieces is not None else own

    def refit(self, number: int) -> Path:
        path = (self.cfg.out / "surrogate" / f"round-{number}").resolve()  # other workers read it
        pieces = self.piece_data() if self.cfg.flow == "open" else None
        enough = pieces is not None and len(pieces) >= MIN_PIECE_DESIGNS
        data = pieces if pieces is not None and enough else self.training_data()
        extra = {"target": self.target.name, "trained_on": {"round": number}}
        return fit_and_save(data, path, self.cfg.flow, extra=extra).path

    def _finish(self) -> None:
        assert self._pending is not None
        rnd, future = self._pending
        self._pending = None
        try:
            path = future.result()
        except Exception as exc:  # noqa: BLE001 - a failed round is reported, the search goes on
            log.error("loop round %d failed: %s", rnd.number, exc)
            return
        record = self.record(rnd)
        if path is not None:
            self.scorer.swap(path)
            record["model"] = str(path)
            self.rescore(rnd.number)
        self.study.set_user_attr(f"{ROUND_ATTR}{rnd.number:04d}", record)
        self.rounds = rnd.number
        log.info(
            "loop round %d: %d real results, LUT error of the predictions %s",
            rnd.number,
            record["n_ok"],
            _fmt(record["smape"].get("lut")),
        )

    def record(self, rnd: _Round) -> dict[str, Any]:
        """Predicted (at trial time) vs real for each design of the round."""
        cache: CacheBackend = SqlCache(self.cache_url)
        designs, errors = [], {m: [] for m in _ERROR_METRICS}  # type: ignore[var-annotated]
        for trial, key, predicted in rnd.picked:
            entry = cache.get(key)
            result = entry.result("post_synthesis") if entry else None
            row: dict[str, Any] = {"trial": trial, "key": key, "predicted": predicted}
            row["status"] = result.status if result else "missing"
            if result is not None and result.ok:
                real = real_values(result, self.target.clock_period_ns)
                row["real"] = real
                for m in _ERROR_METRICS:
                    if m in real and m in predicted:
                        errors[m].append(_smape(predicted[m][1], real[m]))
            designs.append(row)
        return {
            "round": rnd.number,
            "at_trials": self._last_at,
            "seconds": round(time.time() - rnd.started, 1),
            "n_ok": sum(d["status"] == "ok" for d in designs),
            "smape": {m: float(np.mean(v)) for m, v in errors.items() if v},
            "designs": designs,
        }

    def rescore(self, number: int) -> None:
        """Predictions of the refitted model for the feasible front, from da4ml's trace of their
        weights where the model is piece-level (the report uses the latest of these, or real
        results where they exist)."""
        front = [t for t in self.study.best_trials if _rebuildable(t)]
        designs, numbers = [], []
        for t in front:
            try:
                designs.append(self.scorer.design(load_trial_model(t, self.store)))
                numbers.append(t.number)
            except Exception as exc:  # noqa: BLE001
                log.warning("loop: trial %d cannot be re-scored: %s", t.number, exc)
        scores = self.scorer.score_designs(designs, traced=True) if designs else []
        doc = {str(n): s.to_json() for n, s in zip(numbers, scores, strict=True)}
        self.study.set_user_attr(f"{RESCORE_ATTR}{number:04d}", doc)


def synthesize_into(design: Design, synth: Any, cache_url: str, timeout: float) -> str:
    """Synthesise ``design`` through the cache at ``cache_url``; its status. A module-level
    function of picklable arguments, so a Dask worker on another machine can run it (it then
    needs the flow's tools and a cache URL it can reach: PostgreSQL, or SQLite on a shared disk)."""
    out = synthesize(design, synth, SqlCache(cache_url), timeout_s=timeout, source="loop")
    return out.entry.status


def dask_client(executor: str) -> Any:
    """A Dask client for ``dask://HOST:PORT`` (the scheduler of ``dask scheduler``); joblib's
    dask backend then sends the round's syntheses to its workers."""
    if not executor.startswith("dask://"):
        raise HwloopError(f"--executor: expected dask://HOST:PORT, got {executor!r}")
    try:
        from dask.distributed import Client
    except ImportError:
        raise HwloopError(
            "--executor dask://... needs dask.distributed: pip install 'hwloop[dask]'"
        ) from None
    address = "tcp://" + executor.removeprefix("dask://")
    try:
        return Client(address, timeout=10)
    except (OSError, TimeoutError) as exc:
        raise HwloopError(f"--executor: no Dask scheduler at {address}: {exc}") from None


def val_metric(t: optuna.trial.FrozenTrial, names: list[str]) -> float:
    """A trial's validation metric, whichever position the objective has (NaN: not known)."""
    value = TrialRecord.from_trial(t).val_metric
    if not math.isnan(value) or "metric" not in names:
        return value
    return float(t.values[names.index("metric")])


def _rebuildable(t: optuna.trial.FrozenTrial) -> bool:
    rec = TrialRecord.from_trial(t)
    return rec.hw is not None and bool(rec.weights_artifact)


def _hw(records: dict[int, TrialRecord], t: optuna.trial.FrozenTrial) -> HardwareScore:
    hw = records[t.number].hw
    assert hw is not None  # only scored trials are picked
    return hw


def _fmt(v: float | None) -> str:
    return "n/a" if v is None or math.isnan(v) else f"{v:.1f} % SMAPE"


def loop_rounds(study: optuna.Study) -> list[dict[str, Any]]:
    """The recorded rounds, in order."""
    keys = sorted(k for k in study.user_attrs if k.startswith(ROUND_ATTR))
    return [study.user_attrs[k] for k in keys]


def latest_loop_model(study: optuna.Study) -> Path | None:
    """The surrogate of the study's latest round that refitted one (whichever worker ran it)."""
    for record in reversed(loop_rounds(study)):
        if record.get("model"):
            return Path(record["model"])
    return None


def latest_rescore(study: optuna.Study) -> dict[str, Any]:
    """trial number (str) -> the latest re-scored HardwareScore JSON."""
    out: dict[str, Any] = {}
    for k in sorted(k for k in study.user_attrs if k.startswith(RESCORE_ATTR)):
        out.update(study.user_attrs[k])
    return out
