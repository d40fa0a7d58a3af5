"""Progress reporting for long work: rich bars on stderr, or nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def progress_bar(total: int | None, description: str, enabled: bool = True) -> Iterator[Advance]:
    """Yield ``advance(n)``; draws a rich bar on stderr when ``enabled`` (``total=None``: a
    counter without a known end)."""
    if not enabled:
        yield lambda n=1, /, description=None: None
        return
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    with progress:
        task = progress.add_task(description, total=total)

        def advance(n: int = 1, /, description: str | None = None) -> None:
            if description is None:
                progress.advance(task, n)
            else:
                progress.update(task, advance=n, description=description)

        yield advance
