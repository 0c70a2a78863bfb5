"""Money is conserved in every liquidation step, over random venues (hypothesis).

Parties: every account (collateral market value + MtM at the round's fixed prices), the
insurance fund, venue fee income, the market (slippage and impact received), the bad-debt pot
(negative = uncovered bad debt) and ADL clearing. Checked three ways: per account against the
ledger, for the fund against the ledger, and in total against values recomputed from scratch.
"""

from __future__ import annotations

import numpy as np
from hypothesis import event, given
from hypothesis import strategies as st

from crossmargin.config import RiskConfig
from crossmargin.engine import margin_resolved
from crossmargin.instruments import Book, Portfolio, Position, parse_instrument
from crossmargin.liquidation.engine import InsuranceFund, liquidate_round
from crossmargin.liquidation.ledger import Ledger
from crossmargin.liquidation.state import VenueState
from crossmargin.market import MarketSnapshot
from crossmargin.resolve import resolve

from .helpers import account_values

REL = 1e-9  # the tolerance for conservation
NAMES = (
    "BTC-PERP",
    "ETH-PERP",
    "BTC-26DEC26",
    "BTC-26DEC26-70000-C",
    "BTC-26DEC26-60000-P",
    "ETH-26DEC26-3600-C",
    "BTC-PERP-INV",
)
SIZE = {"BTC": 1.0, "ETH": 15.0}


@st.composite
def venues(draw: st.DrawFn) -> list[Portfolio]:
    n = draw(st.integers(2, 7))
    out = []
    for a in range(n):
        k = draw(st.integers(1, 3))
        idx = draw(st.lists(st.integers(0, len(NAMES) - 1), min_size=k, max_size=k, unique=True))
        pos = []
        for i in idx:
            c = parse_instrument(NAMES[i])
            q = draw(st.floats(0.1, 15.0)) * draw(st.sampled_from([-1.0, 1.0]))
            scale = (
                65_000.0
                if (c.settlement == "inverse" and c.kind != "option")
                else SIZE[c.underlying]
            )
            entry = (
                None
                if c.kind == "option"
                else draw(st.floats(0.8, 1.2)) * (65_000 if c.underlying == "BTC" else 3_200)
            )
            pos.append(Position(c, q * scale, None if c.settlement == "inverse" else entry))
        cash = draw(st.floats(-200_000.0, 400_000.0))
        col: dict[str, float] = {"USD": cash}
        if draw(st.booleans()):
            col["BTC"] = draw(st.floats(0.0, 3.0))
        out.append(Portfolio(f"a{a}", "USD", col, tuple(pos)))
    return out


@given(
    pfs=venues(),
    model=st.sampled_from(["isolated", "cross", "portfolio"]),
    policy=st.sampled_from(["full", "partial"]),
    last=st.sampled_from(["adl", "socialize_profitable", "socialize_all", "none"]),
    fund0=st.sampled_from([0.0, 1_000.0, 1e7]),
    fee=st.floats(0.0, 0.05),
)
def test_money_is_conserved_over_random_venues(
    pfs: list[Portfolio],
    model: str,
    policy: str,
    last: str,
    fund0: float,
    fee: float,
    crypto_market: MarketSnapshot,
    config: RiskConfig,
) -> None:
    cfg = config.model_copy(
        update={
            "liquidation": config.liquidation.model_copy(
                update={"last_resort": last, "fee_rate": fee, "fee_to_insurance": 0.7}
            )
        }
    )
    rb0 = resolve(Book.from_portfolios(pfs), crypto_market, cfg)
    state = VenueState.from_resolved(rb0)
    rb = resolve(state.to_book(), crypto_market, cfg)
    res = margin_resolved(rb, model=model)
    before = account_values(rb, state)
    fund = InsuranceFund(fund0)
    led = Ledger()
    out = liquidate_round(state, rb, res, fund=fund, ledger=led, policy=policy)
    event(f"liquidated={out.n_liquidated > 0}")
    event(f"bankrupt={bool(out.bankrupt_units.any())}")
    event(f"adl={out.adl_account.size > 0}")
    event(f"sale={out.sale_amount.size > 0}")
    # recomputed from scratch: resolve the new state at the same prices
    rb_after = resolve(state.to_book(), crypto_market, cfg)
    after = account_values(rb_after, state)
    flows, pots = led.net_flows(len(pfs))
    scale = max(1.0, float(np.abs(before).sum()), fund0)
    tol = REL * scale
    # 1. each account changed by exactly its ledger flows
    assert np.abs(after - before - flows).max() <= tol
    # 2. so did the insurance fund
    assert abs(fund.balance - fund0 - pots["insurance_fund"]) <= tol
    # 3. ledger flows net to zero and the parties' total is unchanged
    assert abs(flows.sum() + sum(pots.values())) <= tol
    total_before = before.sum() + fund0
    total_after = (
        after.sum()
        + fund.balance
        + pots["fee_income"]
        + pots["market"]
        + pots["bad_debt"]
        + pots["adl_clearing"]
    )
    assert abs(total_after - total_before) <= tol
    # the waterfall's own accounting agrees with the ledger
    assert abs(pots["bad_debt"] + out.uncovered) <= tol
    assert abs(pots["adl_clearing"]) <= tol
    # nobody liquidated this round is left below zero; nobody else was liquidated
    liquidated = np.zeros(len(pfs), np.bool_)
    liquidated[out.triggered] = True
    assert (after[liquidated & (res.status_code >= 2)] >= -tol).all()
    assert set(out.units.account.tolist()) <= set(out.triggered.tolist())
