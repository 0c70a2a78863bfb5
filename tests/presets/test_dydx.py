"""dYdX v4: the worked examples of dydx-v4.md §2.1 and §5 (chain unit tests, test configuration),
digit for digit in quote quantums, plus the margin model and money conservation of a fill."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction as Fr

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.engine import compute_margin
from crossmargin.errors import MarketDataError, ModelError
from crossmargin.instruments import Portfolio, Position, parse_instrument
from crossmargin.margin.presets.dydx import ceil_mul_ppm, dydx_params
from crossmargin.margin.presets.dydx_rules import (
    adjusted_imf_ppm,
    bankruptcy_quote,
    fillable_price,
    insurance_fund_delta,
    liquidatable_size,
    liquidation_transfers,
    margin_quantums,
)
from crossmargin.market.snapshot import AssetMarket, MarketSnapshot

Q = 1_000_000  # quote quantums per USDC


def test_oi_scaled_imf_examples() -> None:
    # liquidity_tier_test.go: notional 500 000 quantums, base IMF 20 %
    assert (
        margin_quantums(500_000, adjusted_imf_ppm(200_000, 0, 0, 10**15), 200_000, 0)[0] == 100_000
    )
    mid = adjusted_imf_ppm(200_000, 10**12, 2 * 10**12, 15 * 10**11)
    assert mid == 600_000 and margin_quantums(500_000, mid, 200_000, 0)[0] == 300_000
    assert (
        margin_quantums(500_000, adjusted_imf_ppm(200_000, 10**12, 2 * 10**12, 3 * 10**12), 0, 0)[0]
        == 500_000
    )
    imf = adjusted_imf_ppm(200_000, 25 * 10**12, 60 * 10**12, 28_123_456_789_123)
    assert imf == 271_393  # ≈ 27.1393 %, floored in ppm
    assert margin_quantums(500_000, imf, 0, 0)[0] == 135_697
    assert margin_quantums(123_456, 567_243, 0, 0)[0] == 70_030  # 70 029.55 rounded up


def test_bankruptcy_fillable_and_insurance_fund_examples() -> None:
    # 0.1 BTC long at $50 000, tier 20 % / 10 %: notional $5 000, PMMR = TMMR = $500
    assert bankruptcy_quote(-5000 * Q, -500 * Q, 499 * Q, 500 * Q) == 4501 * Q  # USDC -$4 501
    assert bankruptcy_quote(5000 * Q, -500 * Q, 499 * Q, 500 * Q) == -5499 * Q  # short mirror
    fp = fillable_price(Fr(5000), Fr(500), Fr(1, 10), Fr(499), Fr(500), Fr(1), Fr(1, 10))
    assert fp == 49_999
    assert (
        fillable_price(Fr(5000), Fr(500), Fr(1, 10), Fr(499), Fr(500), Fr(2), Fr(1, 10)) == 49_998
    )
    assert fillable_price(Fr(5000), Fr(500), Fr(1, 10), Fr(499), Fr(500), Fr(1), Fr(3, 2)) == 49_985
    bq = bankruptcy_quote(-5000 * Q, -500 * Q, -100 * Q, 500 * Q)  # USDC -$5 100: TNC -$100
    assert bq == 5100 * Q
    for fee_ppm, fee in ((5_000, 28.05), (25_000, 140.25), (1_000_000, 510.0)):
        assert insurance_fund_delta(5610 * Q, bq, fee_ppm) == (round(fee * Q), 0)


@given(
    size=st.fractions(Fr(1, 1000), Fr(10)),
    price=st.fractions(Fr(1000), Fr(100_000)),
    bq=st.integers(-(10**12), 10**12),
    fee=st.integers(0, 1_000_000),
)
def test_liquidation_fill_conserves_money(size: Fr, price: Fr, bq: int, fee: int) -> None:
    t = liquidation_transfers(-size, price, bq, fee)  # the account sells `size`
    assert t.account_quote + t.counterparty_quote + t.insurance_fund == 0  # to the quantum
    assert t.account_base + t.counterparty_base == 0


def test_liquidatable_size_limits() -> None:
    kw = {
        "min_position_notional": Fr(1000),
        "max_position_portion_ppm": 100_000,
        "subaccount_notional_left": Fr(100_000),
    }
    assert liquidatable_size(Fr(10), Fr(50_000), Fr(1, 1000), **kw) == Fr(1)  # 10 % per block
    assert liquidatable_size(Fr(100), Fr(50_000), Fr(1, 1000), **kw) == Fr(2)  # $100 k / block
    assert liquidatable_size(Fr(1, 100), Fr(50_000), Fr(1, 1000), **kw) == Fr(
        1, 100
    )  # ≤ $1 000: all
    assert liquidatable_size(Fr(1), Fr(50_000), Fr(1, 1000), **kw) == Fr(1, 10)  # 10 % per block


def test_ceil_mul_ppm_is_exact() -> None:
    n = np.asarray([0, 1, 500_000, 123_456, 9 * 10**15], dtype=np.int64)
    p = np.asarray([200_000, 1, 271_393, 567_243, 999_999], dtype=np.int64)
    want = [-((-int(a) * int(b)) // 10**6) for a, b in zip(n, p, strict=True)]
    assert ceil_mul_ppm(n, p).tolist() == want


def _snap(oi: float | None) -> MarketSnapshot:
    return MarketSnapshot(
        datetime(2026, 1, 1, tzinfo=UTC),
        "USD",
        {
            "BTC": AssetMarket(50_000.0, perp_mark=50_010.0, vol=0.5),
            "SOL": AssetMarket(100.0, perp_mark=100.0, perp_open_interest=oi),
            "USDC": AssetMarket(1.0),
        },
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_margin_model() -> None:
    pf = Portfolio(
        "a", "USD", {"USDC": 1000.0}, (Position(parse_instrument("BTC-PERP"), 0.1, 50_000.0),)
    )
    res = compute_margin(pf, _snap(None), model="dydx-v4")
    assert float(res.initial_margin[0]) == pytest.approx(
        100.0, abs=1e-9
    )  # 2 % of $5 000 (Large-Cap)
    assert float(res.maintenance_margin[0]) == pytest.approx(60.0, abs=1e-9)  # x 0.6
    assert float(res.equity[0]) == pytest.approx(1000.0, abs=1e-9)  # valued at the oracle
    sol = Portfolio("a", "USD", {"USDC": 1000.0}, (Position(parse_instrument("SOL-PERP"), 1000.0),))
    with pytest.raises(MarketDataError) as e:
        compute_margin(sol, _snap(None), model="dydx-v4")
    assert e.value.path == "assets.SOL.perp.open_interest"
    # Mid-Cap, OI $70 M between $40 M and $100 M: IMF = 5 % + 95 % x 0.5 = 52.5 %
    res = compute_margin(sol, _snap(700_000.0), model="dydx-v4")
    assert float(res.initial_margin[0]) == pytest.approx(0.525 * 100_000.0, abs=1e-6)
    assert float(res.maintenance_margin[0]) == pytest.approx(0.03 * 100_000.0, abs=1e-6)
    opt = Portfolio("a", "USD", {}, (Position(parse_instrument("BTC-26DEC26-60000-C"), 1.0),))
    with pytest.raises(ModelError, match="option contracts are not margined by dydx-v4"):
        compute_margin(opt, _snap(None), model="dydx-v4")


def test_parameters_equal_the_sample_pregenesis() -> None:
    t = dydx_params().tiers
    want = {
        "Large-Cap": (0, 20_000, 600_000, 0, 0, 10_000),
        "Mid-Cap": (5, 50_000, 600_000, 40e6, 100e6, 5_000),
        "Small-Cap": (1, 100_000, 500_000, 20e6, 50e6, 5_000),
        "Long-Tail": (2, 200_000, 500_000, 5e6, 10e6, 2_500),
        "Safety": (3, 1_000_000, 200_000, 2e6, 5e6, 2_500),
        "Isolated": (4, 50_000, 600_000, 0.5e6, 1e6, 2_500),
        "FX": (6, 10_000, 500_000, 0.5e6, 1e6, 2_500),
    }
    for name, (i, imf, mf, lo, hi, impact) in want.items():
        x = t[name]
        assert (x.id, x.initial_margin_ppm, x.maintenance_fraction_ppm) == (i, imf, mf)
        assert (x.open_interest_lower_cap, x.open_interest_upper_cap, x.impact_notional) == (
            lo,
            hi,
            impact,
        )
    liq = dydx_params().liquidation
    assert (
        liq.max_liquidation_fee_ppm,
        liq.bankruptcy_adjustment_ppm,
        liq.spread_to_maintenance_margin_ratio_ppm,
    ) == (15_000, 1_000_000, 1_500_000)
    assert (liq.min_position_notional_liquidated, liq.max_position_portion_liquidated_ppm) == (
        1_000.0,
        100_000,
    )
    assert (liq.max_notional_liquidated, liq.max_quantums_insurance_lost) == (
        100_000.0,
        1_000_000.0,
    )


def test_amounts_are_usdc_converted_at_the_quote_price() -> None:
    """dydx-v4.md §1-§2: quote quantums of USDC, oracle read as USDC per base. With USDC at
    1.01, 0.1 BTC at 50 000: IMR 100 USDC = 101 USD, MMR 60 USDC = 60.6 USD, and the account
    kept in USDC sees the chain's 100 / 60 and TNC = 1 000 + 0.1 x (50 000 - 49 000) = 1 100."""
    snap = MarketSnapshot(
        datetime(2026, 1, 1, tzinfo=UTC),
        "USD",
        {"BTC": AssetMarket(50_000.0, perp_mark=50_000.0), "USDC": AssetMarket(1.01)},
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
    )
    pos = (Position(parse_instrument("BTC-PERP"), 0.1, 49_000.0),)
    usd = compute_margin(Portfolio("a", "USD", {"USDC": 1000.0}, pos), snap, model="dydx-v4")
    assert float(usd.initial_margin[0]) == pytest.approx(101.0, rel=1e-14)
    assert float(usd.maintenance_margin[0]) == pytest.approx(60.6, rel=1e-14)
    assert float(usd.equity[0]) == pytest.approx(1.01 * 1100.0, rel=1e-14)
    own = compute_margin(Portfolio("a", "USDC", {"USDC": 1000.0}, pos), snap, model="dydx-v4")
    assert float(own.initial_margin[0]) == pytest.approx(100.0, rel=1e-14)
    assert float(own.maintenance_margin[0]) == pytest.approx(60.0, rel=1e-14)
    assert float(own.equity[0]) == pytest.approx(1100.0, rel=1e-14)
    no_usdc = MarketSnapshot(snap.as_of, "USD", {"BTC": snap.assets["BTC"]}, timestamp=snap.as_of)
    with pytest.raises(MarketDataError) as e:
        compute_margin(Portfolio("a", "USD", {}, pos), no_usdc, model="dydx-v4")
    assert e.value.path == "assets.USDC"


def test_notional_beyond_int64_quantums_is_an_error_and_huge_oi_caps_the_imf() -> None:
    snap = MarketSnapshot(
        datetime(2026, 1, 1, tzinfo=UTC),
        "USD",
        {
            "BTC": AssetMarket(50_000.0, perp_mark=50_000.0),
            "SOL": AssetMarket(100.0, perp_mark=100.0, perp_open_interest=1e306),
            "USDC": AssetMarket(1.0),
        },
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
    )
    huge = Portfolio("a", "USD", {}, (Position(parse_instrument("BTC-PERP"), 1e9),))
    with pytest.raises(ModelError, match="beyond the exact integer range") as e:
        compute_margin(huge, snap, model="dydx-v4")
    assert e.value.path == "positions[0].quantity"
    # §2.1: an open notional beyond every cap (here beyond float range) gives IMF = 100 %
    sol = Portfolio("a", "USD", {"USDC": 1e4}, (Position(parse_instrument("SOL-PERP"), 10.0),))
    res = compute_margin(sol, snap, model="dydx-v4")
    assert float(res.initial_margin[0]) == pytest.approx(1000.0, rel=1e-15)
