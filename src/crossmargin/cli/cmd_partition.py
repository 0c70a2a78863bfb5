"""``partition``: a venue's tables → a dataset hashed by account (for ``batch --cluster``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crossmargin.cli.common import console
from crossmargin.cli.errors import handle_errors
from crossmargin.cli.files import OutputFiles
from crossmargin.cli.lazy import command_set
from crossmargin.cli.progress import QuietOpt, show_progress
from crossmargin.cli.scale import task_progress

app = command_set()  # this module's commands (crossmargin.cli.lazy loads it on use)


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
    from crossmargin.scale.dataset import open_dataset
    from crossmargin.scale.partitioning import fill_dataset, partition_count

    n = partition_count(positions, partitions)
    with OutputFiles() as files:
        files.declare_dir("--out", out)  # checked (and locked) before any work
        with task_progress(show_progress(None, quiet)) as tick:
            files.stage_tree(
                "--out",
                lambda d: fill_dataset(
                    d, positions, collateral, partitions=n, progress=lambda s: tick(s, 0, 1)
                ),
            )
        files.commit()
    ds = open_dataset(out)
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
