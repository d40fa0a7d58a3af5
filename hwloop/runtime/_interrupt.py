"""Ctrl-C that stops long work at a safe point.

Python delivers SIGINT wherever the interpreter happens to be, including finalizers, where the
KeyboardInterrupt is printed and swallowed. Inside :func:`graceful_sigint` the first Ctrl-C only
sets a flag; long loops call :func:`check` at safe points (between training batches), which raises
KeyboardInterrupt there. A second Ctrl-C interrupts at once.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

log = logging.getLogger(__name__)
_requested = threading.Event()


def requested() -> bool:
    return _requested.is_set()


def check() -> None:
    """Raise KeyboardInterrupt if a stop was requested (call at safe points only)."""
    if _requested.is_set():
        raise KeyboardInterrupt


@contextmanager
def graceful_sigint() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _requested.clear()
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: FrameType | None) -> None:
        if _requested.is_set():
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        _requested.set()
        log.warning("interrupt: stopping at the next safe point (Ctrl-C again to stop now)")

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _requested.clear()


class _HideInterruptTracebacks(logging.Filter):
    """Optuna logs a trial that ends in KeyboardInterrupt with its traceback; a Ctrl-C the user
    asked for is not an error, so that record is dropped (the CLI says 'interrupted')."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, KeyboardInterrupt)


_HIDE = _HideInterruptTracebacks()


def hide_optuna_interrupt_tracebacks() -> None:
    """Install the filter on Optuna's handlers (Optuna's logger does not propagate)."""
    for handler in logging.getLogger("optuna").handlers:
        if _HIDE not in handler.filters:
            handler.addFilter(_HIDE)
