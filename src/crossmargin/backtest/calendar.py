"""Calendar alignment: the dates on which a book can be margined and its P&L realised.

Assets trade on different calendars (crypto every day, equity indices on exchange days). A book's
calendar is the set of dates on which **every** series it needs (underlying prices, vol indices)
has a clean close; nothing is forward-filled. Consequences, all explicit:

* the P&L of one calendar step is the real move between two observed closes — for a crypto +
  equity book a Friday → Monday step carries the crypto weekend move (never a fake zero return);
* dates on which only some of the needed series traded are dropped and counted per missing series
  (:attr:`BookCalendar.partial_dates`);
* a series is a *7-day* series when a fifth or more of its closes fall on weekends. For a 7-day
  series every calendar day in its range should have a close, so the days it misses (data gaps,
  or points removed by cleaning) inside each step are counted (:attr:`BookCalendar.missing_after`);
  a window spanning more of them than tolerated is a *gap window*
  (:mod:`crossmargin.backtest.replay`). For a 5-day series a missing weekday is taken to be an
  exchange closure (holiday, 2001-09-11..14, 2012-10-29..30): reported, not a gap, because the
  market really was shut and a clearing house could not have closed out either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from crossmargin._arrays import Rows
from crossmargin._typing import BoolArray, FloatArray, IntArray
from crossmargin.backtest.cleaning import DroppedPoint
from crossmargin.errors import InputError
from crossmargin.market.history import PriceHistory

__all__ = ["BookCalendar", "SeriesCoverage", "align"]

_MAX_LISTED = 20


def _weekday(days: np.ndarray) -> np.ndarray:
    """Monday = 0 … Sunday = 6 for ``datetime64[D]`` values."""
    return ((days.astype(np.int64) + 3) % 7).astype(np.int64)


@dataclass(frozen=True, slots=True)
class SeriesCoverage:
    """How one needed series covers its own range.

    Attributes
    ----------
    name, first, last, observations
        Series name, first and last clean close, number of clean closes.
    seven_day
        Trades every day (crypto) rather than on exchange days.
    missing
        7-day series: calendar days in range without a clean close (data gaps); 5-day series:
        weekdays without a close (closures).
    runs
        The longest runs of missing days ``(first missing, last missing, days)``, most recent
        :data:`_MAX_LISTED` longest first.
    dropped
        Closes removed by cleaning.
    """

    name: str
    first: str
    last: str
    observations: int
    seven_day: bool
    missing: int
    runs: tuple[tuple[str, str, int], ...]
    dropped: int

    def as_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "series": self.name,
            "first": self.first,
            "last": self.last,
            "observations": self.observations,
            "calendar": "7-day" if self.seven_day else "exchange days",
            "missing_days" if self.seven_day else "weekday_closures": self.missing,
            "longest_missing_runs": [{"from": a, "to": b, "days": n} for a, b, n in self.runs],
            "dropped_by_cleaning": self.dropped,
        }


@dataclass(frozen=True, slots=True, eq=False)
class BookCalendar(Rows):
    """The aligned calendar of one book.

    Attributes
    ----------
    dates
        ``datetime64[D]`` dates on which every needed series has a clean close.
    columns
        The needed series.
    values
        ``(n_dates, n_columns)`` closes (all finite, positive).
    missing_after
        ``missing_after[i]``: calendar days inside the step ``dates[i] → dates[i+1]`` on which a
        7-day series of the book has no clean close (the most over its 7-day series).
    span_days
        Calendar days of each step (length ``n − 1``).
    coverage
        Per-series coverage.
    partial_dates
        Dates in the common range dropped because some needed series had no close, counted by the
        missing series.
    dropped
        Points removed by cleaning (all series of the book).
    """

    dates: np.ndarray
    columns: tuple[str, ...]
    values: FloatArray
    missing_after: IntArray
    span_days: IntArray
    coverage: tuple[SeriesCoverage, ...]
    partial_dates: dict[str, int]
    dropped: tuple[DroppedPoint, ...]

    def column(self, name: str) -> FloatArray:
        """Closes of one needed series on the calendar."""
        return self.values[:, self.columns.index(name)]

    def window_missing(self, start: IntArray, steps: int) -> IntArray:
        """Missing days of 7-day series inside the window ``start → start + steps``."""
        cum = np.concatenate([[0], np.cumsum(self.missing_after)])
        return np.asarray(cum[start + steps] - cum[start], dtype=np.int64)


def _runs(missing_days: np.ndarray) -> list[tuple[str, str, int]]:
    if missing_days.size == 0:
        return []
    d = missing_days.astype(np.int64)
    breaks = np.flatnonzero(np.diff(d) > 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [d.size - 1]])
    runs = [
        (str(missing_days[s]), str(missing_days[e]), int(e - s + 1))
        for s, e in zip(starts, ends, strict=True)
    ]
    runs.sort(key=lambda r: (-r[2], r[0]))
    return runs[:_MAX_LISTED]


def _coverage(
    name: str, dates: np.ndarray, obs: BoolArray, dropped: int
) -> tuple[SeriesCoverage, np.ndarray]:
    """Coverage of one series and its missing calendar days (7-day series only, else empty)."""
    have = dates[obs]
    first, last = have[0], have[-1]
    weekend = _weekday(have) >= 5
    seven = bool(weekend.mean() >= 0.2)
    all_days = np.arange(first, last + np.timedelta64(1, "D"), dtype="datetime64[D]")
    if not seven:
        all_days = all_days[_weekday(all_days) < 5]
    missing = np.setdiff1d(all_days, have, assume_unique=True)
    cov = SeriesCoverage(
        name=name,
        first=str(first),
        last=str(last),
        observations=int(have.size),
        seven_day=seven,
        missing=int(missing.size),
        runs=tuple(_runs(missing)),
        dropped=dropped,
    )
    return cov, (missing if seven else np.zeros(0, dtype="datetime64[D]"))


def align(
    hist: PriceHistory,
    needed: Sequence[str],
    *,
    dropped: Sequence[DroppedPoint] = (),
    path: str = "history",
) -> BookCalendar:
    """Align the needed series of a (cleaned) history into a book calendar.

    Raises
    ------
    InputError
        A needed series is absent from the history or has no close, or the series never trade on
        a common date.
    """
    cols = list(dict.fromkeys(needed))
    for c in cols:
        if not hist.has(c):
            raise InputError(
                f"the price history has no column {c} (columns: {', '.join(hist.assets)})",
                path=f"{path}.{c}",
            )
    idx = [hist.assets.index(c) for c in cols]
    vals = hist.prices[:, idx]
    obs = ~np.isnan(vals)
    coverage: list[SeriesCoverage] = []
    gap_days: list[np.ndarray] = []
    for k, c in enumerate(cols):
        if not obs[:, k].any():
            raise InputError(f"series {c} has no close", path=f"{path}.{c}")
        n_drop = sum(1 for d in dropped if d.asset == c)
        cov, miss = _coverage(c, hist.dates, obs[:, k], n_drop)
        coverage.append(cov)
        gap_days.append(miss)
    lo = max(np.datetime64(c.first) for c in coverage)
    hi = min(np.datetime64(c.last) for c in coverage)
    in_span = (hist.dates >= lo) & (hist.dates <= hi)
    full = obs.all(axis=1) & in_span
    if full.sum() < 2:
        raise InputError(f"series {', '.join(cols)} have fewer than 2 common dates", path=path)
    partial = in_span & obs.any(axis=1) & ~full
    partial_dates = {
        c: int(np.sum(partial & ~obs[:, k]))
        for k, c in enumerate(cols)
        if np.any(partial & ~obs[:, k])
    }
    dates = hist.dates[full]
    span = np.diff(dates.astype(np.int64)).astype(np.int64)
    missing_after = np.zeros(max(dates.size - 1, 0), dtype=np.int64)
    for miss in gap_days:
        if miss.size == 0:
            continue
        # number of missing days strictly inside each step (a, b)
        m = miss.astype(np.int64)
        a = dates[:-1].astype(np.int64)
        b = dates[1:].astype(np.int64)
        inside = np.searchsorted(m, b, side="left") - np.searchsorted(m, a, side="right")
        missing_after = np.maximum(missing_after, inside)
    return BookCalendar(
        dates=dates,
        columns=tuple(cols),
        values=vals[full],
        missing_after=missing_after,
        span_days=span,
        coverage=tuple(coverage),
        partial_dates=partial_dates,
        dropped=tuple(d for d in dropped if d.asset in cols),
    )
