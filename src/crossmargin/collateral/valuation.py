"""Collateral valuation with per-asset haircuts; negative balances are liabilities.

``value = amount × price × (1 − haircut)`` for a positive balance and
``amount × price × (1 + haircut)`` for a negative one (a liability is charged *more*, never
less). IM and MM use their own haircuts. Prices come from the snapshot and pass the same
fail-closed checks as underlyings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossmargin._arrays import sum_by
from crossmargin._typing import FloatArray, IntArray
from crossmargin.config import RiskConfig
from crossmargin.errors import ConfigError, MarketDataError
from crossmargin.instruments.book import Book
from crossmargin.market.checks import check_asset
from crossmargin.market.snapshot import MarketSnapshot

__all__ = ["CollateralTable", "value_collateral"]


@dataclass(frozen=True, slots=True, eq=False)
class CollateralTable:
    """One row per collateral balance (amounts in asset units, values in snapshot currency)."""

    assets: tuple[str, ...]
    account: IntArray
    asset: IntArray
    amount: FloatArray
    price: FloatArray
    haircut_im: FloatArray
    haircut_mm: FloatArray
    market_value: FloatArray
    value_im: FloatArray
    value_mm: FloatArray

    def per_account(self, values: FloatArray, n_accounts: int) -> FloatArray:
        """Sum a per-row array per account."""
        return sum_by(self.account, values, n_accounts)


def haircut_value(amount: FloatArray, price: FloatArray, haircut: FloatArray) -> FloatArray:
    """Haircut value: assets marked down, liabilities marked up."""
    mv = amount * price
    return np.where(mv >= 0, mv * (1.0 - haircut), mv * (1.0 + haircut))


def value_collateral(book: Book, snapshot: MarketSnapshot, config: RiskConfig) -> CollateralTable:
    """Price and haircut every collateral balance of the book.

    Raises
    ------
    MarketDataError
        A held asset has no (or a stale / low-confidence) price.
    ConfigError
        A held asset has no haircut and no risk class to take one from.
    """
    n_assets = len(book.assets)
    price = np.zeros(n_assets)
    him = np.zeros(n_assets)
    hmm = np.zeros(n_assets)
    used = np.zeros(n_assets, dtype=np.bool_)
    used[np.unique(book.col_asset)] = True
    for k, sym in enumerate(book.assets):
        if not used[k]:
            continue
        who = f"collateral {sym}"
        if not snapshot.has_price(sym):
            raise MarketDataError(
                f"no market data for {sym} (needed by {who})", path=f"assets.{sym}"
            )
        check_asset(snapshot, sym, config.market, needed_by=who)
        p = snapshot.price(sym, needed_by=who)
        if not np.isfinite(p) or p <= 0:
            raise MarketDataError(
                f"price must be positive and finite, got {p!r}", path=f"assets.{sym}.price"
            )
        price[k] = p
        h = config.haircut(sym, base_currency=snapshot.base_currency)
        if h is None:
            raise ConfigError(
                f"no haircut for collateral {sym}: add it under 'collateral' or map it to a risk class",
                path="config.collateral",
            )
        him[k], hmm[k] = h.im, h.mm
    a = book.col_asset
    amount = book.col_amount
    pr = price[a]
    return CollateralTable(
        assets=book.assets,
        account=book.col_account,
        asset=a,
        amount=amount,
        price=pr,
        haircut_im=him[a],
        haircut_mm=hmm[a],
        market_value=amount * pr,
        value_im=haircut_value(amount, pr, him[a]),
        value_mm=haircut_value(amount, pr, hmm[a]),
    )
