"""OKX exports: contracts × ctVal × ctMult, inverse and linear, hedge mode, hand-checked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crossmargin import Future, Option, Perpetual

from .helpers import holding, margin, run_import

MAR26 = datetime(2026, 3, 27, 8, tzinfo=UTC)


@pytest.fixture(scope="module")
def pm():  # type: ignore[no-untyped-def]
    return run_import("okx", "okx_positions.json", "okx_balance_pm.json")


def test_contracts_become_our_units(pm) -> None:  # type: ignore[no-untyped-def]
    # BTC-USD-SWAP: -50 contracts × ctVal 100 USD = -5 000 USD face, inverse
    h = holding(pm, "BTC-USD-SWAP")
    assert h.contract == Perpetual("BTC", "inverse") and float(h.quantity) == -5_000.0
    # BTC-USDT-SWAP: 12 contracts × 0.01 BTC = 0.12 BTC, linear, settled in USDT
    h = holding(pm, "BTC-USDT-SWAP")
    assert h.contract == Perpetual("BTC", "linear") and float(h.quantity) == 0.12
    assert h.settle == "USDT"
    # BTC-USD-260327: 30 × 100 USD = 3 000 USD face, expiry 2026-03-27 08:00 UTC (YYMMDD)
    h = holding(pm, "BTC-USD-260327")
    assert h.contract == Future("BTC", MAR26, "inverse") and float(h.quantity) == 3_000.0
    # BTC-USD-260327-100000-C: -20 × ctVal 1 × ctMult 0.01 = -0.2 BTC (exact, not -0.2000…01)
    h = holding(pm, "BTC-USD-260327-100000-C")
    assert h.contract == Option("BTC", MAR26, 100_000.0, "call", "inverse")
    assert str(h.quantity) == "-0.20" and h.entry_price == 0.045 and h.mark == 0.0395


def test_market_and_collateral(pm) -> None:  # type: ignore[no-untyped-def]
    btc = pm.market["assets"]["BTC"]
    # the USD index of the coin-margined rows, not the USDT-quoted row's 97 005.1
    assert btc["price"] == 97_000.0
    # one perpetual mark per underlying: the first (inverse swap) wins, the other is noted
    assert btc["perp"]["mark"] == 97_010.5
    assert any("97012.3" in n and "first is used" in n for n in pm.notes)
    assert pm.market["assets"]["USDT"]["price"] == 0.9999  # coinUsdPrice
    # as_of = the latest uTime: 1737000000000 ms = 2025-01-16T04:00:00Z
    assert pm.market["as_of"] == "2025-01-16T04:00:00Z"
    col = pm.portfolio["venues"]["okx"]["collateral"]
    # USDT: eq 94 552.4 − linear upl 0.12 × (97 012.3 − 95 000) = 94 552.4 − 241.476 = 94 310.924
    assert col["USDT"] == pytest.approx(94_310.924, abs=1e-9)
    # BTC: eq 1.52 − [−5000 (1/98500 − 1/97010.5)] − [3000 (1/99800 − 1/98950)] − [−0.2 × 0.0395]
    #    = 1.52 − 0.00077939127 + 0.00025822236 + 0.0079 = 1.52737883109
    assert col["BTC"] == pytest.approx(1.52737883109, abs=1e-10)
    (r,) = pm.reported
    # account imr / mmr in USD; totalEq before haircuts, adjEq after
    assert (r.initial_margin, r.maintenance_margin) == (18_655.2, 9_327.6)
    assert (r.equity, r.adjusted_equity) == (241_980.9, 240_655.3)


def test_isolated_margin_by_hand(pm) -> None:  # type: ignore[no-untyped-def]
    # inverse perp: 5 000 USD × 5 % = 250 IM, 125 MM
    # linear perp: 0.12 × perp mark 97 010.5 = 11 641.26 → 582.063 IM, 291.0315 MM
    # inverse future: 3 000 × 5 % = 150 IM, 75 MM
    # short call 0.2 BTC, F 98 950, K 100 000: unit IM 0.15 × 98 950 − 1 050 = 13 792.5,
    #   premium 0.0395 × 97 000 = 3 831.5 → IM 0.2 × 17 624 = 3 524.8;
    #   MM 0.2 × (0.075 × 98 950 + 3 831.5) = 0.2 × 11 252.75 = 2 250.55
    # IM = 250 + 582.063 + 150 + 3 524.8 = 4 506.863; MM = 125 + 291.0315 + 75 + 2 250.55
    res = margin(pm, "isolated")
    assert float(res.initial_margin[0]) == pytest.approx(4_506.863, rel=1e-9)
    assert float(res.maintenance_margin[0]) == pytest.approx(2_741.5815, rel=1e-9)


def test_hedge_mode_instruments_response_and_margin_rows() -> None:
    imp = run_import(
        "okx", "okx_positions_eth.json", "okx_instruments_eth.json", "okx_balance_pm.json"
    )
    long, short = (h for h in imp.holdings if h.symbol == "ETH-USDT-SWAP")
    # long/short mode: pos 40 long and pos 15 short, ctVal 0.1 ETH from the instruments response
    assert float(long.quantity) == 4.0 and float(short.quantity) == -1.5
    # the MARGIN row is a balance: the balance response counts it
    assert any("margin position ETH-USDT" in n for n in imp.notes)
    assert len(imp.holdings) == 2
    # the two rows net in the engine: 4 − 1.5 = 2.5 ETH × perp mark 3 400.5 × 5 % = 425.0625
    res = margin(imp, "isolated")
    assert float(res.initial_margin[0]) == pytest.approx(2.5 * 3_400.5 * 0.05, rel=1e-12)


def test_docs_balance_without_btc_is_noted() -> None:
    imp = run_import("okx", "okx_positions.json", "okx_balance_docs.json")
    # only USDT in the balance: USDT collateral 4 992.890093622894 − 241.476
    assert imp.portfolio["venues"]["okx"]["collateral"] == {
        "USDT": pytest.approx(4_992.890093622894 - 241.476, abs=1e-9)
    }
    assert any("no BTC balance" in n for n in imp.notes)
    # USDT price from eqUsd / eq = 4 991.542013297616 / 4 992.890093622894
    assert imp.market["assets"]["USDT"]["price"] == pytest.approx(
        4_991.542013297616 / 4_992.890093622894, rel=1e-12
    )


def test_linear_futures_need_the_instruments_response() -> None:
    from crossmargin.errors import InputError
    from crossmargin.io.venues.okx import read_okx

    row = {"instType": "FUTURES", "instId": "BTC-USDT-260327", "posSide": "net", "pos": "-7",
           "avgPx": "99000", "markPx": "98960", "idxPx": "97005", "notionalUsd": "6927.2",
           "uTime": "1737000000000"}  # fmt: skip
    pos = {"code": "0", "msg": "", "data": [row]}
    with pytest.raises(InputError, match="contract value of BTC-USDT-260327"):
        read_okx([(pos, "p.json")])
    inst = {"code": "0", "msg": "", "data": [{"instType": "FUTURES", "instId": "BTC-USDT-260327",
            "ctVal": "0.01", "ctMult": "1", "ctValCcy": "BTC", "ctType": "linear",
            "settleCcy": "USDT", "expTime": "1774598400000"}]}  # fmt: skip
    imp = read_okx([(pos, "p.json"), (inst, "i.json")])
    (h,) = imp.holdings
    # -7 contracts × 0.01 BTC = -0.07 BTC, linear, USDT settled; expTime 1774598400000 ms is
    # 2026-03-27T08:00:00Z; notionalUsd = 0.07 × 98 960 = 6 927.2
    assert h.contract == Future("BTC", MAR26) and str(h.quantity) == "-0.07"
    assert h.settle == "USDT"
    row["notionalUsd"] = "692.72"  # pos taken for 0.1 BTC contracts somewhere upstream
    with pytest.raises(InputError, match="wrong units"):
        read_okx([(pos, "p.json"), (inst, "i.json")])


def test_margin_rows_without_the_balance_are_refused() -> None:
    from crossmargin.errors import InputError

    with pytest.raises(InputError, match="is a balance") as e:
        run_import("okx", "okx_positions_eth.json", "okx_instruments_eth.json")
    assert e.value.path == "okx_positions_eth.json:data[2].instType"
