"""Progress reporting for long work: rich bars on stderr, or nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Advance(Protocol):
    def __call__(self, n: int = 1, /, description: str | None = None) -> None: ...


# a display that several stages share (``hwloop run``): their bars become rows of it
_SHARED: ContextVar[Progress | None] = ContextVar("hwloop_progress", default=None)


def new_progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )


@contextmanager
def shared_display() -> Iterator[Progress]:
    """One display on stderr for the duration; every ``progress_bar`` inside adds a row."""
    progress = new_progress()
    token = _SHARED.set(progress)
    try:
        with progress:
            yield progress
    finally:
        _SHARED.reset(token)


@contextmanager
def progress_bar(total: int | None, description: str, enabled: bool = True) -> Iterator[Advance]:
    """Yield ``advance(n)``; draws a rich bar on stderr when ``enabled`` (``total=None``: a
    counter without a known end), as a row of the shared display where there is one."""
    if not enabled:
        yield lambda n=1, /, description=None: None
        return
    shared = _SHARED.get()
    progress = shared or new_progress()
    with progress if shared is None else _nothing():
        task = progress.add_task(description, total=total)

        def advance(n: int = 1, /, description: str | None = None) -> None:
            if description is None:
                progress.advance(task, n)
            else:
                progress.update(task, advance=n, description=description)

        yield advance


@contextmanager
def _nothing() -> Iterator[None]:
    yield
