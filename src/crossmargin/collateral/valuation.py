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

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from crossmargin._arrays import sum_by
from crossmargin._typing import BoolArray, FloatArray, IntArray
from crossmargin.collateral.dynamic import dynamic_haircuts
from crossmargin.collateral.haircuts import static_haircut
from crossmargin.collateral.oracles import OracleValuation, value_oracle_asset
from crossmargin.config import RiskConfig
from crossmargin.errors import MarketDataError
from crossmargin.instruments.book import Book
from crossmargin.market.checks import check_asset
from crossmargin.market.snapshot import MarketSnapshot

__all__ = ["AssetPrices", "CollateralTable", "asset_prices", "haircut_value", "value_collateral"]


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
    detail: Mapping[str, FloatArray] | None = None
    oracle: tuple[OracleValuation | None, ...] | None = None

    def per_account(self, values: FloatArray, n_accounts: int) -> FloatArray:
        """Sum a per-row array per account."""
        return sum_by(self.account, values, n_accounts)


def haircut_value(amount: FloatArray, price: FloatArray, haircut: FloatArray) -> FloatArray:
    """Haircut value: assets marked down, liabilities marked up."""
    mv = amount * price
    return np.where(mv >= 0, mv * (1.0 - haircut), mv * (1.0 + haircut))


@dataclass(frozen=True, slots=True, eq=False)
class AssetPrices:
    """Price and static (or oracle) IM / MM haircuts of each collateral asset."""

    price: FloatArray
    haircut_im: FloatArray
    haircut_mm: FloatArray
    oracle: list[OracleValuation | None]


def asset_prices(
    assets: tuple[str, ...] | list[str],
    used: BoolArray,
    snapshot: MarketSnapshot,
    config: RiskConfig,
) -> AssetPrices:
    """Price and haircut the ``used`` assets (the others stay 0).

    The per-asset half of :func:`value_collateral`, which then values each balance with them
    (and, with dynamic haircuts, adjusts the haircuts per balance).

    Raises
    ------
    MarketDataError, ConfigError
        See :func:`value_collateral`.
    """
    n_assets = len(assets)
    price = np.zeros(n_assets)
    him = np.zeros(n_assets)
    hmm = np.zeros(n_assets)
    oracle: list[OracleValuation | None] = [None] * n_assets
    for k, sym in enumerate(assets):
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
    return AssetPrices(price, him, hmm, oracle)


def value_collateral(book: Book, snapshot: MarketSnapshot, config: RiskConfig) -> CollateralTable:
    """Price and haircut every collateral balance of the book.

    Raises
    ------
    MarketDataError
        A held asset has no (or a stale / low-confidence) price.
    ConfigError
        A held asset has no haircut and no risk class to take one from.
    """
    used = np.zeros(len(book.assets), dtype=np.bool_)
    used[np.unique(book.col_asset)] = True
    prices = asset_prices(book.assets, used, snapshot, config)
    price, him, hmm, oracle = prices.price, prices.haircut_im, prices.haircut_mm, prices.oracle
    a = book.col_asset
    amount = book.col_amount
    pr = price[a]
    h_im, h_mm = him[a], hmm[a]
    detail = None
    if config.dynamic_haircuts.enabled and a.size:
        dyn = dynamic_haircuts(
            config=config,
            snapshot=snapshot,
            assets=book.assets,
            vol_asset=[o.underlying if o else s for s, o in zip(book.assets, oracle, strict=True)],
            account=book.col_account,
            asset=a,
            amount=amount,
            price=pr,
            static_im=h_im,
            static_mm=h_mm,
            n_accounts=book.n_accounts,
        )
        zeroed = np.asarray([o is not None and o.haircut_im >= 1.0 for o in oracle])[a]
        h_im = np.where(zeroed, h_im, dyn.im)
        h_mm = np.where(zeroed, h_mm, dyn.mm)
        detail = {
            "static_im": him[a],
            "static_mm": hmm[a],
            "volatility_im": dyn.vol_im,
            "volatility_mm": dyn.vol_mm,
            "liquidity": dyn.liquidity,
            "size": dyn.size,
            "concentration": dyn.concentration,
        }
    return CollateralTable(
        assets=book.assets,
        account=book.col_account,
        asset=a,
        amount=amount,
        price=pr,
        haircut_im=h_im,
        haircut_mm=h_mm,
        market_value=amount * pr,
        value_im=haircut_value(amount, pr, h_im),
        value_mm=haircut_value(amount, pr, h_mm),
        detail=detail,
        oracle=tuple(oracle) if any(o is not None for o in oracle) else None,
    )
