"""Scale-out on the command line: ``--cluster`` executors, progress from the task stream.

Shared by ``batch DATASET`` and ``backtest --cluster``; the work itself is in
:mod:`crossmargin.scale`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.scale.executors import Executor

__all__ = [
    "ClusterOpt",
    "QuietOpt",
    "RetriesOpt",
    "WorkerMemoryOpt",
    "batch_dataset",
    "cluster_executor",
    "task_progress",
]

ClusterOpt = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        help="Run on a cluster: local:N (a Dask LocalCluster of N worker processes started "
        "here), tcp://HOST:PORT (a running Dask scheduler) or processes:N (a local process "
        "pool); default: in this process, one partition at a time",
        show_default=False,
    ),
]
WorkerMemoryOpt = Annotated[
    str | None,
    typer.Option(
        "--worker-memory",
        help="Memory limit per worker of --cluster local:N (e.g. 1.5GiB; default: the "
        "machine's memory / N)",
        show_default=False,
    ),
]
RetriesOpt = Annotated[
    int, typer.Option("--retries", help="Further attempts of a failed partition or task")
]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress bar and no summary (errors only)")
]


@contextmanager
def cluster_executor(
    cluster: str | None, *, worker_memory: str | None = None
) -> Iterator[Executor]:
    """The executor of ``--cluster`` (closed, and its local cluster stopped, on exit)."""
    from crossmargin.scale.executors import executor_from_spec

    ex = executor_from_spec(cluster, memory_limit=worker_memory)
    try:
        yield ex
    finally:
        ex.close()


@contextmanager
def task_progress(show: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar on stderr (transient) driven by ``progress(stage, done, total)`` calls.

    One bar; each call sets its description to the stage and its count to ``done/total`` — on
    a cluster, called as the scheduler reports each task finished.
    """
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not show,
    ) as bar:
        task: list[TaskID] = []

        def update(stage: str, done: int, total: int) -> None:
            if not task:
                task.append(bar.add_task(stage, total=total))
            bar.update(task[0], description=stage, completed=done, total=total)

        yield update


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def batch_dataset(
    positions: str,
    collateral: str | None,
    snap: MarketSnapshot,
    out: Path,
    *,
    model: str,
    config: Path | None,
    base_currency: str | None,
    cluster: str | None,
    worker_memory: str | None,
    retries: int,
    progress: bool | None,
    quiet: bool,
) -> None:
    """``batch`` over a partitioned dataset (or any input with ``--cluster``).

    ``--out`` is declared (checked and locked against a second writer) as every command's output
    is (:class:`~crossmargin.cli.files.OutputFiles`), but written by the workers themselves: one
    file per partition, each atomically, the run manifest last (:mod:`crossmargin.scale.output`)
    — a run of millions of accounts is not staged whole on the client.
    """
    from crossmargin.account.health import STATUSES
    from crossmargin.cli.common import console, load_risk_config
    from crossmargin.cli.files import OutputFiles
    from crossmargin.io.tables import TABLE_SUFFIXES
    from crossmargin.scale.batch import margin_dataset
    from crossmargin.scale.dataset import open_dataset

    cfg = load_risk_config(config)
    dataset = open_dataset(positions, collateral)
    show = (sys.stderr.isatty() if progress is None else progress) and not quiet
    with OutputFiles() as files:
        if dataset.single_file:
            files.declare("--out", out, suffixes=TABLE_SUFFIXES)
        else:
            files.declare_dir("--out", out)
        with (
            cluster_executor(cluster, worker_memory=worker_memory) as ex,
            task_progress(show) as tick,
        ):
            res = margin_dataset(
                dataset, snap, out=out, model=model, config=cfg, base_currency=base_currency,
                executor=ex, retries=retries, progress=tick,
            )  # fmt: skip
            workers = ex.workers
    if quiet:
        return
    counts = res.status_counts
    summary = ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts.get(s))
    con = console()
    con.print(
        f"{res.accounts} accounts, {res.positions} positions ({model}) → {res.out} in "
        f"{res.seconds:.2f} s: {summary or 'no accounts'}",
        soft_wrap=True,
    )
    peak = res.peak_rss
    line = (
        f"{len(res.partitions)} partition{'s' if len(res.partitions) != 1 else ''} on "
        f"{res.executor} ({workers} worker{'s' if workers != 1 else ''})"
    )
    if peak:
        line += f"; peak memory per worker {_mib(max(peak.values()))}"
    if res.retried:
        line += "; retried: " + ", ".join(
            f"{k} ({v} failed attempt{'s' if v != 1 else ''})" for k, v in res.retried.items()
        )
    con.print(line, soft_wrap=True)
