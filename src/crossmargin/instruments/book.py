"""A book: positions and collateral of many accounts as flat arrays (struct of arrays).

The book is the shape every margin model consumes. One account is a book of one; a venue is a
book of 100 000. Unique contracts are stored once, positions reference them by index, so that
valuation work is done per contract (a SPAN-style *risk array*) and shared by every holder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from crossmargin._typing import FloatArray, IntArray
from crossmargin.instruments.contracts import Contract
from crossmargin.instruments.position import Portfolio

__all__ = ["Book", "BookShape"]


class BookShape:
    """Mixin of the books of many accounts: counts of accounts and position rows."""

    __slots__ = ()
    accounts: tuple[str, ...]
    pos_quantity: FloatArray

    @property
    def n_accounts(self) -> int:
        """Number of accounts."""
        return len(self.accounts)

    @property
    def n_positions(self) -> int:
        """Number of position rows."""
        return int(self.pos_quantity.shape[0])


@dataclass(frozen=True, slots=True, eq=False)
class Book(BookShape):
    """Positions and collateral of one or more accounts.

    Attributes
    ----------
    accounts
        Account identifiers, index = account number.
    base_currency
        Reporting currency of each account.
    contracts
        Unique contracts; ``pos_instrument`` indexes into it.
    pos_account, pos_instrument, pos_quantity, pos_entry
        One row per input position (not yet netted); ``pos_entry`` is NaN when unknown.
    assets
        Unique collateral asset symbols; ``col_asset`` indexes into it.
    col_account, col_asset, col_amount
        One row per collateral balance.
    """

    accounts: tuple[str, ...]
    base_currency: tuple[str, ...]
    contracts: tuple[Contract, ...]
    pos_account: IntArray
    pos_instrument: IntArray
    pos_quantity: FloatArray
    pos_entry: FloatArray
    assets: tuple[str, ...]
    col_account: IntArray
    col_asset: IntArray
    col_amount: FloatArray
    pos_row: IntArray | None = None
    pos_prefix: tuple[str, ...] | None = None

    def position_path(self, row: int) -> str:
        """Input path of position row ``row`` (e.g. ``accounts[1].positions[3]``)."""
        if row < 0:
            return "positions"
        src = int(self.pos_row[row]) if self.pos_row is not None else row
        acc = int(self.pos_account[row])
        prefix = self.pos_prefix[acc] if self.pos_prefix is not None else "positions"
        return f"{prefix}[{src}].instrument"

    def scaled_collateral(self, factor: FloatArray) -> Book:
        """The same book with every account's collateral balances times ``factor[account]``."""
        return replace(self, col_amount=self.col_amount * factor[self.col_account])

    @classmethod
    def from_portfolios(
        cls, portfolios: Sequence[Portfolio], *, prefixes: Sequence[str] | None = None
    ) -> Book:
        """Flatten portfolio objects into a book (contracts deduplicated by value).

        ``prefixes`` gives each account's input path for error messages (default
        ``positions`` for one account, ``accounts[i].positions`` for several).
        """
        contract_ix: dict[Contract, int] = {}
        asset_ix: dict[str, int] = {}
        pa: list[int] = []
        pi: list[int] = []
        pq: list[float] = []
        pe: list[float] = []
        ca: list[int] = []
        cs: list[int] = []
        cq: list[float] = []
        pr: list[int] = []
        for a, pf in enumerate(portfolios):
            for r, pos in enumerate(pf.positions):
                pr.append(r)
                pa.append(a)
                pi.append(contract_ix.setdefault(pos.contract, len(contract_ix)))
                pq.append(pos.quantity)
                pe.append(np.nan if pos.entry_price is None else pos.entry_price)
            for asset, amount in pf.collateral.items():
                ca.append(a)
                cs.append(asset_ix.setdefault(asset, len(asset_ix)))
                cq.append(amount)
        return cls(
            accounts=tuple(p.account for p in portfolios),
            base_currency=tuple(p.base_currency for p in portfolios),
            contracts=tuple(contract_ix),
            pos_account=np.asarray(pa, dtype=np.int64),
            pos_instrument=np.asarray(pi, dtype=np.int64),
            pos_quantity=np.asarray(pq, dtype=np.float64),
            pos_entry=np.asarray(pe, dtype=np.float64),
            assets=tuple(asset_ix),
            col_account=np.asarray(ca, dtype=np.int64),
            col_asset=np.asarray(cs, dtype=np.int64),
            col_amount=np.asarray(cq, dtype=np.float64),
            pos_row=np.asarray(pr, dtype=np.int64),
            pos_prefix=tuple(prefixes)
            if prefixes is not None
            else (
                ("positions",)
                if len(portfolios) == 1
                else tuple(f"accounts[{i}].positions" for i in range(len(portfolios)))
            ),
        )
