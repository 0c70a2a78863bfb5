"""Readers of the bundled history files (raw and unaligned, NaN = no print that day).

The daily file is ``daily_closes_1990_2026.csv`` (provenance in ``crossmargin/data/README.md``):
BTC, ETH, USDC and USDT from CoinGecko, the S&P 500 (skfolio dataset, then S&P Dow Jones
Indices via FRED), the NASDAQ-100 (Nasdaq via FRED) and the Cboe VIX. It is read as shipped
except for the prints listed in :data:`DROPPED_PRINTS`, removed by name (each with its reason);
nothing is forward-filled. Further cleaning (stale repeats, spike-and-revert prints) is the
consumer's explicit choice (:mod:`crossmargin.backtest.cleaning`).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd

__all__ = [
    "DAILY_COLUMNS",
    "DAILY_FILE",
    "DROPPED_PRINTS",
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


@lru_cache(maxsize=1)
def _daily() -> pd.DataFrame:
    with resources.files("crossmargin.data").joinpath(DAILY_FILE).open("r") as f:
        df = pd.read_csv(f, parse_dates=["date"])
    df = df.set_index("date").sort_index()
    for col, start, end, _ in DROPPED_PRINTS:
        df.loc[start:end, col] = float("nan")
    return df


def load_daily_closes() -> pd.DataFrame:
    """Daily closes indexed by date (a copy; NaN where a series has no print)."""
    return _daily().copy()


@lru_cache(maxsize=1)
def _hourly() -> pd.DataFrame:
    with resources.files("crossmargin.data").joinpath("btcusd_hourly.csv").open("r") as f:
        df = pd.read_csv(f)
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    return df.set_index("timestamp").sort_index()


def load_hourly_btc() -> pd.DataFrame:
    """Hourly BTC/USD OHLCV (Coinbase) indexed by UTC timestamp (a copy)."""
    return _hourly().copy()
