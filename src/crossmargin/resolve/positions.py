"""Net positions per (account, contract): netted once per book, marked per snapshot.

Positions in the same contract net within an account (:func:`net_holdings`, no market data).
Entry prices are kept as cost accumulators so that netting lots at different prices realises
their P&L correctly, and lots without an entry are assumed entered at the current mark; the
mark-to-market of each net position under a snapshot (:func:`mark_positions`) is then:

* linear delta-one (spot, perpetual, future): ``MtM = mult × (q_net × price − Σ q_k e_k)``;
* inverse delta-one (USD face): ``MtM = mult × Σ q_k (1/e_k − 1/price) × spot`` (coin P&L
  valued at spot);
* options: ``MtM = mult × q_net × premium`` (the premium was paid from, or received into,
  collateral).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

import numpy as np

from crossmargin._arrays import Rows, field_names, sum_by
from crossmargin._typing import BoolArray, FloatArray, IntArray
from crossmargin.instruments.book import Book
from crossmargin.resolve.marks import Marks
from crossmargin.resolve.terms import KIND_OPTION, ContractTerms, take_rows

__all__ = ["Holdings", "NetPositions", "mark_positions", "net_holdings"]


@dataclass(frozen=True, eq=False)
class Holdings(Rows):
    """One row per (account, contract) with a non-empty history, sorted by (account, contract).

    Attributes
    ----------
    account, instrument
        Indices into the book's accounts and the contract table.
    quantity
        Net signed quantity.
    cost_known
        ``Σ q·e`` (linear) or ``Σ q/e`` (inverse) over the lots with an entry price.
    qty_unknown
        ``Σ q`` over the lots without an entry price (entered at the current mark).
    unknown
        Whether any lot of the position has no entry price.
    first_row
        First input position row that made up this net position (for messages).
    """

    #: Per-row tuple fields (none).
    ROW_TUPLES = ()

    account: IntArray
    instrument: IntArray
    quantity: FloatArray
    cost_known: FloatArray
    qty_unknown: FloatArray
    unknown: BoolArray
    first_row: IntArray

    def take(self, idx: IntArray) -> Self:
        """The positions ``idx``."""
        out: Self = take_rows(self, idx)
        return out


@dataclass(frozen=True, eq=False)
class NetPositions(Holdings):
    """Net positions marked to market (snapshot currency).

    Attributes
    ----------
    mtm
        Mark-to-market contribution to equity (see module docstring).
    notional
        Gross notional ``|q| × mult × price`` (inverse delta-one: ``|q| × mult`` USD face).
    """

    mtm: FloatArray
    notional: FloatArray


def net_holdings(
    account: IntArray,
    instrument: IntArray,
    quantity: FloatArray,
    entry: FloatArray,
    terms: ContractTerms,
) -> Holdings:
    """Net lots (one row per lot: account, contract, quantity, entry or NaN) per (account, contract)."""
    n_inst = max(terms.n, 1)
    key = account * n_inst + instrument
    uniq, first, inv = np.unique(key, return_index=True, return_inverse=True)
    m = uniq.shape[0]
    known = np.isfinite(entry)
    inverse_rows = terms.inverse[instrument]
    e = np.where(known, entry, 1.0)
    acc_rows = np.where(known, np.where(inverse_rows, quantity / e, quantity * e), 0.0)
    return Holdings(
        account=(uniq // n_inst).astype(np.int64),
        instrument=(uniq % n_inst).astype(np.int64),
        quantity=sum_by(inv, quantity, m),
        cost_known=sum_by(inv, acc_rows, m),
        qty_unknown=sum_by(inv, np.where(known, 0.0, quantity), m),
        unknown=sum_by(inv, (~known).astype(np.float64), m) > 0,
        first_row=first.astype(np.int64),
    )


def book_holdings(book: Book, terms: ContractTerms) -> Holdings:
    """The book's lots netted per (account, contract)."""
    return net_holdings(
        book.pos_account, book.pos_instrument, book.pos_quantity, book.pos_entry, terms
    )


def mark_positions(
    hold: Holdings, terms: ContractTerms, marks: Marks, *, previous: NetPositions | None = None,
    instruments: IntArray | None = None,
) -> NetPositions:  # fmt: skip
    """Mark-to-market and notional of each holding (module docstring).

    With ``instruments`` (and ``previous``: the same holdings marked before) only the holdings
    of those contracts are re-marked.
    """
    if instruments is not None and previous is not None:
        sel = np.flatnonzero(np.isin(hold.instrument, instruments))
        mtm, notional = previous.mtm.copy(), previous.notional.copy()
        mtm[sel], notional[sel] = _mark(hold.take(sel), terms, marks)
    else:
        mtm, notional = _mark(hold, terms, marks)
    kw = {k: getattr(hold, k) for k in field_names(Holdings)}
    return NetPositions(**kw, mtm=mtm, notional=notional)


def _mark(hold: Holdings, terms: ContractTerms, marks: Marks) -> tuple[FloatArray, FloatArray]:
    ins = hold.instrument
    qty = hold.quantity
    mult = terms.mult[ins]
    price = marks.fwd[ins]
    is_opt = terms.kind[ins] == KIND_OPTION
    inverse = terms.inverse[ins]
    cost = hold.cost_known + np.where(inverse, hold.qty_unknown / price, hold.qty_unknown * price)
    mtm_lin = mult * (qty * price - cost)
    mtm_inv = mult * (cost - qty / price) * marks.spot[ins]
    mtm_opt = mult * qty * marks.value[ins]
    mtm = np.where(is_opt, mtm_opt, np.where(inverse, mtm_inv, mtm_lin))
    notional = np.where(inverse & ~is_opt, np.abs(qty) * mult, np.abs(qty) * mult * price)
    return mtm, notional
