"""Replay a tick file through the live engine: the library side of ``crossmargin monitor``.

:func:`replay` drives an engine through a stream of updates and yields one :class:`Step` per
update, with the events it caused and its tick-to-event latency. For each update, in file
order:

1. the engine clock advances to the update's time (``advance_clock``: heartbeat and
   staleness checks — a feed silent for longer than its heartbeat goes stale *before* the
   update that revives it is applied);
2. an update the engine has already applied is skipped (a resumed run on the same database):
   a market update whose feed position is already past it (per-feed sequence numbers, or
   source times for an unnumbered feed — :class:`~crossmargin.live.sequence.FeedSequencer`),
   an account update whose ``id`` was already applied, a new account that already exists;
3. otherwise the engine applies it (journaled before it is acknowledged) and returns its
   events; a refused update (state unchanged) is reported with its reason.

Account updates without an ``id`` get ``<file name>#<line>`` as their id (:func:`with_ids`)
so that a resumed replay never applies them twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal, Protocol

from crossmargin.live.records import Deposit, MarketUpdate, NewAccount, Trade, Update, Withdrawal
from crossmargin.live.sequence import FeedSequencer

__all__ = ["EngineLike", "Step", "StepKind", "replay", "with_ids"]

StepKind = Literal["applied", "skipped", "refused"]


class EventLike(Protocol):
    """What the monitor reads of an engine event."""

    @property
    def type(self) -> str: ...

    def to_obj(self) -> dict[str, object]: ...


class AckLike(Protocol):
    """What the monitor reads of an engine acknowledgement."""

    @property
    def accepted(self) -> bool: ...

    @property
    def reason(self) -> str | None: ...

    @property
    def events(self) -> Sequence[EventLike]: ...


class EngineLike(Protocol):
    """The part of :class:`crossmargin.live.engine.LiveEngine` a replay uses."""

    def apply(self, update: Update) -> AckLike: ...  # noqa: D102

    def advance_clock(self, now: datetime) -> Sequence[EventLike]: ...  # noqa: D102

    def has_account(self, account: str) -> bool: ...  # noqa: D102

    def has_applied(self, id: str) -> bool: ...  # noqa: D102

    @property
    def sequencer(self) -> FeedSequencer: ...  # noqa: D102

    @property
    def clock(self) -> datetime: ...  # noqa: D102


@dataclass(frozen=True, slots=True)
class Step:
    """One update of the replay and what became of it.

    Attributes
    ----------
    index
        Position of the update in the stream (0-based).
    update
        The update.
    kind
        ``applied``, ``skipped`` (already applied before: a resumed run) or ``refused``.
    events
        Events of the clock advance and of the update, in engine order (as JSON objects).
    reason
        Why it was skipped or refused.
    latency_ns
        Wall time from handing the update to the engine to its acknowledgement with events.
    """

    index: int
    update: Update
    kind: StepKind
    events: tuple[dict[str, object], ...] = ()
    reason: str | None = None
    latency_ns: int = 0


def with_ids(updates: Iterable[tuple[Update, str]], prefix: str) -> Iterator[Update]:
    """Give every id-less trade, deposit or withdrawal the id ``<prefix>#<where>``.

    ``updates`` yields ``(update, where)`` with ``where`` the update's location (its line).
    """
    for u, where in updates:
        if isinstance(u, Trade | Deposit | Withdrawal) and u.id is None:
            yield replace(u, id=f"{prefix}#{where}")
        else:
            yield u


def _already(engine: EngineLike, u: Update) -> str | None:
    """Why ``u`` was applied before (``None``: it was not)."""
    if isinstance(u, MarketUpdate):
        verdict = engine.sequencer.check(u, commit=False)
        if verdict.status in ("duplicate", "reordered"):
            return verdict.reason
        return None
    if isinstance(u, NewAccount):
        return "account exists" if engine.has_account(u.portfolio.account) else None
    if u.id is not None and engine.has_applied(u.id):
        return f"id {u.id} already applied"
    return None


def replay(
    engine: EngineLike,
    updates: Iterable[Update],
    *,
    limit: int | None = None,
    resume: bool = True,
) -> Iterator[Step]:
    """Apply ``updates`` to ``engine`` one by one (module docstring).

    Parameters
    ----------
    engine
        The live engine.
    updates
        The stream (e.g. :func:`~crossmargin.live.sources.read_updates`).
    limit
        Stop after this many updates were applied or refused (skipped ones do not count).
    resume
        Skip updates the engine has already applied (a resumed run).
    """
    done = 0
    for index, u in enumerate(updates):
        if limit is not None and done >= limit:
            return
        if resume:
            why = _already(engine, u)
            if why is not None:
                yield Step(index, u, "skipped", reason=why)
                continue
        t0 = time.perf_counter_ns()
        pre: list[dict[str, object]] = []
        if u.time > engine.clock:
            pre = [e.to_obj() for e in engine.advance_clock(u.time)]
        ack = engine.apply(u)
        events = tuple(pre + [e.to_obj() for e in ack.events])
        latency = time.perf_counter_ns() - t0
        done += 1
        kind: StepKind = "applied" if ack.accepted else "refused"
        yield Step(index, u, kind, events, None if ack.accepted else ack.reason, latency)
