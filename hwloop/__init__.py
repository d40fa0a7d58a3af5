"""hwloop: hardware-in-the-loop neural-architecture codesign for FPGAs.

Public entry points live in the sub-packages: ``hwloop.archs`` (arch specs and built-ins),
``hwloop.spaces`` (search spaces), ``hwloop.tasks`` (tasks and data), ``hwloop.bops``,
``hwloop.training`` and ``hwloop.search``. The CLI is ``hwloop.cli``.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "HwloopError"]


class HwloopError(Exception):
    """An error a user can fix (bad input, missing file); the CLI prints it on one line, exit 2."""
