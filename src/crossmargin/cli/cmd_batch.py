"""``batch``: a whole venue's book from tables to one result row per account."""

from __future__ import annotations

import sys
import tempfile
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from crossmargin.account.health import STATUSES
from crossmargin.account.report import summary_table
from crossmargin.cli.common import ConfigOpt, MarketOpt, ModelOpt, console, load_risk_config
from crossmargin.cli.errors import handle_errors
from crossmargin.cli.files import OutputFiles
from crossmargin.cli.lazy import command_set
from crossmargin.cli.progress import ProgressOpt, QuietOpt, progress_bar, show_progress
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

app = command_set()  # this module's commands (crossmargin.cli.lazy loads it on use)


class StdoutFormat(StrEnum):
    """Table format written to stdout (``--out -``)."""

    csv = "csv"
    json = "json"
    parquet = "parquet"


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
            "--out",
            "-o",
            help="Results table (.parquet, .csv or .json), or - for stdout (see --out-format)",
            show_default=False,
        ),
    ],
    model: ModelOpt = "portfolio",
    config: ConfigOpt = None,
    base_currency: Annotated[
        str | None,
        typer.Option("--base-currency", help="Reporting currency (default: the snapshot's)"),
    ] = None,
    out_format: Annotated[
        StdoutFormat,
        typer.Option("--out-format", help="Format of --out - (stdout): csv, json or parquet"),
    ] = StdoutFormat.csv,
    progress: ProgressOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Margin every account of a venue from Parquet/CSV/JSON tables, one result row per account.

    With ``--out -`` the table goes to stdout (CSV by default) and the summary line to stderr,
    so the output pipes cleanly (``crossmargin batch ... --out - | duckdb ...``).
    """
    model_info(model)
    files = OutputFiles()
    to_stdout = str(out) == "-"
    with files:
        if not to_stdout:
            table_format(out)  # an unknown format is refused before any work
            files.declare("--out", out, suffixes=TABLE_SUFFIXES)
        _batch(positions, collateral, market, out, files, model, config, base_currency,
               show_progress(progress, quiet), quiet, out_format.value if to_stdout else None)  # fmt: skip


def _batch(
    positions: Path,
    collateral: Path,
    market: Path,
    out: Path,
    files: OutputFiles,
    model: str,
    config: Path | None,
    base_currency: str | None,
    show: bool,
    quiet: bool,
    stdout_format: str | None,
) -> None:
    cfg = load_risk_config(config)
    snap = load_market(market)
    t0 = time.perf_counter()
    with progress_bar(show, "{task.completed}/{task.total}") as bar:
        task = bar.add_task("reading tables", total=4)
        pos_df = read_table(positions, what="positions")
        col_df = read_table(collateral, what="collateral")
        book = book_from_frames(pos_df, col_df, base_currency=base_currency or snap.base_currency)
        bar.update(task, advance=1, description=f"resolving {len(book.contracts)} instruments")
        rb = resolve(book, snap, cfg)
        bar.update(task, advance=1, description=f"margining {book.n_accounts} accounts ({model})")
        res = margin_resolved(rb, model=model)
        dest = "stdout" if stdout_format is not None else str(out)
        bar.update(task, advance=1, description=f"writing {dest}")
        cols = summary_table(res)
        data = table_bytes(cols, stdout_format) if stdout_format is not None else None
        if data is None:
            files.stage("--out", lambda p: write_table(cols, p))
            files.commit()
        bar.update(task, advance=1, description=f"margined {book.n_accounts} accounts")
    if data is not None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    dt = time.perf_counter() - t0
    counts = np.bincount(res.status_code, minlength=len(STATUSES))
    summary = ", ".join(f"{int(c)} {s}" for s, c in zip(STATUSES, counts, strict=True) if c)
    if quiet:
        return
    line = (
        f"{res.n} accounts, {book.n_positions} positions ({model}) → {dest} in {dt:.2f} s: "
        f"{summary or 'no accounts'}"
    )
    console(stderr=data is not None).print(line)


def table_bytes(columns: dict[str, Any], fmt: str) -> bytes:
    """A result table rendered as ``csv``, ``json`` (records) or ``parquet`` bytes."""
    with tempfile.TemporaryDirectory(prefix="crossmargin-") as tmp:
        path = Path(tmp) / f"out.{fmt}"
        write_table(columns, path)
        return path.read_bytes()
