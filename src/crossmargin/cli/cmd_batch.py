"""``batch``: a whole venue's book from tables to one result row per account."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from crossmargin.account.health import STATUSES
from crossmargin.account.report import summary_table
from crossmargin.cli.app import app
from crossmargin.cli.common import ConfigOpt, MarketOpt, ModelOpt, console, load_risk_config
from crossmargin.cli.errors import handle_errors
from crossmargin.cli.files import OutputFiles
from crossmargin.engine import margin_resolved
from crossmargin.io.market import load_market
from crossmargin.io.tables import (
    TABLE_SUFFIXES,
    book_from_frames,
    read_table,
    table_format,
    write_table,
)
from crossmargin.margin.base import model_info
from crossmargin.resolve.book import resolve


@app.command()
@handle_errors
def batch(
    positions: Annotated[
        Path,
        typer.Argument(
            help="Positions table: account, instrument, quantity[, entry_price]", show_default=False
        ),
    ],
    collateral: Annotated[
        Path,
        typer.Option(
            "--collateral", help="Collateral table: account, asset, amount", show_default=False
        ),
    ],
    market: MarketOpt,
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Results table (.parquet, .csv or .json)", show_default=False
        ),
    ],
    model: ModelOpt = "portfolio",
    config: ConfigOpt = None,
    base_currency: Annotated[
        str | None,
        typer.Option("--base-currency", help="Reporting currency (default: the snapshot's)"),
    ] = None,
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="Progress bar (default: on a terminal)"),
    ] = None,
) -> None:
    """Margin every account of a venue from Parquet/CSV/JSON tables, one result row per account."""
    model_info(model)
    files = OutputFiles()
    with files:
        table_format(out)  # an unknown format is refused before any work
        files.declare("--out", out, suffixes=TABLE_SUFFIXES)
        _batch(positions, collateral, market, out, files, model, config, base_currency, progress)


def _batch(
    positions: Path,
    collateral: Path,
    market: Path,
    out: Path,
    files: OutputFiles,
    model: str,
    config: Path | None,
    base_currency: str | None,
    progress: bool | None,
) -> None:
    cfg = load_risk_config(config)
    snap = load_market(market)
    show = sys.stderr.isatty() if progress is None else progress
    t0 = time.perf_counter()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not show,
    ) as bar:
        task = bar.add_task("reading tables", total=4)
        pos_df = read_table(positions, what="positions")
        col_df = read_table(collateral, what="collateral")
        book = book_from_frames(pos_df, col_df, base_currency=base_currency or snap.base_currency)
        bar.update(task, advance=1, description=f"resolving {len(book.contracts)} instruments")
        rb = resolve(book, snap, cfg)
        bar.update(task, advance=1, description=f"margining {book.n_accounts} accounts ({model})")
        res = margin_resolved(rb, model=model)
        bar.update(task, advance=1, description=f"writing {out}")
        cols = summary_table(res)
        files.stage("--out", lambda p: write_table(cols, p))
        files.commit()
        bar.update(task, advance=1)
    dt = time.perf_counter() - t0
    counts = np.bincount(res.status_code, minlength=len(STATUSES))
    summary = ", ".join(f"{int(c)} {s}" for s, c in zip(STATUSES, counts, strict=True) if c)
    console().print(
        f"{res.n} accounts, {book.n_positions} positions ({model}) → {out} in {dt:.2f} s: {summary or 'no accounts'}"
    )
