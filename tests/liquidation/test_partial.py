"""Partial liquidation stops at the target and never beyond; full close-out and fees."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from crossmargin.config import RiskConfig
from crossmargin.engine import margin_resolved
from crossmargin.instruments import Book, Portfolio, Position, parse_instrument
from crossmargin.market import MarketSnapshot
from crossmargin.resolve import resolve

from .helpers import account_values, config_with, run_round

#: Contracts of the bundled crypto market (linear and inverse, delta-one and options).
CONTRACTS = (
    "BTC-PERP",
    "ETH-PERP",
    "BTC-26DEC26",
    "ETH-26MAR27",
    "BTC-26DEC26-70000-C",
    "BTC-26DEC26-60000-P",
    "ETH-26DEC26-3600-C",
    "BTC-PERP-INV",
)
UNIT = {"BTC": 1.0, "ETH": 15.0}

#: "never beyond the target": the gap left after a partial close, relative to the requirement.
TARGET_SLACK = 1e-7


@st.composite
def stressed_account(draw: st.DrawFn) -> tuple[list[int], list[float], float]:
    """1-4 distinct contracts with random sizes, and how far below MM the account starts."""
    idx = draw(st.lists(st.integers(0, len(CONTRACTS) - 1), min_size=1, max_size=4, unique=True))
    qty = [draw(st.floats(0.2, 20.0)) * draw(st.sampled_from([-1.0, 1.0])) for _ in idx]
    level = draw(st.floats(0.05, 0.95))  # maintenance equity / MM before
    return idx, qty, level


def _portfolio(idx: list[int], qty: list[float], cash: float) -> Portfolio:
    positions = []
    for i, q in zip(idx, qty, strict=True):
        c = parse_instrument(CONTRACTS[i])
        scale = 65_000.0 if c.settlement == "inverse" and c.kind != "option" else UNIT[c.underlying]
        positions.append(Position(c, q * scale, None))
    return Portfolio("acct", "USD", {"USD": cash}, tuple(positions))


def _stressed_book(
    idx: list[int],
    qty: list[float],
    level: float,
    snap: MarketSnapshot,
    cfg: RiskConfig,
    model: str,
) -> Book | None:
    """The account with cash set so that maintenance equity = level × MM (None if MM = 0)."""
    probe = Book.from_portfolios([_portfolio(idx, qty, 0.0)])
    r = margin_resolved(resolve(probe, snap, cfg), model=model)
    mm = float(r.maintenance_margin[0])
    if mm <= 1.0:
        return None
    cash = level * mm - float(r.maintenance_equity[0])
    return Book.from_portfolios([_portfolio(idx, qty, cash)])


@pytest.mark.parametrize("model", ["cross", "portfolio"])
@given(acct=stressed_account())
def test_partial_stops_at_target_and_never_beyond(
    acct: tuple[list[int], list[float], float],
    model: str,
    crypto_market: MarketSnapshot,
    config: RiskConfig,
) -> None:
    idx, qty, level = acct
    cfg = config.model_copy(
        update={"liquidation": config.liquidation.model_copy(update={"policy": "partial"})}
    )
    book = _stressed_book(idx, qty, level, crypto_market, cfg, model)
    assume(book is not None)
    assert book is not None
    state, _rb, out, _, _, _ = run_round(book, crypto_market, cfg, model=model)
    assert out.n_liquidated == 1
    after = margin_resolved(resolve(state.to_book(), crypto_market, cfg), model=model)
    buf = cfg.liquidation.buffer.rate * float(after.maintenance_margin[0])
    target = float(after.maintenance_margin[0]) + buf
    gap = float(after.maintenance_equity[0]) - target
    scale = max(1.0, float(out.unit_value[0]), target)
    if state.n_positions == 0 or (out.row_market == out.row_quantity).all():
        # nothing partial was enough: closed in full (or the account was beyond rescue)
        return
    # met the target ...
    assert gap >= -1e-9 * scale
    # ... and stopped there: no more than rounding above it
    assert gap <= TARGET_SLACK * scale


@given(acct=stressed_account(), fee=st.floats(0.0, 0.5), spread=st.floats(0.0, 0.2))
def test_fees_never_make_a_solvent_account_bankrupt(
    acct: tuple[list[int], list[float], float],
    fee: float,
    spread: float,
    crypto_market: MarketSnapshot,
) -> None:
    """After a full close-out an account solvent before fees is never bankrupt from the fee."""
    idx, qty, level = acct
    liq = {
        "spread": spread,
        "adv": 1e9,
        "impact_k": 1.0,
        "concentration_share": 0.05,
        "option_vol_impact": 0.02,
    }
    cfg = config_with(liquidity={"BTC": liq, "ETH": liq}, fee_rate=fee, policy="full")
    book = _stressed_book(idx, qty, level, crypto_market, cfg, "cross")
    assume(book is not None)
    assert book is not None
    state, rb, out, _fund, _, before = run_round(book, crypto_market, cfg, model="cross")
    value_before = float(before[0])
    slip = float(out.row_slippage.sum() + out.sale_cost.sum())
    fees = float(out.row_fee.sum())
    after = float(account_values(rb, state)[0])
    assert state.n_positions == 0
    assert fees <= fee * float(out.row_notional.sum()) + 1e-9
    if value_before - slip >= 0:
        assert fees <= value_before - slip + 1e-9 * max(1.0, value_before)
        assert after >= -1e-9 * max(1.0, value_before)
        assert out.bad_debt <= 1e-9 * max(1.0, value_before)  # rounding only
        assert not out.bankrupt_units.any()
    else:
        assert fees == 0.0
        assert out.bad_debt == pytest.approx(slip - value_before, rel=1e-9, abs=1e-6)


def test_full_policy_closes_every_position(
    crypto_market: MarketSnapshot, config: RiskConfig
) -> None:
    book = _stressed_book([0, 4, 6], [3.0, -5.0, -4.0], 0.5, crypto_market, config, "portfolio")
    assert book is not None
    state, _, out, _, _, _ = run_round(
        book, crypto_market, config, model="portfolio", policy="full"
    )
    assert state.n_positions == 0
    np.testing.assert_allclose(out.row_market, out.row_quantity)


def test_partial_closes_less_than_full(crypto_market: MarketSnapshot, config: RiskConfig) -> None:
    book = _stressed_book([0, 1], [10.0, 10.0], 0.8, crypto_market, config, "cross")
    assert book is not None
    _, _, part, _, _, _ = run_round(book, crypto_market, config, model="cross", policy="partial")
    _, _, full, _, _, _ = run_round(book, crypto_market, config, model="cross", policy="full")
    assert 0 < part.notional_market < full.notional_market
    assert (
        part.row_slippage.sum() + part.row_fee.sum() < full.row_slippage.sum() + full.row_fee.sum()
    )


def test_healthy_account_is_not_touched(crypto_market: MarketSnapshot, config: RiskConfig) -> None:
    book = _stressed_book([0], [1.0], 3.0, crypto_market, config, "cross")
    assert book is not None
    state, _, out, fund, led, _ = run_round(book, crypto_market, config, model="cross", fund=7.0)
    assert out.n_liquidated == 0
    assert led.n == 0
    assert fund.balance == 7.0
    assert state.n_positions == 1
