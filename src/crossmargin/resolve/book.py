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

from crossmargin._typing import FloatArray, IntArray
from crossmargin.collateral.valuation import CollateralTable, value_collateral
from crossmargin.config import RiskConfig
from crossmargin.errors import MarketDataError
from crossmargin.instruments.book import Book
from crossmargin.market.checks import check_asset
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.resolve.instruments import InstrumentTable
from crossmargin.resolve.marks import mark
from crossmargin.resolve.positions import Holdings, NetPositions, book_holdings, mark_positions
from crossmargin.resolve.terms import ContractTerms, contract_terms

__all__ = ["BookTerms", "ResolvedBook", "account_fx", "book_terms", "fx_rates", "resolve"]


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
        pos = mark_positions(self.holdings, inst, inst)
        return ResolvedBook(
            self.book,
            snapshot,
            self.config,
            inst,
            pos,
            value_collateral(self.book, snapshot, self.config),
            account_fx(self.book, snapshot, self.config),
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
    """

    book: Book
    snapshot: MarketSnapshot
    config: RiskConfig
    instruments: InstrumentTable
    positions: NetPositions
    collateral: CollateralTable
    fx: FloatArray

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
        return ResolvedBook(
            self.book,
            snapshot,
            self.config,
            inst,
            pos,
            value_collateral(self.book, snapshot, self.config),
            account_fx(self.book, snapshot, self.config),
        )

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
    return book_terms(book, config).bind(snapshot)


def _first_holder(book: Book) -> IntArray:
    n = len(book.contracts)
    first = np.full(n, -1, dtype=np.int64)
    if book.n_positions:
        order = np.arange(book.n_positions - 1, -1, -1)
        first[book.pos_instrument[order]] = order
    return first


def account_fx(book: Book, snapshot: MarketSnapshot, config: RiskConfig) -> FloatArray:
    """Per account: the factor from snapshot-currency amounts to the account's base currency.

    Raises
    ------
    MarketDataError
        A base currency has no (or a stale / low-confidence) price in the snapshot.
    """
    rates = fx_rates(set(book.base_currency), snapshot, config)
    return np.asarray([rates[c] for c in book.base_currency], dtype=np.float64)


def fx_rates(
    currencies: Collection[str], snapshot: MarketSnapshot, config: RiskConfig
) -> dict[str, float]:
    """Snapshot currency → each of ``currencies`` (see :func:`account_fx`)."""
    rates: dict[str, float] = {}
    for ccy in sorted(currencies):
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
    return rates
