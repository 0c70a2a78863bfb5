"""Readers of the bundled history files (raw, unaligned; NaN = did not trade)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd

__all__ = ["DAILY_COLUMNS", "load_daily_closes", "load_hourly_btc"]

#: Columns of the bundled daily file.
DAILY_COLUMNS = ("BTC", "ETH", "SPX", "NDX", "VIX")


@lru_cache(maxsize=1)
def _daily() -> pd.DataFrame:
    with resources.files("crossmargin.data").joinpath("daily_closes.csv").open("r") as f:
        df = pd.read_csv(f, parse_dates=["date"])
    return df.set_index("date").sort_index()


def load_daily_closes() -> pd.DataFrame:
    """Daily closes indexed by date (a copy; NaN where a series did not trade)."""
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
