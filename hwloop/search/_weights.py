"""Trained candidates' weights, kept in the study's artifact store so that real synthesis (the
loop's rounds, ``hwloop calibrate --study``) can rebuild their exact designs later, on any worker
that sees the store."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import optuna
import torch
from optuna.artifacts import FileSystemArtifactStore, download_artifact, upload_artifact

from hwloop import HwloopError
from hwloop.archs import ArchSpec, SpecModule, build_model
from hwloop.search._config import SearchConfig

WEIGHTS_ATTR = "weights_artifact"


def weights_store(cfg: SearchConfig) -> FileSystemArtifactStore:
    """The artifact store of the candidates' weights (``--artifacts``, default ``OUT/artifacts``;
    workers sharing a study give the same folder, on a shared file system across machines, so
    the loop can rebuild any worker's candidates)."""
    path = cfg.artifacts or cfg.out / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return FileSystemArtifactStore(str(path))


def save_weights(trial: optuna.Trial, model: torch.nn.Module, store: Any) -> str:
    """Upload ``model``'s state dict for ``trial``; its artifact id goes into a user attr."""
    with tempfile.TemporaryDirectory(prefix="hwloop-weights-") as tmp:
        path = Path(tmp) / f"trial-{trial.number}.pt"
        torch.save(model.state_dict(), path)
        artifact = upload_artifact(study_or_trial=trial, file_path=str(path), artifact_store=store)
    trial.set_user_attr(WEIGHTS_ATTR, artifact)
    return artifact


def load_trial_model(trial: optuna.trial.FrozenTrial, store: Any) -> SpecModule:
    """The trained model of a finished trial (weights loaded with ``weights_only=True``)."""
    artifact = trial.user_attrs.get(WEIGHTS_ATTR)
    if not artifact or "arch" not in trial.user_attrs:
        raise HwloopError(f"trial {trial.number} has no stored weights or arch")
    model = build_model(ArchSpec.from_json(trial.user_attrs["arch"]))
    with tempfile.TemporaryDirectory(prefix="hwloop-weights-") as tmp:
        path = Path(tmp) / "w.pt"
        download_artifact(artifact_store=store, artifact_id=artifact, file_path=str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval()
