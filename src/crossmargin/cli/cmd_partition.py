"""``partition``: a venue's tables → a dataset hashed by account (for ``batch --cluster``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from crossmargin.cli.app import app
from crossmargin.cli.common import console
from crossmargin.cli.errors import handle_errors
from crossmargin.cli.scale import QuietOpt, task_progress


@app.command()
@handle_errors
def partition(
    positions: Annotated[
        Path,
        typer.Argument(
            help="Positions table: account, instrument, quantity[, entry_price]",
            show_default=False,
        ),
    ],
    collateral: Annotated[
        Path,
        typer.Option(
            "--collateral", help="Collateral table: account, asset, amount", show_default=False
        ),
    ],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Dataset directory to create", show_default=False),
    ],
    partitions: Annotated[
        int | None,
        typer.Option(
            "--partitions",
            "-n",
            help="Number of partitions (default: about 250 000 positions each)",
            show_default=False,
        ),
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Split a venue's tables into a dataset hashed by account (an account is never split)."""
    from crossmargin.scale.partitioning import write_dataset

    with task_progress(sys.stderr.isatty() and not quiet) as tick:
        ds = write_dataset(
            positions, collateral, out, partitions=partitions, progress=lambda s: tick(s, 0, 1)
        )
    if quiet:
        return
    facts = [p.facts for p in ds.partitions if p.facts is not None]
    accounts = sum(f.accounts for f in facts)
    rows = sum(f.positions_rows for f in facts)
    sizes = [f.positions_rows for f in facts]
    console().print(
        f"{accounts} accounts, {rows} positions, {len(ds.instruments or ())} instruments → {out}: "
        f"{len(ds.partitions)} partitions of {min(sizes)}..{max(sizes)} positions",
        soft_wrap=True,
    )
