"""The resolved book: a book bound to one snapshot and one configuration.

``resolve`` is the single place where market data and configuration meet positions; every margin
model consumes its output and nothing downstream looks anything up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossmargin._checks import instance
from crossmargin._typing import FloatArray
from crossmargin.collateral.valuation import CollateralTable, value_collateral
from crossmargin.config import RiskConfig
from crossmargin.errors import InputError, MarketDataError
from crossmargin.instruments.book import Book
from crossmargin.market.checks import check_asset, timestamp_warning
from crossmargin.market.fallbacks import MarketWarning
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.resolve.instruments import InstrumentTable, resolve_instruments
from crossmargin.resolve.positions import NetPositions, net_positions

__all__ = ["ResolvedBook", "resolve"]


@dataclass(frozen=True, slots=True, eq=False)
class ResolvedBook:
    """Everything a margin model needs, as arrays.

    Attributes
    ----------
    book, snapshot, config
        The inputs.
    instruments
        Pricer-ready contracts.
    positions
        Net positions with their marks.
    collateral
        Priced and haircut collateral balances.
    fx
        Per account: multiply a snapshot-currency amount by this to express it in the account's
        base currency.
    warnings
        Every documented fallback used for this book (market data derived, checks relaxed by the
        configuration); :func:`crossmargin.account.report.account_warnings` maps them to accounts.
    """

    book: Book
    snapshot: MarketSnapshot
    config: RiskConfig
    instruments: InstrumentTable
    positions: NetPositions
    collateral: CollateralTable
    fx: FloatArray
    warnings: tuple[MarketWarning, ...] = ()

    def __post_init__(self) -> None:
        """Type checks only (built by :func:`resolve`; a hand-made one must still be sane)."""
        p = "ResolvedBook"
        instance(self.book, Book, f"{p}.book", "a Book")
        instance(self.snapshot, MarketSnapshot, f"{p}.snapshot", "a MarketSnapshot")
        instance(self.config, RiskConfig, f"{p}.config", "a RiskConfig")
        instance(self.instruments, InstrumentTable, f"{p}.instruments", "an InstrumentTable")
        instance(self.positions, NetPositions, f"{p}.positions", "NetPositions")
        instance(self.collateral, CollateralTable, f"{p}.collateral", "a CollateralTable")
        if np.shape(self.fx) != (self.book.n_accounts,):
            raise InputError(
                f"must hold one rate per account ({self.book.n_accounts})", path=f"{p}.fx"
            )

    @property
    def n_accounts(self) -> int:
        """Number of accounts."""
        return self.book.n_accounts


def resolve(book: Book, snapshot: MarketSnapshot, config: RiskConfig) -> ResolvedBook:
    """Bind ``book`` to ``snapshot`` and ``config`` (validating all needed market data).

    Raises
    ------
    MarketDataError, InputError, ConfigError
        See :func:`~crossmargin.resolve.instruments.resolve_instruments` and
        :func:`~crossmargin.collateral.value_collateral`.
    """
    instance(book, Book, "book", "a Book (see Book.from_portfolios)")
    instance(snapshot, MarketSnapshot, "market", "a MarketSnapshot (see load_market)")
    instance(config, RiskConfig, "config", "a RiskConfig (see load_config, default_config)")
    first_holder = _first_holder(book)

    def where(i: int) -> str:
        return book.position_path(int(first_holder[i]))

    inst = resolve_instruments(book.contracts, snapshot, config, where=where)
    pos = net_positions(book, inst)
    col = value_collateral(book, snapshot, config)
    fx = _fx(book, snapshot, config)
    oracle_und = (
        config.oracles.assets[a].underlying for a in book.assets if a in config.oracles.assets
    )
    used = dict.fromkeys((*inst.underlyings, *book.assets, *oracle_und, *book.base_currency))
    dated = (timestamp_warning(snapshot, s, config.market) for s in used)
    warnings = (*inst.warnings, *(w for w in dated if w is not None))
    return ResolvedBook(book, snapshot, config, inst, pos, col, fx, warnings)


def _first_holder(book: Book) -> np.ndarray:
    n = len(book.contracts)
    first = np.full(n, -1, dtype=np.int64)
    if book.n_positions:
        order = np.arange(book.n_positions - 1, -1, -1)
        first[book.pos_instrument[order]] = order
    return first


def _fx(book: Book, snapshot: MarketSnapshot, config: RiskConfig) -> FloatArray:
    rates: dict[str, float] = {}
    for ccy in set(book.base_currency):
        if ccy == snapshot.base_currency:
            rates[ccy] = 1.0
            continue
        if not snapshot.has_price(ccy):
            raise MarketDataError(
                f"no price for the account base currency {ccy} in a {snapshot.base_currency} snapshot",
                path=f"assets.{ccy}",
            )
        check_asset(snapshot, ccy, config.market, needed_by=f"base currency {ccy}")
        rates[ccy] = 1.0 / snapshot.price(ccy)
    return np.asarray([rates[c] for c in book.base_currency], dtype=np.float64)
