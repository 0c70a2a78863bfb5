"""Aggregate per-contract risk arrays to (account, underlying) groups.

A *group* is one underlying of one account — the unit a portfolio margin is computed on
(SPAN's combined commodity). ``group_pnl`` is a sparse ``(groups × contracts)`` quantity matrix
times the dense ``(contracts × scenarios)`` risk arrays: positions net inside the product and no
Python loop touches a position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from crossmargin._arrays import Rows, sum_by
from crossmargin._typing import FloatArray, IntArray
from crossmargin.resolve.instruments import InstrumentTable
from crossmargin.resolve.positions import NetPositions

__all__ = ["Groups", "group_pnl", "group_positions", "group_sum"]


@dataclass(frozen=True, slots=True, eq=False)
class Groups(Rows):
    """(account, underlying) groups and the group of every net position."""

    account: IntArray
    und: IntArray
    of_position: IntArray
    n_und: int

    def lookup(self, n_accounts: int) -> IntArray:
        """``(n_accounts, n_und)`` table of group indices, −1 where the account has none."""
        table = np.full((n_accounts, max(self.n_und, 1)), -1, dtype=np.int64)
        table[self.account, self.und] = np.arange(self.n)
        return table


def group_positions(pos: NetPositions, inst: InstrumentTable) -> Groups:
    """Assign each net position to its (account, underlying) group."""
    n_und = max(len(inst.underlyings), 1)
    key = pos.account * n_und + inst.und[pos.instrument]
    # keys are dense (accounts × underlyings): a counting pass replaces a sort
    n_keys = int(key.max()) + 1 if key.size else 0
    present = np.bincount(key, minlength=n_keys) > 0
    uniq = np.flatnonzero(present)
    code = np.cumsum(present) - 1
    return Groups(
        account=(uniq // n_und).astype(np.int64),
        und=(uniq % n_und).astype(np.int64),
        of_position=code[key].astype(np.int64),
        n_und=n_und,
    )


def group_sum(groups: Groups, values: FloatArray) -> FloatArray:
    """Sum a per-position array per group."""
    return sum_by(groups.of_position, values, groups.n)


def group_pnl(
    groups: Groups, pos: NetPositions, unit: FloatArray, *, columns: IntArray | None = None
) -> FloatArray:
    """Scenario P&L of every group, ``(n_groups, n_scenarios)``.

    ``unit`` has one row per contract, or per contract of ``columns`` (ascending) when given.
    """
    ins = pos.instrument if columns is None else np.searchsorted(columns, pos.instrument)
    q = sparse.csr_matrix(
        (pos.quantity, (groups.of_position, ins)), shape=(groups.n, unit.shape[0])
    )
    return np.asarray(q @ unit, dtype=np.float64)
