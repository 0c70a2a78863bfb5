"""``isolated`` and ``cross``: per-position rules with hand-computed reference values (issue 2 §5).

Default risk configuration, crypto class: linear tiers 5 % / 2.5 % to 1 M notional, 10 % / 5 % to
10 M, 20 % / 10 % beyond (marginal, progressive); short options
``IM = max(0.15 − OTM/F, 0.10) × F + mark``, ``MM = 0.075 × F + mark`` (Deribit standard margin);
equity index class: 6 % / 5.5 % linear, options 0.15 / 0.10 / 0.10 (Cboe).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from crossmargin import Book, default_config, get_model, parse_instrument, resolve
from crossmargin.margin.rules import tiered_rate_amount

from .helpers import DEC26, asset, expiry, margin, market, portfolio, simple_market

CENT = 0.005
F_DEC, F_PERP = 65_300.0, 65_020.0


def option_value(name: str) -> float:
    rb = resolve(Book.from_portfolios([portfolio((name, 1))]), simple_market(), default_config())
    return float(rb.instruments.value[0])


def im_mm(
    *positions: tuple[str, float] | tuple[str, float, float], model: str = "cross"
) -> tuple[float, float]:
    res = margin(portfolio(*positions), simple_market(), model)
    return float(res.initial_margin[0]), float(res.maintenance_margin[0])


@pytest.mark.parametrize(
    ("notional", "im", "mm"),
    [
        (400_000.0, 20_000.0, 10_000.0),
        (1_000_000.0, 50_000.0, 25_000.0),
        (2_500_000.0, 50_000.0 + 150_000.0, 25_000.0 + 75_000.0),
        (12_000_000.0, 50_000.0 + 900_000.0 + 400_000.0, 25_000.0 + 450_000.0 + 200_000.0),
    ],
)
def test_linear_tiers_are_progressive(notional: float, im: float, mm: float) -> None:
    q = notional / F_PERP
    for model in ("isolated", "cross"):
        got_im, got_mm = im_mm(("BTC-PERP", q), model=model)
        assert got_im == pytest.approx(im, abs=CENT)
        assert got_mm == pytest.approx(mm, abs=CENT)
        got_short = im_mm(("BTC-PERP", -q), model=model)
        assert got_short == pytest.approx((got_im, got_mm), abs=CENT)


def test_tiered_amount_is_continuous_at_the_bounds() -> None:
    bounds = np.array([1e6, 1e7, np.inf])
    rates = np.array([0.05, 0.10, 0.20])
    x = np.array([1e6 - 1e-3, 1e6, 1e6 + 1e-3, 1e7 - 1e-3, 1e7 + 1e-3])
    y = tiered_rate_amount(x, bounds, rates)
    assert np.all(np.diff(y) > 0)
    assert y[2] - y[0] == pytest.approx(2e-3 * 0.075, rel=1e-3)  # kink, no jump


@pytest.mark.parametrize(
    ("name", "rule_im", "rule_mm"),
    [
        # OTM call: 0.15 − 4 700/65 300 = 0.078 → floor 0.10
        ("BTC-26DEC26-70000-C", 0.10 * F_DEC, 0.075 * F_DEC),
        # slightly OTM call: 0.15·F − OTM
        ("BTC-26DEC26-66000-C", 0.15 * F_DEC - 700.0, 0.075 * F_DEC),
        # ITM call: no OTM amount
        ("BTC-26DEC26-60000-C", 0.15 * F_DEC, 0.075 * F_DEC),
        # slightly OTM put: 0.15·F − (F − K)
        ("BTC-26DEC26-64000-P", 0.15 * F_DEC - 1_300.0, 0.075 * F_DEC),
        # OTM put: 0.15 − 5 300/65 300 = 0.069 → floor 0.10
        ("BTC-26DEC26-60000-P", 0.10 * F_DEC, 0.075 * F_DEC),
        # a put can never pay more than its strike: the charge is capped at K
        ("BTC-26DEC26-1000-P", 1_000.0, 1_000.0),
    ],
)
def test_short_option_rule(name: str, rule_im: float, rule_mm: float) -> None:
    v = option_value(name)
    for model in ("isolated", "cross"):
        im, mm = im_mm((name, -2.0), model=model)
        assert im == pytest.approx(2 * (rule_im + v), abs=CENT)
        assert mm == pytest.approx(2 * (rule_mm + v), abs=CENT)


def test_long_options_need_no_margin_beyond_premium() -> None:
    for model in ("isolated", "cross"):
        assert im_mm(("BTC-26DEC26-70000-C", 5.0), ("BTC-26DEC26-60000-P", 5.0), model=model) == (
            0.0,
            0.0,
        )


def test_inverse_and_multiplier_use_their_own_notional() -> None:
    # inverse perp: quantity is USD face
    assert im_mm(("BTC-PERP-INV", -200_000.0))[0] == pytest.approx(0.05 * 200_000.0, abs=CENT)
    # inverse option: coins, rule in USD on the forward
    v = option_value("BTC-26DEC26-70000-C-INV")
    assert im_mm(("BTC-26DEC26-70000-C-INV", -3.0))[0] == pytest.approx(
        3 * (0.10 * F_DEC + v), abs=CENT
    )
    # multiplier scales the notional
    assert im_mm(("BTC-26DEC26-X10", 1.0))[0] == pytest.approx(0.05 * 10 * F_DEC, abs=CENT)


def test_equity_index_class_rates() -> None:
    mkt = market(SPX=asset(6_500.0, expiries={DEC26: expiry(6_520.0, 0.996, 0.18)}))
    res = margin(portfolio(("SPX-26DEC26-X50", 10.0)), mkt, "cross")
    assert res.initial_margin[0] == pytest.approx(0.06 * 10 * 50 * 6_520.0, abs=CENT)
    assert res.maintenance_margin[0] == pytest.approx(0.055 * 10 * 50 * 6_520.0, abs=CENT)
    rb = resolve(
        Book.from_portfolios([portfolio(("SPX-26DEC26-6000-P-X100", 1))]), mkt, default_config()
    )
    v = float(rb.instruments.value[0])
    res = margin(portfolio(("SPX-26DEC26-6000-P-X100", -4.0)), mkt, "cross")
    otm = 6_520.0 - 6_000.0
    assert res.initial_margin[0] == pytest.approx(
        400 * (max(0.15 * 6_520 - otm, 0.10 * 6_520) + v), abs=CENT
    )
    assert res.maintenance_margin[0] == pytest.approx(400 * (0.10 * 6_520 + v), abs=CENT)


def test_isolated_and_cross_differ_only_in_sharing() -> None:
    """Winner perp (+10 020, IM 3 251) and loser future (−5 300, IM 3 265)."""
    pos = (("BTC-PERP", 1.0, 55_000.0), ("BTC-26DEC26", -1.0, 60_000.0))
    c = 50_000.0
    iso = margin(portfolio(*pos, collateral={"USD": c}), simple_market(), "isolated")
    cross = margin(portfolio(*pos, collateral={"USD": c}), simple_market(), "cross")
    im_perp, im_fut = 0.05 * F_PERP, 0.05 * F_DEC
    u_perp, u_fut = F_PERP - 55_000.0, -(F_DEC - 60_000.0)
    assert (
        iso.initial_margin[0]
        == cross.initial_margin[0]
        == pytest.approx(im_perp + im_fut, abs=CENT)
    )
    assert (
        iso.unrealized_pnl[0] == cross.unrealized_pnl[0] == pytest.approx(u_perp + u_fut, abs=CENT)
    )
    # isolated: a position's profit only covers its own requirement
    assert iso.equity[0] == pytest.approx(c + min(u_perp, im_perp) + min(u_fut, im_fut), abs=CENT)
    assert cross.equity[0] == pytest.approx(c + u_perp + u_fut, abs=CENT)
    assert iso.collateral_required[0] == pytest.approx(
        max(0, im_perp - u_perp) + max(0, im_fut - u_fut), abs=CENT
    )
    assert cross.collateral_required[0] == pytest.approx(
        max(0, im_perp + im_fut - u_perp - u_fut), abs=CENT
    )
    assert iso.batch.liquidation_scope == "position"
    assert cross.batch.liquidation_scope == "account"
    # the isolated add-on row shows the profit others cannot use
    addon = iso.batch.addons[0]
    assert addon.name == "isolated_pnl_not_shared"
    assert float(addon.amount.sum()) == pytest.approx(u_perp - im_perp, abs=CENT)


def test_isolated_equity_covers_im_iff_collateral_covers_each_position() -> None:
    """equity ≥ IM ⇔ C ≥ Σ max(0, IM_i − uPnL_i), exactly at the boundary."""
    pos = (("BTC-PERP", 1.0, 55_000.0), ("BTC-26DEC26", -1.0, 60_000.0))
    need = max(0, 0.05 * F_PERP - (F_PERP - 55_000.0)) + max(0, 0.05 * F_DEC + (F_DEC - 60_000.0))
    at = margin(portfolio(*pos, collateral={"USD": need + 1e-6}), simple_market(), "isolated")
    below = margin(portfolio(*pos, collateral={"USD": need - 0.01}), simple_market(), "isolated")
    assert at.status(0) == "healthy" and at.free_collateral[0] >= 0
    assert below.status(0) != "healthy"


def test_position_requirements_sum_to_group_and_account() -> None:
    res = margin(
        portfolio(("BTC-PERP", 3.0), ("BTC-26DEC26-70000-C", -5.0), ("ETH-PERP", -40.0)),
        simple_market(),
        "cross",
    )
    b = res.batch
    assert b.position_im is not None and b.position_mm is not None
    assert float(b.groups.im.sum()) == pytest.approx(float(b.position_im.sum()), rel=1e-15)
    assert float(res.initial_margin[0]) == pytest.approx(float(b.position_im.sum()), rel=1e-15)
    assert np.all(b.position_mm <= b.position_im)
    assert np.all(np.isnan(b.groups.scan)) and np.all(b.groups.worst == -1)


def test_models_are_registered_by_name() -> None:
    cfg = default_config()
    for name in ("isolated", "cross", "portfolio"):
        m = get_model(name, cfg)
        assert m.name == name and m.description
    assert not math.isnan(float(im_mm(("BTC-PERP", 1.0))[0]))
    assert parse_instrument("BTC-PERP").kind == "perpetual"
