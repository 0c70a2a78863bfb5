"""Margin a partitioned dataset on an executor: one task per partition, one result file each.

:func:`margin_dataset` runs in three steps, all on the executor except the small middle one:

1. **describe** — the manifest of a dataset written by ``crossmargin partition`` lists every
   partition's account range and the venue's distinct instruments; any other dataset is scanned
   (one task per partition reads only its account and instrument columns) and an account found
   in two partitions is refused before anything is margined;
2. **resolve once** — on the client, the venue's distinct contracts are parsed and resolved
   against the snapshot and the configuration (:class:`~crossmargin.scale.context.VenueContracts`;
   missing market data fails here, naming the first holder's file and row) and shipped to each
   worker once;
3. **margin** — one task per partition reads its two tables, builds and validates its book
   (instrument names the client parsed are not parsed again), binds it to the shipped contracts,
   margins it under the model — the risk arrays of the venue's contracts (``var``/``es``) are
   computed by a worker's first partition and shared by its next ones
   (:meth:`~crossmargin.scale.context.ShippedOnce.risk_arrays`) — and writes its result file
   atomically (:mod:`crossmargin.scale.output`); it returns a few numbers (accounts, statuses,
   sums, time, peak memory of the worker).

A task that fails is retried; a partition that still fails is named in the error with the
account range it held, and the run is reported incomplete (no results manifest). Nothing is
counted as done unless its file was renamed into place and is visible from the client.
"""

from __future__ import annotations

import os
import resource
import socket
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crossmargin._time import format_instant
from crossmargin.account.health import STATUSES
from crossmargin.account.report import summary_table
from crossmargin.config import RiskConfig, default_config
from crossmargin.engine import margin_resolved
from crossmargin.errors import CrossMarginError, ExecutionError
from crossmargin.instruments.contracts import Contract
from crossmargin.instruments.naming import parse_instrument
from crossmargin.margin.base import model_info
from crossmargin.margin.var_engine import sharing_units
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.scale.context import VenueContracts
from crossmargin.scale.dataset import (
    Dataset,
    Partition,
    PartitionFacts,
    PartitionScan,
    check_bucket,
    check_disjoint,
    read_partition,
    scan_partition,
)
from crossmargin.scale.executors import Executor, InProcessExecutor, RunResult
from crossmargin.scale.output import RESULTS_MANIFEST, ResultTarget

__all__ = [
    "BatchJob",
    "DatasetResult",
    "PartitionReport",
    "margin_dataset",
    "margin_partition",
    "peak_rss",
]

#: ``progress(stage, done, total)``: called when a stage starts and as each task completes.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class BatchJob:
    """Everything a partition task needs besides its partition (shipped once per worker)."""

    contracts: VenueContracts
    model: str
    base_currency: str
    target: ResultTarget


@dataclass(frozen=True, slots=True)
class PartitionReport:
    """What a partition task did (returned to the client; its results are in ``file``)."""

    name: str
    file: str
    bytes: int
    accounts: int
    positions: int
    status_counts: tuple[int, ...]
    initial_margin: float
    maintenance_margin: float
    seconds: float
    worker: str
    peak_rss: int
    cpu_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class DatasetResult:
    """A completed run over a dataset.

    Attributes
    ----------
    out
        The result file or directory.
    model, executor
        The model and the executor's name.
    partitions
        One report per partition, in dataset order.
    retried
        Partition → failed attempts before it succeeded (``describe`` and ``margin`` stages).
    seconds
        Wall time of the run (describe, resolve, margin, commit).
    stages
        Wall time of each stage.
    """

    out: Path
    model: str
    executor: str
    partitions: tuple[PartitionReport, ...]
    retried: Mapping[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    stages: Mapping[str, float] = field(default_factory=dict)

    @property
    def accounts(self) -> int:
        """Accounts margined."""
        return sum(p.accounts for p in self.partitions)

    @property
    def positions(self) -> int:
        """Position rows read."""
        return sum(p.positions for p in self.partitions)

    @property
    def status_counts(self) -> dict[str, int]:
        """Accounts per health status."""
        tot = np.sum([p.status_counts for p in self.partitions], axis=0, dtype=np.int64)
        return {s: int(c) for s, c in zip(STATUSES, np.atleast_1d(tot), strict=False)}

    @property
    def peak_rss(self) -> dict[str, int]:
        """Peak resident memory (bytes) of each worker process that ran a partition."""
        out: dict[str, int] = {}
        for p in self.partitions:
            out[p.worker] = max(out.get(p.worker, 0), p.peak_rss)
        return out


def peak_rss() -> int:
    """Peak resident set size of this process, in bytes.

    Linux: ``VmHWM`` of ``/proc/self/status`` (the high-water mark of this process's own
    memory; ``ru_maxrss`` is not usable here: a spawned worker inherits its parent's value at
    ``exec``). Elsewhere: ``ru_maxrss``.
    """
    try:
        with Path("/proc/self/status").open(encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * scale


def _in_file(exc: CrossMarginError, part: Partition) -> CrossMarginError:
    """Name the partition file in a row path (``positions[12].quantity``)."""
    for what, path in (("positions", part.positions), ("collateral", part.collateral)):
        if path is not None and exc.path.startswith(what):
            return type(exc)(exc.reason, path=f"{path}: {exc.path}")
    return exc


def margin_partition(job: BatchJob, part: Partition) -> PartitionReport:
    """Read, validate, resolve, margin and write one partition (a task function).

    Raises
    ------
    CrossMarginError
        Bad or corrupt data in the partition, or the model's own error for one of its accounts.
    """
    from crossmargin.io.tables import book_from_frames

    t0, c0 = time.perf_counter(), time.process_time()
    try:
        pos, col = read_partition(part)
        book = book_from_frames(
            pos, col, base_currency=job.base_currency, known=job.contracts.names
        )
        del pos, col
        check_bucket(part, book.accounts)
        rb = job.contracts.bind(book, where=str(part.positions))
        with sharing_units(job.contracts.risk_arrays()):
            res = margin_resolved(rb, model=job.model)
        columns = summary_table(res)
    except CrossMarginError as exc:
        raise _in_file(exc, part) from None
    path, size = job.target.write(part.name, columns)
    counts = np.bincount(res.status_code, minlength=len(STATUSES))
    return PartitionReport(
        name=part.name,
        file=str(path),
        bytes=size,
        accounts=res.n,
        positions=book.n_positions,
        status_counts=tuple(int(c) for c in counts),
        initial_margin=float(np.sum(res.initial_margin)),
        maintenance_margin=float(np.sum(res.maintenance_margin)),
        seconds=time.perf_counter() - t0,
        worker=f"{socket.gethostname()}:{os.getpid()}",
        peak_rss=peak_rss(),
        cpu_seconds=time.process_time() - c0,
    )


# -- the run ------------------------------------------------------------------------------------
def _reason(exc: BaseException, part: Partition) -> str:
    if isinstance(exc, CrossMarginError):
        if exc.path in (str(part.positions), str(part.collateral)):
            return exc.reason
        return str(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _failure_error(
    stage: str,
    run: RunResult[Any],
    dataset: Dataset,
    facts: Mapping[str, PartitionFacts],
) -> CrossMarginError:
    """One line: the first failed partition, its account range, its error; how many others."""
    order = [p for p in dataset.partitions if p.name in run.failures]
    part = order[0]
    f = run.failures[part.name]
    known = facts.get(part.name)
    where = (
        known.describe()
        if known is not None
        else "account range unknown: the partition could not be read"
    )
    attempts = f"{f.attempts} attempt" + ("s" if f.attempts != 1 else "")
    msg = f"partition {part.name} failed to {stage} after {attempts} ({where}): {_reason(f.error, part)}"
    if len(order) > 1:
        more = ", ".join(p.name for p in order[1:4]) + (", ..." if len(order) > 4 else "")
        msg += f"; {len(order) - 1} more failed ({more})"
    total = len(dataset.partitions)
    if stage == "margin":
        msg += (
            f"; {len(run.values)} of {total} partitions written, the run is incomplete "
            f"(no {RESULTS_MANIFEST})"
        )
    else:
        msg += "; nothing was margined"
    cls = type(f.error) if isinstance(f.error, CrossMarginError) else ExecutionError
    return cls(msg, path=str(part.positions))


def _run(
    ex: Executor,
    stage: str,
    fn: Callable[[Any, Any], Any],
    shared: Any,
    dataset: Dataset,
    retries: int,
    progress: Progress | None,
) -> RunResult[Any]:
    total = len(dataset.partitions)
    done = [0]
    if progress is not None:
        progress(stage, 0, total)

    def tick(_key: str, _ok: bool) -> None:
        done[0] += 1
        if progress is not None:
            progress(stage, done[0], total)

    return ex.run(
        fn, shared, {p.name: p for p in dataset.partitions}, retries=retries, progress=tick
    )


def _describe(
    dataset: Dataset,
    ex: Executor,
    retries: int,
    progress: Progress | None,
    retried: dict[str, int],
) -> tuple[dict[str, PartitionFacts], list[tuple[str, int, int]]]:
    """Facts of each partition and the venue's instruments (name, partition, row) in order."""
    if dataset.instruments is not None:
        facts = {p.name: p.facts for p in dataset.partitions if p.facts is not None}
        return facts, list(dataset.instruments)
    run = _run(ex, "scanning", scan_partition, None, dataset, retries, progress)
    retried.update(run.retried)
    if run.failures:
        raise _failure_error("scan", run, dataset, {})
    scans: list[PartitionScan] = [run.values[p.name] for p in dataset.partitions]
    check_disjoint(dataset, scans)
    seen: dict[str, tuple[str, int, int]] = {}
    for k, s in enumerate(scans):
        for name, row in zip(s.instruments, s.first_rows, strict=True):
            seen.setdefault(name, (name, k, row))
    return {p.name: s.facts for p, s in zip(dataset.partitions, scans, strict=True)}, list(
        seen.values()
    )


def venue_contracts(
    dataset: Dataset,
    instruments: Sequence[tuple[str, int, int]],
    market: MarketSnapshot,
    config: RiskConfig,
) -> VenueContracts:
    """Parse and resolve the venue's distinct instruments once (first-appearance order).

    Raises
    ------
    InputError, MarketDataError, ConfigError
        An unknown instrument or missing market data, naming the first holder's file and row.
    """
    contracts: dict[Contract, str] = {}
    names: dict[str, Contract] = {}
    for name, k, row in instruments:
        text = name.strip()
        if not text:  # reported by the partition's own validation, with its row
            continue
        where = f"{dataset.partitions[k].positions}: positions[{row}].instrument"
        c = names[text] = parse_instrument(text, path=where)
        contracts.setdefault(c, where)
    firsts = list(contracts.values())
    return VenueContracts.resolve(
        tuple(contracts), market, config, where=lambda i: firsts[i], names=names
    )


def margin_dataset(
    dataset: Dataset,
    market: MarketSnapshot,
    *,
    out: str | Path,
    model: str = "portfolio",
    config: RiskConfig | None = None,
    base_currency: str | None = None,
    executor: Executor | None = None,
    retries: int = 2,
    progress: Progress | None = None,
) -> DatasetResult:
    """Margin every account of a partitioned dataset; write one result file per partition.

    Parameters
    ----------
    dataset
        From :func:`~crossmargin.scale.dataset.open_dataset` or
        :func:`~crossmargin.scale.partitioning.write_dataset`.
    market
        The snapshot (with its price history for ``var``/``es`` if any).
    out
        Output directory (a file for a single-file input), see :mod:`crossmargin.scale.output`.
    model
        A registered model.
    config
        Risk configuration (shipped defaults if ``None``).
    base_currency
        Reporting currency of every account (default: the snapshot's).
    executor
        Where the tasks run (default: in process, one partition at a time).
    retries
        Further attempts of a failed partition task.
    progress
        ``progress(stage, done, total)``.

    Raises
    ------
    InputError, MarketDataError, ModelError
        Bad input found before the run, or a partition that still failed for such a reason
        (the message names the partition and its account range).
    ExecutionError
        A partition that still failed for another reason (workers lost, ...).
    """
    t0 = time.perf_counter()
    cfg = config or default_config()
    model_info(model)
    ex = executor or InProcessExecutor()
    ccy = base_currency or market.base_currency
    target = ResultTarget.check(
        out, directory=not dataset.single_file, run_id=uuid.uuid4().hex[:12]
    )
    stages: dict[str, float] = {}
    retried: dict[str, int] = {}
    try:
        facts, instruments = _describe(dataset, ex, retries, progress, retried)
        t1 = time.perf_counter()
        stages["describe"] = t1 - t0
        stage = f"resolving {len(instruments)} instruments"
        if progress is not None:
            progress(stage, 0, 1)
        contracts = venue_contracts(dataset, instruments, market, cfg)
        if progress is not None:
            progress(stage, 1, 1)
        target.begin()
        t2 = time.perf_counter()
        stages["resolve"] = t2 - t1
        job = BatchJob(contracts, model, ccy, target)
        run = _run(ex, f"margining ({model})", margin_partition, job, dataset, retries, progress)
        for k, v in run.retried.items():
            retried[k] = retried.get(k, 0) + v
        if run.failures:
            raise _failure_error("margin", run, dataset, facts)
        reports = tuple(run.values[p.name] for p in dataset.partitions)
        _check_visible(reports)
        t3 = time.perf_counter()
        stages["margin"] = t3 - t2
        target.commit(
            {
                "model": model,
                "as_of": format_instant(market.as_of),
                "base_currency": ccy,
                "accounts": sum(r.accounts for r in reports),
                "positions": sum(r.positions for r in reports),
                "statuses": dict(
                    zip(
                        STATUSES,
                        (int(x) for x in np.sum([r.status_counts for r in reports], axis=0)),
                        strict=True,
                    )
                ),
            },
            [{"file": Path(r.file).name, "rows": r.accounts, "bytes": r.bytes} for r in reports],
        )
        stages["commit"] = time.perf_counter() - t3
    finally:
        target.cleanup()
    return DatasetResult(
        out=target.path,
        model=model,
        executor=ex.name,
        partitions=reports,
        retried=retried,
        seconds=time.perf_counter() - t0,
        stages=stages,
    )


def _check_visible(reports: Sequence[PartitionReport]) -> None:
    """Every reported file is where the worker said, with the size it wrote."""
    for r in reports:
        p = Path(r.file)
        size = p.stat().st_size if p.exists() else -1
        if size != r.bytes:
            raise ExecutionError(
                f"partition {r.name} was written by worker {r.worker} but the client "
                + ("cannot see the file" if size < 0 else f"sees {size} bytes, not {r.bytes}")
                + " (is the output directory on a file system shared by client and workers?)",
                path=str(p),
            )
