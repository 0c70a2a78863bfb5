"""Account health: equity, free collateral, margin ratio and status boundaries (issue 2 §6).

With snapshot-currency collateral (no haircut) the IM-haircut and MM-haircut equities coincide,
so these boundaries are exactly the issue's: healthy (equity ≥ IM), margin_call
(MM ≤ equity < IM), liquidation (0 ≤ equity < MM), bankrupt (equity < 0).
"""

from __future__ import annotations

import pytest

from crossmargin import STATUSES, account_dict

from .helpers import margin, portfolio, simple_market

MODELS = ("isolated", "cross", "portfolio")


def requirements(model: str) -> tuple[float, float]:
    res = margin(portfolio(("BTC-PERP", 1.0)), simple_market(), model)
    return float(res.initial_margin[0]), float(res.maintenance_margin[0])


def status_with(model: str, usd: float) -> str:
    res = margin(portfolio(("BTC-PERP", 1.0), collateral={"USD": usd}), simple_market(), model)
    assert res.equity[0] == usd == res.maintenance_equity[0]
    return res.status(0)


@pytest.mark.parametrize("model", MODELS)
def test_status_boundaries(model: str) -> None:
    im, mm = requirements(model)
    assert 0 < mm < im
    assert status_with(model, im) == "healthy"
    assert status_with(model, im * 3) == "healthy"
    assert status_with(model, im - 0.01) == "margin_call"
    assert status_with(model, mm) == "margin_call"
    assert status_with(model, mm - 0.01) == "liquidation"
    assert status_with(model, 0.0) == "liquidation"
    assert status_with(model, -0.01) == "bankrupt"


@pytest.mark.parametrize("model", MODELS)
def test_health_fields(model: str) -> None:
    res = margin(
        portfolio(("BTC-PERP", 1.0, 64_000.0), collateral={"USD": 20_000.0}), simple_market(), model
    )
    d = account_dict(res, 0)
    upnl = 65_020.0 - 64_000.0
    assert d["unrealized_pnl"] == pytest.approx(upnl, abs=0.005)
    assert d["collateral_value"] == 20_000.0
    if model != "isolated":
        assert d["equity"] == pytest.approx(20_000.0 + upnl, abs=0.005)
    assert d["free_collateral"] == pytest.approx(d["equity"] - d["initial_margin"], abs=1e-9)
    assert d["margin_ratio"] == pytest.approx(
        d["maintenance_equity"] / d["maintenance_margin"], rel=1e-15
    )
    assert d["status"] in STATUSES


def test_margin_ratio_is_null_without_maintenance_margin() -> None:
    res = margin(portfolio(collateral={"USD": 100.0}), simple_market())
    d = account_dict(res, 0)
    assert d["maintenance_margin"] == 0.0 and d["margin_ratio"] is None and d["status"] == "healthy"
    res = margin(portfolio(collateral={"USDC": -100.0}), simple_market())
    assert res.status(0) == "bankrupt"  # a pure liability with nothing to back it


def test_haircuts_are_applied_per_stage() -> None:
    """BTC collateral: IM stage uses the 15 % haircut, MM stage the 10 % one."""
    res = margin(portfolio(("BTC-PERP", -1.0, 65_020.0), collateral={"BTC": 0.17}), simple_market())
    im, mm = float(res.initial_margin[0]), float(res.maintenance_margin[0])
    assert res.equity[0] == pytest.approx(0.17 * 65_000 * 0.85, abs=0.005)
    assert res.maintenance_equity[0] == pytest.approx(0.17 * 65_000 * 0.90, abs=0.005)
    # 9 392.5 < IM 9 753 but 9 945 ≥ MM 7 802.4: a margin call, not a liquidation
    assert res.equity[0] < im and res.maintenance_equity[0] >= mm
    assert res.status(0) == "margin_call"
