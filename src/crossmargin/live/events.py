"""Events of the live engine, and the hysteresis that keeps account events from flapping.

An account's *reported* status moves with its numbers under one rule (:func:`hysteresis`):

* **worse at once** — as soon as the account's status (``healthy`` < ``margin_call`` <
  ``liquidation`` < ``bankrupt``, :mod:`crossmargin.account.health`) is worse than the reported
  one, the reported status becomes it and an event of that name is emitted
  (``margin_call``: equity < IM; ``liquidation``: maintenance equity < MM; ``bankrupt``:
  maintenance equity < 0);
* **better only with a margin** — the reported status improves only to a level the account
  clears by ``recovery_buffer``: ``healthy`` needs equity ≥ IM × (1 + buffer),
  ``margin_call`` needs maintenance equity ≥ MM × (1 + buffer), ``liquidation`` needs
  maintenance equity ≥ buffer × MM; and, with ``recovery_hold`` > 0, only after the account
  has cleared it continuously for that long (engine time). The event is ``recovered`` (its
  ``status_after`` says to which level).

A price oscillating around a threshold therefore emits one ``margin_call`` and no more until
the account has really recovered. Auto-liquidation does not wait for events: it acts on the
account's current numbers.

Event types: ``margin_call``, ``liquidation``, ``bankrupt``, ``recovered`` (accounts);
``liquidation_trade`` (one per close-out, ADL fill, collateral sale or write-off of an
auto-liquidation); ``market_data_stale`` / ``market_data_fresh`` (a feed missed its heartbeat,
or an asset could not be valued — the accounts it affects are frozen at their last margin — and
its return); ``feed_gap`` (sequence numbers skipped); ``sweep_mismatch`` (the full sweep
disagreed with the incremental state); ``input_refused`` (a journaled input refused by a rule:
pre-trade check, withdrawal check, unknown account, unusable market data); ``margin_error``
(the model cannot margin an account — e.g. a venue preset's product or collateral rule: the
account is frozen at its last margin until one of its own updates is accepted).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Literal

import numpy as np

from crossmargin._format import json_number
from crossmargin._time import format_instant
from crossmargin._typing import FloatArray, IntArray
from crossmargin.account.health import STATUSES

__all__ = ["EVENT_TYPES", "STATUS_EVENTS", "Event", "EventType", "hysteresis", "status_name"]

EventType = Literal[
    "margin_call",
    "liquidation",
    "bankrupt",
    "recovered",
    "reduce_only",
    "market_data_stale",
    "market_data_fresh",
    "feed_gap",
    "liquidation_trade",
    "sweep_mismatch",
    "input_refused",
    "margin_error",
]
#: The event of entering each status (``healthy``: a recovery).
STATUS_EVENTS: tuple[EventType, ...] = ("recovered", "margin_call", "liquidation", "bankrupt")
#: Every event type, in documentation order.
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Event:
    """One event (see the module docstring for the types).

    Attributes
    ----------
    seq
        Event sequence number (1, 2, … in emission order; the same on every replay).
    time
        Engine time of the input that caused it.
    type
        Event type.
    account
        The account it is about (``None``: venue-wide, e.g. a feed).
    status_before, status_after
        Reported status before and after (account events).
    equity, im, mm, margin_ratio
        The account's numbers at the event (base currency; ratio = maintenance equity / MM).
    cause
        What caused it: ``update_seq`` (journal seq of the input), ``kind`` (``market``,
        ``trade``, ``deposit``, ``withdrawal``, ``account``, ``clock``, ``sweep``,
        ``liquidation``), ``underlying``, ``feed``, ``worst_scenario`` …
    """

    seq: int
    time: datetime
    type: EventType
    account: str | None = None
    status_before: str | None = None
    status_after: str | None = None
    equity: float | None = None
    im: float | None = None
    mm: float | None = None
    margin_ratio: float | None = None
    cause: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cause", MappingProxyType(dict(self.cause)))

    def to_obj(self) -> dict[str, object]:
        """The event as a JSON object (one line of ``monitor --format json``)."""
        return {
            "seq": self.seq,
            "time": format_instant(self.time),
            "type": self.type,
            "account": self.account,
            "status_before": self.status_before,
            "status_after": self.status_after,
            "equity": json_number(self.equity),
            "im": json_number(self.im),
            "mm": json_number(self.mm),
            "margin_ratio": json_number(self.margin_ratio),
            "cause": dict(self.cause),
        }


def status_name(code: int) -> str | None:
    """Status name of a code (−1: none yet)."""
    return STATUSES[code] if code >= 0 else None


def hysteresis(
    reported: IntArray,
    pending: IntArray,
    status: IntArray,
    equity: FloatArray,
    m_equity: FloatArray,
    im: FloatArray,
    mm: FloatArray,
    *,
    now_ns: int,
    buffer: float,
    hold_ns: int,
) -> tuple[IntArray, IntArray]:
    """New reported statuses and pending-recovery start times (module docstring).

    Parameters
    ----------
    reported
        Reported status codes (−1: none yet: the first status is reported as is).
    pending
        Since when (ns) each account has cleared a better level (−1: it has not).
    status
        Current status codes.
    equity, m_equity, im, mm
        Current numbers.
    now_ns
        Engine time.
    buffer, hold_ns
        Recovery margin (fraction) and hold time.
    """
    cleared = np.where(
        equity >= im * (1.0 + buffer),
        0,
        np.where(m_equity >= mm * (1.0 + buffer), 1, np.where(m_equity >= buffer * mm, 2, 3)),
    )
    target = np.maximum(status, cleared)
    first = reported < 0
    worse = first | (status > reported)
    better = ~worse & (target < reported)
    waited = pending >= 0
    ready = better & ((hold_ns <= 0) | (waited & (now_ns - pending >= hold_ns)))
    new = np.where(worse, status, np.where(ready, target, reported))
    new_pending = np.where(better & ~ready, np.where(waited, pending, now_ns), -1)
    return new.astype(np.int64), new_pending.astype(np.int64)
