"""History loading, cleaning, calendar alignment and point-in-time vol estimates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.signal import lfilter

from crossmargin.backtest import history_from_frame, load_history
from crossmargin.backtest.calendar import align
from crossmargin.backtest.cleaning import CleaningRules, clean_history, parse_drop
from crossmargin.backtest.vol import VolSpec, ewma_vol, realised_vol, vol_on_calendar
from crossmargin.errors import InputError

D = np.datetime64


#: The first bundled history, kept as a fixture of known raw defects (tests/backtest/data).
LEGACY = Path(__file__).parent / "data" / "bitfinex_daily_2014_2020.csv"


@pytest.fixture(scope="module")
def bundled():  # type: ignore[no-untyped-def]
    return load_history(LEGACY)


def test_shipped_history_is_the_1990_2026_file() -> None:
    h = load_history()
    assert h.assets == ("BTC", "ETH", "USDC", "USDT", "SPX", "NDX", "VIX")
    assert h.source == "bundled"
    assert str(h.dates[0]) == "1990-01-02" and str(h.dates[-1]) == "2026-07-23"
    # the ETH listing prints are dropped by name when the file is read (DROPPED_PRINTS)
    eth = h.column("ETH")
    assert not np.isfinite(eth[(h.dates >= D("2015-08-06")) & (h.dates <= D("2015-08-16"))]).any()
    assert np.isfinite(eth[h.dates == D("2015-08-17")][0])


def test_bundled_history_is_raw(bundled) -> None:  # type: ignore[no-untyped-def]
    assert bundled.assets == ("BTC", "ETH", "SPX", "NDX", "VIX")
    # raw: SPX has no close on a Saturday, BTC does
    sat = np.flatnonzero(bundled.dates == D("2017-01-07"))[0]
    assert np.isnan(bundled.column("SPX")[sat]) and np.isfinite(bundled.column("BTC")[sat])
    assert bundled.column("BTC")[bundled.dates == D("2015-01-14")][0] == 120.0


def test_bitfinex_print_and_stale_runs_are_dropped_and_reported(bundled) -> None:  # type: ignore[no-untyped-def]
    cleaned, dropped = clean_history(bundled, CleaningRules())
    bad = [d for d in dropped if d.reason == "bad_print"]
    assert [(d.asset, d.date, d.value) for d in bad] == [("BTC", "2015-01-14", 120.0)]
    assert "260 -> 120 -> 211.91" in bad[0].detail
    stale = [d for d in dropped if d.reason == "stale_repeat"]
    # 350 x 6, 340 x 21, 288.99 x 5 in Dec 2014 - Jan 2015: first close of each run kept
    assert len(stale) == 5 + 20 + 4
    assert {d.asset for d in stale} == {"BTC"}
    i = np.flatnonzero(bundled.dates == D("2015-01-14"))[0]
    assert np.isnan(cleaned.column("BTC")[i])
    # the real fall around it is kept: 260 on 01-13, 211.91 on 01-15
    assert cleaned.column("BTC")[i - 1] == 260.0 and cleaned.column("BTC")[i + 1] == 211.91
    # nothing else changed
    changed = np.isnan(cleaned.prices) != np.isnan(bundled.prices)
    assert int(changed.sum()) == len(dropped)


def test_cleaning_switches_and_user_drops(bundled) -> None:  # type: ignore[no-untyped-def]
    _, dropped = clean_history(bundled, CleaningRules(bad_prints=False, stale_run=0))
    assert dropped == ()
    rules = CleaningRules(bad_prints=False, stale_run=0, user_drops=(parse_drop("eth:2018-02-05"),))
    _, dropped = clean_history(bundled, rules)
    assert [(d.asset, d.date, d.reason) for d in dropped] == [("ETH", "2018-02-05", "user")]
    with pytest.raises(InputError, match="ASSET:YYYY-MM-DD"):
        parse_drop("ETH-2018-02-05")
    with pytest.raises(InputError, match="no close"):
        clean_history(bundled, CleaningRules(user_drops=(parse_drop("SPX:2018-02-03"),)))


def test_history_file_round_trip(tmp_path: Path, bundled) -> None:  # type: ignore[no-untyped-def]
    df = pd.DataFrame({"date": ["2020-01-02", "2020-01-01", "2020-01-03"], "btc": [2.0, 1.0, None]})
    p = tmp_path / "h.csv"
    df.to_csv(p, index=False)
    h = load_history(p)
    assert h.assets == ("BTC",)
    assert list(h.dates.astype(str)) == ["2020-01-01", "2020-01-02", "2020-01-03"]  # sorted
    assert np.isnan(h.prices[2, 0])
    q = tmp_path / "h.parquet"
    df.assign(date=pd.to_datetime(df["date"])).to_parquet(q)
    assert np.array_equal(load_history(q).prices, h.prices, equal_nan=True)


@pytest.mark.parametrize(
    ("frame", "path", "why"),
    [
        ({"date": ["2020-01-01", "nope"], "BTC": [1.0, 2.0]}, "t:date", "row 2: cannot read"),
        ({"date": ["2020-01-01", "2020-01-01"], "BTC": [1.0, 2.0]}, "t:date", "duplicate"),
        (
            {"date": ["2020-01-01", "2020-01-02"], "BTC": [1.0, -2.0]},
            "t:BTC[2020-01-02]",
            "positive",
        ),
        (
            {"date": ["2020-01-01", "2020-01-02"], "BTC": [1.0, "x"]},
            "t:BTC[2020-01-02]",
            "must be a number",
        ),
        (
            {"date": ["2020-01-01", "2020-01-02"], "BTC": [1.0, np.inf]},
            "t:BTC[2020-01-02]",
            "positive",
        ),
    ],
)
def test_bad_history_names_the_cell(frame: dict[str, list[object]], path: str, why: str) -> None:
    with pytest.raises(InputError, match=why) as exc:
        history_from_frame(pd.DataFrame(frame), source="t")
    assert exc.value.path == path


def test_bad_history_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_history(tmp_path / "missing.csv")
    (tmp_path / "h.txt").write_text("date,BTC\n")
    with pytest.raises(InputError, match=r"\.csv or \.parquet"):
        load_history(tmp_path / "h.txt")


def test_mixed_calendar_never_forward_fills(bundled) -> None:  # type: ignore[no-untyped-def]
    cleaned, dropped = clean_history(bundled, CleaningRules())
    cal = align(cleaned, ["BTC", "SPX"], dropped=dropped)
    # every calendar date has a real close of both series, and each step's return is the ratio of
    # two real closes (a Friday -> Monday step carries the weekend's crypto move)
    raw = bundled.prices[np.searchsorted(bundled.dates, cal.dates)][:, [0, 2]]
    assert np.array_equal(cal.values, raw)
    assert not np.any(np.isnan(cal.values))
    weekday = (cal.dates.astype(np.int64) + 3) % 7
    assert not np.any(weekday >= 5)
    fri = np.flatnonzero(cal.dates == D("2017-01-06"))[0]
    assert cal.dates[fri + 1] == D("2017-01-09") and cal.span_days[fri] == 3
    # dates where only BTC traded are counted, not silently used
    assert cal.partial_dates["SPX"] > 400
    assert cal.partial_dates["BTC"] > 0  # equity days on which BTC's close was dropped
    btc, spx = cal.coverage
    assert btc.seven_day and not spx.seven_day
    # the dropped 2015-01-14 print: the step 01-13 -> 01-15 misses one BTC day
    i = np.flatnonzero(cal.dates == D("2015-01-13"))[0]
    assert cal.dates[i + 1] == D("2015-01-15") and cal.missing_after[i] == 1
    # the 20 stale repeats of Dec 2014 make a long gap
    assert cal.missing_after.max() >= 20


def test_align_errors(bundled) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match="no column SOL") as exc:
        align(bundled, ["BTC", "SOL"])
    assert exc.value.path == "history.SOL"
    f = pd.DataFrame(
        {"A": [1.0, 2.0, np.nan, np.nan], "B": [np.nan, np.nan, 1.0, 2.0]},
        index=pd.date_range("2020-01-01", periods=4),
    )
    with pytest.raises(InputError, match="fewer than 2 common dates"):
        align(history_from_frame(f, source="t"), ["A", "B"])


def _naive_realised(px: np.ndarray, window: int, ann: float) -> np.ndarray:
    out = np.full(px.size, np.nan)
    r = np.diff(np.log(px))
    for i in range(window, px.size):
        out[i] = np.sqrt(np.mean(r[i - window : i] ** 2) * ann)
    return out


def test_realised_and_ewma_vol_match_naive_loops() -> None:
    rng = np.random.default_rng(5)
    px = 100 * np.exp(np.cumsum(0.02 * rng.standard_normal(200)))
    h = history_from_frame(
        pd.DataFrame({"X": px}, index=pd.date_range("2020-01-01", periods=200)), source="t"
    )
    got = realised_vol(h, "X", 20)
    exp = _naive_realised(px, 20, 365.0)
    assert np.allclose(got, exp, rtol=1e-12, equal_nan=True)
    lam = 0.94
    r2 = np.diff(np.log(px)) ** 2
    var = np.mean(r2[:20])
    naive = [var]
    for x in r2[20:]:
        var = lam * var + (1 - lam) * x
        naive.append(var)
    got_e = ewma_vol(h, "X", lam, 20)
    assert np.allclose(got_e[20:], np.sqrt(np.asarray(naive) * 365.0), rtol=1e-12)
    assert lfilter is not None


def test_vol_gap_normalisation_and_exchange_calendar() -> None:
    # a 7-day series missing one day: the return across the gap counts as two days of variance
    dates = pd.date_range("2020-01-01", periods=40)
    steps = 0.01 * np.where(np.arange(40) % 2 == 0, 1.0, -1.0)
    steps[21] = 0.01 * np.sqrt(2.0) - steps[20]  # the two days 19 -> 21 move 1 % x sqrt(2)
    px = 100.0 * np.exp(np.cumsum(steps))
    px[20] = np.nan
    h = history_from_frame(pd.DataFrame({"X": px}, index=dates), source="t")
    v = realised_vol(h, "X", 10)
    # every per-day-normalised return is 1 % in size, the gap return included
    assert np.allclose(v[np.isfinite(v)], 0.01 * np.sqrt(365.0), rtol=1e-9)
    # exchange-day series annualise with 252
    bd = pd.bdate_range("2020-01-01", periods=40)
    h2 = history_from_frame(
        pd.DataFrame({"Y": 100 * np.exp(0.01 * np.arange(40))}, index=bd), source="t"
    )
    v2 = realised_vol(h2, "Y", 10)
    assert np.allclose(v2[np.isfinite(v2)], 0.01 * np.sqrt(252.0), rtol=1e-9)


def test_index_vol_is_point_in_time(bundled) -> None:  # type: ignore[no-untyped-def]
    cal = align(bundled, ["SPX", "NDX", "VIX"])
    spx = vol_on_calendar(VolSpec(source="index", series="VIX"), bundled, "SPX", cal)
    assert np.allclose(spx, cal.column("VIX") / 100.0)
    ndx = vol_on_calendar(
        VolSpec(source="index", series="VIX", relative_to="SPX"), bundled, "NDX", cal
    )
    ratio = ndx / spx
    assert np.nanmedian(ratio) > 1.0  # the NASDAQ composite is more volatile than the S&P


@given(day=st.integers(60, 380), bump=st.floats(0.5, 2.0))
def test_vol_estimates_ignore_later_prices(day: int, bump: float) -> None:
    rng = np.random.default_rng(9)
    dates = pd.date_range("2020-01-01", periods=400)
    px = 100 * np.exp(np.cumsum(0.02 * rng.standard_normal(400)))
    h = history_from_frame(pd.DataFrame({"X": px}, index=dates), source="t")
    later = px.copy()
    later[day + 1 :] *= bump * np.exp(0.05 * rng.standard_normal(400 - day - 1))
    h2 = history_from_frame(pd.DataFrame({"X": later}, index=dates), source="t")
    for f in (lambda x: realised_vol(x, "X", 30), lambda x: ewma_vol(x, "X", 0.94, 30)):
        a, b = f(h), f(h2)
        assert np.array_equal(a[: day + 1], b[: day + 1], equal_nan=True)


@pytest.mark.parametrize("moneyness", [1e308, 1e3, 1e-3])
def test_an_unlisted_moneyness_is_refused_naming_the_leg(moneyness: float) -> None:
    """Found by the long fuzz run: moneyness 1e308 gave an infinite strike and a traceback."""
    import json

    from crossmargin.backtest.spec import book_from_obj, bundled_books
    from crossmargin.errors import InputError

    doc = json.loads(bundled_books()["btc_static"].read_text())
    i = next(k for k, leg in enumerate(doc["legs"]) if leg["kind"] == "option")
    doc["legs"][i]["moneyness"] = moneyness
    with pytest.raises(InputError) as e:
        book_from_obj(doc)
    assert e.value.path == f"book.legs[{i}].moneyness"
