"""Readers of the bundled history files (raw and unaligned, NaN = no print that day).

The daily file is ``daily_closes_1990_2026.csv`` (provenance in ``crossmargin/data/README.md``):
BTC, ETH, USDC and USDT from CoinGecko, the S&P 500 (skfolio dataset, then S&P Dow Jones
Indices via FRED), the NASDAQ-100 (Nasdaq via FRED) and the Cboe VIX. It is read as shipped
except for the prints listed in :data:`DROPPED_PRINTS`, removed by name (each with its reason);
nothing is forward-filled. Further cleaning (stale repeats, spike-and-revert prints) is the
consumer's explicit choice (:mod:`crossmargin.backtest.cleaning`).
"""

from __future__ import annotations

import io
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # pandas only for the frames: the margin path reads the arrays
    import pandas as pd

__all__ = [
    "DAILY_COLUMNS",
    "DAILY_FILE",
    "DROPPED_PRINTS",
    "DailyCloses",
    "daily_closes",
    "load_daily_closes",
    "load_hourly_btc",
]

#: The bundled daily file (in ``crossmargin/data``).
DAILY_FILE = "daily_closes_1990_2026.csv"
#: Columns of the bundled daily file.
DAILY_COLUMNS = ("BTC", "ETH", "USDC", "USDT", "SPX", "NDX", "VIX")
#: Prints removed when the daily file is read: ``(column, first date, last date, reason)``.
DROPPED_PRINTS = (
    (
        "ETH",
        "2015-08-06",
        "2015-08-16",
        "listing price discovery (daily log moves of -0.76, -0.66, +0.44, +0.37 on a few "
        "thousand dollars of volume): not a market a venue would have margined",
    ),
)


class DailyCloses(NamedTuple):
    """The bundled daily closes as arrays (read-only, shared by every caller)."""

    #: Dates (``datetime64[ns]`` at midnight), strictly increasing.
    dates: npt.NDArray[np.datetime64]
    #: Column names, :data:`DAILY_COLUMNS`.
    columns: tuple[str, ...]
    #: ``(n_dates, n_columns)`` closes; NaN where a series has no print.
    prices: npt.NDArray[np.float64]


def _fill_blanks(text: str) -> str:
    """The CSV body with every blank cell written ``nan`` (NumPy's reader refuses blanks)."""
    for _ in range(2):  # ",,,," needs two passes: a replaced "," cannot start the next match
        text = text.replace(",,", ",nan,")
    text = text.replace(",\n", ",nan\n")
    return text + "nan" if text.endswith(",") else text


@lru_cache(maxsize=1)
def daily_closes() -> DailyCloses:
    """The bundled daily closes, read with NumPy (no pandas: what a margin start-up pays).

    The shipped file is checked as any history file would be (header, dates strictly
    increasing, closes positive and finite or blank); the prints of :data:`DROPPED_PRINTS`
    are blanked.
    """
    text = resources.files("crossmargin.data").joinpath(DAILY_FILE).read_text("utf-8")
    header, _, body = text.partition("\n")
    if tuple(header.strip().split(",")) != ("date", *DAILY_COLUMNS):
        raise RuntimeError(f"bundled {DAILY_FILE}: unexpected header {header.strip()!r}")
    body = _fill_blanks(body.replace("\r\n", "\n").strip("\n"))
    n = len(DAILY_COLUMNS)
    dates = np.loadtxt(io.StringIO(body), delimiter=",", usecols=0, dtype="datetime64[D]", ndmin=1)
    prices = np.loadtxt(
        io.StringIO(body), delimiter=",", usecols=range(1, n + 1), dtype=np.float64, ndmin=2
    )
    bad = ~np.isnan(prices) & ~(np.isfinite(prices) & (prices > 0))
    if dates.size < 2 or (np.diff(dates) <= np.timedelta64(0, "D")).any() or bad.any():
        raise RuntimeError(f"bundled {DAILY_FILE}: dates out of order or a bad close")
    for col, start, end, _ in DROPPED_PRINTS:
        rows = (dates >= np.datetime64(start)) & (dates <= np.datetime64(end))
        prices[rows, DAILY_COLUMNS.index(col)] = np.nan
    times = dates.astype("datetime64[ns]")
    times.setflags(write=False)
    prices.setflags(write=False)
    return DailyCloses(times, DAILY_COLUMNS, prices)


def load_daily_closes() -> pd.DataFrame:
    """Daily closes indexed by date (a copy; NaN where a series has no print)."""
    import pandas as pd

    d = daily_closes()
    index = pd.DatetimeIndex(d.dates, name="date")
    return pd.DataFrame(d.prices.copy(), index=index, columns=list(d.columns))


@lru_cache(maxsize=1)
def _hourly() -> pd.DataFrame:
    import pandas as pd

    with resources.files("crossmargin.data").joinpath("btcusd_hourly.csv").open("r") as f:
        df = pd.read_csv(f)
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    return df.set_index("timestamp").sort_index()


def load_hourly_btc() -> pd.DataFrame:
    """Hourly BTC/USD OHLCV (Coinbase) indexed by UTC timestamp (a copy)."""
    return _hourly().copy()
