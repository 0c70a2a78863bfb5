"""The store: one object over the journal, snapshots, events and API keys of one database."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Unpack

from crossmargin.errors import InputError, StoreError
from crossmargin.store import migrate, reading
from crossmargin.store._db import Database, normalize_url
from crossmargin.store.config import StoreConfig
from crossmargin.store.keys import KeyRing
from crossmargin.store.records import (
    ApiKey,
    Event,
    EventOptions,
    IssuedKey,
    JournalRecord,
    NewEvent,
    NewRecord,
    Receipt,
    RecordOptions,
    Role,
    SnapshotInfo,
    check_name,
)
from crossmargin.store.schema import events, journal
from crossmargin.store.snapshots import Snapshot, SnapshotData, SnapshotWriter
from crossmargin.store.writer import GroupCommitWriter

__all__ = ["Recovery", "Store", "upgrade"]


def upgrade(db: str | Path, *, revision: str = "head") -> str | None:
    """Migrate the store schema of ``db`` to ``revision`` without opening a store.

    :meth:`Store.open` does this itself; use this for an explicit, logged migration step of a
    deployment (e.g. before starting several service workers). Returns the revision reached.

    Raises
    ------
    InputError
        Unusable database path or URL.
    StoreError
        The database is unreachable, newer than this version, or the migration failed.
    """
    database = Database(normalize_url(db), StoreConfig())
    try:
        return migrate.upgrade(database, revision)
    finally:
        database.dispose()


@dataclass(frozen=True, slots=True)
class Recovery:
    """What the engine needs to rebuild its state after a restart.

    Attributes
    ----------
    snapshot
        The newest complete snapshot, or ``None`` (start from an empty state).
    records
        Journal records after the snapshot's seq up to ``last_seq``, in order (streamed).
    last_seq
        The journal's last seq when recovery started; records appended later are not included.
    """

    snapshot: Snapshot | None
    records: Iterator[JournalRecord]
    last_seq: int

    @property
    def from_seq(self) -> int:
        """Seq the replay starts after (the snapshot's, or 0)."""
        return self.snapshot.seq if self.snapshot is not None else 0


class Store:
    """Durable journal, snapshots, events and API keys over SQLite (WAL) or PostgreSQL.

    Open with :meth:`open`; use as a context manager or call :meth:`close`. Thread-safe: any
    thread may append or read; appends from concurrent callers are group-committed by one writer
    thread (see :mod:`crossmargin.store.writer`). Every append returns only once durable.

    Parameters
    ----------
    db
        A plain path (SQLite file, created if missing) or a URL: ``sqlite:///PATH``,
        ``postgresql://user@host:port/db`` (psycopg 3).
    config
        Durability and tuning options.
    upgrade
        Bring the schema to the newest revision on open (default). With ``False`` the store
        refuses a database that is not at the newest revision.

    Raises
    ------
    InputError
        Unusable database path or URL.
    StoreError
        The database cannot be reached or migrated, or its schema is newer than this version.
    """

    def __init__(
        self, db: str | Path, *, config: StoreConfig | None = None, upgrade: bool = True
    ) -> None:
        self.config = config or StoreConfig()
        self._db = Database(normalize_url(db), self.config)
        try:
            if upgrade:
                migrate.upgrade(self._db)
            revision = migrate.current_revision(self._db)
            if revision != migrate.HEAD_REVISION:
                raise StoreError(
                    f"database schema is at revision {revision}, this version needs "
                    f"{migrate.HEAD_REVISION}: open with upgrade=True",
                    path="store",
                )
        except BaseException:
            self._db.dispose()
            raise
        self._event_cond = threading.Condition()
        self._last_event_seen = 0
        self._listeners: list[Callable[[int], None]] = []
        self._writer = GroupCommitWriter(
            self._db,
            max_batch=self.config.max_batch,
            on_commit=self._events_committed,
            index_lag=self.config.account_index_lag,
            index_idle_s=self.config.account_index_idle_s,
        )
        self._snapshots = SnapshotWriter(self._db)
        self._keys = KeyRing(self._db)
        self._closed = False
        self._pid = os.getpid()

    @classmethod
    def open(
        cls, db: str | Path, *, config: StoreConfig | None = None, upgrade: bool = True
    ) -> Store:
        """Open (creating or migrating if needed) the store at ``db``; see :class:`Store`."""
        return cls(db, config=config, upgrade=upgrade)

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return self._db.display_url

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._db.backend

    def close(self) -> None:
        """Commit queued appends, stop the writer and close all connections. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        self._db.dispose()
        with self._event_cond:
            self._event_cond.notify_all()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stats(self) -> dict[str, int]:
        """Group-commit statistics: transactions and rows written by this store's writer."""
        return {"batches": self._writer.batches, "rows": self._writer.rows}

    # -- journal: write -------------------------------------------------------------------
    def record(
        self, kind: str, payload: Mapping[str, Any] | str | bytes, **options: Unpack[RecordOptions]
    ) -> NewRecord:
        """Build a validated :class:`NewRecord` (same arguments) with this store's size limit."""
        return NewRecord(kind, payload, max_payload_bytes=self.config.max_payload_bytes, **options)

    def append(
        self, kind: str, payload: Mapping[str, Any] | str | bytes, **options: Unpack[RecordOptions]
    ) -> int:
        """Journal one input; returns its seq once it is durable.

        Parameters
        ----------
        kind
            What the input is (``market``, ``trade``, ``deposit`` …).
        payload
            The input as a JSON object (mapping, or its JSON text kept verbatim).
        **options
            ``source`` (feed or channel id), ``account``, ``idempotency_key`` (a repeat returns
            the first record's seq and writes nothing; :meth:`submit`'s receipt tells that it
            was one), ``received_ns``: see :class:`NewRecord`.

        Raises
        ------
        InputError
            Invalid field (named in the error); nothing is written.
        StoreError
            The write failed; the input is not acknowledged.
        """
        return self._wait(self.submit([self.record(kind, payload, **options)])).journal_seqs[0]

    def append_many(self, records: Sequence[NewRecord]) -> Receipt:
        """Journal several inputs atomically (all or none), in order; returns once durable."""
        return self._wait(self.submit(records))

    def submit(
        self,
        records: Sequence[NewRecord] = (),
        events: Sequence[NewEvent] = (),
        *,
        new_keys: bool = False,
    ) -> Future[Receipt]:
        """Queue records and events as one atomic write without waiting.

        The future resolves with the :class:`Receipt` after the commit (or raises
        :class:`StoreError`). A caller that pipelines (submits many, then waits) lets the writer
        batch even from one thread. Cancelling the future before the writer takes it withdraws
        the write.

        ``new_keys=True``: the caller vouches that none of the records' idempotency keys is
        journaled yet (the live engine holds every key it journaled), so the writer skips
        looking them up; a repeated key then fails the whole call on the journal's unique
        index instead of being acknowledged as a duplicate.
        """
        self._check_open()
        for i, rec in enumerate(records):
            if not isinstance(rec, NewRecord):
                raise InputError(
                    f"must be a NewRecord, got {type(rec).__name__}", path=f"records[{i}]"
                )
        for i, ev in enumerate(events):
            if not isinstance(ev, NewEvent):
                raise InputError(
                    f"must be a NewEvent, got {type(ev).__name__}", path=f"events[{i}]"
                )
        return self._writer.submit(records, events, new_keys=new_keys)

    @staticmethod
    def _wait(future: Future[Receipt]) -> Receipt:
        return future.result()

    # -- journal: read --------------------------------------------------------------------
    def journal_after(
        self,
        after: int = 0,
        *,
        limit: int | None = None,
        kinds: Collection[str] | None = None,
        account: str | None = None,
    ) -> Iterator[JournalRecord]:
        """Stream journal records with ``seq > after`` in seq order.

        Parameters
        ----------
        after
            Last seq already seen (0: from the start).
        limit
            Most records to return (``None``: all).
        kinds
            Only these kinds.
        account
            Only records of this account.
        """
        self._check_open()
        reading.check_after(after)
        reading.check_limit(limit)
        kinds = self._check_names(kinds, "kinds")
        check_name(account, path="account", optional=True)
        return reading.iter_journal(
            self._db,
            after,
            limit=limit,
            kinds=kinds,
            account=account,
            page_size=self.config.page_size,
        )

    def last_seq(self) -> int:
        """The journal's last committed seq (0 when empty)."""
        self._check_open()
        return reading.last_seq(self._db, journal)

    # -- events ---------------------------------------------------------------------------
    def event(
        self, type: str, body: Mapping[str, Any] | str | bytes, **options: Unpack[EventOptions]
    ) -> NewEvent:
        """Build a validated :class:`NewEvent` (same arguments) with this store's size limit."""
        return NewEvent(type, body, max_payload_bytes=self.config.max_payload_bytes, **options)

    def append_event(
        self, type: str, body: Mapping[str, Any] | str | bytes, **options: Unpack[EventOptions]
    ) -> int:
        """Store one engine event; returns its seq once durable (see :class:`NewEvent`)."""
        return self._wait(self.submit(events=[self.event(type, body, **options)])).event_seqs[0]

    def append_events(self, events: Sequence[NewEvent]) -> Receipt:
        """Store several events atomically, in order; returns once durable."""
        return self._wait(self.submit(events=events))

    def events_after(
        self,
        after: int = 0,
        *,
        account: str | None = None,
        types: Collection[str] | None = None,
        limit: int | None = None,
    ) -> list[Event]:
        """Events with ``seq > after`` in seq order (``GET /v1/events?after=SEQ``).

        ``limit`` defaults to ``page_size`` rows; pass ``None`` explicitly via
        :meth:`iter_events` to stream them all.
        """
        return list(
            self.iter_events(
                after,
                account=account,
                types=types,
                limit=self.config.page_size if limit is None else limit,
            )
        )

    def iter_events(
        self,
        after: int = 0,
        *,
        account: str | None = None,
        types: Collection[str] | None = None,
        limit: int | None = None,
    ) -> Iterator[Event]:
        """Stream events with ``seq > after`` in seq order (all of them by default)."""
        self._check_open()
        reading.check_after(after)
        reading.check_limit(limit)
        check_name(account, path="account", optional=True)
        types = self._check_names(types, "types")
        return reading.iter_events(
            self._db,
            after,
            limit=limit,
            account=account,
            types=types,
            page_size=self.config.page_size,
        )

    def last_event_seq(self) -> int:
        """The last committed event seq (0 when none)."""
        self._check_open()
        return reading.last_seq(self._db, events)

    def last_event_cause(self) -> int:
        """``cause_seq`` of the newest event that has one (0 when none).

        After recovery, events for journal records up to this seq were already stored; the
        engine replays those records without emitting their events again.
        """
        self._check_open()
        return reading.max_cause(self._db)

    def wait_events(
        self,
        after: int,
        *,
        account: str | None = None,
        types: Collection[str] | None = None,
        timeout: float = 1.0,
        limit: int | None = None,
    ) -> list[Event]:
        """Events after ``after``, waiting up to ``timeout`` seconds for the first one.

        Events appended through this store wake the waiter at once; events appended by other
        processes are seen within ``poll_interval_s``. Returns ``[]`` on timeout.
        """
        deadline = time.monotonic() + max(0.0, float(timeout))
        while True:
            with self._event_cond:
                seen = self._last_event_seen
            found = self.events_after(after, account=account, types=types, limit=limit)
            left = deadline - time.monotonic()
            if found or left <= 0 or self._closed:
                return found
            with self._event_cond:
                if self._last_event_seen == seen:
                    self._event_cond.wait(min(left, self.config.poll_interval_s))

    def add_event_listener(self, listener: Callable[[int], None]) -> Callable[[], None]:
        """Register ``listener(last_event_seq)``, called after each commit of events.

        It runs in the writer thread: keep it short. Returns a function that removes it.
        """
        with self._event_cond:
            self._listeners.append(listener)

        def remove() -> None:
            with self._event_cond:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return remove

    def _events_committed(self, last: int) -> None:
        with self._event_cond:
            self._last_event_seen = max(self._last_event_seen, last)
            listeners = list(self._listeners)
            self._event_cond.notify_all()
        for listener in listeners:
            listener(last)

    # -- snapshots ------------------------------------------------------------------------
    def write_snapshot(
        self,
        seq: int,
        data: SnapshotData,
        *,
        format: str = "application/octet-stream",
        meta: Mapping[str, Any] | str | None = None,
        prune: bool = True,
    ) -> SnapshotInfo:
        """Store the engine's state as of journal seq ``seq``; returns once durable.

        Parameters
        ----------
        seq
            The state is the result of applying journal records ``1..seq`` (must be journaled).
        data
            Opaque bytes, or a mapping of part name → bytes (e.g. one Arrow IPC stream per
            table). Stored chunked and checksummed.
        format
            Your label of the encoding, returned as is.
        meta
            A small JSON object stored with it (engine version, per-feed seqs …).
        prune
            Afterwards delete old snapshots per ``keep_snapshots``.
        """
        self._check_open()
        info = self._snapshots.write(
            seq, data, format=format, meta=meta if meta is not None else {}
        )
        if prune:
            self.prune_snapshots()
        return info

    def snapshots(self) -> list[SnapshotInfo]:
        """Complete snapshots, newest first."""
        self._check_open()
        return self._snapshots.infos()

    def latest_snapshot(self) -> Snapshot | None:
        """The newest complete snapshot with its bytes (checked), or ``None``."""
        self._check_open()
        infos = self._snapshots.infos(limit=1)
        return self._snapshots.read(infos[0]) if infos else None

    def read_snapshot(self, snapshot_id: int) -> Snapshot:
        """A complete snapshot by id, with its bytes (checked)."""
        self._check_open()
        infos = self._snapshots.infos(snapshot_id=snapshot_id)
        if not infos:
            raise InputError(f"no complete snapshot {snapshot_id}", path="snapshot_id")
        return self._snapshots.read(infos[0])

    def iter_snapshot_part(self, info: SnapshotInfo, name: str) -> Iterator[bytes]:
        """Stream one part of a snapshot chunk by chunk (for states too large to hold twice).

        The checksum is verified at the end: a :class:`StoreError` then means discard what was
        read.
        """
        self._check_open()
        return self._snapshots.iter_part(info, name)

    def prune_snapshots(self, keep: int | None = None) -> int:
        """Delete old snapshots; returns how many.

        Keeps the newest ``keep`` (default ``keep_snapshots``; 0 keeps all) and deletes
        incomplete ones abandoned by a crashed writer.
        """
        self._check_open()
        keep = self.config.keep_snapshots if keep is None else keep
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
            raise InputError("must be an integer >= 0", path="keep")
        return self._snapshots.prune(keep=keep, grace_s=self.config.incomplete_grace_s)

    def recover(self) -> Recovery:
        """The newest snapshot plus the journal after it: replay to rebuild the state."""
        self._check_open()
        last = self.last_seq()
        snap = self.latest_snapshot()
        start = snap.seq if snap is not None else 0
        records = self.journal_after(start, limit=max(0, last - start))
        return Recovery(snapshot=snap, records=records, last_seq=last)

    # -- API keys -------------------------------------------------------------------------
    def issue_api_key(
        self, role: Role, *, account: str | None = None, feed: str | None = None, label: str = ""
    ) -> IssuedKey:
        """Issue a key (``admin``, ``feed`` — optionally bound to one feed — or ``account``).

        The returned :attr:`IssuedKey.token` is the only copy of the secret; the store keeps
        its SHA-256 (see :mod:`crossmargin.store.keys` for why that is the right hash here).
        """
        self._check_open()
        return self._keys.issue(role, account=account, feed=feed, label=label)

    def verify_api_key(self, token: str) -> ApiKey | None:
        """The active key a bearer token belongs to, or ``None`` (constant-time comparison)."""
        self._check_open()
        return self._keys.verify(token)

    def revoke_api_key(self, key_id: str) -> bool:
        """Revoke a key by id; ``False`` if there was no such active key."""
        self._check_open()
        return self._keys.revoke(key_id)

    def api_keys(
        self, *, account: str | None = None, include_revoked: bool = False
    ) -> list[ApiKey]:
        """Issued keys (never their secrets), oldest first."""
        self._check_open()
        return self._keys.list(account=account, include_revoked=include_revoked)

    # -- helpers --------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the store is closed", path="store")
        if os.getpid() != self._pid:
            # After fork() the writer thread and the pooled connections belong to the parent.
            raise StoreError(
                "this store was opened in another process (before a fork): open one per process",
                path="store",
            )

    @staticmethod
    def _check_names(values: Collection[str] | None, path: str) -> Collection[str] | None:
        if values is None:
            return None
        if isinstance(values, str):
            raise InputError("must be a collection of names, not one string", path=path)
        for i, v in enumerate(values):
            check_name(v, path=f"{path}[{i}]")
        return values
