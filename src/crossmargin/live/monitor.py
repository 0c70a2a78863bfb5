"""Replay a tick file through the live engine: the library side of ``crossmargin monitor``.

:func:`replay` drives a :class:`~crossmargin.live.engine.LiveEngine` through a stream of
updates and yields one :class:`Step` per update, with the events it caused and its
tick-to-event latency (wall time from handing the update to the engine to its acknowledgement,
journal write included). The engine's own clock is the updates' source times: heartbeats,
staleness and time decay follow the data, never the wall clock, so a replay gives the same
events on every run.

A resumed run (the engine reopened from its database) reads the file from the top again and
skips what the engine has already applied, judged on the engine's state when the run starts:

* a market update whose feed is already at or past it (per-feed sequence numbers, or source
  times for an unnumbered feed — :class:`~crossmargin.live.sequence.FeedSequencer`);
* a new account that already exists;
* a trade, deposit or withdrawal whose ``id`` was applied before (the engine acknowledges the
  first input again). Account updates without an ``id`` get ``<file name>#<line>``
  (:func:`with_ids`) so that a resumed replay never applies them twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Literal

from crossmargin.live.engine import LiveEngine
from crossmargin.live.records import Deposit, MarketUpdate, NewAccount, Trade, Update, Withdrawal
from crossmargin.live.sequence import FeedSequencer

__all__ = ["Resume", "Step", "StepKind", "replay", "with_ids"]

StepKind = Literal["applied", "skipped", "refused"]


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
        Events the update caused, in engine order (as JSON objects).
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


@dataclass(frozen=True, slots=True)
class Resume:
    """What the engine had applied when a replay started (see the module docstring)."""

    feeds: FeedSequencer
    accounts: frozenset[str]
    seq: int

    @classmethod
    def of(cls, engine: LiveEngine) -> Resume:
        """The engine's position now."""
        feeds = FeedSequencer.restore(engine.sequencer.state())  # a copy: the state at the start
        return cls(feeds, frozenset(v.account for v in engine.accounts()), engine.seq)

    def already(self, u: Update) -> str | None:
        """Why ``u`` was applied before (``None``: it was not, as far as this state tells)."""
        if isinstance(u, MarketUpdate):
            verdict = self.feeds.check(u, commit=False)
            return verdict.reason if verdict.status in ("duplicate", "reordered") else None
        if isinstance(u, NewAccount):
            name = u.portfolio.account
            return f"account {name} exists" if name in self.accounts else None
        return None


def replay(
    engine: LiveEngine,
    updates: Iterable[Update],
    *,
    limit: int | None = None,
    resume: Resume | None = None,
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
        The engine's position at the start (:meth:`Resume.of`); ``None``: skip nothing.
    """
    done = 0
    for index, u in enumerate(updates):
        if limit is not None and done >= limit:
            return
        why = resume.already(u) if resume is not None else None
        if why is not None:
            yield Step(index, u, "skipped", reason=why)
            continue
        t0 = time.perf_counter_ns()
        ack = engine.apply(u)
        latency = time.perf_counter_ns() - t0
        if resume is not None and ack.seq is not None and ack.seq <= resume.seq:
            # the engine acknowledged an input of an earlier run again (a client id seen before)
            yield Step(index, u, "skipped", reason=ack.reason)
            continue
        done += 1
        kind: StepKind = "applied" if ack.accepted else "refused"
        events = tuple(e.to_obj() for e in ack.events)
        yield Step(index, u, kind, events, None if ack.accepted else ack.reason, latency)
