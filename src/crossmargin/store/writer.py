"""Group commit: one writer thread turns many concurrent appends into one transaction.

Appenders (threads, or asyncio tasks through :class:`~crossmargin.store.AsyncStore`) put their
records on a queue and wait on a future. The writer takes everything queued (up to
``max_batch`` rows, never splitting one call), assigns the next journal and event sequence
numbers under the write lock, inserts the rows with one ``executemany`` per table and commits.
Only after the commit returns — durable per the backend's sync setting — are the futures
resolved: an acknowledged record is on disk. No artificial delay is added: while one commit
(and its fsync) is in progress the next batch forms by itself, so batches grow with the load
and a lone appender pays one commit.

Sequence numbers are ``max(seq) + 1`` read inside the write transaction, so a committed journal
has no gaps (a failed batch commits nothing and consumes nothing) and several processes can
share a database. If a batch fails, its calls are retried one by one so that one bad call
cannot fail its neighbours; each call either commits whole or fails whole.

**The account index** (``journal_accounts``) is not written with the rows: an index entry per
appended row lands at a random page of a B-tree over all accounts, and that insert was most of
an account input's write cost. Once ``account_index_lag`` records are unindexed — or after
``account_index_idle_s`` without appends, or on close — the writer indexes them in one
transaction of its own, ``INSERT … SELECT`` from the journal sorted by account (each index
page written once per batch), and moves the ``store_marks`` row up to the last indexed seq;
acknowledgements never wait for it. Readers take the records after the mark from the journal
itself (:mod:`crossmargin.store.reading`), so a read by account is complete at any lag, and
a crash between an append and its indexing loses nothing: the mark only moves in the
transaction that wrote the index rows.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

import sqlalchemy as sa

from crossmargin.errors import StoreError
from crossmargin.store._db import Database, db_errors
from crossmargin.store.reading import account_index_mark
from crossmargin.store.records import NewEvent, NewRecord, Receipt
from crossmargin.store.schema import (
    ACCOUNT_INDEX_MARK,
    events,
    journal,
    journal_accounts,
    store_marks,
)

__all__ = ["GroupCommitWriter"]

_log = logging.getLogger(__name__)
_IN_CHUNK = 500  # keys per IN (...) lookup: well under SQLite's bound-variable limit
_ROWS_PER_STATEMENT = 200  # 7 columns x 200 rows = 1 400 parameters per statement


def _number_keyed(
    records: tuple[NewRecord, ...],
    seq: int,
    existing: dict[str, int],
    rows: list[tuple[Any, ...]],
) -> tuple[tuple[int, ...], tuple[bool, ...], int]:
    """Number records some of which carry idempotency keys; a known key is not written again."""
    seqs: list[int] = []
    duplicate: list[bool] = []
    for rec in records:
        key = rec.idempotency_key
        if key is not None and key in existing:
            seqs.append(existing[key])
            duplicate.append(True)
            continue
        duplicate.append(False)
        seq += 1
        if key is not None:
            existing[key] = seq
        seqs.append(seq)
        rows.append((seq, rec.kind, rec.source, rec.account, key, rec.payload, rec.received_ns))
    return tuple(seqs), tuple(duplicate), seq


class _Pending:
    __slots__ = ("events", "future", "new_keys", "records", "size")

    def __init__(
        self,
        records: tuple[NewRecord, ...],
        evs: tuple[NewEvent, ...],
        future: Future[Receipt],
        new_keys: bool = False,
    ) -> None:
        self.records = records
        self.events = evs
        self.future = future
        self.new_keys = new_keys
        self.size = len(records) + len(evs)


class GroupCommitWriter:
    """The store's single writer thread (see the module docstring).

    Parameters
    ----------
    db
        The database.
    max_batch
        Most rows per transaction (a larger single call still goes whole).
    on_commit
        Called in the writer thread after each commit that wrote events, with the last event
        seq (wakes :meth:`~crossmargin.store.Store.wait_events`).
    index_lag, index_idle_s
        When the account index catches up (module docstring).
    """

    def __init__(
        self,
        db: Database,
        *,
        max_batch: int,
        on_commit: Callable[[int], None] | None = None,
        index_lag: int = 20_000,
        index_idle_s: float = 0.5,
    ) -> None:
        self._db = db
        self._max_batch = max_batch
        self._index_lag = index_lag
        self._index_idle_s = index_idle_s
        #: Last journal seq this writer committed, and the account index's mark as last seen
        #: (``None``: not read yet); the index is brought up when they are far apart.
        self._journal_last = 0
        self._indexed: int | None = None
        self._on_commit = on_commit
        self._cond = threading.Condition()
        self._queue: deque[_Pending] = deque()
        self._sql: dict[tuple[str, int], str] = {}
        self._closing = False
        self.batches = 0  # statistics: transactions committed and rows written
        self.rows = 0
        self._thread = threading.Thread(
            target=self._run, name="crossmargin-store-writer", daemon=True
        )
        self._thread.start()

    def submit(
        self,
        records: Sequence[NewRecord] = (),
        evs: Sequence[NewEvent] = (),
        *,
        new_keys: bool = False,
    ) -> Future[Receipt]:
        """Queue one atomic call; the future resolves with its :class:`Receipt` once committed.

        ``new_keys``: the caller guarantees that its records' idempotency keys are not in the
        journal (it keeps them all), so they are not looked up; a repeat still fails the call
        on the unique index.

        Raises
        ------
        StoreError
            The store is closed.
        """
        future: Future[Receipt] = Future()
        pending = _Pending(tuple(records), tuple(evs), future, new_keys)
        if not pending.size:
            future.set_result(Receipt())
            return future
        with self._cond:
            if self._closing:
                raise StoreError("the store is closed", path="store")
            self._queue.append(pending)
            self._cond.notify()
        return future

    def close(self, timeout: float | None = None) -> None:
        """Commit what is queued, then stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)

    # -- the writer thread ----------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    if self._journal_last <= (self._indexed or 0):
                        self._cond.wait()
                    elif not self._cond.wait(self._index_idle_s) and not self._queue:
                        break  # idle with an unindexed tail
                closing = self._closing
                batch: list[_Pending] = []
                rows = 0
                while self._queue and (not batch or rows + self._queue[0].size <= self._max_batch):
                    pending = self._queue.popleft()
                    if pending.future.set_running_or_notify_cancel():  # else: cancelled, unwritten
                        batch.append(pending)
                        rows += pending.size
                empty = not self._queue
            if batch:
                try:
                    self._commit(batch)
                except BaseException as exc:  # never leave a caller waiting forever
                    _log.exception("store writer failed")
                    error = StoreError(f"append failed: {exc}", path="store")
                    for pending in batch:
                        if not pending.future.done():
                            pending.future.set_exception(error)
            if self._indexed is None and self._journal_last:
                self._indexed = self._read_mark()
            behind = self._journal_last - (self._indexed or 0)
            if behind >= self._index_lag or (behind > 0 and empty and not batch):
                self._index_accounts()  # far behind, idle, or closing
            if closing and empty:
                return

    def _read_mark(self) -> int:
        """The account index's mark in the database (0 when unreadable: index from scratch)."""
        try:
            with db_errors("reading the account index mark"), self._db.read_engine.connect() as c:
                return int(c.scalar(account_index_mark()) or 0)
        except StoreError:
            _log.exception("reading the account index mark failed")
            return 0

    def _index_accounts(self) -> None:
        """Index the journal records after the mark by account, in one sorted batch.

        A failure is logged and retried after the next ``index_lag`` records (reads stay
        complete: they scan the journal after the mark).
        """
        try:
            with (
                db_errors("indexing the journal by account"),
                self._db.begin_write(sequenced=True) as conn,
            ):
                mark = conn.scalar(account_index_mark())
                last = int(conn.scalar(sa.select(sa.func.max(journal.c.seq))) or 0)
                done = int(mark or 0)
                if last > done:
                    source = (
                        sa.select(journal.c.account, journal.c.seq)
                        .where(
                            journal.c.seq > done,
                            journal.c.seq <= last,
                            journal.c.account.is_not(None),
                        )
                        .order_by(journal.c.account, journal.c.seq)
                    )
                    conn.execute(journal_accounts.insert().from_select(["account", "seq"], source))
                if mark is None:
                    conn.execute(store_marks.insert().values(name=ACCOUNT_INDEX_MARK, seq=last))
                elif last > done:
                    conn.execute(
                        store_marks.update()
                        .where(store_marks.c.name == ACCOUNT_INDEX_MARK)
                        .values(seq=last)
                    )
            self._indexed = max(last, done)
            self._journal_last = max(self._journal_last, last)
        except Exception:
            _log.exception("indexing the journal by account failed")
            self._indexed = self._journal_last  # retried after the next index_lag records

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            receipts = self._write(batch)
        except Exception as exc:
            if len(batch) > 1:
                _log.warning(
                    "group commit of %d calls failed (%s); retrying one by one", len(batch), exc
                )
                for pending in batch:
                    self._commit([pending])
                return
            error = (
                exc
                if isinstance(exc, StoreError)
                else StoreError(f"append failed: {exc}", path="store")
            )
            batch[0].future.set_exception(error)
            return
        last_event = 0
        for pending, receipt in zip(batch, receipts, strict=True):
            pending.future.set_result(receipt)
            if receipt.event_seqs:
                last_event = max(last_event, receipt.event_seqs[-1])
        if last_event and self._on_commit is not None:
            try:
                self._on_commit(last_event)
            except Exception:  # a listener must never stop the writer
                _log.exception("event listener failed")

    def _write(self, batch: list[_Pending]) -> list[Receipt]:
        n_records = sum(len(p.records) for p in batch)
        n_events = sum(len(p.events) for p in batch)
        with db_errors("journal append"), self._db.begin_write(sequenced=True) as conn:
            seq = (conn.scalar(sa.select(sa.func.max(journal.c.seq))) or 0) if n_records else 0
            eseq = (conn.scalar(sa.select(sa.func.max(events.c.seq))) or 0) if n_events else 0
            keyed = any(
                r.idempotency_key is not None for p in batch if not p.new_keys for r in p.records
            )
            existing = self._existing_keys(conn, batch) if keyed else {}
            journal_rows: list[tuple[Any, ...]] = []
            event_rows: list[tuple[Any, ...]] = []
            receipts: list[Receipt] = []
            for pending in batch:
                if keyed:
                    seqs, duplicate, seq = _number_keyed(
                        pending.records, seq, existing, journal_rows
                    )
                else:  # the common case: consecutive numbers, no lookups
                    first = seq + 1
                    seq += len(pending.records)
                    seqs = tuple(range(first, seq + 1))
                    duplicate = (False,) * len(seqs)
                    journal_rows.extend(
                        (
                            n,
                            r.kind,
                            r.source,
                            r.account,
                            r.idempotency_key,
                            r.payload,
                            r.received_ns,
                        )
                        for n, r in zip(seqs, pending.records, strict=True)
                    )
                first = eseq + 1
                eseq += len(pending.events)
                event_seqs = tuple(range(first, eseq + 1))
                event_rows.extend(
                    (n, e.time_ns, e.type, e.account, e.cause_seq, e.body)
                    for n, e in zip(event_seqs, pending.events, strict=True)
                )
                receipts.append(Receipt(seqs, event_seqs, duplicate))
            if journal_rows:
                self._insert_many(conn, journal, journal_rows)
            if event_rows:
                self._insert_many(conn, events, event_rows)
        if journal_rows:
            self._journal_last = max(self._journal_last, seq)
        self.batches += 1
        self.rows += len(journal_rows) + len(event_rows)
        return receipts

    def _insert_many(
        self, conn: sa.Connection, table: sa.Table, rows: list[tuple[Any, ...]]
    ) -> None:
        """Insert plain tuples (all columns, in table order) through the driver: the hot path.

        SQLite: multi-row ``INSERT … VALUES (…), (…), …`` of up to ``_ROWS_PER_STATEMENT`` rows.
        pysqlite releases the GIL around every ``sqlite3_step``; with one step per row, a
        writer competing with many producer threads waited for the GIL once per row (a
        convoy), while one statement per few hundred rows is also faster single-threaded.
        PostgreSQL: one ``executemany``, which psycopg 3 pipelines in a single round trip.
        SQLAlchemy's per-row processing of parameter dicts is skipped in both cases.
        """
        names = [c.name for c in table.columns]
        if self._db.backend != "sqlite":
            sql = self._sql.get((table.name, 0))
            if sql is None:
                sql = self._sql[(table.name, 0)] = str(table.insert().compile(dialect=conn.dialect))
            conn.exec_driver_sql(sql, [dict(zip(names, row, strict=True)) for row in rows])
            return
        for i in range(0, len(rows), _ROWS_PER_STATEMENT):
            chunk = rows[i : i + _ROWS_PER_STATEMENT]
            sql = self._sql.get((table.name, len(chunk)))
            if sql is None:
                one = "(" + ", ".join("?" * len(names)) + ")"
                sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES " + ", ".join(
                    [one] * len(chunk)
                )
                self._sql[(table.name, len(chunk))] = sql
            conn.exec_driver_sql(sql, tuple(itertools.chain.from_iterable(chunk)))

    @staticmethod
    def _existing_keys(conn: sa.Connection, batch: list[_Pending]) -> dict[str, int]:
        keys = sorted(
            {
                r.idempotency_key
                for p in batch
                if not p.new_keys
                for r in p.records
                if r.idempotency_key
            }
        )
        found: dict[str, int] = {}
        col = journal.c.idempotency_key
        for i in range(0, len(keys), _IN_CHUNK):
            rows = conn.execute(
                sa.select(col, journal.c.seq).where(col.in_(keys[i : i + _IN_CHUNK]))
            ).all()
            found.update({str(k): int(s) for k, s in rows})
        return found
