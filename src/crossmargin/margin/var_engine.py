"""Blocked aggregation of joint-scenario risk arrays to account VaR / ES (models ``var``/``es``).

Risk arrays (unit P&L per contract × scenario) are cached per underlying and scenario row
(:class:`UnitCache`), multiplied into (account, underlying) group P&L by a sparse product per
block of about a million group-scenario cells, summed per account and reduced to the tail
measure (:mod:`crossmargin.scenarios.tail`) — blocks run on a small thread pool (NumPy
partitions and SciPy sparse products release the GIL). The same pass computes each group's
Euler component and standalone measure and, for the correlation-breakdown add-on, the account
measure under each stressed version of a pair's second leg.

Risk arrays depend on the instrument table, the configuration and the scenario moves only, not
on the accounts: books bound to one instrument table (the partitions of a scale-out run) share
them through a :class:`UnitStore` made current by :func:`sharing_units`, so each is computed
once per process, not once per book.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from crossmargin._typing import FloatArray, IntArray
from crossmargin.config import RiskConfig
from crossmargin.kernels.blocks import n_threads
from crossmargin.margin.addons.correlation import PreparedStress
from crossmargin.resolve.book import ResolvedBook
from crossmargin.resolve.instruments import InstrumentTable
from crossmargin.risk.aggregate import Groups
from crossmargin.risk.pnl import joint_unit_pnl
from crossmargin.scenarios.joint import JointScenarioSet
from crossmargin.scenarios.tail import tail_measures, tail_stats

__all__ = ["AccountPass", "UnitCache", "UnitStore", "aggregate", "risk_measure", "sharing_units"]

#: Target group-scenario cells per aggregation block (≈ 8 MB of float64).
_BLOCK_CELLS = 1_000_000


def risk_measure(
    loss: FloatArray, w: FloatArray, alpha: float, kind: str, *, scratch: bool = False
) -> FloatArray:
    """ES (``kind="es"``) or VaR of each row of ``loss`` at confidence ``alpha``.

    ``scratch``: ``loss`` is a temporary the call may reorder in place.
    """
    var, es = tail_measures(loss, w, alpha, scratch=scratch)
    return es if kind == "es" else var


def _blocks(acc_of_group: IntArray, n_acc: int, S: int) -> Iterator[tuple[int, int, int, int]]:
    """``(a0, a1, g0, g1)`` account blocks whose groups fill about ``_BLOCK_CELLS`` cells."""
    per = max(1, _BLOCK_CELLS // max(S, 1))
    starts = np.searchsorted(acc_of_group, np.arange(n_acc + 1))
    a0 = 0
    while a0 < n_acc:
        a1 = int(np.searchsorted(starts, starts[a0] + per, side="right")) - 1
        a1 = min(max(a1, a0 + 1), n_acc)
        yield a0, a1, int(starts[a0]), int(starts[a1])
        a0 = a1


UnitKey = tuple[int, bytes]


@dataclass(eq=False)
class UnitStore:
    """Risk arrays shared by the books bound to one instrument table and configuration.

    Used by :class:`UnitCache` while current (:func:`sharing_units`) for a book whose
    ``instruments`` and ``config`` *are* (identity) this store's; any other book keeps its own.
    ``max_bytes`` bounds what is kept (arrays beyond it are used by their book only);
    ``tally`` (optional) counts every array computed into the store, by key.
    """

    instruments: InstrumentTable
    config: RiskConfig
    max_bytes: int = 256 * 2**20
    tally: Counter[UnitKey] | None = None
    arrays: dict[UnitKey, FloatArray] = field(default_factory=dict)
    nbytes: int = 0

    def serves(self, book: ResolvedBook) -> bool:
        """Whether ``book`` is bound to this store's instrument table and configuration."""
        return book.instruments is self.instruments and book.config is self.config

    def put(self, key: UnitKey, unit: FloatArray) -> bool:
        """Keep ``unit`` (computed for ``key``) if the budget allows; whether it was kept."""
        if self.tally is not None:
            self.tally[key] += 1
        if self.nbytes + unit.nbytes > self.max_bytes:
            return False
        self.arrays[key] = unit
        self.nbytes += unit.nbytes
        return True


_SHARED: ContextVar[UnitStore | None] = ContextVar("crossmargin_unit_store", default=None)


@contextmanager
def sharing_units(store: UnitStore) -> Iterator[UnitStore]:
    """Within the block, :class:`UnitCache` of the books ``store`` serves reads and fills it."""
    token = _SHARED.set(store)
    try:
        yield store
    finally:
        _SHARED.reset(token)


class UnitCache:
    """Risk arrays per underlying, keyed by that underlying's scenario rows.

    Sets of underlyings on the same calendar (all-crypto books, say) give an underlying the same
    moves, so its contracts are revalued once, not once per set of underlyings — and once per
    process for books sharing a :class:`UnitStore` (:func:`sharing_units`).
    """

    def __init__(self, book: ResolvedBook) -> None:
        self.book = book
        shared = _SHARED.get()
        self.shared = shared if shared is not None and shared.serves(book) else None
        self.store: dict[UnitKey, FloatArray] = {}  # this book's own (beyond the shared budget)

    def rows(self, scen: JointScenarioSet, cols: IntArray) -> FloatArray:
        """Unit P&L of contracts ``cols`` (all contracts of their underlyings) under ``scen``."""
        inst = self.book.instruments
        out = np.empty((cols.size, scen.n_scenarios))
        und_of = inst.und[cols]
        for u in np.unique(und_of):
            sel = np.flatnonzero(und_of == u)
            r = scen.row(inst.underlyings[int(u)])
            digest = b""
            if r >= 0:
                h = hashlib.blake2b(scen.spot_move[r].tobytes(), digest_size=16)
                h.update(scen.vol_move[r].tobytes())
                digest = h.digest()
            key = (int(u), digest)
            hit = self.store.get(key)
            if hit is None and self.shared is not None:
                hit = self.shared.arrays.get(key)
            if hit is None:
                hit = joint_unit_pnl(inst, scen, self.book.config, only=cols[sel])
                if self.shared is None or not self.shared.put(key, hit):
                    self.store[key] = hit
            out[sel] = hit
        return out


@dataclass(frozen=True, slots=True, eq=False)
class AccountPass:
    """Results of the blocked aggregation pass."""

    measure: FloatArray
    worst: IntArray
    worst_loss: FloatArray
    component: FloatArray
    standalone: FloatArray
    stress_excess: list[FloatArray]
    group_pnl: FloatArray | None


def aggregate(
    q: sparse.csr_matrix,
    unit: FloatArray,
    groups: Groups,
    n_acc: int,
    w: FloatArray,
    alpha: float,
    kind: str,
    *,
    stresses: Sequence[PreparedStress] = (),
    lookup: IntArray | None = None,
    keep: bool = False,
    full: bool = True,
) -> AccountPass:
    """Account measure, components and standalone measures, blocked over accounts."""
    G, S = groups.n, unit.shape[1]
    measure = np.zeros(n_acc)
    worst = np.zeros(n_acc, np.int64)
    worst_loss = np.zeros(n_acc)
    comp = np.zeros(G)
    stand = np.zeros(G)
    excess = [np.zeros(n_acc) for _ in stresses]
    kept = np.zeros((G, S)) if keep else None
    # the quantities of each rotated leg's contracts, sliced once (not once per block)
    q_leg = {st.iv: q[:, st.cols] for st in stresses if st.unit_v is not None}

    def block(a0: int, a1: int, g0: int, g1: int) -> None:
        # each block writes only its own slices of the outputs (thread-safe)
        if g1 == g0:
            return
        pg = np.asarray(q[g0:g1] @ unit)
        if kept is not None:
            kept[g0:g1] = pg
        loc = groups.account[g0:g1] - a0
        nb = a1 - a0
        # account losses: minus the sum of the account's group P&L (one sparse product)
        neg = np.full(g1 - g0, -1.0)
        loss = np.asarray(
            sparse.csr_matrix((neg, (loc, np.arange(g1 - g0))), shape=(nb, g1 - g0)) @ pg
        )
        t = tail_stats(loss, w, alpha)
        m = t.es if kind == "es" else t.var
        measure[a0:a1] = m
        worst[a0:a1] = t.worst_index
        worst_loss[a0:a1] = loss[np.arange(nb), t.worst_index]
        if not full:
            return
        if kind == "es":  # Euler components: tail-weighted group losses (k scenarios a row)
            at = t.tail_order[loc]
            comp[g0:g1] = -np.sum(t.tail_mass[loc] * np.take_along_axis(pg, at, axis=1), axis=1)
        else:
            comp[g0:g1] = -pg[np.arange(g1 - g0), t.var_index[loc]]
        # standalone measure: an account's only group is the account itself
        alone = np.bincount(loc, minlength=nb)[loc] == 1
        sb = m[loc].copy()
        multi = np.flatnonzero(~alone)
        if multi.size:
            if multi.size == pg.shape[0]:
                lm = np.negative(pg)
            else:
                lm = pg[multi]
                np.negative(lm, out=lm)
            sb[multi] = risk_measure(lm, w, alpha, kind, scratch=True)
        stand[g0:g1] = sb
        # correlation stresses: L − P_v + P_v^(k), with L + P_v formed once per leg v
        legs: dict[tuple[int, int], tuple[IntArray, IntArray, FloatArray, FloatArray]] = {}
        q_rows: dict[tuple[int, int], sparse.csr_matrix] = {}
        for k, st in enumerate(stresses):
            assert lookup is not None
            pair = (st.iu, st.iv)
            if pair not in legs:
                gu, gv = lookup[a0:a1, st.iu], lookup[a0:a1, st.iv]
                both = np.flatnonzero((gu >= 0) & (gv >= 0))
                pv = pg[gv[both] - g0]
                base = (loss if both.size == nb else loss[both]) + pv
                legs[pair] = (both, gv[both], pv, base)
            both, gvb, pv, base = legs[pair]
            if both.size == 0:
                continue
            if st.unit_v is not None:
                if pair not in q_rows:  # the pair's rotations share the leg's rows
                    q_rows[pair] = q_leg[st.iv][gvb]
                pv2 = np.asarray(q_rows[pair] @ st.unit_v)
            else:
                assert st.spec.perm is not None
                pv2 = np.take(pv, st.spec.perm, axis=1)
            np.subtract(base, pv2, out=pv2)
            excess[k][a0 + both] = risk_measure(pv2, w, alpha, kind, scratch=True) - m[both]

    blocks = list(_blocks(groups.account, n_acc, S))
    threads = min(n_threads(), len(blocks))
    if threads <= 1:
        for bl in blocks:
            block(*bl)
    else:  # NumPy partitions and SciPy sparse products release the GIL
        with ThreadPoolExecutor(max_workers=threads) as ex:
            list(ex.map(lambda bl: block(*bl), blocks))
    return AccountPass(measure, worst, worst_loss, comp, stand, excess, kept)
