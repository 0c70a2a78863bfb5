"""Builders shared by the core tests: markets in code, portfolios, the CLI runner."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from crossmargin import (
    AccountResults,
    AssetMarket,
    ExpiryMarket,
    FlatVol,
    MarketSnapshot,
    Portfolio,
    Position,
    RiskConfig,
    compute_margin,
    parse_instrument,
)
from crossmargin.cli.app import app
from crossmargin.config import config_from_dict, default_config

AS_OF = datetime(2026, 11, 22, 8, tzinfo=UTC)
NOV27 = datetime(2026, 11, 27, 8, tzinfo=UTC)
DEC26 = datetime(2026, 12, 26, 8, tzinfo=UTC)
MAR26 = datetime(2027, 3, 26, 8, tzinfo=UTC)
SECONDS_PER_YEAR = 365.0 * 86_400.0


def years(t: datetime, as_of: datetime = AS_OF) -> float:
    """ACT/365F year fraction on instants (the issue's convention)."""
    return (t - as_of).total_seconds() / SECONDS_PER_YEAR


def asset(
    price: float,
    *,
    vol: float | None = 0.5,
    rate: float | None = None,
    perp: float | None = None,
    expiries: Mapping[datetime, ExpiryMarket] | None = None,
    settlements: Mapping[datetime, float] | None = None,
) -> AssetMarket:
    """An asset's market data."""
    return AssetMarket(
        price=price,
        vol=vol,
        rate=rate,
        perp_mark=perp,
        expiries=dict(expiries or {}),
        settlements=dict(settlements or {}),
    )


def expiry(forward: float, discount: float, vol: float) -> ExpiryMarket:
    """One expiry with an explicit forward, discount factor and flat vol."""
    return ExpiryMarket(forward=forward, discount=discount, surface=FlatVol(vol))


def market(as_of: datetime = AS_OF, **assets: AssetMarket) -> MarketSnapshot:
    """A USD snapshot of the given assets (USD and USDC included)."""
    a: dict[str, AssetMarket] = {"USD": asset(1.0, vol=None), "USDC": asset(0.9998, vol=None)}
    a.update(assets)
    return MarketSnapshot(as_of=as_of, base_currency="USD", assets=a, timestamp=as_of)


def simple_market(as_of: datetime = AS_OF) -> MarketSnapshot:
    """BTC and ETH with explicit forwards, discounts and flat vols on three expiries."""
    return market(
        as_of,
        BTC=asset(
            65_000.0,
            vol=0.55,
            perp=65_020.0,
            expiries={
                NOV27: expiry(65_045.0, 0.99945, 0.53),
                DEC26: expiry(65_300.0, 0.9965, 0.56),
                MAR26: expiry(66_150.0, 0.987, 0.58),
            },
        ),
        ETH=asset(
            3_200.0,
            vol=0.7,
            perp=3_201.0,
            expiries={DEC26: expiry(3_214.0, 0.9965, 0.68), MAR26: expiry(3_255.0, 0.987, 0.7)},
        ),
    )


def portfolio(
    *positions: tuple[str, float] | tuple[str, float, float],
    collateral: Mapping[str, float] | None = None,
    account: str = "acct",
    base_currency: str = "USD",
) -> Portfolio:
    """A portfolio from ``(name, quantity[, entry_price])`` tuples."""
    pos = tuple(
        Position(parse_instrument(p[0]), float(p[1]), float(p[2]) if len(p) > 2 else None)
        for p in positions
    )
    cash = {"USD": 1_000_000.0} if collateral is None else dict(collateral)
    return Portfolio(account, base_currency, cash, pos)


def margin(
    pf: Portfolio | Sequence[Portfolio],
    mkt: MarketSnapshot,
    model: str = "portfolio",
    config: RiskConfig | None = None,
) -> AccountResults:
    """Margin with scenario detail kept."""
    return compute_margin(pf, mkt, model=model, config=config, detail=True)


def config_with(**changes: Any) -> RiskConfig:
    """The default configuration with top-level keys replaced (deep copy through JSON)."""
    d = default_config().model_dump(mode="json")
    d.update(changes)
    return config_from_dict(d)


def homogeneous_config() -> RiskConfig:
    """Defaults with a single linear tier and a delta-shock threshold out of reach.

    Under it no requirement depends on position size other than linearly, so every model is
    homogeneous of degree one in the quantities (issue 2 acceptance).
    """
    d = default_config().model_dump(mode="json")
    for rc in d["risk_classes"].values():
        first = rc["linear_tiers"][0]
        rc["linear_tiers"] = [{"up_to": None, "im": first["im"], "mm": first["mm"]}]
        rc["delta_shock"]["threshold"] = 1e18
    return config_from_dict(d)


_RUNNER = CliRunner()


def invoke(*args: str | Path) -> Result:
    """Run the CLI in-process (stdout and stderr kept apart)."""
    return _RUNNER.invoke(app, [str(a) for a in args])


def write_json(path: Path, obj: Any) -> Path:
    """Write ``obj`` as JSON (``NaN``/``Infinity`` tokens allowed, as a user might write)."""
    path.write_text(json.dumps(obj, allow_nan=True), encoding="utf-8")
    return path
