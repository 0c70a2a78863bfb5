"""Price history for historical scenario sets: a validated table of dates × assets.

A history file is CSV or Parquet with a date (or timestamp) column and one column of prices per
asset (``date,BTC,ETH,SPX,VIX``); a blank cell means the asset did not trade then. The file is
validated completely before it is used: unparseable or duplicate dates, non-numeric,
non-positive or infinite prices are :class:`~crossmargin.errors.InputError` naming the file, the
column and the row. Nothing is forward-filled: alignment of assets that trade on different
calendars is explicit (:mod:`crossmargin.scenarios.returns`).

Without a user file the bundled daily closes are used (BTC, ETH, SPX, NDX, VIX; provenance in
``crossmargin/data/README.md``). A history travels with the market snapshot
(``MarketSnapshot.history``, set from ``--history FILE`` on the command line).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from crossmargin._typing import FloatArray
from crossmargin.errors import InputError, MarketDataError
from crossmargin.io.tabular import check_date_column, number_column, read_csv_or_parquet
from crossmargin.market.fallbacks import MarketWarning

__all__ = [
    "PriceHistory",
    "bundled_history",
    "history_of",
    "history_warnings",
    "load_price_history",
]

_DATE_COLUMNS = ("date", "timestamp", "time", "datetime")


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
    """

    times: np.ndarray
    assets: tuple[str, ...]
    prices: FloatArray
    source: str

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


def _frame_to_history(df: pd.DataFrame, source: str) -> PriceHistory:
    cols = [str(c) for c in df.columns]
    lower = [c.strip().lower() for c in cols]
    date_col = next((cols[i] for i, c in enumerate(lower) if c in _DATE_COLUMNS), None)
    if date_col is None:
        raise InputError(
            "needs a date column named one of " + ", ".join(_DATE_COLUMNS), path=source
        )
    raw = df[date_col]
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
    order = np.argsort(t, kind="stable")
    t = t[order]
    dup = np.flatnonzero(t[1:] == t[:-1])
    if dup.size:
        raise InputError(
            f"duplicate date {pd.Timestamp(t[dup[0]]).isoformat()}", path=f"{source}:{date_col}"
        )
    assets: list[str] = []
    values: list[FloatArray] = []
    for c in cols:
        if c == date_col:
            continue
        sym = c.strip().upper()
        if not sym or sym in assets:
            raise InputError(f"column {c!r} is empty or repeated", path=source)
        col = df[c]
        # strict: booleans, dates and text such as 'nan' or 'NA' are errors, an empty cell is
        # a missing close
        where = f"{source}:{c}"
        num = number_column(col, lambda r: f"{where}[row {r + 1}]", text=True)[order]  # noqa: B023
        given = ~np.isnan(num)
        badv = given & ~(np.isfinite(num) & (num > 0))
        if badv.any():
            i = int(np.flatnonzero(badv)[0])
            raise InputError(
                f"row {order[i] + 1}: price {num[i]!r} must be positive and finite",
                path=f"{source}:{c}",
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


def load_price_history(path: str | Path) -> PriceHistory:
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
    return _frame_to_history(read_csv_or_parquet(p, what="history"), str(p))


@lru_cache(maxsize=1)
def bundled_history() -> PriceHistory:
    """The bundled daily closes (BTC, ETH, SPX, NDX, VIX), see ``crossmargin/data/README.md``."""
    from crossmargin.history import load_daily_closes

    df = load_daily_closes().reset_index()
    return _frame_to_history(
        df, "bundled daily closes (crossmargin/data/daily_closes_1990_2026.csv)"
    )


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


def history_of(snapshot: object) -> PriceHistory:
    """The snapshot's history if it carries one (``--history``), else the bundled history."""
    h = getattr(snapshot, "history", None)
    return h if isinstance(h, PriceHistory) else bundled_history()
