"""Netting never costs: an account's requirement against its positions margined alone.

Cross-margining exists to free capital. Whatever the model, an account's requirement must not
exceed the sum of the requirements of its positions margined alone by *the same model* — else
netting, which the venue grants to reduce risk, would cost the account money. Two kinds of
charge are excluded from the comparison and reported apart, because they are meant to grow
faster than the book (super-additive on purpose):

* **size-driven** add-ons (:data:`SIZE_ADDONS`): the liquidity close-out cost and the
  concentration charge of :mod:`crossmargin.margin.addons.liquidity`, and the portfolio grid's
  delta shock on a very large net delta;
* **collateral-driven** add-ons: wrong-way collateral (a position alone holds no collateral).

Coherent measures (the grid's worst case, expected shortfall on one scenario set) are
sub-additive already. Value at risk is not (Artzner, Delbaen, Eber & Heath, "Coherent measures
of risk", Mathematical Finance 9(3), 1999), and scenario sets built on the common calendar of the
held underlyings differ from a single underlying's; :func:`cap_netting` therefore bounds the
netted part of every account by the positions-alone sum and reports the difference as a
``netting_cap`` credit, so that the bound holds by construction and is visible when it binds.

The positions alone are one book of one-position accounts (each net position of the book, only
for accounts that hold more than one), resolved on the same snapshot and configuration and
margined by the same model in one vectorised call — unless the model computes the
positions-alone requirements itself (``var``/``es``: a one-position account's measure is
homogeneous in quantity, so it is taken once per contract and direction; tests check that it
equals margining the positions alone).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from crossmargin._arrays import sum_by
from crossmargin._typing import FloatArray, IntArray
from crossmargin.instruments.book import Book
from crossmargin.margin.result import AddOnRows, MarginBatch
from crossmargin.resolve.book import ResolvedBook, resolve

__all__ = [
    "APART_ADDONS",
    "SIZE_ADDONS",
    "apart_by_account",
    "cap_netting",
    "net_position_of_rows",
    "positions_alone",
    "standalone_sum",
]

#: Add-ons that grow with size faster than linearly (super-additive on purpose).
SIZE_ADDONS = ("liquidity", "concentration", "delta_shock")
#: Add-ons excluded from the netting comparison: size-driven and collateral-driven.
APART_ADDONS = (*SIZE_ADDONS, "wrong_way_collateral")
#: Relative tolerance below which a difference is rounding, not a netting cost.
_REL_TOL = 1e-9


def apart_by_account(batch: MarginBatch, n_accounts: int) -> FloatArray:
    """Per account: the add-ons reported apart from the netting comparison (:data:`APART_ADDONS`)."""
    out = np.zeros(n_accounts)
    for rows in batch.addons:
        if rows.name in APART_ADDONS:
            out += sum_by(rows.account, rows.amount, n_accounts)
    return out


def net_position_of_rows(book: Book) -> tuple[IntArray, IntArray, IntArray]:
    """``(inv, account, n)``: each input row's net position, each net position's account.

    Net positions are (account, contract) pairs in the order of
    :func:`crossmargin.resolve.positions.net_positions`.
    """
    n_c = max(len(book.contracts), 1)
    key = book.pos_account * n_c + book.pos_instrument
    uniq, inv = np.unique(key, return_inverse=True)
    return inv.astype(np.int64).ravel(), (uniq // n_c).astype(np.int64), uniq.astype(np.int64)


def positions_alone(rb: ResolvedBook, accounts: IntArray | None = None) -> tuple[Book, IntArray]:
    """The net positions of ``accounts`` (default: all), each as an account of its own.

    Returns the book (no collateral; each account keeps its owner's base currency) and the
    owning account of each of its accounts.
    """
    book = rb.book
    inv, owner, _ = net_position_of_rows(book)
    take = np.ones(owner.size, np.bool_) if accounts is None else np.isin(owner, accounts)
    new_id = np.cumsum(take) - 1
    rows = np.flatnonzero(take[inv])
    kept = np.flatnonzero(take)
    alone = Book(
        accounts=tuple(f"{book.accounts[int(owner[k])]}#{j}" for j, k in enumerate(kept)),
        base_currency=tuple(book.base_currency[int(owner[k])] for k in kept),
        contracts=book.contracts,
        pos_account=new_id[inv[rows]].astype(np.int64),
        pos_instrument=book.pos_instrument[rows],
        pos_quantity=book.pos_quantity[rows],
        pos_entry=book.pos_entry[rows],
        assets=(),
        col_account=np.zeros(0, np.int64),
        col_asset=np.zeros(0, np.int64),
        col_amount=np.zeros(0),
    )
    return alone, owner[kept]


def standalone_sum(
    rb: ResolvedBook,
    compute: Callable[[ResolvedBook], MarginBatch],
    accounts: IntArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Per account of ``rb``: Σ positions-alone requirement, and its part reported apart.

    ``compute`` margins a resolved book with the model in question. Accounts not in
    ``accounts`` get NaN.
    """
    n = rb.n_accounts
    total = np.full(n, np.nan)
    apart = np.full(n, np.nan)
    alone, owner = positions_alone(rb, accounts)
    if alone.n_accounts == 0:
        return total, apart
    ab = compute(resolve(alone, rb.snapshot, rb.config))
    sel = np.unique(owner)
    total[sel] = sum_by(owner, ab.im, n)[sel]
    apart[sel] = sum_by(owner, apart_by_account(ab, alone.n_accounts), n)[sel]
    return total, apart


def cap_netting(
    batch: MarginBatch,
    rb: ResolvedBook,
    compute: Callable[[ResolvedBook], MarginBatch],
    *,
    check: np.ndarray | None = None,
    alone: Callable[[], FloatArray] | None = None,
) -> MarginBatch:
    """Bound every account's netted requirement by its positions margined alone (module doc).

    ``IM' = IM − max(0, (IM − apart) − Σ_p (IM_p − apart_p))`` for accounts with two or more
    positions; ``MM`` scales with ``IM``; the reduction is a ``netting_cap`` credit row.
    ``check`` (per account, optional) limits the work to accounts the bound can bind on (a
    model that knows an account is sub-additive by construction leaves it out). ``alone``
    (optional) returns ``IM_p − apart_p`` of every net position of ``rb`` (in
    ``rb.positions`` order) — what ``compute`` gives on :func:`positions_alone`, for a model
    that can compute it directly (``var``/``es``: homogeneous in quantity, so once per
    contract and direction instead of once per position).
    """
    n = rb.n_accounts
    many = np.bincount(rb.positions.account, minlength=n) > 1  # net positions per account
    multi = np.flatnonzero(many if check is None else many & check)
    if multi.size == 0:
        return batch
    if alone is None:
        total, apart_alone = standalone_sum(rb, compute, multi)
        bound = total - apart_alone
    else:
        bound = np.full(n, np.nan)
        bound[multi] = sum_by(rb.positions.account, alone(), n)[multi]
    netted = batch.im - apart_by_account(batch, n)
    excess = np.where(np.isfinite(bound), netted - bound, 0.0)
    excess = np.where(excess > _REL_TOL * np.maximum(np.abs(bound), 1.0), excess, 0.0)
    hit = np.flatnonzero(excess > 0)
    if hit.size == 0:
        return batch
    im = batch.im - excess
    ratio = np.divide(im, batch.im, out=np.ones(n), where=batch.im > 0)
    row = AddOnRows(
        "netting_cap",
        hit.astype(np.int64),
        ("*",) * hit.size,
        -excess[hit],
        "credit: the requirement net of size-driven and collateral add-ons is capped at the sum "
        "of the account's positions margined alone by the same model (netting never costs)",
    )
    return replace(batch, im=im, mm=batch.mm * ratio, addons=(*batch.addons, row))
