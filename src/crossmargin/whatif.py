"""Pre-trade check: margin before and after hypothetical trades.

A trade ``INSTRUMENT:QTY[@PRICE]`` adds a position. A futures/perp trade with a price enters at
that price (unrealised P&L ``(mark − price) × qty``), without one at the mark. An option trade
pays (or receives) its premium — the given price, or the model mark — in the settlement currency:
the snapshot currency for linear options (a cash balance in e.g. ``USD``, which may go negative, a
liability), the underlying coin for inverse ones.

The trade is ``allowed`` when post-trade equity covers post-trade IM, or when it reduces IM
(a risk-reducing trade is never blocked).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crossmargin._checks import instance, real, real_or_none, sequence_of
from crossmargin._format import json_number
from crossmargin.account.health import STATUSES, AccountResults
from crossmargin.account.report import account_warnings
from crossmargin.config import RiskConfig, default_config
from crossmargin.engine import compute_margin
from crossmargin.errors import InputError
from crossmargin.instruments.contracts import Contract, Future, Option, Perpetual, Spot
from crossmargin.instruments.naming import parse_instrument
from crossmargin.instruments.position import Portfolio, Position
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.resolve.instruments import resolve_instruments

__all__ = ["Trade", "apply_trades", "parse_trade", "whatif"]


@dataclass(frozen=True, slots=True)
class Trade:
    """A hypothetical trade (validated: a contract, a non-zero quantity, a positive price)."""

    contract: Contract
    quantity: float
    price: float | None = None

    def __post_init__(self) -> None:
        instance(self.contract, (Spot, Perpetual, Future, Option), "Trade.contract", "a contract")
        q = real(self.quantity, "Trade.quantity")
        if q == 0:
            raise InputError("must be non-zero", path="Trade.quantity")
        object.__setattr__(self, "quantity", q)
        object.__setattr__(self, "price", real_or_none(self.price, "Trade.price", positive=True))


def parse_trade(text: str, *, path: str = "trade") -> Trade:
    """Parse ``INSTRUMENT:QTY[@PRICE]`` (e.g. ``BTC-26DEC26-70000-C:-5@2600``)."""
    if not isinstance(text, str):
        raise InputError(
            f"must be a string INSTRUMENT:QTY[@PRICE], got {type(text).__name__}", path=path
        )
    if ":" not in text:
        raise InputError(f"{text!r} must be INSTRUMENT:QTY[@PRICE]", path=path)
    name, rest = text.split(":", 1)
    qty_s, _, price_s = rest.partition("@")
    try:
        qty = float(qty_s)
    except ValueError:
        raise InputError(f"quantity {qty_s!r} is not a number", path=f"{path}.quantity") from None
    if not math.isfinite(qty) or qty == 0:
        raise InputError(
            f"quantity must be finite and non-zero, got {qty_s}", path=f"{path}.quantity"
        )
    price: float | None = None
    if price_s:
        try:
            price = float(price_s)
        except ValueError:
            raise InputError(f"price {price_s!r} is not a number", path=f"{path}.price") from None
        if not math.isfinite(price) or price <= 0:
            raise InputError(
                f"price must be positive and finite, got {price_s}", path=f"{path}.price"
            )
    return Trade(parse_instrument(name, path=f"{path}.instrument"), qty, price)


def apply_trades(
    portfolio: Portfolio, trades: Sequence[Trade], market: MarketSnapshot, config: RiskConfig
) -> Portfolio:
    """The portfolio after the trades (positions added, option premiums paid/received)."""
    inst = resolve_instruments(
        [t.contract for t in trades], market, config, where=lambda i: f"trade[{i}].instrument"
    )
    cash = dict(portfolio.collateral)
    new: list[Position] = []
    for i, t in enumerate(trades):
        c = t.contract
        if isinstance(c, Option):
            px = t.price if t.price is not None else float(inst.quote_price[i])
            ccy = c.underlying if c.settlement == "inverse" else market.base_currency
            cash[ccy] = cash.get(ccy, 0.0) - px * t.quantity * c.multiplier
            new.append(Position(c, t.quantity, px))
        else:
            new.append(Position(c, t.quantity, t.price))
    return Portfolio(
        portfolio.account, portfolio.base_currency, cash, portfolio.positions + tuple(new)
    )


def _state(r: AccountResults) -> dict[str, Any]:
    mr = float(r.margin_ratio[0])
    return {
        "equity": float(r.equity[0]),
        "initial_margin": float(r.initial_margin[0]),
        "maintenance_margin": float(r.maintenance_margin[0]),
        "free_collateral": float(r.free_collateral[0]),
        "margin_ratio": json_number(mr),
        "status": STATUSES[int(r.status_code[0])],
    }


def whatif(
    portfolio: Portfolio,
    market: MarketSnapshot,
    trades: Sequence[Trade],
    *,
    model: str = "portfolio",
    config: RiskConfig | None = None,
) -> dict[str, Any]:
    """Before/after margin of ``trades`` on ``portfolio`` and whether they are allowed."""
    instance(portfolio, Portfolio, "portfolio", "a Portfolio")
    trades = sequence_of(trades, Trade, "trades", "a Trade (see parse_trade)")
    cfg = config or default_config()
    before = compute_margin(portfolio, market, model=model, config=cfg, detail=False)
    after_pf = apply_trades(portfolio, trades, market, cfg)
    after = compute_margin(after_pf, market, model=model, config=cfg, detail=False)
    b, a = _state(before), _state(after)
    covers = a["equity"] >= a["initial_margin"]
    reduces = a["initial_margin"] < b["initial_margin"]
    return {
        "account": portfolio.account,
        "model": model,
        "base_currency": portfolio.base_currency,
        "trades": [
            {"instrument": t.contract.name, "quantity": t.quantity, "price": t.price}
            for t in trades
        ],
        "before": b,
        "after": a,
        "change": {
            "initial_margin": a["initial_margin"] - b["initial_margin"],
            "maintenance_margin": a["maintenance_margin"] - b["maintenance_margin"],
            "equity": a["equity"] - b["equity"],
        },
        "warnings": account_warnings(after, 0),
        "allowed": bool(covers or reduces),
        "reason": (
            "post-trade equity covers post-trade IM"
            if covers
            else ("trade reduces IM" if reduces else "post-trade equity below post-trade IM")
        ),
    }
