"""``batch``: a whole venue's book from tables to one result row per account.

One pair of tables is margined in this process (below); a partitioned dataset, or any input
with ``--cluster``, goes through :mod:`crossmargin.cli.scale` (one task per partition).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from crossmargin.account.health import STATUSES
from crossmargin.account.report import summary_table
from crossmargin.cli.app import app
from crossmargin.cli.common import (
    ConfigOpt,
    HistoryOpt,
    MarketOpt,
    ModelOpt,
    console,
    load_risk_config,
)
from crossmargin.cli.errors import handle_errors
from crossmargin.cli.files import OutputFiles
from crossmargin.cli.scale import (
    ClusterOpt,
    QuietOpt,
    RetriesOpt,
    WorkerMemoryOpt,
    batch_dataset,
    task_progress,
)
from crossmargin.engine import margin_resolved
from crossmargin.errors import InputError
from crossmargin.io.market import load_market
from crossmargin.io.tables import (
    TABLE_SUFFIXES,
    book_from_frames,
    read_table,
    table_format,
    write_table,
)
from crossmargin.margin.base import model_info
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.resolve.book import resolve


@app.command()
@handle_errors
def batch(
    positions: Annotated[
        str,
        typer.Argument(
            metavar="DATASET",
            help="Positions table (account, instrument, quantity[, entry_price]); or a dataset "
            "written by `crossmargin partition`; or a directory or glob of positions Parquet "
            "files",
            show_default=False,
        ),
    ],
    market: MarketOpt,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Results table (.parquet, .csv or .json); for a dataset, a directory of one "
            "Parquet file per partition",
            show_default=False,
        ),
    ],
    collateral: Annotated[
        str | None,
        typer.Option(
            "--collateral",
            help="Collateral table (account, asset, amount); for a directory or glob of "
            "positions, the collateral files partitioned the same way",
            show_default=False,
        ),
    ] = None,
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
    history: HistoryOpt = None,
    cluster: ClusterOpt = None,
    worker_memory: WorkerMemoryOpt = None,
    retries: RetriesOpt = 2,
    quiet: QuietOpt = False,
) -> None:
    """Margin every account of a venue from Parquet/CSV/JSON tables, one result row per account."""
    model_info(model)
    if retries < 0:
        raise InputError(f"must be >= 0, got {retries}", path="--retries")
    if cluster is not None or not Path(positions).is_file():
        batch_dataset(
            positions, collateral, _snapshot(market, history), out, model=model, config=config,
            base_currency=base_currency, cluster=cluster, worker_memory=worker_memory,
            retries=retries, progress=progress, quiet=quiet,
        )  # fmt: skip
        return
    if collateral is None:
        raise InputError("a positions file needs --collateral FILE", path="--collateral")
    with OutputFiles() as files:
        table_format(out)  # an unknown format is refused before any work
        files.declare("--out", out, suffixes=TABLE_SUFFIXES)
        show = (sys.stderr.isatty() if progress is None else progress) and not quiet
        _batch(Path(positions), Path(collateral), _snapshot(market, history), out, files,
               model, config, base_currency, show=show, quiet=quiet)  # fmt: skip


def _batch(
    positions: Path,
    collateral: Path,
    snap: MarketSnapshot,
    out: Path,
    files: OutputFiles,
    model: str,
    config: Path | None,
    base_currency: str | None,
    *,
    show: bool,
    quiet: bool,
) -> None:
    cfg = load_risk_config(config)
    t0 = time.perf_counter()
    with task_progress(show) as tick:
        tick("reading tables", 0, 4)
        pos_df = read_table(positions, what="positions")
        col_df = read_table(collateral, what="collateral")
        book = book_from_frames(pos_df, col_df, base_currency=base_currency or snap.base_currency)
        tick(f"resolving {len(book.contracts)} instruments", 1, 4)
        rb = resolve(book, snap, cfg)
        tick(f"margining {book.n_accounts} accounts ({model})", 2, 4)
        res = margin_resolved(rb, model=model)
        tick(f"writing {out}", 3, 4)
        cols = summary_table(res)
        files.stage("--out", lambda p: write_table(cols, p))
        files.commit()
        tick(f"writing {out}", 4, 4)
    dt = time.perf_counter() - t0
    if quiet:
        return
    counts = np.bincount(res.status_code, minlength=len(STATUSES))
    summary = ", ".join(f"{int(c)} {s}" for s, c in zip(STATUSES, counts, strict=True) if c)
    console().print(
        f"{res.n} accounts, {book.n_positions} positions ({model}) → {out} in {dt:.2f} s: {summary or 'no accounts'}"
    )


def _snapshot(market: Path, history: Path | None) -> MarketSnapshot:
    if history is None:
        return load_market(market)
    from crossmargin.market.history import load_price_history

    return load_market(market, history=load_price_history(history))
