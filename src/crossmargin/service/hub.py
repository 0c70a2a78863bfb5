"""The event hub: the engine's events fanned out to HTTP streams, and latency statistics.

The engine thread hands every batch of events to the hub (in the event loop, through one
``call_soon_threadsafe`` per batch). Each event is serialised to JSON once and kept in a ring
of the most recent :data:`RING` events; streams *pull* from it (no per-subscriber queue, so a
slow client cannot make the service buffer for it, and it cannot lose events either).

A stream asks for the events after the last sequence number it delivered
(:meth:`EventHub.after`): from the ring when the ring covers it, else from the store's events
table (``GET /v1/events?after=SEQ`` reads there too). Events reach the ring as soon as the
input that caused them is journaled, possibly a few milliseconds before the engine's write of
the events table commits; a stream that must read the store waits until the store has caught up
(events are numbered gaplessly, so nothing is skipped).

Latency: for every market update that caused events, the time from the request's arrival to
the events' publication here (:class:`LatencyWindow`), shown on the dashboard and in
``GET /v1/status``.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from crossmargin.live.events import Event

__all__ = ["RING", "EventHub", "HubEvent", "LatencyWindow"]

#: Events kept in memory for streams.
RING = 50_000


@dataclass(frozen=True, slots=True)
class HubEvent:
    """One event as streams send it: its number, type, account, JSON text and origin time."""

    seq: int
    type: str
    account: str | None
    json: str
    origin_ms: int | None = None  # wall-clock ms when the causing request arrived

    @classmethod
    def of(cls, e: Event, origin_ms: int | None = None) -> HubEvent:
        """Serialise an engine event (``origin_ms``: arrival of the input that caused it)."""
        return cls(
            e.seq, e.type, e.account, json.dumps(e.to_obj(), separators=(",", ":")), origin_ms
        )

    @classmethod
    def stored(cls, seq: int, type: str, account: str | None, body: str) -> HubEvent:
        """An event read back from the store (its stored body)."""
        return cls(seq, type, account, body)


class LatencyWindow:
    """The last ``size`` latencies (seconds) with percentiles."""

    def __init__(self, size: int = 2000) -> None:
        self._values: deque[float] = deque(maxlen=size)
        self.count = 0

    def add(self, seconds: float) -> None:
        """Record one latency."""
        self._values.append(seconds)
        self.count += 1

    def summary(self) -> dict[str, float | int | None]:
        """``count``, ``p50``, ``p99`` and ``max`` of the window, in milliseconds."""
        vals = sorted(self._values)
        if not vals:
            return {
                "count": self.count,
                "window": 0,
                "p50_ms": None,
                "p99_ms": None,
                "max_ms": None,
            }

        def pct(q: float) -> float:
            return round(vals[min(len(vals) - 1, int(q * len(vals)))] * 1e3, 3)

        return {
            "count": self.count,
            "window": len(vals),
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "max_ms": round(vals[-1] * 1e3, 3),
        }


#: ``read_store(after, account, limit)`` → (events, cursor): events from the store after
#: ``after`` and the seq up to which the store was scanned (blocking; run in a thread).
StoreRead = Callable[[int, str | None, int], tuple[Sequence[HubEvent], int]]


class EventHub:
    """Recent events in memory, waiters woken on new ones (module docstring).

    Parameters
    ----------
    last_seq
        Sequence number of the last event that exists when the hub starts (older events are in
        the store).
    read_store
        Reads the store (:data:`StoreRead`).
    """

    def __init__(self, last_seq: int, read_store: StoreRead) -> None:
        self._ring: deque[HubEvent] = deque(maxlen=RING)
        self._seqs: deque[int] = deque(maxlen=RING)
        self.last_seq = last_seq
        self._read_store = read_store
        self._changed = asyncio.Event()
        self.closed = False
        self.tick_to_event = LatencyWindow()
        self.input_to_ack = LatencyWindow()
        self.last_publish_ns = 0

    # -- producer side (event loop thread) -----------------------------------------------------
    def publish(self, events: Iterable[HubEvent]) -> None:
        """Append events (in sequence order) and wake the streams."""
        added = False
        for ev in events:
            if ev.seq <= self.last_seq:
                continue  # already known (e.g. a replayed event)
            self._ring.append(ev)
            self._seqs.append(ev.seq)
            self.last_seq = ev.seq
            added = True
        if added:
            self.last_publish_ns = time.perf_counter_ns()
            self._wake()

    def close(self) -> None:
        """End every stream (server shutdown)."""
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # -- consumer side -----------------------------------------------------------------------------
    def recent(self, n: int, account: str | None = None) -> list[HubEvent]:
        """The newest ``n`` events in memory (of ``account``), newest first."""
        out: list[HubEvent] = []
        for ev in reversed(self._ring):
            if account is None or ev.account == account:
                out.append(ev)
                if len(out) >= n:
                    break
        return out

    def _from_ring(self, after: int, account: str | None, limit: int) -> list[HubEvent] | None:
        """Events after ``after`` from the ring, or ``None`` when the ring does not reach back."""
        if not self._ring:
            return [] if after >= self.last_seq else None
        first = self._ring[0].seq
        if after < first - 1:
            return None
        k = bisect.bisect_right(self._seqs, after)
        out: list[HubEvent] = []
        for i in range(k, len(self._ring)):
            ev = self._ring[i]
            if account is None or ev.account == account:
                out.append(ev)
                if len(out) >= limit:
                    break
        return out

    async def after(
        self, after: int, *, account: str | None = None, limit: int = 1000
    ) -> tuple[list[HubEvent], int]:
        """Events after ``after`` (of ``account``) and the cursor a follow-up call passes.

        Does not wait. The cursor is the last seq considered: it equals ``after`` only when
        nothing newer could be read yet (the store lags behind the ring; retry shortly).
        """
        if after >= self.last_seq:
            return [], after
        got = self._from_ring(after, account, limit)
        if got is not None:
            return got, (got[-1].seq if len(got) >= limit else self.last_seq)
        stored, cursor = await asyncio.to_thread(self._read_store, after, account, limit)
        out, cursor = list(stored), max(after, cursor)
        if len(out) < limit:
            # the store's writes may lag behind the ring: where the ring takes over, the newest
            # events come from it, so that one page holds everything up to now
            more = self._from_ring(cursor, account, limit - len(out))
            if more is not None:
                out += more
                cursor = more[-1].seq if len(out) >= limit else max(cursor, self.last_seq)
        return out, cursor

    async def wait(self, after: int, timeout: float) -> bool:
        """Wait until an event after ``after`` exists (``False`` on timeout or close)."""
        if self.last_seq > after:
            return True
        changed = self._changed
        try:
            await asyncio.wait_for(changed.wait(), timeout)
        except TimeoutError:
            return False
        return self.last_seq > after and not self.closed
