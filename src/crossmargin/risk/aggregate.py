"""Aggregate per-contract risk arrays to (account, underlying) groups.

A *group* is one underlying of one account — the unit a portfolio margin is computed on
(SPAN's combined commodity). ``group_pnl`` is a sparse ``(groups × contracts)`` quantity matrix
times the dense ``(contracts × scenarios)`` risk arrays: positions net inside the product and no
Python loop touches a position.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from crossmargin._arrays import Rows, sum_by
from crossmargin._typing import FloatArray, IntArray
from crossmargin.resolve.instruments import InstrumentTable
from crossmargin.resolve.positions import Holdings, NetPositions

if TYPE_CHECKING:  # SciPy is imported where a matrix is built (~0.35 s to import)
    from scipy import sparse

__all__ = [
    "GroupMatrix",
    "Groups",
    "csr_product_numpy",
    "group_pnl",
    "group_positions",
    "group_sum",
]

#: Stored entries up to which :meth:`GroupMatrix.product` runs without SciPy in a process that
#: has not imported it (a command-line run on a small book).
SMALL_PRODUCT = 4_096


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


def group_positions(pos: Holdings, inst: InstrumentTable) -> Groups:
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


@dataclass(frozen=True, slots=True, eq=False)
class GroupMatrix:
    """The sparse map from a fixed set of positions to their groups, built once.

    ``matrix(values)`` is the ``(groups × columns)`` matrix whose entry ``(g, c)`` is the value
    (e.g. the quantity) of group ``g``'s position in contract column ``c``; its product with a
    per-contract array sums ``value × array`` over each group's positions — every linear
    aggregate of a group (scenario P&L, delta, delta per expiry) in one pass, SPAN's risk-array
    design. The structure depends on which positions exist, not on their quantities, so a live
    engine keeps it while quantities change and rebuilds it only when positions appear.

    Attributes
    ----------
    groups
        The groups.
    column
        Column of each position.
    order
        Position index of each stored entry (entries in CSR order: by group, then column).
    indptr, indices
        CSR row pointers and the column of each entry.
    entry_group
        Group of each entry.
    n_cols
        Number of columns.
    template
        The CSR matrix of this layout (SciPy), built on first use.
    """

    groups: Groups
    column: IntArray
    order: IntArray
    indptr: IntArray
    indices: IntArray
    entry_group: IntArray
    n_cols: int
    _csr: list[sparse.csr_matrix] = field(default_factory=list, init=False, repr=False)

    @classmethod
    def build(cls, groups: Groups, column: IntArray, n_cols: int) -> GroupMatrix:
        """The layout of positions in groups ``groups.of_position`` and columns ``column``.

        Entries are sorted by group, then column — the order a COO → CSR conversion leaves
        them in (net positions have one entry per group and column).
        """
        n = int(column.shape[0])
        G = groups.n
        order = np.argsort(groups.of_position * max(n_cols, 1) + column, kind="stable")
        counts = np.bincount(groups.of_position, minlength=G) if n else np.zeros(G, np.int64)
        indptr = np.zeros(G + 1, np.int64)
        np.cumsum(counts, out=indptr[1:])
        indices = np.asarray(column[order], np.int64)
        return cls(
            groups=groups,
            column=column,
            order=order.astype(np.int64),
            indptr=indptr,
            indices=indices,
            entry_group=np.repeat(np.arange(G, dtype=np.int64), counts),
            n_cols=n_cols,
        )

    @property
    def template(self) -> sparse.csr_matrix:
        """The layout's CSR matrix (data not meaningful until :meth:`matrix` fills it)."""
        if not self._csr:
            # SciPy is imported where a matrix is built (~0.35 s to import)
            from scipy import sparse

            n = int(self.order.shape[0])
            shape = (self.groups.n, self.n_cols)
            self._csr.append(
                sparse.csr_matrix((np.zeros(n), self.indices, self.indptr), shape=shape, copy=False)
            )
        return self._csr[0]

    def matrix(self, values: FloatArray) -> sparse.csr_matrix:
        """The ``(groups × columns)`` matrix of per-position ``values`` (class docstring).

        The matrix is the layout's own, refilled: use it before the next call (the structure
        is validated once, at :meth:`build`, not at every refill).
        """
        np.take(np.asarray(values, dtype=np.float64), self.order, out=self.template.data)
        return self.template

    def product(self, values: FloatArray, arrays: FloatArray) -> FloatArray:
        """``matrix(values) @ arrays``: the ``(groups × k)`` sums of ``value × arrays[column]``.

        SciPy's CSR product (``csr_matvecs``) adds each group's entries in CSR order into a
        zeroed row. A process without SciPy computes a small product (at most
        :data:`SMALL_PRODUCT` entries) the same way in NumPy — one pass per entry rank within
        the groups, each adding ``value × row`` in the same order — so the doubles are the
        same either way (tested bit for bit).
        """
        arrays = np.asarray(arrays, dtype=np.float64)
        n = int(self.order.shape[0])
        if "scipy" in sys.modules or n > SMALL_PRODUCT or arrays.ndim != 2:
            return np.asarray(self.matrix(values) @ arrays, dtype=np.float64)
        data = np.asarray(values, dtype=np.float64)[self.order]
        return csr_product_numpy(self.indptr, self.indices, data, arrays)


def csr_product_numpy(
    indptr: IntArray, indices: IntArray, data: FloatArray, arrays: FloatArray
) -> FloatArray:
    """The CSR matrix ``(data, indices, indptr)`` times the dense 2-D ``arrays``, SciPy's way.

    Bitwise what SciPy's ``csr_matvecs`` returns: each row starts at zero and adds
    ``data[e] × arrays[indices[e]]`` for its entries in stored order. Vectorised over the rows
    (one pass per entry rank): for small matrices only (:meth:`GroupMatrix.product`).
    """
    out = np.zeros((indptr.shape[0] - 1, arrays.shape[1]))
    counts = np.diff(indptr)
    for rank in range(int(counts.max()) if data.size else 0):
        rows = np.flatnonzero(counts > rank)
        at = indptr[rows] + rank
        out[rows] += data[at, None] * arrays[indices[at]]
    return out


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
    from scipy import sparse

    q = sparse.csr_matrix(
        (pos.quantity, (groups.of_position, ins)), shape=(groups.n, unit.shape[0])
    )
    return np.asarray(q @ unit, dtype=np.float64)
