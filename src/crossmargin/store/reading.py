"""Reading the journal and the events: keyset pages in sequence order, streamed.

Each page is one short query (``seq > last ORDER BY seq LIMIT page``) in its own read
transaction, so a long replay never pins an old snapshot of the database (SQLite WAL
checkpoints and PostgreSQL vacuum keep running) and memory stays bounded by the page size.
Filters use the journal's ``(kind, seq)`` index and, for an account, ``journal_accounts``
up to its mark in ``store_marks`` then the journal itself after it (the writer fills that
index in sorted batches behind the journal: :mod:`crossmargin.store.writer`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from typing import Any, TypeVar

import sqlalchemy as sa

from crossmargin.errors import InputError
from crossmargin.store._db import Database, db_errors
from crossmargin.store.records import Event, JournalRecord
from crossmargin.store.schema import (
    ACCOUNT_INDEX_MARK,
    events,
    journal,
    journal_accounts,
    store_marks,
)

__all__ = [
    "account_index_mark",
    "check_after",
    "check_limit",
    "iter_events",
    "iter_journal",
    "last_seq",
]

T = TypeVar("T")


def check_after(after: object) -> int:
    """Validate an ``after`` sequence number (0 = from the start)."""
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise InputError("must be an integer >= 0", path="after")
    return after


def check_limit(limit: object) -> int | None:
    """Validate an optional ``limit`` (``None`` = no limit)."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise InputError("must be an integer >= 0 or None", path="limit")
    return limit


Pages = Callable[[int, int], sa.Select[Any]]


def _iter(
    db: Database,
    page: Pages,
    make: Callable[[Any], T],
    after: int,
    limit: int | None,
    page_size: int,
    what: str,
) -> Iterator[T]:
    """Rows of ``page(last, n)`` (the next ``n`` rows with ``seq > last``), page by page."""
    remaining = limit
    last = check_after(after)
    while remaining is None or remaining > 0:
        n = page_size if remaining is None else min(page_size, remaining)
        with db_errors(f"reading {what}"), db.read_engine.connect() as conn:
            rows = conn.execute(page(last, n)).all()
        for row in rows:
            yield make(row)
        if len(rows) < n:
            return
        last = rows[-1].seq
        if remaining is not None:
            remaining -= len(rows)


def _pages(table: sa.Table, where: list[sa.ColumnElement[bool]]) -> Pages:
    seq = table.c.seq
    return lambda last, n: sa.select(table).where(seq > last, *where).order_by(seq).limit(n)


def iter_journal(
    db: Database,
    after: int,
    *,
    limit: int | None,
    kinds: Collection[str] | None,
    account: str | None,
    page_size: int,
) -> Iterator[JournalRecord]:
    """Journal records with ``seq > after``, in order (see :meth:`Store.journal_after`)."""
    where: list[sa.ColumnElement[bool]] = []
    if kinds is not None:
        where.append(journal.c.kind.in_(sorted(set(kinds))))
    after, limit = check_after(after), check_limit(limit)
    if account is None:
        return _iter(
            db, _pages(journal, where), _journal_record, after, limit, page_size, "the journal"
        )
    return _by_account(db, account, where, after, limit, page_size)


def _by_account(
    db: Database,
    account: str,
    where: list[sa.ColumnElement[bool]],
    after: int,
    limit: int | None,
    page_size: int,
) -> Iterator[JournalRecord]:
    """An account's records: through ``journal_accounts`` up to its mark, then the tail."""
    with db_errors("reading the journal"), db.read_engine.connect() as conn:
        mark = int(conn.scalar(account_index_mark()) or 0)
    ja = journal_accounts

    def indexed(last: int, n: int) -> sa.Select[Any]:
        return (
            sa.select(journal)
            .join(ja, ja.c.seq == journal.c.seq)
            .where(ja.c.account == account, ja.c.seq > last, ja.c.seq <= mark, *where)
            .order_by(ja.c.seq)
            .limit(n)
        )

    last = after
    if after < mark:
        for rec in _iter(db, indexed, _journal_record, after, limit, page_size, "the journal"):
            yield rec
            last = rec.seq
            if limit is not None:
                limit -= 1
    tail = _pages(journal, [journal.c.account == account, *where])
    yield from _iter(db, tail, _journal_record, max(last, mark), limit, page_size, "the journal")


def account_index_mark() -> sa.Select[Any]:
    """The query of the journal seq up to which ``journal_accounts`` is complete."""
    return sa.select(store_marks.c.seq).where(store_marks.c.name == ACCOUNT_INDEX_MARK)


def _journal_record(row: Any) -> JournalRecord:
    return JournalRecord(*row)


def iter_events(
    db: Database,
    after: int,
    *,
    limit: int | None,
    account: str | None,
    types: Collection[str] | None,
    page_size: int,
) -> Iterator[Event]:
    """Events with ``seq > after``, in order (see :meth:`Store.events_after`)."""
    where: list[sa.ColumnElement[bool]] = []
    if account is not None:
        where.append(events.c.account == account)
    if types is not None:
        where.append(events.c.type.in_(sorted(set(types))))
    return _iter(
        db, _pages(events, where), _event, after, check_limit(limit), page_size, "the events"
    )


def _event(row: Any) -> Event:
    return Event(*row)


def last_seq(db: Database, table: sa.Table) -> int:
    """Highest committed seq of ``journal`` or ``events`` (0 if empty)."""
    with db_errors(f"reading the last seq of {table.name}"), db.read_engine.connect() as conn:
        return int(conn.scalar(sa.select(sa.func.max(table.c.seq))) or 0)


def max_cause(db: Database) -> int:
    """``cause_seq`` of the newest event that has one (0 if none).

    The engine emits events in input order, so this is the highest cause; reading it from the
    newest events walks the primary key backwards instead of scanning the table.
    """
    query = (
        sa.select(events.c.cause_seq)
        .where(events.c.cause_seq.is_not(None))
        .order_by(events.c.seq.desc())
        .limit(1)
    )
    with db_errors("reading the events' causes"), db.read_engine.connect() as conn:
        return int(conn.scalar(query) or 0)
