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
from crossmargin.margin.addons.correlation import PreparedPair
from crossmargin.resolve.book import ResolvedBook
from crossmargin.resolve.instruments import InstrumentTable
from crossmargin.risk.aggregate import Groups
from crossmargin.risk.pnl import joint_unit_pnl
from crossmargin.scenarios.joint import JointScenarioSet
from crossmargin.scenarios.tail import Tail

__all__ = ["AccountPass", "UnitCache", "UnitStore", "aggregate", "risk_measure", "sharing_units"]

#: Target group-scenario cells per aggregation block (≈ 8 MB of float64): one sparse product.
_BLOCK_CELLS = 1_000_000
#: Target cells per chunk of a block: the row-wise tail work runs on chunks that stay in cache.
_CHUNK_CELLS = 256_000
#: Revaluations of at least this many contract-scenario cells are split over threads.
_PARALLEL_CELLS = 200_000


def risk_measure(
    loss: FloatArray, w: FloatArray, alpha: float, kind: str, *, scratch: bool = False
) -> FloatArray:
    """ES (``kind="es"``) or VaR of each row of ``loss`` at confidence ``alpha``.

    ``scratch``: ``loss`` is a temporary the call may reorder in place.
    """
    return _measure(Tail.of(w, alpha), loss, kind, scratch=scratch)


def _measure(tail: Tail, loss: FloatArray, kind: str, *, scratch: bool = False) -> FloatArray:
    """:func:`risk_measure` with the tail prepared."""
    var, es = tail.measures(loss, scratch=scratch)
    return es if kind == "es" else var


def _blocks(
    starts: IntArray, S: int, cells: int, a0: int = 0, a1: int | None = None
) -> Iterator[tuple[int, int]]:
    """``(b0, b1)`` blocks of accounts ``a0:a1`` whose groups fill about ``cells`` cells.

    ``starts[a]`` is account ``a``'s first group (``starts[-1]`` the number of groups).
    """
    a1 = starts.size - 1 if a1 is None else a1
    per = max(1, cells // max(S, 1))
    b0 = a0
    while b0 < a1:
        b1 = int(np.searchsorted(starts, starts[b0] + per, side="right")) - 1
        b1 = min(max(b1, b0 + 1), a1)
        yield b0, b1
        b0 = b1


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
    process for books sharing a :class:`UnitStore` (:func:`sharing_units`); a set of underlyings
    that recurs (accounts differing only in their collateral) gets the same joined array.
    Revaluations are split by contract over :func:`~crossmargin.kernels.blocks.n_threads`
    threads (the Black-76 kernel's NumPy calls release the GIL). The arrays handed out are
    shared: callers only read them.
    """

    def __init__(self, book: ResolvedBook) -> None:
        self.book = book
        shared = _SHARED.get()
        self.shared = shared if shared is not None and shared.serves(book) else None
        self.store: dict[UnitKey, FloatArray] = {}  # this book's own (beyond the shared budget)
        self.joined: dict[tuple[UnitKey, ...], FloatArray] = {}

    def _held(self, key: UnitKey) -> FloatArray | None:
        """The array for ``key`` kept by this book or by the shared store, if any."""
        hit = self.store.get(key)
        if hit is None and self.shared is not None:
            hit = self.shared.arrays.get(key)
        return hit

    def _array(self, key: UnitKey) -> FloatArray:
        """The array for ``key``, held once :meth:`rows` has filled what was missing."""
        if key in self.store or self.shared is None:
            return self.store[key]
        return self.shared.arrays[key]

    def rows(self, scen: JointScenarioSet, cols: IntArray) -> FloatArray:
        """Unit P&L of contracts ``cols`` (all contracts of their underlyings) under ``scen``."""
        inst = self.book.instruments
        und_of = inst.und[cols]
        parts: list[tuple[IntArray, UnitKey]] = []
        for u in np.unique(und_of):
            sel = np.flatnonzero(und_of == u)
            r = scen.row(inst.underlyings[int(u)])
            h = hashlib.blake2b(cols[sel].tobytes(), digest_size=16)
            if r >= 0:
                h.update(scen.spot_move[r].tobytes())
                h.update(scen.vol_move[r].tobytes())
            parts.append((sel, (int(u), h.digest())))
        missing = {key: cols[sel] for sel, key in parts if self._held(key) is None}
        if missing:
            for key, unit in self._revalue(scen, missing).items():
                if self.shared is None or not self.shared.put(key, unit):
                    self.store[key] = unit
        if len(parts) == 1:
            return self._array(parts[0][1])
        joint_key = tuple(key for _, key in parts)
        out = self.joined.get(joint_key)
        if out is None:
            out = np.empty((cols.size, scen.n_scenarios))
            for sel, key in parts:
                out[sel] = self._array(key)
            self.joined[joint_key] = out
        return out

    def _revalue(
        self, scen: JointScenarioSet, todo: dict[UnitKey, IntArray]
    ) -> dict[UnitKey, FloatArray]:
        """Revalue each entry's contracts under ``scen``, in contract chunks over threads."""
        inst, cfg = self.book.instruments, self.book.config
        out = {key: np.empty((c.size, scen.n_scenarios)) for key, c in todo.items()}
        total = sum(c.size for c in todo.values()) * scen.n_scenarios
        threads = n_threads() if total >= _PARALLEL_CELLS else 1
        jobs = [
            (key, part)
            for key, c in todo.items()
            for part in np.array_split(np.arange(c.size), min(threads, max(c.size, 1)))
            if part.size
        ]

        def run(job: tuple[UnitKey, IntArray]) -> None:
            key, part = job
            out[key][part] = joint_unit_pnl(inst, scen, cfg, only=todo[key][part])

        if threads <= 1 or len(jobs) <= 1:
            for job in jobs:
                run(job)
        else:
            with ThreadPoolExecutor(max_workers=threads) as ex:
                list(ex.map(run, jobs))
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
    stresses: Sequence[PreparedPair] = (),
    lookup: IntArray | None = None,
    keep: bool = False,
    full: bool = True,
) -> AccountPass:
    """Account measure, components and standalone measures, blocked over accounts.

    One sparse product per block of about ``_BLOCK_CELLS`` group-scenario cells gives the
    (account, underlying) group P&L (and one per pair the stressed legs' P&L); everything else
    — the account loss, its tail, the Euler components, each group's standalone measure and the
    correlation stresses — is read from those arrays in chunks of about ``_CHUNK_CELLS`` cells
    that stay in the processor's cache while a dozen passes go over them.
    """
    G, S = groups.n, unit.shape[1]
    measure = np.zeros(n_acc)
    worst = np.zeros(n_acc, np.int64)
    worst_loss = np.zeros(n_acc)
    comp = np.zeros(G)
    stand = np.zeros(G)
    excess = [np.zeros((len(p.specs), n_acc)) for p in stresses]
    kept = np.zeros((G, S)) if keep else None
    starts = np.searchsorted(groups.account, np.arange(n_acc + 1))
    tail = Tail.of(w, alpha)
    legs = []
    if full:
        legs = [_PairLeg.of(q, p, lookup, out) for p, out in zip(stresses, excess, strict=True)]

    def chunk(c0: int, c1: int, h0: int, pg: FloatArray, rot: list[FloatArray | None]) -> None:
        # accounts c0:c1, their groups are rows h0:h1 of pg (this chunk's own slice)
        h1 = h0 + int(starts[c1] - starts[c0])
        g0 = int(starts[c0])
        pc = pg[h0:h1]
        loc = groups.account[g0 : g0 + h1 - h0] - c0
        nb = c1 - c0
        n_g = np.diff(starts[c0 : c1 + 1])
        loss = _account_loss(pc, loc, n_g)
        t = tail.stats(loss)
        m = t.es if kind == "es" else t.var
        measure[c0:c1] = m
        worst[c0:c1] = t.worst_index
        worst_loss[c0:c1] = loss[np.arange(nb), t.worst_index]
        if not full:
            return
        if kind == "es":  # Euler components: tail-weighted group losses (k scenarios a row)
            at = t.tail_order[loc]
            comp[g0 : g0 + pc.shape[0]] = -np.sum(
                t.tail_mass[loc] * np.take_along_axis(pc, at, axis=1), axis=1
            )
        else:
            comp[g0 : g0 + pc.shape[0]] = -pc[np.arange(pc.shape[0]), t.var_index[loc]]
        for leg, p2 in zip(legs, rot, strict=True):
            leg.run(c0, c1, g0, pc, loss, m, p2, tail, kind)
        # standalone measure (pc is free now): an account's only group is the account itself
        sb = m[loc].copy()
        multi = np.flatnonzero(n_g[loc] != 1)
        if multi.size:
            if multi.size == pc.shape[0]:
                lm = np.negative(pc, out=pc)
            else:
                lm = pc[multi]
                np.negative(lm, out=lm)
            sb[multi] = _measure(tail, lm, kind, scratch=True)
        stand[g0 : g0 + pc.shape[0]] = sb

    def block(a0: int, a1: int) -> None:
        # each block writes only its own slices of the outputs (thread-safe)
        g0, g1 = int(starts[a0]), int(starts[a1])
        if g1 == g0:
            return
        pg = np.asarray(q[g0:g1] @ unit)
        if kept is not None:
            kept[g0:g1] = pg
        rot = [leg.rotated(a0, a1) for leg in legs]
        for c0, c1 in _blocks(starts, S, _CHUNK_CELLS, a0, a1):
            sub = [None if r is None else r[c0 - a0 : c1 - a0] for r in rot]
            chunk(c0, c1, int(starts[c0]) - g0, pg, sub)

    blocks = list(_blocks(starts, S, _BLOCK_CELLS))
    threads = min(n_threads(), len(blocks))
    if threads <= 1:
        for bl in blocks:
            block(*bl)
    else:  # NumPy partitions and SciPy sparse products release the GIL
        with ThreadPoolExecutor(max_workers=threads) as ex:
            list(ex.map(lambda bl: block(*bl), blocks))
    return AccountPass(measure, worst, worst_loss, comp, stand, excess, kept)


def _rows(a: FloatArray, rows: IntArray) -> FloatArray:
    """``a[rows]``, as a strided view when ``rows`` are evenly spaced (one group per account)."""
    n = rows.size
    if n > 1:
        step = int(rows[1] - rows[0])
        first = int(rows[0])
        regular = step > 0 and first < step and n * step == a.shape[0]
        if regular and np.array_equal(rows, np.arange(first, n * step, step)):
            return a.reshape(n, step, a.shape[1])[:, first]
    return a[rows]


def _account_loss(pg: FloatArray, loc: IntArray, n_g: IntArray) -> FloatArray:
    """``−Σ`` of each account's group P&L rows (rows ``pg`` by account, ``n_g`` per account).

    Summed in group order, as a sparse product would: the same rounding either way.
    """
    n = int(n_g[0]) if n_g.size else 0
    if n > 0 and (n_g == n).all():  # every account holds the same number of groups
        by_acc = pg.reshape(n_g.size, n, pg.shape[1])
        loss = by_acc[:, 0].copy() if n == 1 else np.add(by_acc[:, 0], by_acc[:, 1])
        for j in range(2, n):
            loss += by_acc[:, j]
    else:
        neg = np.full(loc.size, -1.0)
        agg = sparse.csr_matrix((neg, (loc, np.arange(loc.size))), shape=(n_g.size, loc.size))
        return np.asarray(agg @ pg)
    return np.subtract(0.0, loss, out=loss)  # 0 − Σ: no negative zeros, as the product


@dataclass(frozen=True, slots=True, eq=False)
class _PairLeg:
    """The stresses of one pair ``(u, v)``: ``L − P_v + P_v^(k)`` for every stressed leg ``k``.

    ``q_v`` holds each account's quantities of the ``v`` contracts (row = account), so the
    rotated legs of a block of accounts are one product with the pair's stacked risk arrays;
    ``excess[k]`` receives ``R(L − P_v + P_v^(k)) − R(L)`` of stress ``k``.
    """

    pair: PreparedPair
    lookup: IntArray
    q_v: sparse.csr_matrix | None
    perms: tuple[tuple[int, IntArray], ...]
    excess: FloatArray

    @classmethod
    def of(
        cls, q: sparse.csr_matrix, pair: PreparedPair, lookup: IntArray | None, excess: FloatArray
    ) -> _PairLeg:
        """The leg of ``pair`` over the groups of ``q`` (``lookup``: group of each account)."""
        assert lookup is not None
        q_v = None
        if pair.unit_rot is not None:
            # row a: account a's quantities of the v contracts (rows of accounts without a v
            # group are never read: the stresses are taken only where both legs are held)
            q_v = q[np.maximum(lookup[:, pair.iv], 0)][:, pair.cols].tocsr()
        perms = tuple((k, sp.perm) for k, sp in enumerate(pair.specs) if sp.perm is not None)
        return cls(pair, lookup, q_v, perms, excess)

    def rotated(self, a0: int, a1: int) -> FloatArray | None:
        """``(a1 − a0, n_rot · S)``: the rotated legs' P&L of accounts ``a0:a1``, side by side."""
        if self.q_v is None or self.pair.unit_rot is None:
            return None
        return np.asarray(self.q_v[a0:a1] @ self.pair.unit_rot)

    def run(
        self,
        c0: int,
        c1: int,
        g0: int,
        pg: FloatArray,
        loss: FloatArray,
        m: FloatArray,
        p2: FloatArray | None,
        tail: Tail,
        kind: str,
    ) -> None:
        """Write the excess of accounts ``c0:c1`` (groups from ``g0``: the rows of ``pg``).

        ``p2``: the accounts' rows of :meth:`rotated` (overwritten).
        """
        nb = c1 - c0
        p = self.pair
        gu, gv = self.lookup[c0:c1, p.iu], self.lookup[c0:c1, p.iv]
        both = np.flatnonzero((gu >= 0) & (gv >= 0))
        if both.size == 0:
            return
        every = both.size == nb
        pv = _rows(pg, gv[both] - g0)
        base = (loss if every else loss[both]) + pv
        mb = m if every else m[both]
        acc = c0 + both
        S = pg.shape[1]
        if p2 is not None:
            rows = p2 if every else p2[both]
            for k in range(rows.shape[1] // S):
                lk = rows[:, k * S : (k + 1) * S]
                np.subtract(base, lk, out=lk)
                self.excess[k, acc] = _measure(tail, lk, kind, scratch=True) - mb
        for k, perm in self.perms:
            lk = np.take(pv, perm, axis=1, mode="clip")  # (a permutation: always in range)
            np.subtract(base, lk, out=lk)
            self.excess[k, acc] = _measure(tail, lk, kind, scratch=True) - mb
