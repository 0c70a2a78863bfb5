"""Price histories, joint returns and (filtered) historical scenario sets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crossmargin.config import default_config
from crossmargin.errors import InputError, MarketDataError, ModelError
from crossmargin.market.history import bundled_history, load_price_history
from crossmargin.market.returns import ewma_variance, joint_returns, overlapping_windows
from crossmargin.scenarios.freshness import history_freshness
from crossmargin.scenarios.historical import historical_scenarios, mpor_observations
from crossmargin.scenarios.joint import SEGMENT_DEPEG, SEGMENT_LOOKBACK, SEGMENT_STRESS

from .helpers import config, gbm_frame, history_of_frame

END = np.datetime64("2100-01-01")


# -- the file reader --------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_reader_roundtrip(tmp_path: Path, suffix: str) -> None:
    df = gbm_frame(["btc", "ETH"], n=50)
    p = tmp_path / f"h{suffix}"
    df.to_csv(p, index=False) if suffix == ".csv" else df.to_parquet(p, index=False)
    h = load_price_history(p)
    assert h.assets == ("BTC", "ETH")  # symbols upper-cased
    assert h.prices.shape == (50, 2)
    np.testing.assert_allclose(h.prices[:, 0], df["btc"].to_numpy())


@pytest.mark.parametrize(
    ("text", "where", "why"),
    [
        ("date,BTC\n2020-01-01,1\nnot-a-date,2\n", "h.csv:date", "row 2: cannot read"),
        ("date,BTC\n2020-01-01,1\n2020-01-01,2\n", "h.csv:date", "duplicate date"),
        (
            "date,BTC\n2020-01-01,1\n2020-01-02,abc\n",
            "h.csv:BTC[2020-01-02]",
            "must be a number, got 'abc'",
        ),
        ("date,BTC\n2020-01-01,1\n2020-01-02,-3\n", "h.csv:BTC[2020-01-02]", "must be positive"),
        ("day,BTC\n2020-01-01,1\n2020-01-02,2\n", "h.csv", "needs a date column"),
        ("date\n2020-01-01\n2020-01-02\n", "h.csv", "at least one price column"),
        ("date,BTC\n2020-01-01,1\n", "h.csv", "at least two observations"),
    ],
)
def test_reader_rejects_bad_files(tmp_path: Path, text: str, where: str, why: str) -> None:
    p = tmp_path / "h.csv"
    p.write_text(text)
    with pytest.raises(InputError) as e:
        load_price_history(p)
    assert e.value.path.endswith(where)
    assert why in e.value.reason


def test_reader_missing_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_price_history(tmp_path / "nope.csv")
    (tmp_path / "h.txt").write_text("x")
    with pytest.raises(InputError, match="unknown history format"):
        load_price_history(tmp_path / "h.txt")


def test_bundled_history_provenance() -> None:
    h = bundled_history()
    assert h.assets == ("BTC", "ETH", "USDC", "USDT", "SPX", "NDX", "VIX")
    assert "bundled" in h.source and "daily_closes_1990_2026.csv" in h.source
    with pytest.raises(MarketDataError) as e:
        h.column("SOL", needed_by="SOL-PERP")
    assert e.value.path == "history.SOL"
    assert "--history" in e.value.reason


# -- alignment, EWMA, windows -----------------------------------------------------------------
def test_alignment_is_explicit_no_forward_fill(tmp_path: Path) -> None:
    # BTC trades daily, SPX on weekdays only: the common calendar is the weekdays and the
    # Monday BTC return spans the weekend (Friday close to Monday close), never a filled price
    df = gbm_frame(["BTC", "SPX"], n=21, weekdays=["SPX"], start="2024-01-01")  # Mon..
    h = history_of_frame(df, tmp_path)
    jr = joint_returns(h, ("BTC", "SPX"), until=END, max_gap_days=5)
    times = pd.to_datetime(jr.times)
    assert (times.day_of_week < 5).all()
    btc = df.set_index("date")["BTC"]
    mon = np.flatnonzero(times[1:].day_of_week == 0)[0]
    expected = np.log(btc[times[mon + 1]] / btc[times[mon]])
    assert jr.x[mon, 0] == pytest.approx(expected, rel=1e-12)
    assert jr.spacing_days == 1.0


def test_gap_returns_are_dropped_and_never_straddled(tmp_path: Path) -> None:
    df = gbm_frame(["BTC"], n=40)
    df = df.drop(index=range(10, 20))  # a 11-day hole
    h = history_of_frame(df, tmp_path)
    jr = joint_returns(h, ("BTC",), until=END, max_gap_days=5)
    assert jr.dropped == 1 and (~jr.valid).sum() == 1
    w = overlapping_windows(jr.x, jr.valid, 2)
    bad = np.flatnonzero(~jr.valid)[0]
    assert not np.any((w.start <= bad) & (w.end > bad))


def test_ewma_matches_recursion() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((200, 2)) * 0.03
    lam = 0.97
    fc, now = ewma_variance(x, lam)
    v = np.mean(x[:30] ** 2, axis=0)
    for t in range(200):
        np.testing.assert_allclose(fc[t], v, rtol=1e-12)
        v = lam * v + (1 - lam) * x[t] ** 2
    np.testing.assert_allclose(now, v, rtol=1e-12)


def test_overlapping_windows_match_naive_sums() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((30, 2))
    valid = np.ones(30, bool)
    w = overlapping_windows(x, valid, 3)
    assert w.X.shape == (28, 2)
    for i, e in enumerate(w.end):
        np.testing.assert_allclose(w.X[i], x[e - 3 : e].sum(axis=0), rtol=1e-12)


def test_mpor_in_observations() -> None:
    assert mpor_observations(2, 1.0) == 2
    assert mpor_observations(2, 1 / 24) == 48  # hourly history
    assert mpor_observations(0.2, 1.0) == 1


# -- scenario sets ----------------------------------------------------------------------------
def _set(tmp: Path, **var: object) -> object:
    h = history_of_frame(gbm_frame(["BTC", "ETH"], n=900, start="2018-01-01"), tmp)
    cfg = config(**var)
    return historical_scenarios(
        h,
        ("BTC", "ETH"),
        as_of=datetime(2026, 1, 1, tzinfo=UTC),
        cfg=cfg.var,
        risk_class_of=cfg.risk_class_of,
        stable_prices={"USDC": 0.9998},
    )


def test_weights_segments_and_depeg(tmp_path: Path) -> None:
    # 2018-01-01 + 900 days: the lookback is the last 730 days, the configured crypto stress
    # period 2017-12..2018-12 overlaps the start of the data; stress weighting is opt-in
    s = _set(tmp_path, stress_weight=0.25)
    seg = s.segment
    assert set(np.unique(seg)) == {SEGMENT_LOOKBACK, SEGMENT_STRESS, SEGMENT_DEPEG}
    assert s.weight.sum() == pytest.approx(1.0, abs=1e-12)
    assert s.weight[seg != SEGMENT_LOOKBACK].sum() == pytest.approx(0.25, abs=1e-12)
    d = np.flatnonzero(seg == SEGMENT_DEPEG)[0]
    assert s.spot_move[s.row("USDC"), d] == pytest.approx(0.88 / 0.9998 - 1.0, rel=1e-12)
    assert s.spot_move[s.row("BTC"), d] == 0.0
    assert s.labels[d] == "depeg USDC to 0.88"
    assert s.info["lookback_scenarios"] + s.info["stress_scenarios"] + 1 == s.n_scenarios
    # the shipped default (no stress weighting): no stress windows, the depeg scenario kept at
    # the weight of every other scenario
    d0 = _set(tmp_path)
    assert set(np.unique(d0.segment)) == {SEGMENT_LOOKBACK, SEGMENT_DEPEG}
    assert d0.info["stress_scenarios"] == 0 and d0.n_scenarios == s.info["lookback_scenarios"] + 1
    assert d0.weight == pytest.approx(np.full(d0.n_scenarios, 1.0 / d0.n_scenarios), abs=1e-15)


def test_fhs_rescales_to_current_vol(tmp_path: Path) -> None:
    fhs = _set(tmp_path, stress_weight=0.0, anti_procyclicality="none", depeg={})
    hs = _set(tmp_path, stress_weight=0.0, anti_procyclicality="none", depeg={}, method="hs")
    # one 2-day window ending on each of the 730 days of the lookback
    assert fhs.n_scenarios == hs.n_scenarios == 730
    assert fhs.info["method"] == "filtered historical simulation"
    assert hs.info["method"] == "historical simulation"
    assert not np.allclose(fhs.spot_move, hs.spot_move)
    # labels are the window dates, e.g. 2019-06-20..2019-06-22
    assert hs.labels[0].count("..") == 1 and len(hs.labels[0]) == 22


def test_no_look_ahead(tmp_path: Path) -> None:
    df = gbm_frame(["BTC", "ETH"], n=900, start="2018-01-01")
    h_full = history_of_frame(df, tmp_path, "full.csv")
    h_cut = history_of_frame(df[df["date"] <= "2019-12-31"], tmp_path, "cut.csv")
    cfg = config(stress_weight=0.0, anti_procyclicality="none", depeg={})

    def build(h: object) -> object:
        return historical_scenarios(
            h,  # type: ignore[arg-type]
            ("BTC", "ETH"),
            as_of=datetime(2019, 12, 31, 12, tzinfo=UTC),
            cfg=cfg.var,
            risk_class_of=cfg.risk_class_of,
        )

    a, b = build(h_full), build(h_cut)
    np.testing.assert_array_equal(a.spot_move, b.spot_move)
    assert a.info["history_end"] == "2019-12-31"


def test_stress_window_auto_detected(tmp_path: Path) -> None:
    df = gbm_frame(["BTC", "ETH"], n=900, start="2021-01-01")  # no configured period has data
    df.loc[600:660, ["BTC", "ETH"]] *= np.exp(
        np.cumsum(np.random.default_rng(9).normal(0, 0.2, (61, 2)), axis=0)
    )
    h = history_of_frame(df, tmp_path)
    cfg = config(stress_weight=0.25)  # stress weighting is opt-in
    s = historical_scenarios(
        h, ("BTC", "ETH"), as_of=datetime(2026, 1, 1, tzinfo=UTC), cfg=cfg.var,
        risk_class_of=cfg.risk_class_of,
    )  # fmt: skip
    assert s.info["stress_periods"][0].startswith("auto-detected most volatile 365-day window")
    assert s.info["stress_scenarios"] > 0


def test_errors_fail_closed(tmp_path: Path) -> None:
    h = history_of_frame(gbm_frame(["BTC"], n=900, start="2018-01-01"), tmp_path)
    cfg = config(max_history_age_days=30, allow_stale_history=False)
    kw = {"cfg": cfg.var, "risk_class_of": cfg.risk_class_of}
    with pytest.raises(MarketDataError, match="days before as_of") as e:
        history_freshness(h, ("BTC",), datetime(2026, 1, 1, tzinfo=UTC), cfg.var)
    assert e.value.path == "history.BTC"
    with pytest.raises(MarketDataError) as e2:
        historical_scenarios(h, ("BTC", "SOL"), as_of=datetime(2026, 1, 1, tzinfo=UTC), **kw)  # type: ignore[arg-type]
    assert e2.value.path == "history.SOL"
    short = config(min_observations=5000)
    with pytest.raises(ModelError, match="min_observations"):
        historical_scenarios(
            h, ("BTC",), as_of=datetime(2021, 1, 1, tzinfo=UTC), cfg=short.var,
            risk_class_of=short.risk_class_of,
        )  # fmt: skip


def test_vix_drives_spx_vol_moves() -> None:
    cfg = default_config()
    s = historical_scenarios(
        bundled_history(), ("SPX",), as_of=datetime(2026, 1, 1, tzinfo=UTC), cfg=cfg.var,
        risk_class_of=cfg.risk_class_of,
    )  # fmt: skip
    # VIX (2014-2019) covers the lookback; the 2008 stress windows fall back to the response
    assert s.info["vol_moves_from_index"] >= s.info["lookback_scenarios"]
    # falling index, rising VIX: the vol moves are negatively correlated with the spot moves
    lb = s.segment == SEGMENT_LOOKBACK
    assert np.corrcoef(s.spot_move[0, lb], s.vol_move[0, lb])[0, 1] < -0.5


def test_stress_weight_apc_needs_stressed_observations(tmp_path: Path) -> None:
    # 300 days of 2023 data: no configured period, too short to auto-detect a 365-day window
    h = history_of_frame(gbm_frame(["BTC"], n=300, start="2023-01-01"), tmp_path)
    cfg = config(min_observations=100, anti_procyclicality="stress_weight", stress_weight=0.25)
    with pytest.raises(ModelError, match="needs stressed observations") as e:
        historical_scenarios(
            h, ("BTC",), as_of=datetime(2024, 1, 1, tzinfo=UTC), cfg=cfg.var,
            risk_class_of=cfg.risk_class_of,
        )  # fmt: skip
    assert e.value.path == "var.stress_periods"
    ok = config(min_observations=100, anti_procyclicality="buffer", stress_weight=0.25)
    s = historical_scenarios(
        h, ("BTC",), as_of=datetime(2024, 1, 1, tzinfo=UTC), cfg=ok.var,
        risk_class_of=ok.risk_class_of,
    )  # fmt: skip
    assert s.info["stress_scenarios"] == 0 and s.weight.sum() == pytest.approx(1.0)
