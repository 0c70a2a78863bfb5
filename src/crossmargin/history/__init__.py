"""Bundled real market history (daily closes of BTC, ETH, SPX, NDX, VIX; hourly BTC).

Providers: CryptoDataDownload (Bitfinex daily BTC/ETH, Coinbase hourly BTC), Yahoo Finance and
CBOE via the arch package (SPX, NASDAQ Composite as ``NDX``, VIX) — see ``crossmargin/data/README.md``.
The series are returned raw: a missing value means the market did not trade that day.
"""

from crossmargin.history.bundled import DAILY_COLUMNS, load_daily_closes, load_hourly_btc

__all__ = ["DAILY_COLUMNS", "load_daily_closes", "load_hourly_btc"]
