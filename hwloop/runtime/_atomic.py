"""Atomic file writes: write a temp file beside the target, then rename it over the target."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(target: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``target`` in one rename (with the
    permissions of a normally created file), on failure it is removed and ``target`` untouched.

    ``suffix`` keeps the extension for writers that infer the format from it (``np.savez``).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def save_arrays(target: Path, arrays: Mapping[str, Any]) -> None:
    """Named numpy arrays as one ``.npz``, written whole (a crash never leaves half a file)."""
    import numpy as np

    with atomic_path(target, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)


def load_arrays(target: Path, names: Sequence[str]) -> dict[str, Any]:
    """The arrays ``names`` of an ``.npz`` written by :func:`save_arrays` (never unpickled)."""
    import numpy as np

    with np.load(target, allow_pickle=False) as z:
        return {n: z[n] for n in names}
