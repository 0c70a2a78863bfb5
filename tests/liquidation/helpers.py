"""Shared builders for the liquidation tests (small markets, configs and venues in code)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from crossmargin.config import RiskConfig, default_config
from crossmargin.config.model import config_from_dict
from crossmargin.engine import margin_resolved
from crossmargin.instruments import Book, Perpetual, Portfolio, Position
from crossmargin.liquidation.engine import InsuranceFund, RoundResult, liquidate_round
from crossmargin.liquidation.ledger import Ledger
from crossmargin.liquidation.state import VenueState
from crossmargin.market import AssetMarket, MarketSnapshot
from crossmargin.resolve import ResolvedBook, resolve

AS_OF = datetime(2026, 1, 1, tzinfo=UTC)

#: Liquidity without spread or impact (the venues' worked examples trade at exact prices).
FLAT = {
    "spread": 0.0,
    "adv": 1e12,
    "impact_k": 0.0,
    "concentration_share": 0.05,
    "option_vol_impact": 0.0,
}


def config_with(
    *,
    linear: tuple[float, float] | None = None,
    liquidity: dict[str, dict[str, float]] | None = None,
    **liquidation: Any,
) -> RiskConfig:
    """The default configuration with a single linear tier, liquidity and liquidation overrides."""
    d = default_config().model_dump()
    if linear is not None:
        for name in ("crypto", "crypto_eth"):  # BTC's class and ETH's
            d["risk_classes"][name]["linear_tiers"] = [
                {"up_to": None, "im": linear[0], "mm": linear[1]}
            ]
    for sym, params in (liquidity or {}).items():
        d["liquidity"]["underlyings"][sym] = params
    d["liquidation"].update(liquidation)
    return config_from_dict(d)


def perp_market(prices: dict[str, float], vol: float | None = 0.6) -> MarketSnapshot:
    """A snapshot with spot = perp mark for each symbol."""
    return MarketSnapshot(
        AS_OF,
        "USD",
        {s: AssetMarket(price=p, vol=vol) for s, p in prices.items()},
        timestamp=AS_OF,
    )


def one_perp(
    symbol: str, qty: float, entry: float, cash: float, account: str = "user"
) -> Portfolio:
    """One account holding one linear perpetual and USD cash."""
    return Portfolio(account, "USD", {"USD": cash}, (Position(Perpetual(symbol), qty, entry),))


def account_values(rb: ResolvedBook, state: VenueState) -> np.ndarray:
    """Per account: collateral market value + MtM of ``state`` at ``rb``'s prices."""
    from crossmargin.resolve.positions import mark_positions

    snap = rb.snapshot
    px = np.asarray([snap.price(a) if snap.has_price(a) else 0.0 for a in state.assets])
    pos = mark_positions(state.holdings(rb.instruments), rb.instruments, rb.instruments)
    out = (state.balances * px[None, :]).sum(axis=1)
    np.add.at(out, pos.account, pos.mtm)
    return np.asarray(out)


def run_round(
    book: Book,
    snap: MarketSnapshot,
    cfg: RiskConfig,
    *,
    model: str = "cross",
    fund: float = 0.0,
    policy: str | None = None,
) -> tuple[VenueState, ResolvedBook, RoundResult, InsuranceFund, Ledger, np.ndarray]:
    """One liquidation round; returns the state, book, result, fund, ledger and values before."""
    rb0 = resolve(book, snap, cfg)
    state = VenueState.from_resolved(rb0)
    rb = resolve(state.to_book(), snap, cfg)
    res = margin_resolved(rb, model=model)
    before = account_values(rb, state)
    f = InsuranceFund(fund)
    led = Ledger()
    out = liquidate_round(state, rb, res, fund=f, ledger=led, policy=policy)
    return state, rb, out, f, led, before
