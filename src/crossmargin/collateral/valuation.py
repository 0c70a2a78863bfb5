"""Collateral valuation with per-asset haircuts; negative balances are liabilities.

``value = amount × price × (1 − haircut)`` for a positive balance and
``amount × price × (1 + haircut)`` for a negative one (a liability is charged *more*, never
less). IM and MM use their own haircuts. Prices come from the snapshot and pass the same
fail-closed checks as underlyings.

Assets listed under ``oracles.assets`` (lending deposits, vault shares, liquid-staking tokens)
are priced through their oracle record (:mod:`crossmargin.collateral.oracles`); with
``dynamic_haircuts.enabled`` the haircuts follow volatility, liquidity, size and concentration
(:mod:`crossmargin.collateral.dynamic`), floored by the static ones.
"""

from __future__ import annotations

import numpy as np

from crossmargin.collateral.dynamic import dynamic_haircuts
from crossmargin.collateral.haircuts import static_haircut
from crossmargin.collateral.oracles import OracleValuation, value_oracle_asset
from crossmargin.collateral.table import CollateralTable
from crossmargin.config import RiskConfig
from crossmargin.errors import MarketDataError
from crossmargin.instruments.book import Book
from crossmargin.market.checks import check_asset
from crossmargin.market.snapshot import MarketSnapshot

__all__ = ["value_collateral"]


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
    oracle: list[OracleValuation | None] = [None] * n_assets
    for k, sym in enumerate(book.assets):
        if not used[k]:
            continue
        spec = config.oracles.assets.get(sym)
        if spec is not None:  # oracle-valued kind (lending deposit, vault share, LST)
            ov = value_oracle_asset(sym, spec, snapshot, config)
            price[k], him[k], hmm[k], oracle[k] = ov.price, ov.haircut_im, ov.haircut_mm, ov
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
        h = static_haircut(config, sym, snapshot.base_currency)
        him[k], hmm[k] = h.im, h.mm
    a = book.col_asset
    table = CollateralTable.priced(
        book.assets,
        (book.col_account, a, book.col_amount),
        price[a],
        (him[a], hmm[a]),
        oracle=tuple(oracle) if any(o is not None for o in oracle) else None,
    )
    if not (config.dynamic_haircuts.enabled and a.size):
        return table
    vol_asset = [o.underlying if o else s for s, o in zip(book.assets, oracle, strict=True)]
    dyn = dynamic_haircuts(table, vol_asset, book.n_accounts, snapshot, config)
    zeroed = np.asarray([o is not None and o.haircut_im >= 1.0 for o in oracle])[a]
    detail = {
        "static_im": table.haircut_im,
        "static_mm": table.haircut_mm,
        "volatility_im": dyn.vol_im,
        "volatility_mm": dyn.vol_mm,
        "liquidity": dyn.liquidity,
        "size": dyn.size,
        "concentration": dyn.concentration,
    }
    return table.with_haircuts(
        np.where(zeroed, table.haircut_im, dyn.im),
        np.where(zeroed, table.haircut_mm, dyn.mm),
        detail,
    )
