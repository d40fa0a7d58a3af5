"""hwloop: hardware-in-the-loop neural-architecture codesign for FPGAs.

The Python API: ``hwloop.predict``, ``hwloop.predict_many``, ``hwloop.Cache`` and
``hwloop.load_front`` (``hwloop.api``). Further entry points live in the sub-packages:
``hwloop.archs`` (arch specs and built-ins), ``hwloop.spaces`` (search spaces), ``hwloop.tasks``
(tasks and data), ``hwloop.bops``, ``hwloop.training`` and ``hwloop.search``. The CLI is
``hwloop.cli``.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "Cache", "HwloopError", "load_front", "predict", "predict_many"]

_API = ("Cache", "load_front", "predict", "predict_many")


def __getattr__(name: str) -> object:
    # the Python API (hwloop.api) loads on first use: `import hwloop` stays light for the CLI
    if name in _API:
        from hwloop import api

        return getattr(api, name)
    raise AttributeError(f"module 'hwloop' has no attribute {name!r}")


class HwloopError(Exception):
    """An error a user can fix (bad input, missing file); the CLI prints it on one line, exit 2."""
