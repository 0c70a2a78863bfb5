"""Deribit exports: inverse and linear, perpetual / future / option / spot, hand-checked.

Every expected number below is computed by hand from the payloads in ``data/`` (see its README
for their source); the comments show the arithmetic.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crossmargin import Future, Option, Perpetual, black76_price
from crossmargin._time import year_fraction
from crossmargin.crossvenue import check_dict, venue_book
from crossmargin.errors import InputError

from .helpers import AS_OF, domain, holding, margin, run_import

MAR26 = datetime(2026, 3, 27, 8, tzinfo=UTC)


@pytest.fixture(scope="module")
def cross():  # type: ignore[no-untyped-def]
    return run_import(
        "deribit", "deribit_positions.json", "deribit_summaries_cross.json", as_of=AS_OF
    )


def test_inverse_positions_keep_the_venue_units(cross) -> None:  # type: ignore[no-untyped-def]
    perp = holding(cross, "BTC-PERPETUAL")
    # size -50000 is USD (inverse): our inverse perpetual is also sized in USD face
    assert perp.contract == Perpetual("BTC", "inverse")
    assert float(perp.quantity) == -50_000.0 and perp.entry_price == 98_500.0
    fut = holding(cross, "BTC-27MAR26")
    # BTC-27MAR26 expires 27 Mar 2026 08:00 UTC, size 20000 USD
    assert fut.contract == Future("BTC", MAR26, "inverse")
    assert float(fut.quantity) == 20_000.0
    opt = holding(cross, "BTC-27MAR26-100000-C")
    # options are sized in BTC and priced in BTC: -2 BTC of calls, entry 0.045 BTC
    assert opt.contract == Option("BTC", MAR26, 100_000.0, "call", "inverse")
    assert float(opt.quantity) == -2.0 and opt.entry_price == 0.045
    names = [p["instrument"] for p in cross.portfolio["positions"]]
    assert names == ["BTC-PERP-INV", "BTC-27MAR26-INV", "BTC-27MAR26-100000-C-INV"]
    assert {p["venue"] for p in cross.portfolio["positions"]} == {"deribit"}


def test_market_from_the_marks(cross) -> None:  # type: ignore[no-untyped-def]
    btc = cross.market["assets"]["BTC"]
    assert btc["price"] == 97_000.0  # index_price
    assert btc["perp"]["mark"] == 97_010.5  # the perpetual's mark_price
    e = btc["expiries"]["2026-03-27T08:00:00Z"]
    assert e["forward"] == 98_950.0  # the future of that expiry is its forward
    (mk,) = e["marks"]
    # no ticker: the vol reprices the mark exactly — USD premium = 0.0395 BTC × 97 000 = 3 831.5
    t = year_fraction(AS_OF, MAR26)
    assert float(black76_price(98_950.0, 100_000.0, t, mk["vol"], 1.0, True)) == pytest.approx(
        3_831.5, rel=1e-10
    )
    # USDC in USD from the cross totals: total_margin_balance_usd / USDC margin_balance = 1
    assert cross.market["assets"]["USDC"]["price"] == 1.0


def test_collateral_reconciles_the_venue_equity(cross) -> None:  # type: ignore[no-untyped-def]
    col = cross.portfolio["venues"]["deribit"]["collateral"]
    # BTC equity 1.2078 minus the positions' mark value at Deribit's marks, in BTC:
    #   perp   -50000 × (1/98500 − 1/97010.5) = +0.0077939127
    #   future  20000 × (1/99800 − 1/98950)   = −0.0017214824
    #   option     −2 × 0.0395                = −0.079
    # 1.2078 − 0.0077939127 + 0.0017214824 + 0.079 = 1.2807275697
    perp = -50_000 * (1 / 98_500 - 1 / 97_010.5)
    fut = 20_000 * (1 / 99_800 - 1 / 98_950)
    assert perp == pytest.approx(0.0077939127, abs=1e-10)
    assert fut == pytest.approx(-0.0017214824, abs=1e-10)
    assert col["BTC"] == pytest.approx(1.2807275697, abs=1e-10)
    assert col["USDC"] == 121_300.0
    # so our equity at market is the venue's equity: 1.2078 × 97 000 + 121 300 = 238 456.6
    res = margin(cross, "isolated")
    assert float(res.account_value[0]) == pytest.approx(238_456.6, rel=1e-9)


def test_isolated_and_cross_margin_by_hand(cross) -> None:  # type: ignore[no-untyped-def]
    # perp: notional 50 000 USD × 5 % = 2 500 IM, × 2.5 % = 1 250 MM (first tier, < 1 M)
    # future: 20 000 × 5 % = 1 000 IM, 500 MM
    # short call, 2 BTC, F 98 950, K 100 000: OTM 1 050, max(0.15 − 1050/98950, 0.10) × F
    #   = 0.15 × 98 950 − 1 050 = 13 792.5; premium 0.0395 × 97 000 = 3 831.5
    #   IM 2 × (13 792.5 + 3 831.5) = 35 248; MM 2 × (0.075 × 98 950 + 3 831.5) = 22 505.5
    # total IM 2 500 + 1 000 + 35 248 = 38 748; MM 1 250 + 500 + 22 505.5 = 24 255.5
    for model in ("isolated", "cross"):
        res = margin(cross, model)
        assert float(res.initial_margin[0]) == pytest.approx(38_748.0, rel=1e-9)
        assert float(res.maintenance_margin[0]) == pytest.approx(24_255.5, rel=1e-9)


def test_the_venues_figures_and_the_check(cross) -> None:  # type: ignore[no-untyped-def]
    (r,) = cross.reported
    assert (r.margin_model, r.currency) == ("cross_pm", "USD")
    assert (r.initial_margin, r.maintenance_margin, r.equity) == (39_789.4, 29_400.7, 238_436.0)
    pf, snap = domain(cross)
    res = margin(cross, "isolated")
    (row,) = check_dict(cross.reported, res, venue_book(pf), snap)
    assert row["initial_margin"]["venue"] == 39_789.4
    assert row["initial_margin"]["difference"] == pytest.approx(38_748.0 - 39_789.4, rel=1e-9)
    # equity at market: 238 456.6 (ours) vs 238 436 (venue) → +20.6
    assert row["equity"]["difference"] == pytest.approx(20.6, abs=1e-6)


def test_ticker_mark_iv_is_percent_and_sets_the_time() -> None:
    imp = run_import(
        "deribit",
        "deribit_positions.json",
        "deribit_summary_docs.json",
        "deribit_ticker_option.json",
    )
    btc = imp.market["assets"]["BTC"]
    # mark_iv 52.4 (percent) → 0.524; underlying_price 98 950 is the expiry's forward
    assert btc["expiries"]["2026-03-27T08:00:00Z"]["marks"] == [{"strike": 100_000.0, "vol": 0.524}]
    # as_of = the ticker's timestamp 1737000000123 ms = 2025-01-16T04:00:00.123Z
    assert imp.market["as_of"] == "2025-01-16T04:00:00.123000Z"
    assert btc["timestamp"] == imp.market["as_of"]
    # segregated account: the BTC pool's own figures, in BTC
    (r,) = imp.reported
    assert (r.pool, r.currency, r.initial_margin) == ("BTC", "BTC", 1.24669592)


def test_linear_usdc_products_and_spot_balances() -> None:
    imp = run_import("deribit", "deribit_positions_linear.json", "deribit_summary_usdc.json")
    # as_of from the envelope's usOut 1768550400000123 µs = 2026-01-16T08:00:00Z (to the ms)
    assert imp.market["as_of"] == "2026-01-16T08:00:00Z"
    perp = holding(imp, "BTC_USDC-PERPETUAL")
    assert perp.contract == Perpetual("BTC", "linear") and float(perp.quantity) == 0.5  # BTC
    fut = holding(imp, "SOL_USDC-25DEC26")
    assert fut.contract == Future("SOL", datetime(2026, 12, 25, 8, tzinfo=UTC), "linear")
    assert float(fut.quantity) == -100.0  # SOL
    put = holding(imp, "SOL_USDC-26JUN26-170-P")
    assert put.contract == Option("SOL", datetime(2026, 6, 26, 8, tzinfo=UTC), 170.0, "put")
    assert float(put.quantity) == 50.0 and put.settle == "USDC"
    col = imp.portfolio["venues"]["deribit"]["collateral"]
    # USDC equity 52 385 − perp 0.5 × (97 020 − 95 000) − future −100 × (185.5 − 190)
    #   − put 50 × 18.5 = 52 385 − 1 010 − 450 − 925 = 50 000 (the cash balance)
    assert col["USDC"] == pytest.approx(50_000.0, rel=1e-12)
    # the BTC_USDC spot row is a 0.25 BTC balance (no BTC summary in the export)
    assert col["BTC"] == 0.25
    assert any("spot position BTC_USDC" in n for n in imp.notes)
    # SOL 26JUN26 has no future: forward = index 180, noted
    assert imp.market["assets"]["SOL"]["expiries"]["2026-06-26T08:00:00Z"]["marks"]
    assert any("SOL 2026-06-26" in n and "index 180" in n for n in imp.notes)
    # isolated: perp 0.5 × 97 020 × 5 % = 2 425.5; future 100 × 185.5 × 5 % = 927.5; long put 0
    res = margin(imp, "isolated")
    assert float(res.initial_margin[0]) == pytest.approx(2_425.5 + 927.5, rel=1e-9)


def test_instruments_response_gives_the_exact_expiry_and_is_checked() -> None:
    pos = {
        "result": [
            {"instrument_name": "BTC-27MAR26", "kind": "future", "direction": "buy",
             "size": 20000, "size_currency": 0.202122284, "mark_price": 98950.0,
             "index_price": 97000.0, "average_price": 99800.0}
        ]
    }  # fmt: skip
    spec = {"result": [{"instrument_name": "BTC-27MAR26", "kind": "future",
                        "instrument_type": "reversed", "expiration_timestamp": 1774602000000,
                        "contract_size": 10}]}  # fmt: skip
    from crossmargin.io.venues.deribit import read_deribit

    imp = read_deribit([(pos, "p.json"), (spec, "i.json")])
    # 1774602000000 ms = 2026-03-27T09:00:00Z: not 08:00, so written as an explicit object
    assert imp.holdings[0].contract.expiry == datetime(2026, 3, 27, 9, tzinfo=UTC)  # type: ignore[union-attr]
    from crossmargin.io.venues import instrument_spec

    assert instrument_spec(imp.holdings[0].contract) == {
        "kind": "future", "underlying": "BTC", "settlement": "inverse",
        "expiry": "2026-03-27T09:00:00Z",
    }  # fmt: skip
    spec["result"][0]["instrument_type"] = "linear"
    with pytest.raises(InputError, match="instrument_type 'linear'") as e:
        read_deribit([(pos, "p.json"), (spec, "i.json")])
    assert e.value.path == "i.json:result[0].instrument_type"


def test_the_650k_perpetual_is_650k_usd_not_btc() -> None:
    """The issue's example: a Deribit BTC-PERPETUAL of 650 000 is USD face, not 650 000 BTC."""
    pos = {"result": [{"instrument_name": "BTC-PERPETUAL", "kind": "future", "direction": "sell",
                       "size": -650000, "size_currency": -6.7, "mark_price": 97014.93,
                       "index_price": 97000.0, "average_price": 98000.0}]}  # fmt: skip
    from crossmargin.io.venues._build import build
    from crossmargin.io.venues.deribit import read_deribit

    imp = build([read_deribit([(pos, "p.json")])], as_of=AS_OF)
    # notional 650 000 USD × 5 % = 32 500 IM (not 11.4 billion)
    res = margin(imp, "isolated")
    assert float(res.initial_margin[0]) == pytest.approx(32_500.0, rel=1e-12)
