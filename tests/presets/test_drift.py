"""Drift v2: the worked examples of drift-v2.md §2 and §6.3 (program unit tests) at the published
precision, the margin model and money conservation of ``liquidate_perp``."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.config import RiskConfig, default_config
from crossmargin.engine import compute_margin
from crossmargin.errors import ConfigError, InputError, MarketDataError
from crossmargin.instruments import Portfolio, Position, parse_instrument
from crossmargin.io.market import market_from_obj
from crossmargin.margin.presets.drift import drift_params
from crossmargin.margin.presets.drift_rules import (
    isqrt_size,
    liquidate_perp,
    scaled_initial_asset_weight,
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


# -- quote-asset valuation (drift-v2.md §4) -------------------------------------------------


def _snap(usdc: float | None = 1.01, **extra: AssetMarket) -> MarketSnapshot:
    assets = {"SOL": AssetMarket(100.0, perp_mark=100.0), **extra}
    if usdc is not None:
        assets["USDC"] = AssetMarket(usdc)
    return MarketSnapshot(
        datetime(2026, 1, 1, tzinfo=UTC), "USD", assets, timestamp=datetime(2026, 1, 1, tzinfo=UTC)
    )


def _perp(entry: float, base: str = "USD", usdc: float = 50.0) -> Portfolio:
    col = {"USDC": usdc} if usdc else {}
    return Portfolio("u", base, col, (Position(parse_instrument("SOL-PERP"), 1.0, entry),))


def test_perp_liability_and_pnl_are_valued_in_the_quote_asset() -> None:
    """§4: liability value = |base| x oracle x quote price; weighted uPnL = uPnL x w x quote price.

    USDC at 1.01, 1 SOL-PERP at oracle 100: IM = 100 x 1.01 x 10 % = 10.1 (not 10.0),
    MM = 100 x 1.01 x 5 % = 5.05; a +10 (quote) uPnL counts 10.1, a -10 one -10.1.
    """
    res = compute_margin(_perp(100.0), _snap(), model="drift-v2")
    assert float(res.initial_margin[0]) == pytest.approx(10.1, rel=1e-15)
    assert float(res.maintenance_margin[0]) == pytest.approx(5.05, rel=1e-15)
    assert float(res.equity[0]) == pytest.approx(50.0 * 1.01, rel=1e-15)
    gain = compute_margin(_perp(90.0), _snap(), model="drift-v2")
    assert float(gain.equity[0]) == pytest.approx(50.5 + 10.1, rel=1e-15)
    assert float(gain.maintenance_equity[0]) == pytest.approx(50.5 + 10.1, rel=1e-15)
    loss = compute_margin(_perp(110.0), _snap(), model="drift-v2")
    assert float(loss.equity[0]) == pytest.approx(50.5 - 10.1, rel=1e-15)
    # an account kept in USDC sees Drift's own numbers: IM 10 USDC, collateral 50 + uPnL
    own = compute_margin(_perp(90.0, base="USDC"), _snap(), model="drift-v2")
    assert float(own.initial_margin[0]) == pytest.approx(10.0, rel=1e-14)
    assert float(own.equity[0]) == pytest.approx(60.0, rel=1e-14)


def test_quote_price_scales_the_size_premium_and_the_initial_upnl_cap() -> None:
    cfg = default_config().model_copy(
        update={"presets": {"drift-v2": {"default_perp": {"imf_factor": 0.01}}}}
    )
    big = Portfolio(
        "u", "USD", {"USDC": 1e6}, (Position(parse_instrument("SOL-PERP"), 400.0, 50.0),)
    )
    at_par = compute_margin(big, _snap(1.0), model="drift-v2", config=cfg)
    above = compute_margin(big, _snap(1.01), model="drift-v2", config=cfg)
    # ratio max(0.1, 0.08 + 0.01 x sqrt(400)) = 0.28 on 400 x 100 (size in base units, not USD)
    assert float(at_par.initial_margin[0]) == pytest.approx(400 * 100 * 0.28, rel=1e-12)
    assert float(above.initial_margin[0]) == pytest.approx(1.01 * 400 * 100 * 0.28, rel=1e-12)
    # uPnL +20 000 quote: the initial gain is capped at 100 after the quote conversion
    assert float(above.equity[0]) == pytest.approx(1.01e6 + 100.0, rel=1e-12)
    assert float(above.maintenance_equity[0]) == pytest.approx(1.01e6 + 1.01 * 20_000, rel=1e-12)


def test_quote_price_is_fail_closed() -> None:
    with pytest.raises(MarketDataError) as e:
        compute_margin(_perp(100.0, usdc=0.0), _snap(None), model="drift-v2")
    assert e.value.path == "assets.USDC"
    low = MarketSnapshot(
        datetime(2026, 1, 1, tzinfo=UTC),
        "USD",
        {"SOL": AssetMarket(100.0, perp_mark=100.0), "USDC": AssetMarket(1.0, confidence=0.1)},
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
    )
    with pytest.raises(MarketDataError) as e:
        compute_margin(_perp(100.0, usdc=0.0), low, model="drift-v2")
    assert e.value.path == "assets.USDC.confidence"
    # a quote that is the snapshot currency has price 1; another quote asset can be configured
    usdt = default_config().model_copy(update={"presets": {"drift-v2": {"quote_asset": "USDT"}}})
    res = compute_margin(
        _perp(100.0, usdc=0.0), _snap(None, USDT=AssetMarket(0.99)), model="drift-v2", config=usdt
    )
    assert float(res.initial_margin[0]) == pytest.approx(9.9, rel=1e-15)


# -- initial asset weight scaled by market deposits (drift-v2.md §3) -------------------------


def test_scaled_initial_asset_weight_formula() -> None:
    """§3: w x start / deposit_value above the start (weights 1e4, quote 1e6, truncated)."""
    assert scaled_initial_asset_weight(0.8, 1e6, 2e6) == 0.4
    assert scaled_initial_asset_weight(0.8, 1e6, 3e6) == 0.2666  # 8000 x 1e12 // 3e12
    assert scaled_initial_asset_weight(0.8, 1e6, 1e6) == 0.8  # at the start: unchanged
    assert scaled_initial_asset_weight(0.8, 1e6, 5e5) == 0.8  # below it
    assert scaled_initial_asset_weight(0.8, 0.0, 5e9) == 0.8  # start 0: scaling off


def _sol_cfg(start: float, imf: float = 0.0) -> RiskConfig:
    sol = {
        "initial_asset_weight": 0.8,
        "maintenance_asset_weight": 0.9,
        "initial_liability_weight": 1.2,
        "maintenance_liability_weight": 1.1,
        "imf_factor": imf,
        "scale_initial_asset_weight_start": start,
    }
    return default_config().model_copy(
        update={"presets": {"drift-v2": {"spot_markets": {"SOL": sol}}}}
    )


def _sol_snap(total: float | None) -> MarketSnapshot:
    return MarketSnapshot(
        datetime(2026, 1, 1, tzinfo=UTC),
        "USD",
        {"SOL": AssetMarket(100.0, total_deposits=total), "USDC": AssetMarket(1.0)},
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("tokens", "total", "imf", "initial_weight"),
    [
        (10.0, 20_000.0, 0.0, 0.4),  # $2M deposits, start $1M: 0.8 x 1/2
        (10.0, 30_000.0, 0.0, 0.2666),  # truncated in 1e4
        (10.0, 5_000.0, 0.0, 0.8),  # $0.5M: below the start
        (1000.0, 20_000.0, 0.1, 0.2642),  # then the size discount: min(0.4, 1.1/(1+0.1 sqrt 1000))
        (1000.0, 100_000.0, 0.1, 0.08),  # scaled below the size discount: min(0.08, 0.2642)
    ],
)
def test_model_scales_the_initial_deposit_weight(
    tokens: float, total: float, imf: float, initial_weight: float
) -> None:
    pf = Portfolio("u", "USD", {"SOL": tokens}, ())
    res = compute_margin(pf, _sol_snap(total), model="drift-v2", config=_sol_cfg(1e6, imf))
    assert float(res.equity[0]) == pytest.approx(tokens * 100.0 * initial_weight, rel=1e-12)
    maint = float(
        size_discount_weight(np.asarray([tokens]), np.asarray([imf]), np.asarray([0.9]))[0]
    )
    assert float(res.maintenance_equity[0]) == pytest.approx(tokens * 100.0 * maint, rel=1e-12)
    rows = {a.name: float(a.amount.sum()) for a in res.batch.addons}
    unscaled = float(
        size_discount_weight(np.asarray([tokens]), np.asarray([imf]), np.asarray([0.8]))[0]
    )
    assert rows["initial_asset_weight_scaling"] == pytest.approx(
        tokens * 100.0 * (unscaled - initial_weight), rel=1e-12, abs=1e-9
    )


def test_deposit_scaling_is_fail_closed() -> None:
    pf = Portfolio("u", "USD", {"SOL": 10.0}, ())
    with pytest.raises(MarketDataError) as e:
        compute_margin(pf, _sol_snap(None), model="drift-v2", config=_sol_cfg(1e6))
    assert e.value.path == "assets.SOL.total_deposits"
    with pytest.raises(MarketDataError, match="below the 10 SOL deposited") as e:
        compute_margin(pf, _sol_snap(5.0), model="drift-v2", config=_sol_cfg(1e6))
    assert e.value.path == "assets.SOL.total_deposits"
    # scaling off (the default): total deposits are not needed
    off = compute_margin(pf, _sol_snap(None), model="drift-v2", config=_sol_cfg(0.0))
    assert float(off.equity[0]) == pytest.approx(800.0, rel=1e-15)


def test_total_deposits_in_a_snapshot_file() -> None:
    base = {"as_of": "2026-01-01T00:00:00Z", "assets": {"SOL": {"price": 100.0}}}
    ok = market_from_obj({**base, "assets": {"SOL": {"price": 100.0, "total_deposits": 2e4}}})
    assert ok.assets["SOL"].total_deposits == 2e4
    for bad in (-1.0, float("nan"), "20000", True):
        with pytest.raises(InputError) as e:
            market_from_obj({**base, "assets": {"SOL": {"price": 100.0, "total_deposits": bad}}})
        assert e.value.path == "assets.SOL.total_deposits"


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"default_perp": {"margin_ratio_initial": 0.01}}, "default_perp"),
        ({"default_spot": {"initial_asset_weight": 0.95}}, "default_spot"),
        ({"default_perp": {"imf_factor": float("inf")}}, "default_perp.imf_factor"),
        ({"default_spot": {"scale_initial_asset_weight_start": -1}}, "default_spot"),
    ],
)
def test_parameters_keep_drift_ordering_and_finiteness(override: dict, field: str) -> None:
    cfg = default_config().model_copy(update={"presets": {"drift-v2": override}})
    with pytest.raises(ConfigError) as e:
        compute_margin(_perp(100.0), _snap(), model="drift-v2", config=cfg)
    assert e.value.path.startswith(f"config.presets.drift-v2.{field}")


@pytest.mark.parametrize("tokens", [1e18, 1e27, 1e30, 1e100])
def test_huge_sizes_never_wrap_the_integer_weights(tokens: float) -> None:
    """§2 formulas at sizes beyond int64: L = max(w, 0.8 w + f sqrt(S)), A = min(w, 1.1/(1 + f
    sqrt(S))) — computed in float64 there (relative 1e-12), never wrapped to a smaller premium."""
    s, f = np.asarray([tokens]), np.asarray([0.01])
    prem = float(size_premium_weight(s, f, np.asarray([1.1]))[0])
    assert prem == pytest.approx(0.88 + 0.01 * tokens**0.5, rel=1e-12)
    disc = float(size_discount_weight(s, f, np.asarray([0.9]))[0])
    assert disc == pytest.approx(1.1 / (1 + 0.01 * tokens**0.5), abs=1e-4)  # 1e4 precision
