"""Deribit PM: the published private/pme/simulate example (deribit-pm.md §8), exactly.

Source: Deribit API reference, private/pme/simulate response example (BTC, S:PM,
2024-06-17 10:22 UTC). Positions are coin sizes; our book holds inverse futures/perps in USD
face, so the face value is coin size x mark (the coin size is recovered as face / mark).
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from crossmargin._time import parse_instant
from crossmargin.config import default_config
from crossmargin.engine import compute_margin
from crossmargin.instruments import Book, Portfolio, Position, parse_instrument
from crossmargin.margin.presets.deribit import (
    assemble_margins,
    deribit_params,
    deribit_vectors,
    round9,
)
from crossmargin.market.snapshot import AssetMarket, ExpiryMarket, MarketSnapshot
from crossmargin.resolve import resolve

#: Published vectors have ~16 significant digits (float64 of q·u/(1+u)); our coin size passes
#: through face value and back (one rounding each way).
VECTOR_REL = 1e-13
PERP_Q, FUT_Q = 0.314538364, -0.001187534
PERP_MARK, FUT_MARK, INDEX = 65910.57, 67371.75, 65666.19

PUBLISHED = {  # bucket -> (perpetual, future), deribit-pm.md §8
    -0.16: (-0.05991206933333334, 0.0002261969523809524),
    -0.12: (-0.04289159509090909, 0.00016193645454545456),
    -0.08: (-0.027351162086956524, 0.00010326382608695652),
    -0.04: (-0.013105765166666668, 0.00004948058333333334),
    0.0: (0.0, 0.0),
    0.04: (0.012097629384615385, -0.00004567438461538462),
    0.08: (0.023299138074074074, -0.00008796548148148148),
    0.12: (0.033700538999999995, -0.0001272357857142857),
    0.16: (0.043384601931034494, -0.00016379779310344832),
}


def _setup() -> tuple[MarketSnapshot, Portfolio]:
    asof = datetime.fromtimestamp(1_718_619_740.501, tz=UTC)
    exp = parse_instant("28JUN24")
    snap = MarketSnapshot(
        asof,
        "USD",
        {
            "BTC": AssetMarket(
                INDEX, perp_mark=PERP_MARK, expiries={exp: ExpiryMarket(forward=FUT_MARK)}
            )
        },
        timestamp=asof,
    )
    pf = Portfolio(
        "deribit-example",
        "BTC",
        {},
        (
            Position(parse_instrument("BTC-PERP-INV"), PERP_Q * PERP_MARK),
            Position(parse_instrument("BTC-28JUN24-INV"), FUT_Q * FUT_MARK),
        ),
    )
    return snap, pf


def test_per_instrument_and_aggregated_vectors() -> None:
    snap, pf = _setup()
    v = deribit_vectors(
        resolve(Book.from_portfolios([pf]), snap, default_config()), deribit_params()
    )
    q = np.asarray([PERP_Q * PERP_MARK, FUT_Q * FUT_MARK])
    vec = v.unit_std * q[:, None]
    for b, (perp, fut) in enumerate(PUBLISHED.values()):
        for vol in range(3):  # linear products: the same value in each vol state
            assert vec[0, 3 * b + vol] == pytest.approx(perp, rel=VECTOR_REL, abs=1e-18)
            assert vec[1, 3 * b + vol] == pytest.approx(fut, rel=VECTOR_REL, abs=1e-18)
    # extended table: the same-side edge values
    ext = v.unit_ext * q[:, None]
    np.testing.assert_allclose(
        ext[0], [-0.05991206933333334] * 2 + [0.043384601931034494] * 6, rtol=VECTOR_REL
    )
    np.testing.assert_allclose(
        ext[1], [0.0002261969523809524] * 2 + [-0.00016379779310344832] * 6, rtol=VECTOR_REL
    )
    # aggregated: gains x pnl_offset (0 for BTC); extended all 0 after the dampener
    agg = v.agg_std[0, ::3]
    np.testing.assert_allclose(
        agg[:4],
        [-0.05968587238095239, -0.04272965863636364, -0.02724789826086957, -0.013056284583333334],
        rtol=VECTOR_REL,
    )
    assert np.all(agg[4:] == 0.0)
    assert v.ccy_worst[0] == pytest.approx(0.05968587238095239, rel=VECTOR_REL)
    assert int(v.g_worst_cell[0]) in (0, 1, 2)  # bucket 1 (-16 %), left, standard


def test_margins_reproduce_exactly_with_round9() -> None:
    snap, pf = _setup()
    v = deribit_vectors(
        resolve(Book.from_portfolios([pf]), snap, default_config()), deribit_params()
    )
    assert float(v.g_roll[0]) == pytest.approx(
        0.00315725898, rel=1e-13
    )  # 0.01 x (|q_perp| + |q_fut|)
    assert float(v.ccy_rmm[0]) == 0.06284313098 or abs(float(v.ccy_rmm[0]) - 0.06284313098) < 1e-17
    im, mm = assemble_margins(v.ccy_rmm, 0.8, open_orders_margin=0.000018212, mmp_margin=0.06)
    assert float(im[0]) == 0.122861343  # round9(0.06284313098 + 0.06 + 0.000018212), published
    assert float(mm[0]) == pytest.approx(0.050274504784, rel=1e-15)  # 0.8 x RMM, not rounded


def test_through_the_margin_model_in_coin() -> None:
    snap, pf = _setup()
    res = compute_margin(pf, snap, model="deribit-pm")  # account base currency BTC
    assert float(res.maintenance_margin[0]) == pytest.approx(0.050274504784, rel=1e-14)
    assert float(res.initial_margin[0]) == pytest.approx(0.062843131, rel=1e-14)  # no MMP/orders
    roll = next(a for a in res.batch.addons if a.name == "roll_shock")
    assert float(roll.amount[0]) / INDEX == pytest.approx(0.00315725898, rel=1e-12)


def test_round9_rounds_to_nine_decimals() -> None:
    got = round9(np.asarray([0.12286134298, 1.4e-9, -1.6e-9, 0.06284313098]))
    np.testing.assert_array_equal(got, [0.122861343, 1e-9, -2e-9, 0.062843131])


def test_parameters_equal_the_spec() -> None:
    p = deribit_params()  # deribit-pm.md §2
    btc, eth = p.pairs["BTC"], p.pairs["ETH"]
    assert (btc.price_range, btc.volatility_range_up, btc.volatility_range_down) == (
        0.16,
        0.5,
        0.25,
    )
    assert (
        btc.short_term_vega_power,
        btc.long_term_vega_power,
        btc.min_volatility_for_shock_up,
    ) == (0.3, 0.13, 0.5)
    assert (
        btc.extended_table_factor,
        btc.max_delta_shock,
        btc.delta_total_liq_shock_threshold,
        btc.m_inc,
    ) == (1.0, 0.1, 20e6, 0.00005)
    assert (eth.price_range, eth.volatility_range_up, eth.m_inc) == (0.18, 0.4, 0.000004)
    c = p.currencies
    assert (
        c["BTC"].pnl_offset,
        c["BTC"].annualised_move_risk,
        c["BTC"].min_annualised_move,
        c["BTC"].extended_dampener,
    ) == (0.0, 0.075, 0.01, 100_000.0)
    assert (
        c["ETH"].pnl_offset,
        c["ETH"].max_offsetable_pnl,
        c["ETH"].annualised_move_risk,
        c["ETH"].min_annualised_move,
        c["ETH"].extended_dampener,
    ) == (0.6, 20e6, 0.05, 0.005, 200_000.0)
    assert (
        c["USD"].pnl_offset,
        c["USD"].max_offsetable_pnl,
        c["USD"].annualised_move_risk,
        c["USD"].extended_dampener,
    ) == (0.4, 1e6, 0.1, 25_000.0)
    assert (p.mm_factor, p.buckets_count) == (0.8, 4)
    assert p.extended_moves == (-0.66, -0.33, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0)


def test_pnl_offset_lets_gains_of_one_underlying_offset_another() -> None:
    snap = MarketSnapshot(
        datetime(2026, 1, 1, tzinfo=UTC),
        "USD",
        {
            "BTC": AssetMarket(60_000.0, perp_mark=60_000.0),
            "ETH": AssetMarket(3_000.0, perp_mark=3_000.0),
        },
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
    )
    long_btc = Position(parse_instrument("BTC-PERP"), 1.0)
    short_eth = Position(parse_instrument("ETH-PERP"), -20.0)
    alone = compute_margin(Portfolio("a", "USD", {}, (long_btc,)), snap, model="deribit-pm")
    pair = compute_margin(
        Portfolio("a", "USD", {}, (long_btc, short_eth)), snap, model="deribit-pm"
    )
    eth = compute_margin(Portfolio("a", "USD", {}, (short_eth,)), snap, model="deribit-pm")
    # USD-settled: ETH's gain at -16% offsets 40 % (usd pnl_offset) of BTC's loss there
    assert pair.initial_margin[0] < alone.initial_margin[0] + eth.initial_margin[0]
    credit = next(a for a in pair.batch.addons if a.name == "currency_aggregation")
    assert float(credit.amount[0]) < 0


def test_currency_haircut_is_an_im_haircut() -> None:
    """deribit-pm.md §2: `haircut` is the IM haircut of a currency as X:PM collateral; the
    maintenance equity counts it in full (10 ETH at 3 000 with a 10 % haircut: 27 000 / 30 000)."""
    snap = MarketSnapshot(
        datetime(2026, 1, 1, tzinfo=UTC),
        "USD",
        {"ETH": AssetMarket(3_000.0, perp_mark=3_000.0)},
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
    )
    eth = {
        "pnl_offset": 0.6,
        "max_offsetable_pnl": 20e6,
        "annualised_move_risk": 0.05,
        "min_annualised_move": 0.005,
        "extended_dampener": 200_000.0,
        "haircut": 0.1,
    }
    cfg = default_config().model_copy(
        update={"presets": {"deribit-pm": {"currencies": {"ETH": eth}}}}
    )
    pf = Portfolio("a", "USD", {"ETH": 10.0}, (Position(parse_instrument("ETH-PERP"), 1.0),))
    res = compute_margin(pf, snap, model="deribit-pm", config=cfg)
    assert float(res.equity[0]) == pytest.approx(27_000.0, rel=1e-15)
    assert float(res.maintenance_equity[0]) == pytest.approx(30_000.0, rel=1e-15)
