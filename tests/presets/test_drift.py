"""Drift v2: the worked examples of drift-v2.md §2 and §6.3 (program unit tests) at the published
precision, the margin model and money conservation of ``liquidate_perp``."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.engine import compute_margin
from crossmargin.instruments import Portfolio, Position, parse_instrument
from crossmargin.margin.presets.drift import drift_params
from crossmargin.margin.presets.drift_rules import (
    isqrt_size,
    liquidate_perp,
    size_discount_weight,
    size_premium_weight,
)
from crossmargin.market.snapshot import AssetMarket, MarketSnapshot

CENT = 0.005  # published to the cent


def test_size_premium_examples() -> None:
    # math/margin/tests.rs: initial asset 0.9, initial liability 1.1, maintenance liability 0
    s = np.asarray([1000.0, 1000.0, 1e9])
    f = np.asarray([0.1, 0.01, 0.00001])
    np.testing.assert_array_equal(
        size_discount_weight(s, f, np.full(3, 0.9)), [0.2642, 0.8357, 0.8357]
    )
    np.testing.assert_array_equal(size_premium_weight(s[:1], f[:1], np.asarray([1.1])), [4.0422])
    np.testing.assert_array_equal(size_premium_weight(s[:1], f[:1], np.asarray([0.0])), [3.1622])
    np.testing.assert_array_equal(size_premium_weight(s[1:2], f[1:2], np.asarray([1.1])), [1.1962])
    assert isqrt_size(np.asarray([1000.0]))[0] == 3_162_277  # isqrt(1e12 x 10 + 1)


def test_liquidation_example() -> None:
    # controller/liquidation/tests.rs::successful_liquidation_to_cover_margin_shortage
    r = liquidate_perp(
        user_base=2.0,
        user_quote=-200.0,
        oracle=100.0,
        deposits=5.0,
        maintenance_ratio=0.05,
        buffer_ratio=0.02,
        liquidator_fee=0.01,
        if_liquidation_fee=0.01,
    )
    assert r.margin_shortage == pytest.approx(9.0, abs=CENT)
    assert r.if_fee == pytest.approx(0.01, abs=1e-12)
    assert r.base_transferred == pytest.approx(1.8, abs=1e-12)
    assert r.transfer_price == pytest.approx(99.0, abs=CENT)
    assert r.liquidator_quote == pytest.approx(-178.2, abs=CENT)
    assert r.user_base == pytest.approx(0.2, abs=1e-12)
    assert r.user_quote == pytest.approx(-23.6, abs=CENT)
    assert r.insurance_fund_fee == pytest.approx(1.80, abs=CENT)
    collateral = 5.0 + (r.user_base * 100.0 + r.user_quote)
    assert collateral / (r.user_base * 100.0) == pytest.approx(0.07, abs=1e-9)  # mr + buffer


@given(
    base=st.floats(-50.0, 50.0).filter(lambda b: abs(b) > 1e-3),
    entry=st.floats(50.0, 150.0),
    oracle=st.floats(50.0, 150.0),
    deposits=st.floats(0.0, 200.0),
)
def test_liquidation_conserves_money(
    base: float, entry: float, oracle: float, deposits: float
) -> None:
    r = liquidate_perp(
        user_base=base,
        user_quote=-base * entry,
        oracle=oracle,
        deposits=deposits,
        maintenance_ratio=0.05,
        buffer_ratio=0.02,
        liquidator_fee=0.01,
        if_liquidation_fee=0.01,
    )
    before = -base * entry
    after = r.user_quote + r.liquidator_quote + r.insurance_fund_fee
    assert after == pytest.approx(before, abs=CENT)  # quote conserved to the cent
    assert r.user_base + r.liquidator_base == pytest.approx(base, abs=1e-9)
    assert 0.0 <= r.base_transferred <= abs(base) + 1e-12


def test_margin_model_on_the_example_account() -> None:
    snap = MarketSnapshot(
        datetime(2026, 1, 1, tzinfo=UTC),
        "USD",
        {"SOL": AssetMarket(100.0, perp_mark=100.0), "USDC": AssetMarket(1.0)},
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
    )
    pf = Portfolio("u", "USD", {"USDC": 5.0}, (Position(parse_instrument("SOL-PERP"), 2.0, 100.0),))
    res = compute_margin(pf, snap, model="drift-v2")
    assert float(res.maintenance_margin[0]) == pytest.approx(10.0, abs=1e-12)  # 2 x 100 x 5 %
    assert float(res.initial_margin[0]) == pytest.approx(20.0, abs=1e-12)
    assert float(res.equity[0]) == pytest.approx(5.0, abs=1e-12)
    assert res.status(0) == "liquidation"  # collateral 5 < maintenance 10


def test_parameters() -> None:
    p = drift_params()
    assert (p.default_perp.margin_ratio_initial, p.default_perp.margin_ratio_maintenance) == (
        0.10,
        0.05,
    )
    assert (p.default_perp.liquidator_fee, p.default_perp.if_liquidation_fee) == (0.01, 0.01)
    assert (p.liquidation_margin_buffer_ratio, p.max_positive_upnl_initial) == (0.02, 100.0)
    assert p.spot_markets["USDC"].initial_asset_weight == 1.0


@pytest.mark.parametrize(
    ("quote", "deposits", "shortage"),
    [
        # uPnL 2 x 100 - 220 = -20, collateral 10: 14 - (10 + 2 % x -20) = 4.4
        (-220.0, 30.0, 4.4),
        # uPnL +20 (no buffer), a 10 USDC borrow, collateral 10: 14 - (10 + 2 % x -10) = 4.2
        (-180.0, -10.0, 4.2),
    ],
)
def test_buffer_applies_to_negative_collateral(
    quote: float, deposits: float, shortage: float
) -> None:
    """drift-v2.md §6.1: collateral_plus_buffer = total collateral + buffer x negative parts."""
    r = liquidate_perp(
        user_base=2.0,
        user_quote=quote,
        oracle=100.0,
        deposits=deposits,
        maintenance_ratio=0.05,
        buffer_ratio=0.02,
        liquidator_fee=0.01,
        if_liquidation_fee=0.01,
    )
    assert r.margin_shortage == pytest.approx(shortage, abs=1e-9)
    # §6.2 fee rate and base from that shortage: min(1 %, 0.95 x (6 % - s / 200)); s / (P x 5 %)
    assert r.if_fee == pytest.approx(0.01, abs=1e-12)
    assert r.base_transferred == pytest.approx(shortage / 5.0, abs=1e-12)


def test_nothing_to_liquidate() -> None:
    flat = liquidate_perp(
        user_base=0.0,
        user_quote=-3.0,
        oracle=100.0,
        deposits=1.0,
        maintenance_ratio=0.05,
        buffer_ratio=0.02,
        liquidator_fee=0.01,
        if_liquidation_fee=0.01,
    )
    assert (flat.base_transferred, flat.insurance_fund_fee, flat.user_quote) == (0.0, 0.0, -3.0)
    healthy = liquidate_perp(
        user_base=-2.0,
        user_quote=200.0,
        oracle=100.0,
        deposits=50.0,
        maintenance_ratio=0.05,
        buffer_ratio=0.02,
        liquidator_fee=0.01,
        if_liquidation_fee=0.01,
    )
    assert healthy.margin_shortage == 0.0 and healthy.base_transferred == 0.0
