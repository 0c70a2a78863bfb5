"""The mutable state of a venue while it is being liquidated: net positions and balances.

A :class:`~crossmargin.instruments.Book` is immutable and may hold several lots per contract.
Liquidation works on the *net* position of every (account, contract) — exactly the rows of
:class:`~crossmargin.resolve.NetPositions` — with its average entry price, and on a dense
``(accounts × assets)`` balance matrix. Realised P&L, close-out costs, fees, insurance payments
and socialised losses are all settled in the snapshot currency (the venue's quote/settlement
asset; an inverse contract's coin P&L is converted at spot). :meth:`VenueState.to_book` turns the
state back into a book, whose net positions line up one to one with the state's rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossmargin._typing import FloatArray, IntArray
from crossmargin.config import RiskConfig
from crossmargin.instruments.book import Book, BookShape
from crossmargin.instruments.contracts import Contract
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.resolve.book import BookTerms, ResolvedBook
from crossmargin.resolve.positions import Holdings, mark_positions
from crossmargin.resolve.terms import KIND_OPTION, ContractTerms

__all__ = ["VenueState"]


@dataclass(eq=False)
class VenueState(BookShape):
    """Net positions and collateral balances of every account (mutable, array-backed).

    Attributes
    ----------
    accounts, base_currency
        Account identifiers and reporting currencies.
    contracts
        Unique contracts (``pos_instrument`` indexes into them).
    assets, cash_asset
        Collateral asset symbols and the index of the settlement (snapshot) currency.
    pos_account, pos_instrument, pos_quantity, pos_entry
        One row per net position, sorted by (account, contract), no zero quantities.
        ``pos_entry`` is the average entry price (options: average premium, NaN if unknown).
    balances
        ``(n_accounts, n_assets)`` collateral amounts (negative = liability).
    prefixes
        Input path prefix of each account (error messages).
    pos_margin
        Isolated margin of each net position (snapshot currency) when positions keep their own
        margin across rounds (cascade under a position-scope regime); ``None`` otherwise.
    """

    accounts: tuple[str, ...]
    base_currency: tuple[str, ...]
    contracts: tuple[Contract, ...]
    assets: tuple[str, ...]
    cash_asset: int
    pos_account: IntArray
    pos_instrument: IntArray
    pos_quantity: FloatArray
    pos_entry: FloatArray
    balances: FloatArray
    prefixes: tuple[str, ...] | None = None
    pos_margin: FloatArray | None = None

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_resolved(cls, rb: ResolvedBook) -> VenueState:
        """Net the book's lots and settle fully netted lots (quantity 0) into cash.

        Average entries reproduce the net positions' cost (:mod:`crossmargin.resolve.positions`):
        linear ``Σ q e / Σ q``, inverse ``Σ q / Σ (q / e)``; a lot without an entry counts at the
        mark.
        """
        book, inst, pos = rb.book, rb.instruments, rb.positions
        base = rb.snapshot.base_currency
        assets = tuple(book.assets) if base in book.assets else (*book.assets, base)
        cash = assets.index(base)
        n_acc = book.n_accounts
        bal = np.zeros((n_acc, len(assets)))
        np.add.at(bal, (book.col_account, book.col_asset), book.col_amount)
        # average entries from the net positions' cost accumulators (lots without an entry
        # count at the mark)
        qty = pos.quantity
        is_opt = inst.kind[pos.instrument] == KIND_OPTION
        inverse = inst.inverse[pos.instrument]
        price = inst.fwd[pos.instrument]
        cost = pos.cost_known + np.where(inverse, pos.qty_unknown / price, pos.qty_unknown * price)
        with np.errstate(divide="ignore", invalid="ignore"):
            entry = np.where(inverse & ~is_opt, qty / cost, cost / qty)
        entry = np.where(is_opt & pos.unknown, np.nan, entry)
        # fully netted lots: realised P&L straight into cash
        flat = qty == 0.0
        if flat.any():
            np.add.at(bal[:, cash], pos.account[flat], pos.mtm[flat])
        keep = ~flat
        return cls(
            accounts=book.accounts,
            base_currency=book.base_currency,
            contracts=book.contracts,
            assets=assets,
            cash_asset=cash,
            pos_account=pos.account[keep].copy(),
            pos_instrument=pos.instrument[keep].copy(),
            pos_quantity=qty[keep].copy(),
            pos_entry=entry[keep].copy(),
            balances=bal,
            prefixes=book.pos_prefix,
        )

    def copy(self) -> VenueState:
        """An independent copy."""
        return VenueState(
            self.accounts,
            self.base_currency,
            self.contracts,
            self.assets,
            self.cash_asset,
            self.pos_account.copy(),
            self.pos_instrument.copy(),
            self.pos_quantity.copy(),
            self.pos_entry.copy(),
            self.balances.copy(),
            self.prefixes,
            None if self.pos_margin is None else self.pos_margin.copy(),
        )

    # -- conversion --------------------------------------------------------------------------
    def to_book(self) -> Book:
        """The state as a book: one lot per net position, one collateral row per balance ≠ 0."""
        acc, ast = np.nonzero(self.balances)
        n = self.n_positions
        return Book(
            accounts=self.accounts,
            base_currency=self.base_currency,
            contracts=self.contracts,
            pos_account=self.pos_account,
            pos_instrument=self.pos_instrument,
            pos_quantity=self.pos_quantity,
            pos_entry=self.pos_entry,
            assets=self.assets,
            col_account=acc.astype(np.int64),
            col_asset=ast.astype(np.int64),
            col_amount=self.balances[acc, ast],
            pos_row=np.arange(n, dtype=np.int64),
            pos_prefix=self.prefixes,
        )

    def bind(
        self, terms: ContractTerms, snapshot: MarketSnapshot, config: RiskConfig
    ) -> ResolvedBook:
        """The state resolved at ``snapshot``: the contracts' ``terms`` (fixed) marked again.

        Equal to resolving :meth:`to_book` from scratch, without netting or resolving the
        contracts again (a cascade round, a liquidation pass).
        """
        return BookTerms(self.to_book(), config, terms, self.holdings(terms)).bind(snapshot)

    def value(self, rb: ResolvedBook) -> float:
        """Σ over accounts of collateral market value + MtM, at ``rb``'s prices and contracts."""
        snap = rb.snapshot
        px = np.asarray(
            [snap.price(a) if snap.has_price(a) else np.nan for a in self.assets], dtype=np.float64
        )
        pos = mark_positions(self.holdings(rb.instruments), rb.instruments, rb.instruments)
        held = self.balances != 0
        return float(
            (self.balances[held] * np.broadcast_to(px, self.balances.shape)[held]).sum()
            + pos.mtm.sum()
        )

    def holdings(self, terms: ContractTerms) -> Holdings:
        """The net positions as holdings (copies; rows already unique, sorted by account, contract)."""
        q, e = self.pos_quantity.copy(), self.pos_entry
        known = np.isfinite(e)
        inverse = terms.inverse[self.pos_instrument]
        ek = np.where(known, e, 1.0)
        return Holdings(
            account=self.pos_account.copy(),
            instrument=self.pos_instrument.copy(),
            quantity=q,
            cost_known=np.where(known, np.where(inverse, q / ek, q * ek), 0.0),
            qty_unknown=np.where(known, 0.0, q),
            unknown=~known,
            first_row=np.arange(self.n_positions, dtype=np.int64),
        )

    # -- updates -----------------------------------------------------------------------------
    def reduce_positions(self, rows: IntArray, fraction: FloatArray) -> None:
        """Close ``fraction`` (0..1) of each net position in ``rows`` (entries unchanged)."""
        np.multiply.at(self.pos_quantity, rows, 1.0 - fraction)

    def credit_cash(self, accounts: IntArray, amounts: FloatArray) -> None:
        """Add ``amounts`` (snapshot currency, may be negative) to the accounts' cash."""
        np.add.at(self.balances[:, self.cash_asset], accounts, amounts)

    def compact(self) -> None:
        """Drop closed positions (quantity exactly 0)."""
        keep = self.pos_quantity != 0.0
        if keep.all():
            return
        self.pos_account = self.pos_account[keep]
        self.pos_instrument = self.pos_instrument[keep]
        self.pos_quantity = self.pos_quantity[keep]
        self.pos_entry = self.pos_entry[keep]
        if self.pos_margin is not None:
            self.pos_margin = self.pos_margin[keep]
