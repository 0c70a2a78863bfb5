"""Liquidation units: who is liquidated, and what each unit holds.

Under the account-wide regimes (``cross``, ``portfolio``) a unit is a whole account: its
positions and all its collateral. Under ``isolated`` (liquidation scope ``position``) a unit is
one position with the part of the account's maintenance collateral allocated to it,
``alloc_i = C_mm × IM_i / Σ IM`` (every position funded in proportion to its initial
requirement), or the margin it carries from round to round in a cascade; a position is
liquidated when ``alloc_i + MtM_i < MM_i`` — on its own, whatever the account's other positions
do — and its loss is capped at ``alloc_i`` (the isolated-margin contract: a hedge held in
isolated positions does not net).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossmargin._arrays import Rows, sum_by
from crossmargin._typing import BoolArray, FloatArray, IntArray
from crossmargin.account.health import AccountResults
from crossmargin.resolve.book import ResolvedBook

__all__ = ["Units", "build_units", "isolated_allocation", "liquidatable", "ranges", "unit_value"]


@dataclass(frozen=True, slots=True, eq=False)
class Units(Rows):
    """Liquidation units and their positions (rows of the resolved book's net positions).

    Attributes
    ----------
    account
        Account of each unit.
    position_scope
        ``True`` for an isolated position unit (backed by ``backing``), ``False`` for a whole
        account (backed by its collateral).
    backing
        Collateral allocated to a position unit (0 for account units).
    start
        Offsets: the rows of unit ``u`` are ``row[start[u]:start[u + 1]]``.
    row
        Net-position rows, grouped by unit.
    """

    account: IntArray
    position_scope: BoolArray
    backing: FloatArray
    start: IntArray
    row: IntArray

    @property
    def counts(self) -> IntArray:
        """Positions per unit."""
        return np.diff(self.start)

    @property
    def row_unit(self) -> IntArray:
        """Unit of every row."""
        return np.repeat(np.arange(self.n, dtype=np.int64), self.counts)

    def take(self, sel: IntArray) -> Units:
        """The units ``sel`` (in that order)."""
        cnt = self.counts[sel]
        start = np.concatenate([[0], np.cumsum(cnt)]).astype(np.int64)
        return Units(
            self.account[sel],
            self.position_scope[sel],
            self.backing[sel],
            start,
            self.row[ranges(self.start[sel], cnt)],
        )

    def with_row_order(self, row: IntArray) -> Units:
        """Same units, rows re-ordered within each unit."""
        return Units(self.account, self.position_scope, self.backing, self.start, row)


def ranges(first: IntArray, counts: IntArray) -> IntArray:
    """Concatenated ``arange(first[i], first[i] + counts[i])`` (vectorised)."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    offs = np.repeat(first - (np.cumsum(counts) - counts), counts)
    return np.asarray(offs + np.arange(total), dtype=np.int64)


def isolated_allocation(
    rb: ResolvedBook, res: AccountResults, margin: FloatArray | None = None
) -> tuple[FloatArray, BoolArray] | None:
    """Position-scope models: each position's collateral and whether it is below its own MM.

    ``margin`` (per net position) is the positions' own isolated margin when it is carried
    from round to round; otherwise ``alloc_i = C_mm × IM_i / Σ IM`` for accounts with positive
    maintenance collateral and requirement (else 0 and never "below": such accounts are
    liquidated as a whole). ``None`` for account-scope models.
    """
    batch = res.batch
    if (
        batch.liquidation_scope != "position"
        or batch.position_im is None
        or batch.position_mm is None
    ):
        return None
    pos = rb.positions
    if margin is not None:
        ok = np.isfinite(margin) & (margin > 0)
        alloc = np.where(ok, margin, 0.0)
        return alloc, np.asarray(ok & (alloc + pos.mtm < batch.position_mm), dtype=np.bool_)
    n_acc = rb.n_accounts
    cmm = rb.collateral.per_account(rb.collateral.value_mm, n_acc)
    im = batch.position_im
    sum_im = sum_by(pos.account, im, n_acc)
    ok_acc = (cmm > 0) & (sum_im > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        alloc = np.where(ok_acc[pos.account], cmm[pos.account] * im / sum_im[pos.account], 0.0)
    below = ok_acc[pos.account] & (alloc + pos.mtm < batch.position_mm)
    return np.asarray(alloc, dtype=np.float64), np.asarray(below, dtype=np.bool_)


def liquidatable(
    rb: ResolvedBook, res: AccountResults, margin: FloatArray | None = None
) -> BoolArray:
    """Accounts to liquidate.

    Status ``liquidation``/``bankrupt`` (maintenance equity < MM), and under a position-scope
    model also any account with a position below its own MM.
    """
    trig = res.status_code >= 2
    iso = isolated_allocation(rb, res, margin)
    if iso is not None:
        hit = np.zeros(rb.n_accounts, np.bool_)
        hit[rb.positions.account[iso[1]]] = True
        trig = trig | hit
    return np.asarray(trig, dtype=np.bool_)


def build_units(
    rb: ResolvedBook, res: AccountResults, accounts: IntArray, margin: FloatArray | None = None
) -> Units:
    """Units of the liquidating ``accounts`` (see module docstring).

    Isolated accounts with no positive maintenance collateral, no positions, or (through
    rounding) no single position below its own MM are liquidated as whole accounts.
    """
    pos = rb.positions
    n_acc = rb.n_accounts
    trig = np.zeros(n_acc, np.bool_)
    trig[accounts] = True
    order = np.argsort(pos.account, kind="stable")
    pa = pos.account[order]
    acc_units = np.asarray(accounts, np.int64)
    pos_units = np.zeros(0, np.int64)
    pos_backing = np.zeros(0)
    iso = isolated_allocation(rb, res, margin)
    if iso is not None:
        alloc, below_all = iso
        below = trig[pos.account] & below_all
        has_unit = np.zeros(n_acc, np.bool_)
        has_unit[pos.account[below]] = True
        acc_units = acc_units[~has_unit[acc_units]]
        pos_units = np.flatnonzero(below).astype(np.int64)
        pos_backing = alloc[pos_units]
    # account units: all rows of the account
    cnt_acc = np.bincount(pa, minlength=n_acc)
    first = np.concatenate([[0], np.cumsum(cnt_acc)[:-1]]).astype(np.int64)
    a_cnt = cnt_acc[acc_units]
    a_rows = order[ranges(first[acc_units], a_cnt)]
    # merge: account units, then position units, each in account order
    account = np.concatenate([acc_units, pos.account[pos_units]]).astype(np.int64)
    scope = np.concatenate([np.zeros(acc_units.size, np.bool_), np.ones(pos_units.size, np.bool_)])
    backing = np.concatenate([np.zeros(acc_units.size), pos_backing])
    counts = np.concatenate([a_cnt, np.ones(pos_units.size, np.int64)])
    rows = np.concatenate([a_rows, pos_units]).astype(np.int64)
    start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    u = Units(account, scope, backing, start, rows)
    srt = np.lexsort((np.arange(u.n), account))
    return u.take(srt)


# -- evaluation of virtual accounts ---------------------------------------------------------------


def unit_value(rb: ResolvedBook, units: Units) -> FloatArray:
    """Value at mark of each unit: collateral + Σ MtM (position units: backing + MtM)."""
    pos = rb.positions
    acc_val = rb.collateral.per_account(rb.collateral.market_value, rb.n_accounts)
    mtm = sum_by(units.row_unit, pos.mtm[units.row], units.n)
    return np.asarray(
        np.where(units.position_scope, units.backing, acc_val[units.account]) + mtm,
        dtype=np.float64,
    )
