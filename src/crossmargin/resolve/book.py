"""The resolved book: a book bound to one snapshot and one configuration.

``resolve`` is the single place where market data and configuration meet positions; every margin
model consumes its output and nothing downstream looks anything up. It does two things that are
kept apart (Strata's resolved trade vs market data): **terms** once per book — the contract table
(:mod:`~crossmargin.resolve.terms`) and the netted holdings (:mod:`~crossmargin.resolve.positions`)
— and **marks** per snapshot (:mod:`~crossmargin.resolve.marks`), the collateral valuation and
the FX of each account. :meth:`ResolvedBook.remark` re-binds the same terms to another snapshot
(all underlyings or only those that moved) without resolving anything again; a cascade round,
a live tick and a stress step all go that way.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from crossmargin._checks import instance
from crossmargin._typing import FloatArray, IntArray
from crossmargin.collateral.table import CollateralTable
from crossmargin.collateral.valuation import value_collateral
from crossmargin.config import RiskConfig
from crossmargin.errors import InputError, MarketDataError
from crossmargin.instruments.book import Book
from crossmargin.market.checks import check_asset, timestamp_warning
from crossmargin.market.fallbacks import MarketWarning
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.resolve.instruments import InstrumentTable
from crossmargin.resolve.marks import mark
from crossmargin.resolve.positions import Holdings, NetPositions, book_holdings, mark_positions
from crossmargin.resolve.terms import ContractTerms, contract_terms

__all__ = ["BookTerms", "ResolvedBook", "book_terms", "resolve"]


@dataclass(frozen=True, slots=True, eq=False)
class BookTerms:
    """What resolving a book fixes once, whatever the market: contract terms and net holdings."""

    book: Book
    config: RiskConfig
    contracts: ContractTerms
    holdings: Holdings

    def where(self, i: int) -> str:
        """Input path of the first holder of contract ``i`` (for error messages)."""
        return self.book.position_path(int(_first_holder(self.book)[i]))

    def bind(self, snapshot: MarketSnapshot) -> ResolvedBook:
        """Mark the contracts, the holdings and the collateral against ``snapshot``."""
        marks = mark(self.contracts, snapshot, self.config, where=self.where)
        inst = InstrumentTable.join(self.contracts, marks)
        return ResolvedBook.bound(
            self.book, snapshot, self.config, inst, mark_positions(self.holdings, inst, inst)
        )


@dataclass(frozen=True, slots=True, eq=False)
class ResolvedBook:
    """Everything a margin model needs, as arrays.

    Attributes
    ----------
    book, snapshot, config
        The inputs.
    instruments
        Pricer-ready contracts: terms joined with their marks.
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

    def remark(
        self, snapshot: MarketSnapshot, *, underlyings: Collection[str] | None = None
    ) -> ResolvedBook:
        """The same book bound to ``snapshot``: terms and holdings kept, marks recomputed.

        With ``underlyings`` only the contracts (and net positions) of those underlyings are
        re-marked; the caller asserts the others did not move. Collateral and FX are revalued.
        """
        inst = self.instruments.remarked(
            snapshot, self.config, underlyings=underlyings, where=self._where
        )
        rows = None if underlyings is None else inst.rows_of(underlyings)
        pos = mark_positions(self.positions, inst, inst, previous=self.positions, instruments=rows)
        return ResolvedBook.bound(self.book, snapshot, self.config, inst, pos)

    @classmethod
    def bound(
        cls,
        book: Book,
        snapshot: MarketSnapshot,
        config: RiskConfig,
        inst: InstrumentTable,
        pos: NetPositions,
    ) -> ResolvedBook:
        """The book with its marked contracts and positions; collateral, FX and warnings here."""
        col = value_collateral(book, snapshot, config)
        fx = _fx(book, snapshot, config)
        oracle_und = (
            config.oracles.assets[a].underlying for a in book.assets if a in config.oracles.assets
        )
        used = dict.fromkeys((*inst.underlyings, *book.assets, *oracle_und, *book.base_currency))
        dated = (timestamp_warning(snapshot, s, config.market) for s in used)
        warnings = (*inst.warnings, *(w for w in dated if w is not None))
        return cls(book, snapshot, config, inst, pos, col, fx, warnings)

    def _where(self, i: int) -> str:
        return self.book.position_path(int(_first_holder(self.book)[i]))


def book_terms(book: Book, config: RiskConfig) -> BookTerms:
    """Resolve what does not depend on the market: contract terms and net holdings.

    Raises
    ------
    ConfigError
        An underlying has no risk class.
    """
    first = _first_holder(book)
    terms = contract_terms(
        book.contracts, config, where=lambda i: book.position_path(int(first[i]))
    )
    return BookTerms(book, config, terms, book_holdings(book, terms))


def resolve(book: Book, snapshot: MarketSnapshot, config: RiskConfig) -> ResolvedBook:
    """Bind ``book`` to ``snapshot`` and ``config`` (validating all needed market data).

    Raises
    ------
    MarketDataError, InputError, ConfigError
        See :func:`~crossmargin.resolve.marks.mark`, :func:`~crossmargin.resolve.terms.contract_terms`
        and :func:`~crossmargin.collateral.value_collateral`.
    """
    instance(book, Book, "book", "a Book (see Book.from_portfolios)")
    instance(snapshot, MarketSnapshot, "market", "a MarketSnapshot (see load_market)")
    instance(config, RiskConfig, "config", "a RiskConfig (see load_config, default_config)")
    return book_terms(book, config).bind(snapshot)


def _first_holder(book: Book) -> IntArray:
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
