"""The 1990-2026 daily history and the 2-hourly BTC file shipped for the calibration study.

Facts the study (docs/calibration.md) relies on, checked on the raw files as shipped: columns
and ranges, the stress points, and every raw-data feature the study's cleaning handles
explicitly (ETH listing prints, USDT stale stretches, the SPX splice gap, the real ETH V of
March 2017). Source and provenance: src/crossmargin/data/README.md.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crossmargin.backtest import load_history
from crossmargin.backtest.cleaning import CleaningRules, clean_history
from crossmargin.market.history import PriceHistory

DATA = Path(str(resources.files("crossmargin").joinpath("data")))
D = np.datetime64


@pytest.fixture(scope="module")
def hist() -> PriceHistory:
    return load_history(DATA / "daily_closes_1990_2026.csv")


def _at(h: PriceHistory, col: str, day: str) -> float:
    return float(h.column(col)[np.flatnonzero(h.dates == D(day))[0]])


def _range(h: PriceHistory, col: str) -> tuple[str, str]:
    ok = np.isfinite(h.column(col))
    return str(h.dates[ok][0]), str(h.dates[ok][-1])


def test_columns_and_ranges_match_the_provenance_table(hist: PriceHistory) -> None:
    assert hist.assets == ("BTC", "ETH", "USDC", "USDT", "SPX", "NDX", "VIX")
    assert _range(hist, "BTC") == ("2013-04-27", "2026-03-27")
    assert _range(hist, "ETH") == ("2015-08-06", "2026-03-27")
    assert _range(hist, "USDC") == ("2018-10-04", "2026-03-27")
    assert _range(hist, "SPX") == ("1990-01-02", "2026-03-27")
    assert _range(hist, "NDX") == ("1990-01-02", "2026-07-02")
    assert _range(hist, "VIX") == ("1990-01-02", "2026-07-23")


def test_named_stress_points_are_in_the_data(hist: PriceHistory) -> None:
    # COVID: BTC -43 % (log) on 2020-03-12
    assert np.log(_at(hist, "BTC", "2020-03-12") / _at(hist, "BTC", "2020-03-11")) == pytest.approx(
        -0.434, abs=0.002
    )
    # USDC depeg on the SVB weekend: 0.9656 on 2023-03-11, back above 0.99 the next day
    usdc = hist.column("USDC")
    assert float(np.nanmin(usdc)) == pytest.approx(0.96558, abs=1e-5)
    assert str(hist.dates[int(np.nanargmin(usdc))]) == "2023-03-11"
    assert _at(hist, "USDC", "2023-03-12") > 0.99
    # NDX is the NASDAQ-100 (5 382 on 2017-03-14), not the Composite (5 857 that day)
    assert _at(hist, "NDX", "2017-03-14") == pytest.approx(5382.17)


def test_raw_features_the_study_cleans_explicitly(hist: PriceHistory) -> None:
    # ETH listing days: log moves of -0.76 and -0.66, and no print on 2015-08-08
    assert np.isnan(_at(hist, "ETH", "2015-08-08"))
    assert np.log(_at(hist, "ETH", "2015-08-07") / _at(hist, "ETH", "2015-08-06")) < -0.7
    # SPX misses the two sessions of the provider splice; NDX has them
    for day in ("2022-12-29", "2022-12-30"):
        assert np.isnan(_at(hist, "SPX", day)) and np.isfinite(_at(hist, "NDX", day))
    # the only spike-and-revert point is the real ETH V of March 2017; USDT's stale 1.0 runs
    _, dropped = clean_history(hist, CleaningRules())
    bad = [(d.asset, d.date) for d in dropped if d.reason == "bad_print"]
    assert bad == [("ETH", "2017-03-17")]
    stale = {d.asset for d in dropped if d.reason == "stale_repeat"}
    assert stale == {"USDT", "VIX"}
    assert sum(d.asset == "USDT" for d in dropped) == 671
    # nothing is forward-filled: equities have no weekend prints, crypto does
    sat = np.flatnonzero(hist.dates == D("2024-08-03"))[0]
    assert np.isnan(hist.column("SPX")[sat]) and np.isfinite(hist.column("BTC")[sat])


def test_two_hourly_btc_file_is_complete() -> None:
    df = pd.read_csv(DATA / "btcusd_2h.csv", parse_dates=["timestamp"])
    assert list(df.columns) == ["timestamp", "open", "high", "low", "close", "volume"]
    assert len(df) == 61_465
    assert str(df["timestamp"].iloc[0]) == "2011-08-18 12:00:00"
    assert str(df["timestamp"].iloc[-1]) == "2025-08-26 12:00:00"
    assert (df["timestamp"].diff().dropna() == pd.Timedelta(hours=2)).all()
    assert (df[["open", "high", "low", "close"]] > 0).all().all()
    assert (df["high"] >= df["low"]).all()
