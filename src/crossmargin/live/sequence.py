"""Per-feed sequence tracking: gaps, duplicates and reordering of market updates.

A feed that numbers its messages (``MarketUpdate.seq`` not ``None``) must number them
consecutively, across all its assets: after ``seq = n`` the next is ``n + 1``.

* ``n + 1`` — ``ok``;
* ``n + k`` with ``k > 1`` — ``gap`` (``missing = k − 1`` messages were lost; the update is
  applied, the engine reports a ``feed_gap`` event);
* ``n`` — ``duplicate`` (a resend; not applied);
* below ``n`` — ``reordered`` (arrived after a later message; not applied: it would overwrite a
  newer value with an older one).

The source times must not go backwards either: a higher sequence number with an earlier ``time``
than the feed's last accepted update of the same asset is ``reordered``.

A feed without sequence numbers (Pyth: ``publish_time`` is its order) is checked per asset on
the source time alone: a later time is ``ok``, the same time ``duplicate``, an earlier one
``reordered``.

The first message of a feed is ``ok`` whatever its number (the sequencer does not know where a
feed starts); :meth:`FeedSequencer.state` / :meth:`FeedSequencer.restore` carry the positions
across a restart (the engine snapshots them with its state).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from crossmargin._time import format_instant, parse_instant
from crossmargin.errors import InputError
from crossmargin.live.records import MarketUpdate

__all__ = ["FeedSequencer", "SeqCheck", "SeqStatus"]

SeqStatus = Literal["ok", "duplicate", "gap", "reordered"]


@dataclass(frozen=True, slots=True)
class SeqCheck:
    """The verdict on one market update.

    Attributes
    ----------
    status
        ``ok``, ``gap`` (apply, report), ``duplicate`` or ``reordered`` (do not apply).
    feed
        The update's feed.
    seq
        The update's sequence number (``None``: the feed has none).
    expected
        The sequence number that was due (``None``: first message or unnumbered feed).
    missing
        Messages lost before this one (``gap`` only; else 0).
    reason
        One line for an event or a log (empty when ``ok``).
    """

    status: SeqStatus
    feed: str
    seq: int | None
    expected: int | None = None
    missing: int = 0
    reason: str = ""

    @property
    def apply(self) -> bool:
        """Whether the update should be applied (``ok`` or ``gap``)."""
        return self.status in ("ok", "gap")


class FeedSequencer:
    """Tracks the last accepted sequence number and source time of every feed.

    Examples
    --------
    >>> seq = FeedSequencer()
    >>> seq.check(update).status   # doctest: +SKIP
    'ok'
    """

    __slots__ = ("_last", "_times")

    def __init__(self) -> None:
        self._last: dict[str, int] = {}
        self._times: dict[tuple[str, str], datetime] = {}

    def check(self, u: MarketUpdate, *, commit: bool = True) -> SeqCheck:
        """Classify ``u`` against its feed's history and, if it applies and ``commit``, record it.

        Parameters
        ----------
        u
            The market update.
        commit
            Advance the feed's position when the update applies (``False``: only look).
        """
        key = (u.feed, u.asset)
        last_time = self._times.get(key)
        verdict = self._classify(u, last_time)
        if commit and verdict.apply:
            if u.seq is not None:
                self._last[u.feed] = u.seq
            self._times[key] = u.time
        return verdict

    def _classify(self, u: MarketUpdate, last_time: datetime | None) -> SeqCheck:
        feed = u.feed
        if u.seq is None:
            if last_time is None or u.time > last_time:
                return SeqCheck("ok", feed, None)
            when = f"{format_instant(u.time)} (last {format_instant(last_time)})"
            if u.time == last_time:
                return SeqCheck(
                    "duplicate", feed, None, reason=f"{feed} {u.asset}: same source time {when}"
                )
            return SeqCheck(
                "reordered", feed, None, reason=f"{feed} {u.asset}: source time went back to {when}"
            )
        last = self._last.get(feed)
        expected = None if last is None else last + 1
        if expected is not None and u.seq < expected:
            status: SeqStatus = "duplicate" if u.seq == last else "reordered"
            what = "resent" if status == "duplicate" else "arrived late"
            return SeqCheck(
                status,
                feed,
                u.seq,
                expected,
                reason=f"{feed}: seq {u.seq} {what} (expected {expected})",
            )
        if last_time is not None and u.time < last_time:
            return SeqCheck(
                "reordered",
                feed,
                u.seq,
                expected,
                reason=f"{feed} {u.asset}: seq {u.seq} has source time {format_instant(u.time)}, "
                f"before the last accepted {format_instant(last_time)}",
            )
        if expected is not None and u.seq > expected:
            missing = u.seq - expected
            return SeqCheck(
                "gap",
                feed,
                u.seq,
                expected,
                missing,
                reason=f"{feed}: {missing} message(s) missing (seq {expected}…{u.seq - 1})",
            )
        return SeqCheck("ok", feed, u.seq, expected)

    def last(self, feed: str) -> int | None:
        """The last accepted sequence number of ``feed`` (``None``: none yet or unnumbered)."""
        return self._last.get(feed)

    def feeds(self) -> list[str]:
        """Every feed seen, sorted."""
        return sorted({f for f, _ in self._times} | set(self._last))

    def state(self) -> dict[str, object]:
        """JSON-able positions of every feed (for the engine's snapshot)."""
        return {
            "seq": dict(sorted(self._last.items())),
            "times": [
                [feed, asset, format_instant(t)] for (feed, asset), t in sorted(self._times.items())
            ],
        }

    @classmethod
    def restore(cls, state: Mapping[str, object]) -> FeedSequencer:
        """The sequencer :meth:`state` described.

        Raises
        ------
        InputError
            The state is malformed.
        """
        out = cls()
        seqs, times = state.get("seq", {}), state.get("times", [])
        if not isinstance(seqs, Mapping) or not isinstance(times, list):
            raise InputError("malformed feed sequencer state", path="sequencer")
        for feed, n in seqs.items():
            if not isinstance(feed, str) or isinstance(n, bool) or not isinstance(n, int):
                raise InputError("malformed feed sequence entry", path=f"sequencer.seq.{feed}")
            out._last[feed] = n
        for i, row in enumerate(times):
            if (
                not isinstance(row, list)
                or len(row) != 3
                or not all(isinstance(x, str) for x in row)
            ):
                raise InputError("malformed feed time entry", path=f"sequencer.times[{i}]")
            try:
                out._times[(row[0], row[1])] = parse_instant(row[2])
            except ValueError as exc:
                raise InputError(str(exc), path=f"sequencer.times[{i}]") from None
        return out
