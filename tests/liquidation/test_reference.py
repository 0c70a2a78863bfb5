"""The Drift v2 and dYdX v4 worked examples, at their published precision.

Sources: docs/methodologies/drift-v2.md §6.3 (``controller/liquidation/tests.rs::
successful_liquidation_to_cover_margin_shortage``) and dydx-v4.md §5 (``x/clob/keeper/
liquidations_test.go``). Drift quotes are in USDC to 1e-6 (QUOTE_PRECISION), base to 1e-9
(BASE_PRECISION); dYdX amounts are exact rationals (quote quantums).
"""

from __future__ import annotations

from fractions import Fraction as Fr

import numpy as np
import pytest

from crossmargin.engine import margin_resolved
from crossmargin.instruments import Book
from crossmargin.liquidation.reference import (
    drift_liquidate_perp,
    dydx_bankruptcy_quote,
    dydx_fillable_price,
    dydx_insurance_fund_delta,
)
from crossmargin.resolve import resolve

from .helpers import FLAT, config_with, one_perp, perp_market, run_round

QUOTE_TOL = 1e-6  # Drift QUOTE_PRECISION
BASE_TOL = 1e-9  # Drift BASE_PRECISION


def test_drift_formula_worked_example() -> None:
    r = drift_liquidate_perp(
        base=2.0,
        quote=-200.0,
        price=100.0,
        deposit=5.0,
        maintenance_ratio=0.05,
        buffer_ratio=0.02,
        liquidator_fee=0.01,
        if_fee_max=0.01,
    )
    assert r.shortage == pytest.approx(9.0, abs=QUOTE_TOL)
    assert r.if_fee_rate == pytest.approx(0.01, abs=1e-12)
    assert r.base_taken == pytest.approx(1.8, abs=BASE_TOL)
    assert r.transfer_price == pytest.approx(99.0, abs=QUOTE_TOL)
    assert r.liquidator_quote == pytest.approx(-178.2, abs=QUOTE_TOL)
    assert r.user_base == pytest.approx(0.2, abs=BASE_TOL)
    assert r.user_quote == pytest.approx(-23.6, abs=QUOTE_TOL)
    assert r.if_fee == pytest.approx(1.8, abs=QUOTE_TOL)
    assert r.collateral_after == pytest.approx(1.4, abs=QUOTE_TOL)
    assert r.requirement_after == pytest.approx(1.4, abs=QUOTE_TOL)


def _drift_setup() -> tuple[Book, object, object]:
    cfg = config_with(
        linear=(0.10, 0.05),
        liquidity={"SOL": FLAT},
        fee_rate=0.01,
        liquidator_fee=0.01,
        buffer={"kind": "notional", "rate": 0.02},
        policy="partial",
    )
    snap = perp_market({"SOL": 100.0})
    book = Book.from_portfolios([one_perp("SOL", 2.0, 100.0, 5.0)])
    return book, snap, cfg


def test_engine_reproduces_drift_partial_liquidation() -> None:
    """The general partial policy, given Drift's parameters, takes exactly Drift's 1.8 SOL."""
    book, snap, cfg = _drift_setup()
    state, _rb, out, fund, _, _ = run_round(book, snap, cfg, model="cross")  # type: ignore[arg-type]
    assert out.row_market[0] == pytest.approx(1.8, abs=BASE_TOL)
    assert out.row_price[0] == pytest.approx(99.0, abs=QUOTE_TOL)
    assert out.row_fee[0] == pytest.approx(1.8, abs=QUOTE_TOL)  # insurance-fund fee
    assert fund.balance == pytest.approx(1.8, abs=QUOTE_TOL)
    assert state.pos_quantity[0] == pytest.approx(0.2, abs=BASE_TOL)
    after = margin_resolved(resolve(state.to_book(), snap, cfg), model="cross")  # type: ignore[arg-type]
    assert after.maintenance_equity[0] == pytest.approx(1.4, abs=QUOTE_TOL)
    # requirement + buffer = 0.2 x 100 x (5 % + 2 %) = 1.4: margin ratio 7 %
    assert after.maintenance_margin[0] + 0.02 * 20.0 == pytest.approx(1.4, abs=QUOTE_TOL)


@pytest.mark.parametrize(
    ("tnc", "dnnv", "expected"),
    [
        (Fr(499), Fr(-5000), Fr(4501)),  # 0.1 BTC long, USDC -4 501
        (Fr(499), Fr(5000), Fr(-5499)),  # mirror: 0.1 BTC short, USDC +5 499
        (Fr(-100), Fr(-5000), Fr(5100)),  # USDC -5 100 (TNC < 0)
    ],
)
def test_dydx_bankruptcy_quote(tnc: Fr, dnnv: Fr, expected: Fr) -> None:
    assert dydx_bankruptcy_quote(tnc, Fr(500), dnnv, Fr(-500)) == expected


@pytest.mark.parametrize(("ba", "price"), [(Fr(1), Fr(49999)), (Fr(2), Fr(49998))])
def test_dydx_fillable_price(ba: Fr, price: Fr) -> None:
    p = dydx_fillable_price(
        pnnv=Fr(5000),
        pmmr=Fr(500),
        ps=Fr(1, 10),
        tnc=Fr(499),
        tmmr=Fr(500),
        bankruptcy_adjustment=ba,
        spread_to_mmr=Fr(1, 10),
    )
    assert p == price


def test_dydx_fillable_price_pregenesis_spread() -> None:
    """Sample pre-genesis SMMR 1.5 gives a $1.50 spread (fillable $49 985)."""
    p = dydx_fillable_price(
        pnnv=Fr(5000),
        pmmr=Fr(500),
        ps=Fr(1, 10),
        tnc=Fr(499),
        tmmr=Fr(500),
        bankruptcy_adjustment=Fr(1),
        spread_to_mmr=Fr(3, 2),
    )
    assert p == Fr(49985)


@pytest.mark.parametrize(
    ("cap", "fee"), [(Fr(5, 1000), Fr("28.05")), (Fr(25, 1000), Fr("140.25")), (Fr(1), Fr(510))]
)
def test_dydx_insurance_fund_delta(cap: Fr, fee: Fr) -> None:
    bq = dydx_bankruptcy_quote(Fr(-100), Fr(500), Fr(-5000), Fr(-500))
    assert dydx_insurance_fund_delta(Fr(5610), bq, cap) == fee


def test_dydx_insurance_fund_pays_below_bankruptcy() -> None:
    bq = dydx_bankruptcy_quote(Fr(-100), Fr(500), Fr(-5000), Fr(-500))
    assert dydx_insurance_fund_delta(Fr(5000), bq, Fr(5, 1000)) == Fr(-100)


def test_dydx_bankruptcy_quote_rounds_at_the_quantum() -> None:
    """dydx-v4.md §3.3: the floor is taken in quote quantums (1e-6 USDC), not whole dollars.

    TNC 100, TMMR 300, DMMR −100: 100 x 100 / 300 = 33.333333… floors to 33.333333 USDC, so
    closing a 1 000 USDC long (DNNV −1 000) receives 966.666667.
    """
    q = dydx_bankruptcy_quote(Fr(100), Fr(300), Fr(-1000), Fr(-100))
    assert q == Fr(966_666_667, 10**6)


def test_dydx_reference_refuses_sub_quantum_amounts() -> None:
    with pytest.raises(ValueError, match="tnc"):
        dydx_bankruptcy_quote(Fr(1, 3), Fr(500), Fr(-5000), Fr(-500))
    with pytest.raises(ValueError, match="ppm"):
        dydx_insurance_fund_delta(Fr(5610), Fr(5100), Fr(1, 3))


@pytest.mark.parametrize(("qty", "bankruptcy_price"), [(0.1, 45010.0), (-0.1, 54990.0)])
def test_engine_bankruptcy_price_matches_dydx(qty: float, bankruptcy_price: float) -> None:
    """ADL transfers at the dYdX bankruptcy price (quote 4 501 / −5 499 for 0.1 BTC at 50 000).

    dYdX's "USDC −4 501 with 0.1 BTC long" is, in crossmargin's entry-price form, 499 of cash
    and 0.1 BTC entered at the mark (TNC 499 < TMMR 500). A 50 % spread makes the market
    close-out bankrupt; with an empty insurance fund the whole position goes to the
    opposite-side account at the bankruptcy price, leaving the account at exactly zero.
    """
    cfg = config_with(
        linear=(0.20, 0.10),
        liquidity={"BTC": {**FLAT, "spread": 0.5}},
        fee_rate=0.0,
        policy="full",
        last_resort="adl",
    )
    snap = perp_market({"BTC": 50_000.0})
    victim = one_perp("BTC", qty, 50_000.0, 499.0, "victim")
    other = one_perp("BTC", -qty * 3, 50_000.0, 1e6, "counterparty")
    book = Book.from_portfolios([victim, other])
    state, _, out, _, _, _ = run_round(book, snap, cfg, model="cross", fund=0.0)
    k = int(np.flatnonzero(out.row_account == 0)[0])
    assert out.row_bankruptcy_price[k] == pytest.approx(bankruptcy_price, rel=1e-12)
    assert abs(qty) * out.row_bankruptcy_price[k] == pytest.approx(4501.0 if qty > 0 else 5499.0)
    assert out.row_adl[k] == pytest.approx(qty, rel=1e-12)
    assert out.row_market[k] == 0.0
    assert state.balances[0].sum() == pytest.approx(0.0, abs=QUOTE_TOL)
    assert out.adl_price[0] == pytest.approx(bankruptcy_price, rel=1e-12)
    # the counterparty gave up 0.1 of its position at that price: −499 (it gains, V0 > 0)
    assert out.adl_pay[0] == pytest.approx(-499.0, abs=QUOTE_TOL)
