"""Samplers, Chebyshev scalarisation and the edge objectives (params, p95, latency_ms,
energy_mj) of a search; docs/xray.md.

Every trial records its raw objective values in the user attribute ``objectives`` (a dict), so
the Pareto front is always computed from them, whatever one value the sampler optimised.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import optuna
import torch
from optuna.trial import TrialState

from hwloop import HwloopError
from hwloop.search._config import FrontMember, SearchConfig
from hwloop.search._record import TrialRecord
from hwloop.search.objectives import needs_of
from hwloop.tasks import Split, Task

log = logging.getLogger(__name__)

BATCH = 32  # latency and energy are measured at batch 32 (the seed's Table 2)
# one intra-op thread: on a shared CPU, more threads made medians jump 100x (docs/measure.md);
# the search compares candidates, so they are measured alike, and the thread count is recorded
THREADS = 1


def make_sampler(cfg: SearchConfig) -> optuna.samplers.BaseSampler:
    """NSGA-II, TPE, GP or random, all seeded; constraints set with ``trial.set_constraint``
    (Optuna 5) are honoured by NSGA-II, TPE and GP."""
    if cfg.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=cfg.population, seed=cfg.seed)
    if cfg.sampler == "tpe":  # group: the hierarchical spaces' conditional params, jointly
        return optuna.samplers.TPESampler(
            seed=cfg.seed, multivariate=True, group=True, constant_liar=True
        )
    if cfg.sampler == "gp":
        # the GP models the params every trial has; conditional ones (the units of a layer
        # that only some trials have) are sampled at random (docs/xray.md)
        return optuna.samplers.GPSampler(seed=cfg.seed, warn_independent_sampling=False)
    return optuna.samplers.RandomSampler(seed=cfg.seed)


def chebyshev(values: dict[str, float], weights: dict[str, float], ref: dict[str, float]) -> float:
    """Weighted Chebyshev scalarisation ``max_i w_i * f_i / ref_i`` with the utopia point at 0
    (every objective is an error, a size or a cost, all >= 0) and each objective normalised by
    its value ``ref_i`` at the study's first finished trial, fixed once, so a trial's value never
    goes stale as the study grows."""
    out = -math.inf
    for name, w in weights.items():
        scale = abs(ref[name]) if ref.get(name) and math.isfinite(ref[name]) else 1.0
        out = max(out, w * values[name] / scale)
    return out


def scalarised(study: optuna.Study, cfg: SearchConfig, values: dict[str, float]) -> float:
    ref = study.user_attrs.get("scalarize_ref")
    if ref is None:
        ref = {k: float(v) for k, v in values.items()}
        study.set_user_attr("scalarize_ref", ref)
        log.info("Chebyshev reference (first finished trial): %s", ref)
    return chebyshev(values, dict(zip(cfg.objectives, cfg.weights, strict=True)), ref)


def has_sample_errors(task: Task) -> bool:
    return task.has_sample_errors


def _predict(model: torch.nn.Module, split: Split, batch_size: int = 1024) -> torch.Tensor:
    model.eval()
    x = torch.from_numpy(split.x)
    with torch.no_grad():
        return torch.cat([model(x[i : i + batch_size]) for i in range(0, len(split), batch_size)])


def split_report(model: torch.nn.Module, task: Task, split: Split) -> dict[str, float]:
    """``task.report`` on ``split`` (ptycho: mae, amp_mae, phase_mae), plus p75 / p95 where
    the task has per-sample errors."""
    pred, y = _predict(model, split), torch.from_numpy(split.y)
    out = dict(task.report(pred, y))
    if has_sample_errors(task):
        err = task.sample_errors(pred, y).double().numpy()
        out.update(p75=float(np.quantile(err, 0.75)), p95=float(np.quantile(err, 0.95)))
    return out


def check_measurable(cfg: SearchConfig, task: Task) -> None:
    """Refuse up front what cannot be measured here (one line, exit 2 in the CLI)."""
    needs = needs_of(cfg.objectives)
    if "sample_errors" in needs and not has_sample_errors(task):
        task.sample_errors(torch.zeros(1), torch.zeros(1))  # raises the task's own message
    if not cfg.measured:
        return
    from hwloop.measure import BACKENDS, available_backends, energy_unavailable_reason

    if cfg.latency_backend not in BACKENDS:
        raise HwloopError(
            f"--latency-backend: unknown {cfg.latency_backend!r}; choose from {BACKENDS}"
        )
    here = available_backends()
    if cfg.latency_backend not in here:  # before the study exists and the data loads
        raise HwloopError(
            f"--latency-backend {cfg.latency_backend} cannot run here (no CUDA device or "
            f"provider); this machine has {', '.join(here)}"
        )
    if "energy" in needs:
        reason = energy_unavailable_reason(cfg.latency_backend)
        if reason:
            raise HwloopError(reason)


def measure(model: torch.nn.Module, cfg: SearchConfig, data: Split, calib: Split) -> dict[str, Any]:
    """Latency (and energy where asked) of ``model`` at batch 32 on ``cfg.latency_backend``:
    the measurement's JSON (median, spread, device, counter)."""
    from hwloop.measure import measure_latency

    m = measure_latency(
        model,
        data.x[:BATCH],
        backend=cfg.latency_backend,
        batch=BATCH,
        repeats=cfg.measure_repeats,
        threads=THREADS,
        calib=calib.x[:128],
        energy="energy_mj" in cfg.objectives,
    )
    return m.to_json()


def raw_values(trial: optuna.trial.FrozenTrial, names: list[str]) -> dict[str, float]:
    """The raw objective values of a finished trial (from ``objectives``, else its values)."""
    raw = TrialRecord.from_trial(trial).objectives
    if all(n in raw for n in names):
        return {n: raw[n] for n in names}
    return dict(zip(names, (float(v) for v in trial.values), strict=True))


def dominates(a: list[float], b: list[float]) -> bool:
    """``a`` is at least as good as ``b`` everywhere and better somewhere (all minimised)."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(
        x < y for x, y in zip(a, b, strict=True)
    )


def raw_front_trials(
    study: optuna.Study, names: list[str]
) -> list[tuple[optuna.trial.FrozenTrial, dict[str, float]]]:
    """Feasible, non-dominated complete trials over the raw objectives ``names``."""
    rows = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        cons = [v for k, v in t.system_attrs.items() if k.startswith("constraints")]
        flat = [x for v in cons for x in (v if isinstance(v, list | tuple) else [v])]
        if any(float(x) > 0 for x in flat):
            continue
        rows.append((t, raw_values(t, names)))
    vectors = [[v[n] for n in names] for _, v in rows]
    return [
        row
        for row, vec in zip(rows, vectors, strict=True)
        if not any(dominates(w, vec) for w in vectors)
    ]


def trial_extra(rec: TrialRecord) -> dict[str, Any]:
    """Percentiles, measurements and sampled training settings of a front member."""
    out: dict[str, Any] = {}
    for key in ("val_report", "test_report", "measure", "train"):
        value = getattr(rec, key)
        if value:
            out[key] = dict(value)
    if rec.baseline:
        out["baseline"] = rec.baseline
    for split in ("val", "test"):  # the percentiles, read off the split's report
        report = out.get(f"{split}_report", {})
        if "p75" in report:
            out[f"{split}_percentiles"] = {k: report[k] for k in ("p75", "p95")}
    return out


def front_member(
    t: optuna.trial.FrozenTrial, values: dict[str, float], hw: dict[str, Any]
) -> FrontMember:
    """The front's record of trial ``t``: its raw objective ``values`` and hardware score
    ``hw`` (``HardwareScore.to_json``, with the front's source / real numbers), the rest read
    off its :class:`TrialRecord`."""
    rec = TrialRecord.from_trial(t)
    return FrontMember(
        trial=t.number,
        metric=values.get("metric", rec.val_metric),
        bops=rec.bops if not math.isnan(rec.bops) else values.get("bops", math.nan),
        parameters=rec.parameters,
        test_metric=rec.test_metric,
        arch_digest=rec.arch_digest,
        params=dict(rec.params),
        arch=dict(rec.arch),
        values=values,
        hw=hw,
        extra=trial_extra(rec),
    )
