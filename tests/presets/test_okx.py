"""OKX PM: the published position-builder example (okx-pm.md §5) and the January-2025 parameters.

Source: OKX API v5 ``POST /api/v5/account/position-builder`` response example. The index prices
are not in the response; they are inferred from the published MR1 (move x |size| x index), so
the comparison is at one unit of the last published digit (1e-7).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crossmargin.engine import compute_margin
from crossmargin.instruments import Portfolio, Position, parse_instrument
from crossmargin.margin.presets.okx import okx_params, okx_units
from crossmargin.market.snapshot import AssetMarket, MarketSnapshot

#: One unit of the last published digit (7 decimals).
LAST_DIGIT = 1e-7
BTC_INDEX = 1164.4109245 / (0.12 * 0.1)  # MR1 = 12 % x 0.1 BTC x index
LTC_INDEX = 183.5067281 / (0.18 * 10.0)  # MR1 = 18 % x 10 LTC x index


def _example() -> tuple[MarketSnapshot, Portfolio]:
    snap = MarketSnapshot(
        datetime(2025, 1, 10, tzinfo=UTC),
        "USD",
        {
            "BTC": AssetMarket(BTC_INDEX, perp_mark=97049.036898),  # delta -9704.9036898 at mark
            "LTC": AssetMarket(LTC_INDEX, perp_mark=101.95308),  # delta 1019.5308 at mark
            "USDT": AssetMarket(1.0),
        },
        timestamp=datetime(2025, 1, 10, tzinfo=UTC),
    )
    pf = Portfolio(
        "okx",
        "USD",
        {"USDT": -78553.21889},  # |adjusted equity| implied by the USDT borrow IMR (10 %)
        (
            Position(parse_instrument("BTC-PERP"), -0.1),  # BTC-USDT-SWAP -10 x 0.01 BTC
            Position(parse_instrument("LTC-PERP"), 10.0),  # LTC-USDT-SWAP +10 x 1 LTC
        ),
    )
    return snap, pf


def test_position_builder_example() -> None:
    snap, pf = _example()
    res = compute_margin(pf, snap, model="okx-pm")
    u = okx_units(res.book, okx_params())
    btc, ltc = (list(res.book.instruments.underlyings).index(x) for x in ("BTC", "LTC"))
    i_btc, i_ltc = (int((u.und == k).nonzero()[0][0]) for k in (btc, ltc))
    published = {
        i_btc: (
            1164.4109245,
            19.4098074,
            1164.4109245,
            43.6720666,
            1183.8207319,
            1538.9669514,
            -9704.9036898,
        ),
        i_ltc: (
            183.5067281,
            8.1562464,
            183.5067281,
            7.1367156,
            191.6629745,
            249.1618668,
            1019.5308,
        ),
    }
    for g, (mr1, mr4, mr6, mr7, mmr, imr, delta) in published.items():
        assert float(u.mr1[g]) == pytest.approx(mr1, abs=LAST_DIGIT)
        assert float(u.mr4[g]) == pytest.approx(mr4, abs=LAST_DIGIT)
        assert float(u.mr6[g]) == pytest.approx(mr6, abs=LAST_DIGIT)
        assert float(u.mr7[g]) == pytest.approx(mr7, abs=LAST_DIGIT)
        assert float(u.mmr[g]) == pytest.approx(mmr, abs=LAST_DIGIT)
        assert float(u.imr[g]) == pytest.approx(imr, abs=LAST_DIGIT)
        assert float(u.delta_usd[g]) == pytest.approx(delta, abs=LAST_DIGIT)
        assert float(u.mr2[g]) == float(u.mr3[g]) == float(u.mr5[g]) == float(u.mr9[g]) == 0.0
    assert float(u.mr6_loss[i_btc]) == pytest.approx(2328.8218489, abs=2 * LAST_DIGIT)  # at +24 %
    assert float(u.mr6_loss[i_ltc]) == pytest.approx(367.0134561, abs=2 * LAST_DIGIT)  # at -36 %
    # totals: derivMmr + MR8 (2 % of the USDT liability); IMR adds the 10 % borrow IMR
    assert float(res.maintenance_margin[0]) == pytest.approx(2946.5480841, abs=LAST_DIGIT)
    assert float(res.initial_margin[0]) == pytest.approx(9643.4507072, abs=LAST_DIGIT)
    # the add-on rows add up from MR1 to the unit IMR
    g = res.batch.groups
    for k in range(g.n):
        extra = sum(float(a.amount[k]) for a in res.batch.addons if a.name != "mr8_borrowing")
        assert float(g.scan[k]) + extra == pytest.approx(float(g.im[k]), rel=1e-12)


def test_parameters_equal_the_january_2025_announcement() -> None:
    p = okx_params()
    t1, t2, t3 = p.tiers["tier1"], p.tiers["tier2"], p.tiers["other"]
    assert (t1.mr1_moves, t2.mr1_moves, t3.mr1_moves) == (
        (0.04, 0.08, 0.12),
        (0.06, 0.12, 0.18),
        (0.08, 0.16, 0.25),
    )
    assert (t1.mr6_move, t2.mr6_move, t3.mr6_move) == (0.24, 0.36, 0.50)
    assert (t1.annualised_move_risk, t2.annualised_move_risk, t3.annualised_move_risk) == (
        0.05,
        0.15,
        0.30,
    )
    assert p.mr7_multipliers == (1.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0)
    assert (p.imr_factor, p.mr6_factor) == (1.3, 0.5)
    assert p.mr1_tier["LTC"] == "tier2" and p.mr6_tier["SOL"] == "tier2" and "SOL" not in p.mr1_tier
