"""What every layer of hwloop uses to run safely: atomic writes (``atomic_path``, ``.npz``
arrays by ``save_arrays`` / ``load_arrays``), rich progress
bars (``progress_bar``, ``shared_display``), Ctrl-C that finishes the current step
(``graceful_sigint``, ``check``, ``hide_optuna_interrupt_tracebacks``) and process liveness
(``pid_alive``). Import them from here, not from the private modules beside this one."""

from __future__ import annotations

from hwloop.runtime._atomic import atomic_path, load_arrays, save_arrays
from hwloop.runtime._interrupt import (
    check,
    graceful_sigint,
    hide_optuna_interrupt_tracebacks,
    requested,
)
from hwloop.runtime._process import pid_alive
from hwloop.runtime._progress import Advance, progress_bar, shared_display

__all__ = [
    "Advance",
    "atomic_path",
    "check",
    "graceful_sigint",
    "hide_optuna_interrupt_tracebacks",
    "load_arrays",
    "pid_alive",
    "progress_bar",
    "requested",
    "save_arrays",
    "shared_display",
]
