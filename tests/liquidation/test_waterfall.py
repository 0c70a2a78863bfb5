"""Insurance fund, ADL and socialised loss: order, who pays, and money to the cent."""

from __future__ import annotations

import numpy as np
import pytest

from crossmargin.instruments import Book, Perpetual, Portfolio, Position
from crossmargin.liquidation.ledger import EVENT_KINDS
from crossmargin.liquidation.waterfall import adl_match, adl_score, allocate_fund, socialize

from .helpers import FLAT, account_values, config_with, one_perp, perp_market, run_round

CENT = 0.005


def test_allocate_fund_pays_in_order_until_empty() -> None:
    np.testing.assert_allclose(allocate_fund(np.array([30.0, 50.0, 40.0]), 100.0), [30, 50, 20])
    np.testing.assert_allclose(allocate_fund(np.array([30.0, 0.0, 40.0]), 0.0), [0, 0, 0])
    np.testing.assert_allclose(allocate_fund(np.array([30.0]), 1e9), [30])


def test_socialize_is_pro_rata_and_capped() -> None:
    np.testing.assert_allclose(socialize(30.0, np.array([10.0, 20.0, 0.0])), [10, 20, 0])
    np.testing.assert_allclose(socialize(15.0, np.array([10.0, 20.0, -5.0])), [5, 10, 0])
    assert socialize(0.0, np.array([1.0])).sum() == 0.0


def test_adl_match_only_opposite_side_best_rank_first() -> None:
    # demand: a bankrupt LONG of 5 in contract 0 (needs shorts), transfer 100 if fully filled
    m = adl_match(
        d_instrument=np.array([0]),
        d_quantity=np.array([5.0]),
        d_transfer=np.array([100.0]),
        c_instrument=np.array([0, 0, 0, 1]),
        c_quantity=np.array([-3.0, -4.0, 6.0, -9.0]),
        c_score=np.array([1.0, 2.0, 9.0, 9.0]),
        n_instruments=2,
    )
    # the short ranked 2.0 goes first (4), then the 1.0 short (1); the long and the other
    # contract are never touched
    np.testing.assert_allclose(m.fill, [1.0, 4.0, 0.0, 0.0])
    np.testing.assert_allclose(m.fill_ratio, [1.0])
    np.testing.assert_allclose(m.pay, [20.0, 80.0, 0.0, 0.0])


def test_adl_match_capacity_limits_fill() -> None:
    m = adl_match(
        np.array([0]),
        np.array([-10.0]),
        np.array([50.0]),
        np.array([0, 0]),
        np.array([4.0, -4.0]),
        np.array([0.0, 0.0]),
        1,
    )
    np.testing.assert_allclose(m.fill, [4.0, 0.0])
    np.testing.assert_allclose(m.fill_ratio, [0.4])
    np.testing.assert_allclose(m.pay, [20.0, 0.0])


def test_adl_match_never_charges_more_than_a_counterpartys_equity() -> None:
    # transfer 100 for 5 units = 20 per unit; the best-ranked short can only afford 40 (2 units)
    m = adl_match(
        np.array([0]),
        np.array([5.0]),
        np.array([100.0]),
        np.array([0, 0]),
        np.array([-5.0, -5.0]),
        np.array([2.0, 1.0]),
        1,
        c_cap=np.array([40.0, 1e6]),
    )
    np.testing.assert_allclose(m.fill, [2.0, 3.0])
    np.testing.assert_allclose(m.pay, [40.0, 60.0])
    np.testing.assert_allclose(m.fill_ratio, [1.0])


def test_adl_score_ranks_profit_times_leverage() -> None:
    s = adl_score(
        np.array([10.0, 10.0, -10.0]), np.array([100.0, 100.0, 100.0]), np.array([2.0, 5.0, 5.0])
    )
    assert s[1] > s[0] > 0 > s[2]


# -- the waterfall inside a liquidation round ---------------------------------------------------
def _venue(victim_cash: float) -> Book:
    """A bankrupt long, two opposite-side shorts (A richer in profit x leverage), a same-side long."""
    return Book.from_portfolios(
        [
            one_perp("BTC", 10.0, 50_000.0, victim_cash, "victim"),
            one_perp("BTC", -4.0, 60_000.0, 40_000.0, "short-A"),  # +40k profit, levered
            one_perp("BTC", -20.0, 52_000.0, 2_000_000.0, "short-B"),  # +40k profit, low leverage
            one_perp("BTC", 5.0, 50_000.0, 1_000_000.0, "long-C"),
        ]
    )


def _cfg(last_resort: str, spread: float = 0.02) -> object:
    return config_with(
        linear=(0.10, 0.05),
        liquidity={"BTC": {**FLAT, "spread": spread}},
        fee_rate=0.01,
        policy="full",
        last_resort=last_resort,
    )


def _conserved(
    state: object,
    rb: object,
    out: object,
    fund: object,
    led: object,
    before: np.ndarray,
    fund0: float,
) -> None:
    after = account_values(rb, state)  # type: ignore[arg-type]
    flows, pots = led.net_flows(len(before))  # type: ignore[attr-defined]
    # every account's change is exactly its ledger flow ...
    np.testing.assert_allclose(after - before, flows, atol=CENT)
    # ... the fund's change is its ledger flow ...
    assert fund.balance - fund0 == pytest.approx(pots["insurance_fund"], abs=CENT)  # type: ignore[attr-defined]
    # ... and the parties sum to what they held before, to the cent
    total_before = before.sum() + fund0
    total_after = (
        after.sum()
        + fund.balance
        + pots["fee_income"]
        + pots["market"]
        + pots["bad_debt"]
        + pots["adl_clearing"]
    )  # type: ignore[attr-defined]
    assert total_after == pytest.approx(total_before, abs=CENT)


def test_insurance_fund_pays_before_adl_and_adl_only_touches_opposite_side() -> None:
    snap = perp_market({"BTC": 50_000.0})
    cfg = _cfg("adl")
    book = _venue(victim_cash=-20_000.0)  # value −20k at mark: bankrupt
    state, rb, out, fund, led, before = run_round(book, snap, cfg, model="cross", fund=5_000.0)  # type: ignore[arg-type]
    assert out.triggered.tolist() == [0]
    kinds = [EVENT_KINDS[k] for k in led.columns()["kind"]]
    # the fund is emptied before anyone is deleveraged
    assert fund.balance == pytest.approx(0.0, abs=CENT)
    assert "adl" in kinds
    assert kinds.index("insurance_payout") > kinds.index("write_off")
    # only the shorts were deleveraged, the higher-ranked one first; the long is untouched
    assert set(out.adl_account.tolist()) <= {1, 2}
    assert 3 not in out.adl_account.tolist()
    c = state.pos_account == 3
    assert state.pos_quantity[c].tolist() == [5.0]
    assert state.balances[3].sum() == 1_000_000.0
    assert out.adl_account[0] == 1  # short-A: same profit, more leverage
    # the victim ends with nothing
    assert state.balances[0].sum() == pytest.approx(0.0, abs=CENT)
    assert out.uncovered == pytest.approx(0.0, abs=CENT)
    _conserved(state, rb, out, fund, led, before, 5_000.0)


def test_large_fund_means_no_adl() -> None:
    snap = perp_market({"BTC": 50_000.0})
    state, rb, out, fund, led, before = run_round(
        _venue(-20_000.0),
        snap,
        _cfg("adl"),
        model="cross",
        fund=1e6,  # type: ignore[arg-type]
    )
    assert out.adl_account.size == 0
    assert out.bad_debt > 0
    assert fund.balance == pytest.approx(1e6 - out.bad_debt, abs=CENT)
    _conserved(state, rb, out, fund, led, before, 1e6)


@pytest.mark.parametrize("mode", ["socialize_profitable", "socialize_all"])
def test_socialised_loss_after_the_fund(mode: str) -> None:
    snap = perp_market({"BTC": 50_000.0})
    state, rb, out, fund, led, before = run_round(
        _venue(-20_000.0),
        snap,
        _cfg(mode),
        model="cross",
        fund=1_000.0,  # type: ignore[arg-type]
    )
    residual = out.bad_debt - 1_000.0
    assert fund.balance == pytest.approx(0.0, abs=CENT)
    assert out.socialized.sum() == pytest.approx(residual, abs=CENT)
    assert out.socialized[0] == 0.0  # never the bankrupt account itself
    if mode == "socialize_profitable":
        # only the two profitable shorts, pro rata to their (equal) profit
        assert out.socialized[3] == 0.0
        assert out.socialized[1] == pytest.approx(out.socialized[2], rel=1e-12)
    else:
        # every depositor, pro rata to collateral
        w = np.array([0.0, 40_000.0, 2_000_000.0, 1_000_000.0])
        np.testing.assert_allclose(out.socialized, residual * w / w.sum(), atol=CENT)
    _conserved(state, rb, out, fund, led, before, 1_000.0)


def test_no_last_resort_leaves_uncovered_bad_debt() -> None:
    snap = perp_market({"BTC": 50_000.0})
    state, rb, out, fund, led, before = run_round(
        _venue(-20_000.0),
        snap,
        _cfg("none"),
        model="cross",
        fund=0.0,  # type: ignore[arg-type]
    )
    assert out.uncovered == pytest.approx(out.bad_debt, abs=CENT)
    _, pots = led.net_flows(4)
    assert pots["bad_debt"] == pytest.approx(-out.uncovered, abs=CENT)
    _conserved(state, rb, out, fund, led, before, 0.0)


def test_collateral_sold_to_cover_quote_deficit() -> None:
    """A full close-out leaving a negative USD balance sells BTC collateral (with impact)."""
    snap = perp_market({"BTC": 50_000.0, "ETH": 3_000.0})
    cfg = config_with(linear=(0.10, 0.05), fee_rate=0.0, policy="full", last_resort="none")
    pf = Portfolio(
        "acct",
        "USD",
        {"USD": -32_000.0, "BTC": 1.0},
        (Position(Perpetual("ETH"), 100.0, 3_000.0),),
    )
    state, rb, out, fund, led, before = run_round(
        Book.from_portfolios([pf]), snap, cfg, model="cross"
    )  # type: ignore[arg-type]
    assert out.sale_amount.size == 1
    assert state.assets[int(out.sale_asset[0])] == "BTC"
    assert 0.6 < out.sale_amount[0] < 1.0  # enough to repay ~32k plus costs, not all of it
    cash = state.balances[0, state.cash_asset]
    assert cash == pytest.approx(0.0, abs=1e-6)
    _conserved(state, rb, out, fund, led, before, 0.0)
