"""Builders for the risk-model tests: synthetic histories, markets and configurations in code."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from typer.testing import CliRunner, Result

from crossmargin import (
    AccountResults,
    AssetMarket,
    MarketSnapshot,
    Portfolio,
    Position,
    RiskConfig,
    compute_margin,
    parse_instrument,
)
from crossmargin.cli.app import app
from crossmargin.config import config_from_dict, default_config
from crossmargin.market.history import PriceHistory, bundled_history, load_price_history

AS_OF = datetime(2026, 11, 22, 8, tzinfo=UTC)
ADDONS = ("correlation_breakdown", "liquidity", "wrong_way", "basis")


def gbm_frame(
    assets: Sequence[str],
    *,
    n: int = 800,
    vols: Sequence[float] | None = None,
    corr: float = 0.6,
    seed: int = 1,
    start: str = "2018-01-01",
    weekdays: Sequence[str] = (),
) -> pd.DataFrame:
    """Daily closes of correlated geometric Brownian motions (annual vols, one common corr).

    Assets in ``weekdays`` have no price on Saturdays and Sundays (left blank).
    """
    rng = np.random.default_rng(seed)
    k = len(assets)
    vol = np.asarray(vols if vols is not None else [0.6] * k) / np.sqrt(365.0)
    c = np.full((k, k), corr)
    np.fill_diagonal(c, 1.0)
    z = rng.standard_normal((n, k)) @ np.linalg.cholesky(c).T
    logp = np.log(100.0) + np.cumsum(z * vol, axis=0)
    dates = pd.date_range(start, periods=n, freq="D")
    df = pd.DataFrame(np.exp(logp), columns=list(assets))
    for a in weekdays:
        df.loc[dates.day_of_week >= 5, a] = np.nan
    df.insert(0, "date", dates)
    return df


def history_of_frame(df: pd.DataFrame, tmp: Path, name: str = "history.csv") -> PriceHistory:
    """Write ``df`` as CSV and load it through the validating reader."""
    p = tmp / name
    df.to_csv(p, index=False)
    return load_price_history(p)


def crypto_market(
    *, history: PriceHistory | None = None, btc: float = 65_000.0, eth: float = 3_200.0
) -> MarketSnapshot:
    """BTC, ETH (flat vols), USD and USDC, with a price history (the bundled closes by default)."""
    assets = {
        "USD": AssetMarket(price=1.0),
        "USDC": AssetMarket(price=0.9998),
        "BTC": AssetMarket(price=btc, vol=0.55, perp_mark=btc),
        "ETH": AssetMarket(price=eth, vol=0.70, perp_mark=eth),
    }
    return MarketSnapshot(
        as_of=AS_OF,
        base_currency="USD",
        assets=assets,
        history=history or bundled_history(),
        timestamp=AS_OF,
    )


def with_history(snap: MarketSnapshot, history: PriceHistory | None) -> MarketSnapshot:
    """The snapshot with a price history attached."""
    return replace(snap, history=history)


def portfolio(
    *positions: tuple[str, float] | tuple[str, float, float],
    collateral: Mapping[str, float] | None = None,
    account: str = "acct",
) -> Portfolio:
    """A portfolio from ``(name, quantity[, entry_price])`` tuples."""
    pos = tuple(
        Position(parse_instrument(p[0]), float(p[1]), float(p[2]) if len(p) > 2 else None)
        for p in positions
    )
    return Portfolio(account, "USD", dict(collateral or {"USD": 1_000_000.0}), pos)


def config(
    *, addons: Sequence[str] | None = None, models: Sequence[str] = ("var", "es"), **var: Any
) -> RiskConfig:
    """Defaults with ``var`` fields replaced and only the ``addons`` listed switched on.

    ``addons=None`` keeps the shipped add-on lists; a sequence switches exactly those on for
    ``models`` and every other issue-3 add-on off.
    """
    d = default_config().model_dump(mode="json")
    # the test histories (synthetic, or the bundled one) end before AS_OF: these tests opt in
    # to a stale history explicitly; the freshness policy has its own tests (test_freshness.py)
    d["var"]["allow_stale_history"] = True
    d["var"].update(var)
    if addons is not None:
        for a in ADDONS:
            d["margin_addons"][a]["models"] = list(models) if a in addons else []
    return config_from_dict(d)


def margin(
    pf: Portfolio | Sequence[Portfolio],
    snap: MarketSnapshot,
    model: str,
    cfg: RiskConfig | None = None,
    *,
    detail: bool = True,
) -> AccountResults:
    """Margin with detail (explain sections) kept."""
    return compute_margin(pf, snap, model=model, config=cfg or config(), detail=detail)


def addon(res: AccountResults, name: str, i: int = 0) -> float:
    """Total of one add-on for account ``i`` (snapshot currency)."""
    return float(
        sum(
            float(r.amount[k])
            for r in res.batch.addons
            if r.name == name
            for k in np.flatnonzero(r.account == i)
        )
    )


_RUNNER = CliRunner()


def invoke(*args: object) -> Result:
    """Run the CLI in-process."""
    return _RUNNER.invoke(app, [str(a) for a in args])
