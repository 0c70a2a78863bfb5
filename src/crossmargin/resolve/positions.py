"""Net positions per (account, contract) and mark them to market.

Positions in the same contract net within an account. Entry prices are kept as cost
accumulators so that netting lots at different prices realises their P&L correctly:

* linear delta-one (spot, perpetual, future): ``MtM = mult × (q_net × price − Σ q_k e_k)``;
* inverse delta-one (USD face): ``MtM = mult × Σ q_k (1/e_k − 1/price) × spot`` (coin P&L
  valued at spot);
* options: ``MtM = mult × q_net × premium`` (the premium was paid from, or received into,
  collateral).

A lot without an entry price is assumed entered at the current price (zero unrealised P&L).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossmargin._arrays import sum_by
from crossmargin._typing import FloatArray, IntArray
from crossmargin.instruments.book import Book
from crossmargin.resolve.instruments import KIND_OPTION, InstrumentTable

__all__ = ["NetPositions", "net_positions"]


@dataclass(frozen=True, slots=True, eq=False)
class NetPositions:
    """One row per (account, contract) with a non-empty history (snapshot currency).

    Attributes
    ----------
    account, instrument
        Indices into the book's accounts and the instrument table.
    quantity
        Net signed quantity.
    mtm
        Mark-to-market contribution to equity (see module docstring).
    notional
        Gross notional ``|q| × mult × price`` (inverse delta-one: ``|q| × mult`` USD face).
    first_row
        First input position row that made up this net position (for messages).
    """

    account: IntArray
    instrument: IntArray
    quantity: FloatArray
    mtm: FloatArray
    notional: FloatArray
    first_row: IntArray

    @property
    def n(self) -> int:
        """Number of net positions."""
        return int(self.account.shape[0])


def net_positions(book: Book, inst: InstrumentTable) -> NetPositions:
    """Net the book's positions per (account, contract) and mark them (vectorised)."""
    n_inst = max(inst.n, 1)
    key = book.pos_account * n_inst + book.pos_instrument
    uniq, first, inv = np.unique(key, return_index=True, return_inverse=True)
    m = uniq.shape[0]
    acc = uniq // n_inst
    ins = uniq % n_inst
    q_rows = book.pos_quantity
    qty = sum_by(inv, q_rows, m)
    price_rows = inst.fwd[book.pos_instrument]
    entry = np.where(np.isfinite(book.pos_entry), book.pos_entry, price_rows)
    inverse_rows = inst.inverse[book.pos_instrument]
    # cost accumulators: linear Σ q·e, inverse Σ q/e
    acc_rows = np.where(inverse_rows, q_rows / entry, q_rows * entry)
    cost = sum_by(inv, acc_rows, m)
    mult = inst.mult[ins]
    price = inst.fwd[ins]
    is_opt = inst.kind[ins] == KIND_OPTION
    inverse = inst.inverse[ins]
    mtm_lin = mult * (qty * price - cost)
    mtm_inv = mult * (cost - qty / price) * inst.spot[ins]
    mtm_opt = mult * qty * inst.value[ins]
    mtm = np.where(is_opt, mtm_opt, np.where(inverse, mtm_inv, mtm_lin))
    notional = np.where(inverse & ~is_opt, np.abs(qty) * mult, np.abs(qty) * mult * price)
    return NetPositions(
        account=acc.astype(np.int64),
        instrument=ins.astype(np.int64),
        quantity=qty,
        mtm=mtm,
        notional=notional,
        first_row=first.astype(np.int64),
    )
