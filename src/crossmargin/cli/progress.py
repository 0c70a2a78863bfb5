"""Progress bars of long commands (``backtest``, ``cascade``, ``batch``): rich, on stderr.

A bar is drawn on stderr only, so ``--format json`` on stdout stays clean; by default only when
stderr is a terminal (a pipe or a log file gets no control characters). ``--progress`` forces
it, ``--no-progress`` or ``--quiet`` turn it off (``--quiet`` also drops the informational lines:
``wrote ... to ...``, timings; results are still printed).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.progress import Progress

__all__ = ["ProgressOpt", "QuietOpt", "progress_bar", "show_progress"]

ProgressOpt = Annotated[
    bool | None,
    typer.Option(
        "--progress/--no-progress",
        help="Progress bar on stderr (default: when stderr is a terminal)",
    ),
]
QuietOpt = Annotated[
    bool,
    typer.Option(
        "--quiet", "-q", help="No progress bar and no informational lines; only the results"
    ),
]


def show_progress(progress: bool | None, quiet: bool) -> bool:
    """Whether to draw the bar: never with ``--quiet``, else as asked, else on a terminal."""
    if quiet:
        return False
    return sys.stderr.isatty() if progress is None else progress


def progress_bar(show: bool, counter: str = "{task.completed}/{task.total}") -> Progress:
    """A rich progress bar on stderr (``disable``-d when ``show`` is false).

    On a terminal it is redrawn in place and removed at the end; elsewhere (a forced
    ``--progress`` into a pipe or log) its final state is written once, as a record.
    """
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    con = Console(stderr=True)
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn(counter),
        TimeElapsedColumn(),
        console=con,
        transient=con.is_terminal,
        disable=not show,
    )
