"""Binance Portfolio Margin exports: UM in coins, CM in contracts of contractSize USD."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crossmargin import Future, Perpetual
from crossmargin.errors import InputError

from .helpers import holding, margin, run_import


@pytest.fixture(scope="module")
def pm():  # type: ignore[no-untyped-def]
    return run_import(
        "binance",
        "binance_um_positions_docs.json",
        "binance_cm_positions.json",
        "binance_cm_exchangeinfo.json",
        "binance_balance.json",
        "binance_account_docs.json",
    )


def test_um_and_cm_units(pm) -> None:  # type: ignore[no-untyped-def]
    # UM BTCUSDT LONG 0.001 BTC (notional 0.001 × 21 123.05052574 = 21.12305052); the empty SHORT
    # row of hedge mode is dropped
    um = holding(pm, "BTCUSDT")
    assert um.contract == Perpetual("BTC") and float(um.quantity) == 0.001
    assert len([h for h in pm.holdings if h.symbol == "BTCUSDT"]) == 1
    # CM BTCUSD_PERP: -3 contracts × 100 USD = -300 USD face (notionalValue 300 / 21 150.5 BTC)
    cm = holding(pm, "BTCUSD_PERP")
    assert cm.contract == Perpetual("BTC", "inverse") and float(cm.quantity) == -300.0
    # CM ETHUSD_220930: 10 contracts × 10 USD (exchangeInfo) = 100 USD; deliveryDate 1664524800000
    eth = holding(pm, "ETHUSD_220930")
    assert eth.contract == Future("ETH", datetime(2022, 9, 30, 8, tzinfo=UTC), "inverse")
    assert float(eth.quantity) == 100.0


def test_collateral_prices_and_figures(pm) -> None:  # type: ignore[no-untyped-def]
    col = pm.portfolio["venues"]["binance"]["collateral"]
    # USDT: 1 000.5 + umUnrealizedPNL −1.06214947 − our UM upl 0.001 × (21 123.05052574 − 22 185.2)
    #   = 1 000.5 − 1.06214947 + 1.06214947426 = 1 000.50000000426
    assert col["USDT"] == pytest.approx(1_000.5, abs=1e-8)
    # ETH: 0.3 + 0.00222902 − 100 × (1/1150 − 1/1180.25) = 0.3 + 0.00222902 − 0.00222881…
    assert col["ETH"] == pytest.approx(0.3 + 0.00222902 - 100 * (1 / 1150 - 1 / 1180.25), abs=1e-12)
    # no USD price of USDT in a Binance export: at par, noted
    assert pm.market["assets"]["USDT"]["price"] == 1.0
    assert any("USDT: no USD price" in n for n in pm.notes)
    # ETH has only a dated future: its mark stands in for the index (noted)
    assert pm.market["assets"]["ETH"]["price"] == 1_180.25
    (r,) = pm.reported
    # accountEquity is after collateral rates, actualEquity before (Binance PAPI docs)
    assert (r.initial_margin, r.equity, r.adjusted_equity) == (
        23.72469206,
        73.47428058,
        122_607.35137903,
    )


def test_isolated_margin_by_hand(pm) -> None:  # type: ignore[no-untyped-def]
    # UM: 0.001 × 21 123.05052574 = 21.12305052574 × 5 % = 1.056152526287 IM
    # CM perp 300 USD × 5 % = 15; ETH future 100 USD × 5 % = 5
    res = margin(pm, "isolated")
    assert float(res.initial_margin[0]) == pytest.approx(21.056152526287, rel=1e-12)
    assert float(res.maintenance_margin[0]) == pytest.approx(21.056152526287 / 2, rel=1e-12)


def test_docs_cm_example_is_refused_as_wrong_units() -> None:
    # the docs' BTCUSD_201225 row: notionalValue 0.00084827 BTC implies a 10-USD contract, but
    # BTCUSD's contractSize is 100 USD (exchangeInfo): 1 × 100 / 11 788.66626667 = 0.0084827
    with pytest.raises(InputError, match="wrong units") as e:
        run_import("binance", "binance_cm_position_docs.json")
    assert e.value.path == "binance_cm_position_docs.json:[0].notionalValue"


def test_um_delivery_future() -> None:
    from crossmargin.io.venues.binance import read_binance

    rows = [{"symbol": "BTCUSDT_250328", "positionAmt": "-0.25", "entryPrice": "99000",
             "markPrice": "98500", "notional": "-24625", "positionSide": "BOTH",
             "updateTime": 1737000000000}]  # fmt: skip
    (h,) = read_binance([(rows, "um.json")]).holdings
    # BTCUSDT_250328: USDⓈ-M delivery future, 28 Mar 2025 08:00 UTC; -0.25 BTC (notional
    # -0.25 × 98 500 = -24 625)
    assert h.contract == Future("BTC", datetime(2025, 3, 28, 8, tzinfo=UTC))
    assert float(h.quantity) == -0.25 and h.settle == "USDT"
