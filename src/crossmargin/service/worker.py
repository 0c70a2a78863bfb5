"""The single writer: one thread owns the live engine; requests reach it through an inbox.

The engine is an in-memory, single-writer state machine (:class:`~crossmargin.live.LiveEngine`).
The service never calls it from the event loop or from several threads. Instead::

    request handlers (event loop) ──► inbox (deque + condition) ──► engine thread
          ▲  await an asyncio future                                   │ takes everything queued
          │                                                            │ consecutive inputs → one
          │                                                            │   engine.apply_many (one
          │                                                            │   group commit, one fsync)
          └──── one call_soon_threadsafe per group: futures resolved, ◄┘ reads (what-if, margin
                events published to the hub                              JSON, table) in order

* **Durability.** ``apply_many`` returns after the journal commit, so an input's future — and
  the HTTP answer — resolves only when it is durable: a 2xx means journaled.
* **Group commit across requests.** While the engine thread applies one group, new requests
  queue; the next group takes all of them and pays one journal commit. Under load the commit
  cost is shared by many requests; a lone request pays one commit.
* **Order.** Commands run in arrival order, so a client that awaited a trade's answer and then
  reads its account sees the trade (read-your-writes).
* **Reads** (margin JSON, what-if, explain, the account table) run on the engine thread
  between groups: they see a consistent state and never race a write. The account table is a
  copy of columns (:meth:`~crossmargin.live.LiveEngine.account_table`) that handlers sort and
  page outside the engine thread.

If the journal fails, the engine closes itself (nothing of that group is acknowledged); the
worker then answers every request with :class:`~crossmargin.errors.StoreError` (503) until the
service is restarted, which recovers from the journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from crossmargin.errors import StoreError
from crossmargin.live.engine import LiveEngine
from crossmargin.live.events import Event
from crossmargin.live.records import MarketUpdate, Update
from crossmargin.live.results import Ack
from crossmargin.service.hub import EventHub, HubEvent

__all__ = ["EngineWorker"]

log = logging.getLogger("crossmargin.service")

T = TypeVar("T")

#: Most inputs applied in one group (one journal transaction).
MAX_GROUP = 4096


@dataclass(slots=True)
class _Write:
    updates: Sequence[Update]
    received_ns: int
    received_wall_ms: int
    future: asyncio.Future[tuple[list[Ack], Any]]
    check: Callable[[LiveEngine], None] | None = None
    then: Callable[[LiveEngine, list[Ack]], Any] | None = None


@dataclass(slots=True)
class _Read:
    fn: Callable[[LiveEngine], Any]
    future: asyncio.Future[Any]
    publish: Callable[[Any], Sequence[Event]] | None = None  # events of the result


@dataclass(slots=True)
class _Done:
    """Results of one group, handed back to the event loop in one call."""

    results: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = field(
        default_factory=list
    )
    events: list[tuple[Event, int | None]] = field(default_factory=list)
    tick_latency_s: list[float] = field(default_factory=list)
    ack_latency_s: list[float] = field(default_factory=list)


class EngineWorker:
    """Owns the engine on one thread (module docstring).

    Parameters
    ----------
    engine
        The opened engine; the worker closes it on :meth:`stop`.
    hub
        Where events are published.
    loop
        The service's event loop.
    """

    def __init__(self, engine: LiveEngine, hub: EventHub, loop: asyncio.AbstractEventLoop) -> None:
        self.engine = engine
        self.hub = hub
        self.loop = loop
        self._inbox: deque[_Write | _Read] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self.failed: str | None = None
        self.groups = 0
        self.inputs = 0
        self._thread = threading.Thread(target=self._run, name="crossmargin-engine", daemon=True)

    def start(self) -> None:
        """Start the engine thread."""
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish what is queued, then close the engine (a final snapshot)."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout)

    # -- event-loop side ---------------------------------------------------------------------------
    async def apply(
        self,
        updates: Sequence[Update],
        received: tuple[int, int],
        *,
        check: Callable[[LiveEngine], None] | None = None,
        then: Callable[[LiveEngine, list[Ack]], T] | None = None,
    ) -> tuple[list[Ack], T | None]:
        """Apply inputs (validated records) in order; returns once they are journaled.

        ``check(engine)`` runs on the engine thread just before: an exception it raises is the
        answer and nothing is journaled (e.g. 404 for an unknown account). ``then(engine,
        acks)`` runs right after, before anything else changes the state (e.g. the account's
        new numbers); its result is returned with the acknowledgements.
        """
        fut: asyncio.Future[tuple[list[Ack], Any]] = self.loop.create_future()
        self._put(_Write(updates, received[0], received[1], fut, check, then))
        return await fut

    async def read(
        self,
        fn: Callable[[LiveEngine], T],
        *,
        publish: Callable[[T], Sequence[Event]] | None = None,
    ) -> T:
        """Run ``fn(engine)`` on the engine thread (between writes) and return its result.

        ``publish(result)``: events the call caused (a clock step, a sweep), for the streams.
        """
        fut: asyncio.Future[T] = self.loop.create_future()
        self._put(_Read(fn, fut, publish))
        return await fut

    async def advance_clock(self, now: datetime) -> list[Event]:
        """Move the engine clock (a journaled clock input); its events are published."""

        def step(engine: LiveEngine) -> list[Event]:
            if now <= engine.clock:
                return []
            return engine.advance_clock(now)

        return await self.read(step, publish=lambda events: events)

    def _put(self, cmd: _Write | _Read) -> None:
        if self.failed is not None:
            raise StoreError(self.failed, path="store")
        with self._cond:
            if self._stopping:
                raise StoreError("the service is shutting down", path="engine")
            self._inbox.append(cmd)
            if len(self._inbox) == 1:
                self._cond.notify()

    # -- engine thread -----------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._inbox and not self._stopping:
                        self._cond.wait()
                    if not self._inbox and self._stopping:
                        break
                    cmds = list(self._inbox)
                    self._inbox.clear()
                self._process(cmds)
        finally:
            try:
                self.engine.close()
            except Exception:  # the store may be gone already
                log.exception("closing the engine failed")

    def _process(self, cmds: list[_Write | _Read]) -> None:
        i = 0
        while i < len(cmds):
            done = _Done()
            cmd = cmds[i]
            if isinstance(cmd, _Read):
                self._read(cmd, done)
                i += 1
            else:
                j = i
                n = 0
                while j < len(cmds):
                    c = cmds[j]
                    if not isinstance(c, _Write) or (n and n + len(c.updates) > MAX_GROUP):
                        break
                    n += len(c.updates)
                    j += 1
                self._write([c for c in cmds[i:j] if isinstance(c, _Write)], done)
                i = j
            self._deliver(done)

    def _read(self, cmd: _Read, done: _Done) -> None:
        try:
            result = cmd.fn(self.engine)
        except BaseException as exc:
            done.results.append((cmd.future, None, exc))
            self._check_failed(exc)
            return
        if cmd.publish is not None:
            done.events.extend((e, None) for e in cmd.publish(result))
        done.results.append((cmd.future, result, None))

    def _write(self, writes: list[_Write], done: _Done) -> None:
        ok: list[_Write] = []
        for w in writes:
            if w.check is not None:
                try:
                    w.check(self.engine)
                except BaseException as exc:
                    done.results.append((w.future, None, exc))
                    continue
            ok.append(w)
        writes = ok
        if not writes:
            return
        flat = [u for w in writes for u in w.updates]
        try:
            acks = self.engine.apply_many(flat)
        except BaseException as exc:
            for w in writes:
                done.results.append((w.future, None, exc))
            self._check_failed(exc)
            return
        self.groups += 1
        self.inputs += len(flat)
        now = time.perf_counter_ns()
        k = 0
        for w in writes:
            mine = acks[k : k + len(w.updates)]
            k += len(w.updates)
            extra: Any = None
            if w.then is not None:
                try:
                    extra = w.then(self.engine, mine)
                except Exception:  # the inputs are applied: answer them anyway
                    log.exception("reading after a write failed")
            done.results.append((w.future, (mine, extra), None))
            latency = (now - w.received_ns) / 1e9
            done.ack_latency_s.append(latency)
            for u, ack in zip(w.updates, mine, strict=True):
                done.events.extend((e, w.received_wall_ms) for e in ack.events)
                if isinstance(u, MarketUpdate) and ack.events:
                    done.tick_latency_s.append(latency)

    def _check_failed(self, exc: BaseException) -> None:
        if isinstance(exc, StoreError) and self.failed is None:
            self.failed = (
                f"the engine stopped after a store failure ({exc.reason}); restart the service "
                "to recover from the journal"
            )
            log.error("engine failed: %s", exc)

    def _deliver(self, done: _Done) -> None:
        if not done.results and not done.events:
            return
        now = time.perf_counter_ns()
        published = [HubEvent.of(e, origin) for e, origin in done.events]

        def resolve() -> None:
            self.hub.publish(published)
            # the publication instant is when the loop runs this callback
            extra = (time.perf_counter_ns() - now) / 1e9
            for s in done.tick_latency_s:
                self.hub.tick_to_event.add(s + extra)
            for s in done.ack_latency_s:
                self.hub.input_to_ack.add(s + extra)
            for fut, result, exc in done.results:
                if fut.done():
                    continue
                if exc is not None:
                    fut.set_exception(exc)
                else:
                    fut.set_result(result)

        with contextlib.suppress(RuntimeError):  # the loop is closed (shutdown)
            self.loop.call_soon_threadsafe(resolve)
