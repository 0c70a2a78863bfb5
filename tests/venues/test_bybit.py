"""Bybit exports: unsigned sizes with a side, inverse in USD, USDT/USDC linear and options."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crossmargin import Future, Option, Perpetual

from .helpers import holding, margin, run_import

OCT27 = datetime(2023, 10, 27, 8, tzinfo=UTC)


def test_inverse_docs_example() -> None:
    imp = run_import("bybit", "bybit_positions_inverse_docs.json", "bybit_wallet_docs.json")
    h = holding(imp, "BTCUSD")
    # side Sell, size 300 USD (positionValue 0.01092319 = 300 / 27 464.50441675 BTC)
    assert h.contract == Perpetual("BTC", "inverse") and float(h.quantity) == -300.0
    # no index in a Bybit position list: the perpetual's mark is the price, noted
    assert imp.market["assets"]["BTC"]["price"] == 28_224.5
    assert any("perpetual mark 28224.5" in n for n in imp.notes)
    # the envelope's time 1697684980172 ms = 2023-10-19T03:09:40.172Z
    assert imp.market["as_of"] == "2023-10-19T03:09:40.172000Z"
    # 300 USD × 5 % = 15 IM, 7.5 MM
    res = margin(imp, "isolated")
    assert float(res.initial_margin[0]) == pytest.approx(15.0, rel=1e-12)
    assert float(res.maintenance_margin[0]) == pytest.approx(7.5, rel=1e-12)


@pytest.fixture(scope="module")
def pm():  # type: ignore[no-untyped-def]
    return run_import(
        "bybit",
        "bybit_positions_linear.json",
        "bybit_positions_option.json",
        "bybit_wallet_pm.json",
    )


def test_linear_and_option_symbols(pm) -> None:  # type: ignore[no-untyped-def]
    assert holding(pm, "BTCUSDT").contract == Perpetual("BTC")
    assert float(holding(pm, "BTCUSDT").quantity) == 0.5  # Buy 0.5 BTC
    assert float(holding(pm, "ETHUSDT").quantity) == -3.0  # Sell 3 ETH
    fut = holding(pm, "BTC-27OCT23")  # USDC future, 08:00 UTC
    assert fut.contract == Future("BTC", OCT27) and fut.settle == "USDC"
    call = holding(pm, "ETH-27OCT23-1700-C")  # USDC option
    assert call.contract == Option("ETH", OCT27, 1_700.0, "call") and call.settle == "USDC"
    assert float(call.quantity) == -10.0
    put = holding(pm, "BTC-27OCT23-26000-P-USDT")  # USDT option
    assert put.contract == Option("BTC", OCT27, 26_000.0, "put") and put.settle == "USDT"


def test_collateral_and_figures(pm) -> None:  # type: ignore[no-untyped-def]
    col = pm.portfolio["venues"]["bybit"]["collateral"]
    # USDT: equity 20 674.45 − BTCUSDT 0.5 × (28 230.1 − 27 000) − ETHUSDT −3 × (1 580.2 − 1 600)
    #   − put 1 × 120 = 20 674.45 − 615.05 − 59.4 − 120 = 19 880
    assert col["USDT"] == pytest.approx(19_880.0, abs=1e-9)
    # USDC: 30 038 − future 0.2 × (28 300 − 28 000) − call −10 × 9.8 = 30 038 − 60 + 98 = 30 076
    assert col["USDC"] == pytest.approx(30_076.0, abs=1e-9)
    assert col["BTC"] == 0.05
    # USDT price: usdValue / equity = 20 672.38 / 20 674.45
    assert pm.market["assets"]["USDT"]["price"] == pytest.approx(20_672.38 / 20_674.45)
    (r,) = pm.reported
    assert (r.initial_margin, r.maintenance_margin, r.equity) == (4_380.22, 2_990.41, 52_130.77)


def test_isolated_margin_by_hand(pm) -> None:  # type: ignore[no-untyped-def]
    # BTCUSDT 0.5 × 28 230.1 = 14 115.05 → 705.7525 IM, 352.87625 MM
    # ETHUSDT 3 × 1 580.2 = 4 740.6 → 237.03 IM, 118.515 MM
    # BTC-27OCT23 0.2 × 28 300 = 5 660 → 283 IM, 141.5 MM
    # short ETH 1700 call ×10, F = 1 580.2 (index = perp mark, no future: forward = index):
    #   OTM 119.8, 0.15 − 119.8/1580.2 = 0.0742 < floor 0.10 → 158.02; premium 9.8
    #   IM 10 × (158.02 + 9.8) = 1 678.2; MM 10 × (0.075 × 1 580.2 + 9.8) = 1 283.15
    # long put: 0.  IM = 2 903.9825, MM = 1 896.04125
    res = margin(pm, "isolated")
    assert float(res.initial_margin[0]) == pytest.approx(2_903.9825, rel=1e-9)
    assert float(res.maintenance_margin[0]) == pytest.approx(1_896.04125, rel=1e-9)


def test_inverse_future_expiry_comes_from_instruments_info() -> None:
    imp = run_import(
        "bybit", "bybit_positions_inverse_future.json", "bybit_instruments_inverse.json"
    )
    h = holding(imp, "BTCUSDZ23")
    # deliveryTime 1703232000000 ms = 2023-12-22T08:00:00Z; Buy 1 000 USD, positionIdx 1
    assert h.contract == Future("BTC", datetime(2023, 12, 22, 8, tzinfo=UTC), "inverse")
    assert float(h.quantity) == 1_000.0
    # no perpetual either: the future's mark stands in for the index (noted)
    assert imp.market["assets"]["BTC"]["price"] == 28_650.0
    assert any("nearest future's mark" in n for n in imp.notes)


def test_usdt_futures_symbol() -> None:
    from crossmargin.io.venues.bybit import read_bybit

    doc = {"retCode": 0, "result": {"category": "linear", "list": [
        {"symbol": "BTCUSDT-21FEB25", "side": "Sell", "size": "0.3", "avgPrice": "98000",
         "markPrice": "97500", "positionValue": "29400", "positionIdx": 0}]}, "time": 1737000000000}  # fmt: skip
    (h,) = read_bybit([(doc, "p.json")]).holdings
    # BTCUSDT-21FEB25: USDT-settled future on BTC, 21 Feb 2025 08:00 UTC, Sell 0.3 BTC
    assert h.contract == Future("BTC", datetime(2025, 2, 21, 8, tzinfo=UTC))
    assert float(h.quantity) == -0.3 and h.settle == "USDT"
