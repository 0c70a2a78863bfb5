"""Price history: a validated table of observation times × assets (one class for every use).

A history file is CSV or Parquet with a date (or timestamp) column — named ``date``,
``timestamp``, ``time`` or ``datetime`` — and one column of prices per asset
(``date,BTC,ETH,SPX,VIX``); a blank cell means the asset did not trade then. The file is
validated completely before it is used: unparseable or duplicate dates, non-numeric,
non-positive or infinite prices are :class:`~crossmargin.errors.InputError` naming the file, the
column and the date (``h.csv:BTC[2020-01-02]``). Nothing is forward-filled: alignment of assets
that trade on different calendars is explicit (:mod:`crossmargin.market.returns`,
:mod:`crossmargin.backtest.calendar`).

The same :class:`PriceHistory` serves historical scenario sets and EWMA volatilities (carried by
the market snapshot, ``MarketSnapshot.history``) and the backtest (daily closes, ``dates``).
There is no hidden global default: a snapshot without a history has none, and a model that needs
one says so. The bundled daily closes (BTC, ETH, SPX, NDX, VIX; provenance in
``crossmargin/data/README.md``) are one explicit choice, :func:`bundled_history`, which the file
loaders attach by default and report as the history's ``source``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from crossmargin._typing import FloatArray
from crossmargin.errors import InputError, MarketDataError
from crossmargin.market.fallbacks import MarketWarning

if TYPE_CHECKING:  # pandas (and Arrow) are imported only when a history is read from a table
    import pandas as pd

__all__ = [
    "PriceHistory",
    "as_datetime64",
    "bundled_history",
    "history_from_frame",
    "history_warnings",
    "load_price_history",
]

_DATE_COLUMNS = ("date", "timestamp", "time", "datetime")


def as_datetime64(d: date | datetime) -> np.datetime64:
    """A date or an aware instant as a naive-UTC ``datetime64[ns]``."""
    if isinstance(d, datetime) and d.tzinfo is not None:
        d = d.astimezone(UTC).replace(tzinfo=None)
    return np.datetime64(d, "ns")


@dataclass(frozen=True, slots=True, eq=False)
class PriceHistory:
    """Prices of several assets on a common, strictly increasing time axis.

    Attributes
    ----------
    times
        Observation instants (``datetime64[ns]``, UTC, naive), strictly increasing.
    assets
        Asset symbols (upper case), one per column of ``prices``.
    prices
        ``(n_times, n_assets)`` positive prices; NaN where the asset has no observation.
    source
        Where the history came from (file path or ``bundled``), for reports.
    dates
        ``times`` as calendar dates (``datetime64[D]``; daily histories).
    """

    times: np.ndarray
    assets: tuple[str, ...]
    prices: FloatArray
    source: str
    dates: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dates", self.times.astype("datetime64[D]"))

    def has(self, asset: str) -> bool:
        """Whether the history has a column for ``asset``."""
        return asset in self.assets

    def column(self, asset: str, *, needed_by: str = "") -> FloatArray:
        """Prices of one asset (NaN where absent).

        Raises
        ------
        MarketDataError
            If the history has no column for ``asset``.
        """
        try:
            j = self.assets.index(asset)
        except ValueError:
            why = f"no price history for {asset}" + (
                f" (needed by {needed_by})" if needed_by else ""
            )
            raise MarketDataError(
                f"{why}; supply one with --history FILE (a column named {asset})",
                path=f"history.{asset}",
            ) from None
        return np.asarray(self.prices[:, j], dtype=np.float64)

    @property
    def end(self) -> np.datetime64:
        """Last observation instant."""
        return np.datetime64(self.times[-1], "ns")

    def until(self, instant: np.datetime64, *, source: str | None = None) -> PriceHistory:
        """The observations up to and including ``instant`` (a point-in-time view)."""
        at = np.asarray(instant).astype("datetime64[ns]")
        n = int(np.searchsorted(self.times, at, side="right"))
        return PriceHistory(self.times[:n], self.assets, self.prices[:n], source or self.source)

    def with_prices(self, prices: FloatArray, *, source: str | None = None) -> PriceHistory:
        """The same times and assets with other prices (e.g. cleaned or perturbed)."""
        return PriceHistory(self.times, self.assets, prices, source or self.source)


def _date_column(df: pd.DataFrame, source: str) -> tuple[pd.Series, str]:
    import pandas as pd

    if isinstance(df.index, pd.DatetimeIndex):
        return pd.Series(df.index, index=df.index), str(df.index.name or "date")
    cols = [str(c) for c in df.columns]
    lower = [c.strip().lower() for c in cols]
    i = next((i for i, c in enumerate(lower) if c in _DATE_COLUMNS), None)
    if i is None:
        raise InputError(
            "needs a date column named one of " + ", ".join(_DATE_COLUMNS), path=source
        )
    return df[df.columns[i]], cols[i]


def history_from_frame(df: pd.DataFrame, *, source: str, daily: bool = False) -> PriceHistory:
    """Validate a times × assets frame (times in a date column or a ``DatetimeIndex``).

    ``daily=True`` keeps the calendar date of each time (closes of a daily series).

    Raises
    ------
    InputError
        Naming ``<source>:<column>[<date>]`` (a price) or ``<source>:<date column>`` (a date).
    """
    import pandas as pd

    from crossmargin._tabular import check_date_column, number_column

    raw, date_col = _date_column(df, source)
    check_date_column(raw, f"{source}:{date_col}")
    try:
        times = pd.to_datetime(raw, errors="coerce", utc=True, format="mixed")
    except (ValueError, OverflowError) as exc:
        raise InputError(f"cannot parse the dates: {exc}", path=f"{source}:{date_col}") from None
    bad = np.flatnonzero(times.isna().to_numpy())
    if bad.size:
        i = int(bad[0])
        raise InputError(
            f"row {i + 1}: cannot read {raw.iloc[i]!r} as a date", path=f"{source}:{date_col}"
        )
    t = times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    if daily:
        t = t.astype("datetime64[D]").astype("datetime64[ns]")
    order = np.argsort(t, kind="stable")
    t_raw, t = t, t[order]
    dup = np.flatnonzero(t[1:] == t[:-1])
    if dup.size:
        raise InputError(
            f"duplicate date {pd.Timestamp(t[dup[0]]).isoformat()}", path=f"{source}:{date_col}"
        )

    def day(i: int) -> str:
        return str(np.datetime_as_string(t[i], unit="D"))

    assets: list[str] = []
    values: list[FloatArray] = []
    for c in df.columns:
        if (
            raw.name is not None
            and str(c) == str(raw.name)
            and not isinstance(df.index, pd.DatetimeIndex)
        ):
            continue
        sym = str(c).strip().upper()
        if not sym or sym in assets:
            raise InputError(f"column {str(c)!r} is empty or repeated", path=source)
        col = df[c]
        # strict: booleans, dates and text such as 'nan' or 'NA' are errors, an empty cell is
        # a missing close
        where = f"{source}:{sym}"
        num = number_column(
            col,
            lambda r: f"{where}[{np.datetime_as_string(t_raw[r], unit='D')}]",  # noqa: B023
            text=True,
        )[order]
        given = ~np.isnan(num)
        badv = given & ~(np.isfinite(num) & (num > 0))
        if badv.any():
            i = int(np.flatnonzero(badv)[0])
            raise InputError(
                f"price {num[i]!r} must be positive and finite", path=f"{source}:{sym}[{day(i)}]"
            )
        assets.append(sym)
        values.append(num)
    if not assets:
        raise InputError("needs at least one price column besides the date", path=source)
    if t.size < 2:
        raise InputError("needs at least two observations", path=source)
    prices = np.column_stack(values)
    t.setflags(write=False)  # shared (the bundled history is cached): read-only
    prices.setflags(write=False)
    return PriceHistory(t, tuple(assets), prices, source)


def load_price_history(path: str | Path, *, daily: bool = False) -> PriceHistory:
    """Read and validate a price-history file (``.csv``, ``.parquet``/``.pq``).

    Raises
    ------
    InputError
        Missing or unreadable file, no date column, bad dates, non-numeric or non-positive prices.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise InputError("unknown history format; use .csv or .parquet", path=str(p))
    if not p.exists():
        raise InputError("history file not found", path=str(p))
    from crossmargin._tabular import read_csv_or_parquet

    df = read_csv_or_parquet(p, what="history")
    return history_from_frame(df, source=str(p), daily=daily)


_BUNDLED_SOURCE = "bundled daily closes (crossmargin/data/daily_closes_1990_2026.csv)"


class _BundledHistory(PriceHistory):
    """The bundled closes, read from the shipped file the first time an array is used.

    Every market file loaded from the command line carries the bundled history, but most
    models never read it (a grid margin reads it only for the correlation-breakdown add-on's
    worst window): reading the file (~20 ms) waits until ``times``, ``prices`` or ``dates``
    is first used. It is a :class:`PriceHistory` in every other respect; it pickles as a call
    to :func:`bundled_history` (a modified copy as a plain :class:`PriceHistory`).
    """

    __slots__ = ()

    def _load(self) -> None:
        from crossmargin.history import daily_closes

        d = daily_closes()  # read with NumPy and checked there: no pandas on the margin path
        _SLOT_TIMES.__set__(self, d.dates)
        _SLOT_PRICES.__set__(self, d.prices)
        _SLOT_DATES.__set__(self, d.dates.astype("datetime64[D]"))

    def _get(self, slot: Any) -> Any:
        try:
            return slot.__get__(self, PriceHistory)
        except AttributeError:
            self._load()
            return slot.__get__(self, PriceHistory)

    # the slots of PriceHistory, filled on first use (set directly by __init__/replace)
    times = property(
        lambda self: self._get(_SLOT_TIMES), lambda self, v: _SLOT_TIMES.__set__(self, v)
    )
    prices = property(
        lambda self: self._get(_SLOT_PRICES), lambda self, v: _SLOT_PRICES.__set__(self, v)
    )
    dates = property(
        lambda self: self._get(_SLOT_DATES), lambda self, v: _SLOT_DATES.__set__(self, v)
    )

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        if self is bundled_history():
            return (bundled_history, ())
        return (PriceHistory, (self.times, self.assets, self.prices, self.source))


_SLOT_TIMES: Any = PriceHistory.__dict__["times"]
_SLOT_PRICES: Any = PriceHistory.__dict__["prices"]
_SLOT_DATES: Any = PriceHistory.__dict__["dates"]


@lru_cache(maxsize=1)
def bundled_history() -> PriceHistory:
    """The bundled daily closes 1990-2026 (see ``crossmargin/data/README.md``).

    The file is read when the history's arrays are first used (:class:`_BundledHistory`).
    """
    from crossmargin.history import DAILY_COLUMNS

    h = object.__new__(_BundledHistory)
    object.__setattr__(h, "assets", DAILY_COLUMNS)
    object.__setattr__(h, "source", _BUNDLED_SOURCE)
    return h


def history_warnings(
    history: PriceHistory, assets: Sequence[str], as_of: datetime, *, bundled: bool
) -> tuple[MarketWarning, ...]:
    """The ``bundled_history`` warnings of a scenario set built for ``assets``.

    Using the bundled history because the snapshot carries none is reported per asset the
    history covers up to ``as_of``. (A stale history is the freshness policy's:
    :mod:`crossmargin.scenarios.freshness`.)
    """
    if not bundled:
        return ()
    until = np.datetime64(as_of.astimezone(UTC).replace(tzinfo=None), "ns")
    upto = history.times <= until
    return tuple(
        MarketWarning(
            "bundled_history",
            f"history.{a}",
            f"no price history given (--history FILE): scenarios of {a} come from the "
            f"{history.source}",
            a,
        )
        for a in assets
        if history.has(a) and (upto & np.isfinite(history.column(a))).any()
    )
