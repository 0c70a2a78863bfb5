"""Bundled real market history: daily closes 1990-2026 and hourly BTC.

Daily: BTC, ETH, USDC, USDT, SPX, NDX, VIX. Providers: CoinGecko (BTC, ETH, USDC, USDT), the skfolio dataset and S&P Dow Jones Indices via
FRED (S&P 500), Nasdaq via FRED (NASDAQ-100), Cboe (VIX); hourly BTC: Coinbase via
CryptoDataDownload — see ``crossmargin/data/README.md``. Missing values mean no print that day.
"""

from crossmargin.history.bundled import (
    DAILY_COLUMNS,
    DAILY_FILE,
    DROPPED_PRINTS,
    DailyCloses,
    daily_closes,
    load_daily_closes,
    load_hourly_btc,
)

__all__ = [
    "DAILY_COLUMNS",
    "DAILY_FILE",
    "DROPPED_PRINTS",
    "DailyCloses",
    "daily_closes",
    "load_daily_closes",
    "load_hourly_btc",
]
