"""A thin asyncio face of :class:`~crossmargin.store.Store` (for the HTTP service).

Appends do not tie up a thread per caller. The appends made by all tasks of an event loop
during one loop iteration are coalesced into a single call to the group-commit writer, and the
loop is woken once when that call commits (one ``call_soon_threadsafe``, not one per append),
after which every task gets its own slice of the receipt. Hundreds of concurrent requests thus
share one transaction and cost the event loop one cross-thread wake-up. Each task's records and
events still commit atomically; if a coalesced write fails, each task's part is retried on its
own, so one bad call cannot fail the others. Reads run in the default executor.
:meth:`AsyncStore.wait_events` is woken by the writer when events are committed by this process
and polls every ``poll_interval_s`` for events written by other processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import Future
from typing import Any, Unpack

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
)
from crossmargin.store.snapshots import Snapshot, SnapshotData
from crossmargin.store.store import Store

__all__ = ["AsyncStore"]


class AsyncStore:
    """Await the store from asyncio code. Wraps (does not own) a :class:`Store`.

    Parameters
    ----------
    store
        The store; closing it stays the owner's job.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._batchers: dict[asyncio.AbstractEventLoop, _LoopBatcher] = {}

    async def _run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))

    # -- writes (no thread per call) -------------------------------------------------------
    async def submit(
        self, records: Sequence[NewRecord] = (), events: Sequence[NewEvent] = ()
    ) -> Receipt:
        """Journal records and store events atomically; returns once durable."""
        loop = asyncio.get_running_loop()
        batcher = self._batchers.get(loop)
        if batcher is None or batcher.loop.is_closed():
            self._batchers = {lp: b for lp, b in self._batchers.items() if not lp.is_closed()}
            batcher = self._batchers[loop] = _LoopBatcher(self.store, loop)
        return await batcher.add(tuple(records), tuple(events))

    async def append(
        self, kind: str, payload: Mapping[str, Any] | str | bytes, **options: Unpack[RecordOptions]
    ) -> int:
        """Journal one input; returns its seq once durable (see :meth:`Store.append`)."""
        return (await self.submit([self.store.record(kind, payload, **options)])).journal_seqs[0]

    async def append_many(self, records: Sequence[NewRecord]) -> Receipt:
        """Journal several inputs atomically; returns once durable."""
        return await self.submit(records)

    async def append_event(
        self, type: str, body: Mapping[str, Any] | str | bytes, **options: Unpack[EventOptions]
    ) -> int:
        """Store one event; returns its seq once durable (see :meth:`Store.append_event`)."""
        return (await self.submit(events=[self.store.event(type, body, **options)])).event_seqs[0]

    # -- reads (executor) -------------------------------------------------------------------
    async def journal_after(
        self,
        after: int = 0,
        *,
        limit: int = 1000,
        kinds: Collection[str] | None = None,
        account: str | None = None,
    ) -> list[JournalRecord]:
        """One page of journal records after ``after`` (see :meth:`Store.journal_after`)."""

        def page() -> list[JournalRecord]:
            return list(self.store.journal_after(after, limit=limit, kinds=kinds, account=account))

        result: list[JournalRecord] = await self._run(page)
        return result

    async def events_after(
        self,
        after: int = 0,
        *,
        account: str | None = None,
        types: Collection[str] | None = None,
        limit: int | None = None,
    ) -> list[Event]:
        """One page of events after ``after`` (see :meth:`Store.events_after`)."""
        result: list[Event] = await self._run(
            self.store.events_after, after, account=account, types=types, limit=limit
        )
        return result

    async def wait_events(
        self,
        after: int,
        *,
        account: str | None = None,
        types: Collection[str] | None = None,
        timeout: float = 15.0,
        limit: int | None = None,
    ) -> list[Event]:
        """Events after ``after``, waiting up to ``timeout`` s for the first (``[]`` if none)."""
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()

        def wake_up(_seq: int) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(wake.set)

        remove = self.store.add_event_listener(wake_up)
        try:
            deadline = time.monotonic() + max(0.0, float(timeout))
            while True:
                wake.clear()
                found = await self.events_after(after, account=account, types=types, limit=limit)
                left = deadline - time.monotonic()
                if found or left <= 0:
                    return found
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        wake.wait(), min(left, self.store.config.poll_interval_s)
                    )
        finally:
            remove()

    async def last_seq(self) -> int:
        """The journal's last committed seq."""
        result: int = await self._run(self.store.last_seq)
        return result

    async def latest_snapshot(self) -> Snapshot | None:
        """The newest complete snapshot (see :meth:`Store.latest_snapshot`)."""
        result: Snapshot | None = await self._run(self.store.latest_snapshot)
        return result

    async def write_snapshot(
        self,
        seq: int,
        data: SnapshotData,
        *,
        format: str = "application/octet-stream",
        meta: Mapping[str, Any] | str | None = None,
    ) -> SnapshotInfo:
        """Store a snapshot (see :meth:`Store.write_snapshot`)."""
        result: SnapshotInfo = await self._run(
            self.store.write_snapshot, seq, data, format=format, meta=meta
        )
        return result

    # -- API keys ---------------------------------------------------------------------------
    async def verify_api_key(self, token: str) -> ApiKey | None:
        """The active key of a bearer token, or ``None``."""
        result: ApiKey | None = await self._run(self.store.verify_api_key, token)
        return result

    async def issue_api_key(
        self, role: Role, *, account: str | None = None, feed: str | None = None, label: str = ""
    ) -> IssuedKey:
        """Issue a key (see :meth:`Store.issue_api_key`)."""
        result: IssuedKey = await self._run(
            self.store.issue_api_key, role, account=account, feed=feed, label=label
        )
        return result


class _Call:
    __slots__ = ("events", "future", "records")

    def __init__(
        self,
        records: tuple[NewRecord, ...],
        evs: tuple[NewEvent, ...],
        future: asyncio.Future[Receipt],
    ) -> None:
        self.records = records
        self.events = evs
        self.future = future


class _LoopBatcher:
    """Coalesces one event loop's appends per loop iteration (see the module docstring)."""

    def __init__(self, store: Store, loop: asyncio.AbstractEventLoop) -> None:
        self.store = store
        self.loop = loop
        self.calls: list[_Call] = []

    def add(
        self, records: tuple[NewRecord, ...], evs: tuple[NewEvent, ...]
    ) -> asyncio.Future[Receipt]:
        self.store._check_open()
        future: asyncio.Future[Receipt] = self.loop.create_future()
        if not self.calls:
            self.loop.call_soon(self.flush)
        self.calls.append(_Call(records, evs, future))
        return future

    def flush(self) -> None:
        calls = [c for c in self.calls if not c.future.done()]  # cancelled before the write
        self.calls = []
        if not calls:
            return
        records = [r for c in calls for r in c.records]
        evs = [e for c in calls for e in c.events]
        self._send(calls, records, evs)

    def _send(self, calls: list[_Call], records: list[NewRecord], evs: list[NewEvent]) -> None:
        try:
            done = self.store.submit(records, evs)
        except Exception as exc:  # the store was closed meanwhile
            for c in calls:
                if not c.future.done():
                    c.future.set_exception(exc)
            return

        def committed(f: Future[Receipt]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self.loop.call_soon_threadsafe(self._resolve, calls, f)

        done.add_done_callback(committed)

    def _resolve(self, calls: list[_Call], done: Future[Receipt]) -> None:
        exc = done.exception()
        if exc is not None:
            if len(calls) > 1:  # isolate the failing call
                for c in calls:
                    self._send([c], list(c.records), list(c.events))
                return
            if not calls[0].future.done():
                calls[0].future.set_exception(exc)
            return
        receipt = done.result()
        j = e = 0
        for c in calls:
            nj, ne = len(c.records), len(c.events)
            part = Receipt(
                receipt.journal_seqs[j : j + nj],
                receipt.event_seqs[e : e + ne],
                receipt.duplicate[j : j + nj],
            )
            j, e = j + nj, e + ne
            if not c.future.done():  # a caller cancelled after the write: it is still durable
                c.future.set_result(part)
