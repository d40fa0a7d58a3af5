"""Default surrogates shipped inside the package (``surrogates/data/<flow>-<target>-<kind>/``).

They are produced by ``scripts/fit_default_surrogates.py`` from the project's own committed
calibration runs (``data/calibration/`` beside the models, real da4ml + yosys syntheses, shipped
so that the search loop can refit on them plus a user's new results); each model directory's
``metadata.json`` carries its training set, held-out evaluation and library versions. Users' own
models take precedence over them.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SHIPPED_DIR = Path(str(resources.files("surrogates") / "data"))


def shipped_model_dir(flow: str, target: str, kind: str = "post_synthesis") -> Path | None:
    """The shipped default model for ``flow`` on ``target`` answering for ``kind``, if any."""
    path = SHIPPED_DIR / f"{flow}-{target}-{kind}"
    return path if (path / "metadata.json").is_file() else None


def is_shipped(path: Path) -> bool:
    """Whether ``path`` is one of the shipped default models."""
    try:
        return Path(path).resolve().is_relative_to(SHIPPED_DIR.resolve())
    except OSError:
        return False
