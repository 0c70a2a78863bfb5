"""Netting checks, procyclicality and capital efficiency."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.backtest import load_book, load_history, run_backtest
from crossmargin.backtest.netting import credit_correlation, netting_report, rolling_correlation
from crossmargin.backtest.procyclicality import efficiency, procyclicality
from crossmargin.backtest.replay import ReplayOptions
from crossmargin.backtest.run import BacktestResult
from crossmargin.config import default_config

from .helpers import BUILTIN


@pytest.fixture(scope="module")
def crypto() -> BacktestResult:
    return run_backtest(
        load_book("crypto_options_perps"),
        load_history(),
        models=list(BUILTIN),
        options=ReplayOptions(mpor=2, start="2017-06-01", end="2018-06-30"),
    )


def test_credit_correlation_matches_the_config_rationale() -> None:
    # default_risk.yaml: BTC/ETH 0.30 <=> rho ~ 0.02; SPX/NDX 0.60 <=> rho ~ 0.68 (calibrated,
    # issue 13); the previous 0.50 / 0.75 <=> 0.50 / 0.875
    assert credit_correlation(0.30) == pytest.approx(0.02)
    assert credit_correlation(0.60) == pytest.approx(0.68)
    assert credit_correlation(0.50) == pytest.approx(0.50)
    assert credit_correlation(0.75) == pytest.approx(0.875)
    assert credit_correlation(0.0) == pytest.approx(-1.0)


@given(n=st.integers(10, 120), w=st.integers(3, 10), seed=st.integers(0, 10_000))
def test_rolling_correlation_matches_numpy(n: int, w: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal(n), rng.standard_normal(n)
    got = rolling_correlation(x, y, w)
    assert np.all(np.isnan(got[: w - 1]))
    for i in range(w - 1, n, max(1, n // 7)):
        exp = np.corrcoef(x[i - w + 1 : i + 1], y[i - w + 1 : i + 1])[0, 1]
        assert got[i] == pytest.approx(exp, abs=1e-9)


def test_additive_models_take_no_netting_credit(crypto: BacktestResult) -> None:
    for name in ("isolated", "cross"):
        net = crypto.model(name).netting
        assert net is not None
        np.testing.assert_allclose(net.benefit, 0.0, atol=1e-6 * float(np.max(net.standalone)))
        assert net.pairs == () and net.broken_offsets == 0


def test_portfolio_credit_is_checked_against_realised_correlation(crypto: BacktestResult) -> None:
    m = crypto.model("portfolio")
    net = m.netting
    assert net is not None and m.run is not None
    assert set(m.run.credits) == {"BTC/ETH"}
    (pair,) = net.pairs
    assert pair.legs == ("BTC", "ETH") and pair.source == "credit"
    took = np.isfinite(pair.assumed)
    assert took.all()  # the spread is on every day (constant delta +2m / -2m)
    # the shipped credit (30 %, calibrated on 2013-2026, issue 13) assumes rho = 1 - 2 (0.7)^2
    rho = credit_correlation(0.30)
    assert rho == pytest.approx(0.02)
    assert np.all(pair.assumed[took] == pytest.approx(rho))
    assert np.all(pair.direction == 1.0)  # opposite deltas: a hedge
    # flagged exactly where realised correlation fell below the assumption
    np.testing.assert_array_equal(pair.flagged, pair.realised < rho)
    assert not pair.flagged.all()
    # the benefit of netting is at least the explicit credit's effect on margin (SOM aside)
    assert np.all(net.benefit > 0)
    # attribution: broken offsets are exceedances covered by the stand-alone margins
    rep = crypto.replay
    ex = m.exceeded & m.used
    assert net.exceedances == int(ex.sum())
    assert net.broken_offsets == int(np.sum(ex & (rep.loss <= net.standalone)))
    assert 0.0 <= net.shortfall_from_offsets <= net.shortfall + 1e-9


def test_netting_report_hand_case() -> None:
    dates = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-07"))
    margin = np.array([10.0, 10.0, 10.0, 10.0, 10.0, 10.0])
    by = np.array([[8.0, 8.0]] * 6)  # stand-alone 16: benefit 6
    loss = np.array([1.0, 12.0, 20.0, 3.0, 11.0, 2.0])
    used = np.ones(6, dtype=bool)
    r = np.array([[0.01, 0.01]] * 40)
    r[30:, 1] *= -1  # correlation breaks at the end
    rep = netting_report(
        underlyings=("A", "B"), dates=dates, margin=margin, margin_by_und=by, loss=loss,
        used=used, delta_by_und=np.array([[1.0, -1.0]] * 6), credits={"A/B": np.full(6, 6.0)},
        step_returns=r, window_end=np.arange(34, 40), window=5, config=default_config(),
    )  # fmt: skip
    # exceedances 12, 20, 11; 12 and 11 are within the stand-alone 16: broken offsets
    assert (rep.exceedances, rep.broken_offsets) == (3, 2)
    assert rep.shortfall == pytest.approx(2 + 10 + 1)
    assert rep.shortfall_from_offsets == pytest.approx(2 + 6 + 1)
    assert rep.pairs[0].assumed[0] == pytest.approx(np.nan, nan_ok=True)  # A/B has no config rate


def test_procyclicality_hand_case() -> None:
    dates = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-02-10"))
    m = np.full(40, 100.0)
    m[10] = 150.0  # +50 % in one day
    m[20:] = 300.0
    gross = np.full(40, 1000.0)
    vol = np.linspace(0.2, 0.8, 40)
    p = procyclicality(m, gross, vol, dates)
    assert p.peak_to_trough == pytest.approx(3.0)
    assert p.peak_to_trough_rate == pytest.approx(3.0)
    one, five, thirty = p.increases
    assert five.relative == pytest.approx(2.0)
    assert one.relative == pytest.approx(2.0) and one.date == "2020-01-21"  # 100 -> 300
    assert one.amount == pytest.approx(200.0)
    assert thirty.relative == pytest.approx(2.0)
    assert p.vol_correlation is not None and p.vol_correlation > 0.5
    flat = procyclicality(np.full(40, 5.0), gross, vol, dates)
    assert flat.vol_correlation is None and flat.increases[0].relative == 0.0
    zero = procyclicality(np.zeros(5), np.ones(5), np.ones(5), dates[:5])
    assert zero.peak_to_trough is None


def test_efficiency() -> None:
    e = efficiency(np.array([2.0, 4.0]), np.array([100.0, 100.0]), np.array([6.0, 6.0]),
                   np.array([1.0, 3.0]), 0.5)  # fmt: skip
    assert e.avg_margin == 3.0 and e.margin_over_gross == pytest.approx(0.03)
    assert e.margin_over_isolated == pytest.approx(0.5)
    assert e.margin_over_loss_quantile == pytest.approx(1.5)


def test_portfolio_nets_but_costs_more_than_isolated_on_this_book(crypto: BacktestResult) -> None:
    # since the issue-13 calibration ETH is scanned at ±32 %: on this book (a USD 2 m short ETH
    # perp against 5 % isolated) portfolio holds more than isolated (docs/validation.md (a)),
    # while netting still frees capital against its own stand-alone margins
    iso = crypto.model("isolated").efficiency
    pm = crypto.model("portfolio").efficiency
    assert iso is not None and pm is not None
    assert iso.margin_over_isolated == pytest.approx(1.0)
    assert pm.margin_over_isolated is not None and 1.0 < pm.margin_over_isolated < 1.3
    net = crypto.model("portfolio").netting
    assert net is not None and np.all(net.benefit > 0)
