"""``batch``: a whole venue's book from tables to one result row per account.

One pair of tables is margined in this process (below); a partitioned dataset, or any input
with ``--cluster``, goes through :mod:`crossmargin.cli.scale` (one task per partition).
"""

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
from crossmargin.cli.lazy import command_set
from crossmargin.cli.progress import ProgressOpt, QuietOpt, show_progress
from crossmargin.cli.scale import (
    ClusterOpt,
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
            help="Results table (.parquet, .csv or .json), or - for stdout (see --out-format); "
            "for a dataset, a directory of one Parquet file per partition",
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
    out_format: Annotated[
        StdoutFormat,
        typer.Option("--out-format", help="Format of --out - (stdout): csv, json or parquet"),
    ] = StdoutFormat.csv,
    progress: ProgressOpt = None,
    history: HistoryOpt = None,
    cluster: ClusterOpt = None,
    worker_memory: WorkerMemoryOpt = None,
    retries: RetriesOpt = 2,
    quiet: QuietOpt = False,
) -> None:
    """Margin every account of a venue from Parquet/CSV/JSON tables, one result row per account.

    With ``--out -`` the table goes to stdout (CSV by default) and the summary line to stderr,
    so the output pipes cleanly (``crossmargin batch ... --out - | duckdb ...``).
    """
    model_info(model)
    if retries < 0:
        raise InputError(f"must be >= 0, got {retries}", path="--retries")
    to_stdout = str(out) == "-"
    if cluster is not None or not Path(positions).is_file():
        if to_stdout:
            raise InputError(
                "a dataset's results are a directory of partition files, not stdout", path="--out"
            )
        batch_dataset(
            positions, collateral, _snapshot(market, history), out, model=model, config=config,
            base_currency=base_currency, cluster=cluster, worker_memory=worker_memory,
            retries=retries, progress=progress, quiet=quiet,
        )  # fmt: skip
        return
    if collateral is None:
        raise InputError("a positions file needs --collateral FILE", path="--collateral")
    with OutputFiles() as files:
        if not to_stdout:
            table_format(out)  # an unknown format is refused before any work
            files.declare("--out", out, suffixes=TABLE_SUFFIXES)
        _batch(Path(positions), Path(collateral), _snapshot(market, history), out, files,
               model, config, base_currency, show=show_progress(progress, quiet), quiet=quiet,
               stdout_format=out_format.value if to_stdout else None)  # fmt: skip


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
    stdout_format: str | None,
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
        dest = "stdout" if stdout_format is not None else str(out)
        tick(f"writing {dest}", 3, 4)
        cols = summary_table(res)
        data = table_bytes(cols, stdout_format) if stdout_format is not None else None
        if data is None:
            files.stage("--out", lambda p: write_table(cols, p))
            files.commit()
        tick(f"margined {book.n_accounts} accounts", 4, 4)
    if data is not None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    dt = time.perf_counter() - t0
    if quiet:
        return
    counts = np.bincount(res.status_code, minlength=len(STATUSES))
    summary = ", ".join(f"{int(c)} {s}" for s, c in zip(STATUSES, counts, strict=True) if c)
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


def _snapshot(market: Path, history: Path | None) -> MarketSnapshot:
    if history is None:
        return load_market(market)
    from crossmargin.market.history import load_price_history

    return load_market(market, history=load_price_history(history))
