"""Margining live accounts: any set of accounts from scratch, and the portfolio model per group.

:class:`AccountKernel` margins a set of accounts the way ``crossmargin margin`` margins a book:
it gathers their positions and balances from the live book into a :class:`SubBook` (accounts
numbered 0…k−1), binds it to the live marks (:func:`resolve_sub`: mark-to-market, collateral
valuation, FX) and runs the model and :func:`~crossmargin.account.health.assess`. Every model's
requirement of an account depends only on that account's positions, balances and the market,
so the accounts a tick or a trade touches are re-margined alone and agree with a whole-book run
(the full sweep checks it). That is the incremental path of every model: per account.

:class:`PortfolioKernel` goes one level finer for the ``portfolio`` model, which is a sum over
(account, underlying) groups plus per-account credits (SPAN's combined commodities and
inter-commodity spreads):

* it keeps the grid risk arrays of every contract (``contracts × scenarios``), re-valued per
  underlying when that underlying ticks;
* it keeps every group's :class:`~crossmargin.margin.portfolio.GroupRisk` (scan, worst
  scenario, deltas, basis, delta shock, price risk, short-option minimum) and mark-to-market,
  and each account's collateral value;
* a tick in underlying ``U`` recomputes only the groups of ``U`` (one sparse product of the
  holders' ``U`` positions with ``U``'s risk arrays) and recombines the holders' accounts from
  the cached groups (:meth:`~crossmargin.margin.portfolio.PortfolioMargin.requirements`:
  credits and the short-option floor); the other groups are not touched;
* the sweep (:meth:`PortfolioKernel.sweep`) rebuilds every underlying's layout and recomputes
  every group and collateral value without reading these caches, and replaces them;
* on a big book, a tick's and the sweep's risk arrays, groups and recombined accounts are split
  into contiguous parts, one per core (``PortfolioKernel.parts``, at most two), computed at
  the same time by a persistent worker thread (NumPy's and SciPy's loops release the GIL).
  Every number is computed row by row, so each part's are those of one part, bit for bit.

Both return :class:`AccountBatch`: per account equity, IM, MM, ratio, status and the worst
scenario of its riskiest group.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import TypeVar

import numpy as np
from scipy import sparse

from crossmargin._arrays import sum_by
from crossmargin._typing import BoolArray, FloatArray, IntArray
from crossmargin.account.health import AccountResults, assess, health_codes
from crossmargin.collateral.table import CollateralTable, haircut_value
from crossmargin.collateral.valuation import AssetPrices, asset_prices, value_collateral
from crossmargin.config import RiskConfig
from crossmargin.errors import ModelError
from crossmargin.instruments.book import Book
from crossmargin.live.columns import Columns, grow_rows
from crossmargin.live.state import LiveBook
from crossmargin.margin.base import get_model
from crossmargin.margin.portfolio import GroupAggregates, GroupRisk, PortfolioMargin
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.resolve.book import ResolvedBook, fx_rates
from crossmargin.resolve.instruments import InstrumentTable
from crossmargin.resolve.positions import Holdings, mark_positions
from crossmargin.resolve.terms import KIND_OPTION, take_rows
from crossmargin.risk.aggregate import GroupMatrix, Groups, group_positions
from crossmargin.scenarios.grid import ScenarioSet

__all__ = [
    "AccountBatch",
    "AccountKernel",
    "PortfolioKernel",
    "SubBook",
    "concat_batches",
    "gather",
    "make_kernel",
    "resolve_sub",
    "take_batch",
]


@dataclass(frozen=True, slots=True, eq=False)
class SubBook:
    """The raw state of some accounts, numbered 0…k−1 (positions and balances).

    Attributes
    ----------
    accounts
        Global index of each local account (−1: an account not opened yet).
    hold
        Net positions (local account numbers; ``first_row``: the live book's row, −1 if new).
    col_account, col_asset, col_amount
        Balances ≠ 0: local account, asset index of the live book, amount.
    """

    accounts: IntArray
    hold: Holdings
    col_account: IntArray
    col_asset: IntArray
    col_amount: FloatArray
    names: tuple[str, ...]
    base_currency: tuple[str, ...]

    @property
    def n(self) -> int:
        """Number of accounts."""
        return int(self.accounts.shape[0])


def gather(book: LiveBook, accounts: IntArray) -> SubBook:
    """The sub-book of ``accounts`` (ascending global indices) as the live book holds them."""
    rows = book.rows_of_accounts(accounts)
    if 64 * accounts.size < book.n_accounts:
        # a few accounts (a pre-trade check, a trade): no table the size of the book
        local = np.searchsorted(accounts, book.pos["account"][rows]).astype(np.int64)
        hold = replace(book.positions_of(rows, None), account=local)
    else:
        local = np.full(book.n_accounts, -1, np.int64)
        local[accounts] = np.arange(accounts.shape[0], dtype=np.int64)
        hold = book.positions_of(rows, local)
    bal = book.balance_view()[accounts]
    a, s = np.nonzero(bal)
    if accounts.size == book.n_accounts:
        names, base, _ = book.account_tuples()
    else:
        acc = accounts.tolist()
        names = tuple(book.accounts[i] for i in acc)
        base = tuple(book.base_currency[i] for i in acc)
    return SubBook(accounts, hold, a.astype(np.int64), s.astype(np.int64), bal[a, s], names, base)


def sub_book_shell(book: LiveBook, sub: SubBook) -> Book:
    """The :class:`~crossmargin.instruments.book.Book` of a sub-book (one lot per position)."""
    names = sub.names
    h = sub.hold
    return Book(
        accounts=names,
        base_currency=sub.base_currency,
        contracts=book.terms.contracts,
        pos_account=h.account,
        pos_instrument=h.instrument,
        pos_quantity=h.quantity,
        pos_entry=np.full(h.n, np.nan),
        assets=tuple(book.assets),
        col_account=sub.col_account,
        col_asset=sub.col_asset,
        col_amount=sub.col_amount,
        pos_row=np.arange(h.n, dtype=np.int64),
        pos_prefix=_prefixes(book, names),
    )


def _prefixes(book: LiveBook, names: tuple[str, ...]) -> tuple[str, ...]:
    """Input-path prefix of each account (``accounts.NAME.positions``), for error messages."""
    every = book.account_tuples()
    if names is every[0]:
        return every[2]
    return tuple(f"accounts.{n}.positions" for n in names)


def resolve_sub(
    book: LiveBook, sub: SubBook, inst: InstrumentTable, snapshot: MarketSnapshot
) -> ResolvedBook:
    """Bind a sub-book to the live marks (mark-to-market, collateral, FX).

    Raises
    ------
    MarketDataError
        A held collateral asset or base currency has no usable price.
    """
    cfg = book.config
    bk = sub_book_shell(book, sub)
    pos = mark_positions(sub.hold, inst, inst)
    return ResolvedBook.bound(bk, snapshot, cfg, inst, pos)


@dataclass(frozen=True, slots=True, eq=False)
class AccountBatch:
    """Health of some accounts (account base currencies), aligned with ``accounts``.

    ``worst_*``: the group with the largest scan loss — its name (index into ``group_names``,
    −1: none), risk class, scenario index in the class's grid and loss (snapshot currency).
    """

    accounts: IntArray
    equity: FloatArray
    m_equity: FloatArray
    im: FloatArray
    mm: FloatArray
    ratio: FloatArray
    status: IntArray
    collateral: FloatArray
    upnl: FloatArray
    worst_und: IntArray
    worst_cls: IntArray
    worst_index: IntArray
    worst_loss: FloatArray
    scenarios: ScenarioSet | None = None
    group_names: tuple[str, ...] = ()

    @classmethod
    def from_results(cls, res: AccountResults, accounts: IntArray) -> AccountBatch:
        """From a model run over a sub-book whose accounts are ``accounts``."""
        g = res.batch.groups
        cls_of = (
            res.batch.scenario_class
            if res.batch.scenario_class is not None
            else np.full(g.n, -1, np.int64)
        )
        und, cl, idx, loss = worst_of(g.account, g.und, cls_of, g.worst, g.scan, res.n)
        return cls(
            accounts=accounts,
            equity=res.equity,
            m_equity=res.maintenance_equity,
            im=res.initial_margin,
            mm=res.maintenance_margin,
            ratio=res.margin_ratio,
            status=res.status_code,
            collateral=res.collateral_value,
            upnl=res.unrealized_pnl,
            worst_und=und,
            worst_cls=cl,
            worst_index=idx,
            worst_loss=loss,
            scenarios=res.batch.scenarios,
            group_names=g.underlyings,
        )


def take_batch(batch: AccountBatch, idx: IntArray, accounts: IntArray) -> AccountBatch:
    """Rows ``idx`` of ``batch``, relabelled with global ``accounts``."""
    return AccountBatch(
        accounts=accounts,
        equity=batch.equity[idx],
        m_equity=batch.m_equity[idx],
        im=batch.im[idx],
        mm=batch.mm[idx],
        ratio=batch.ratio[idx],
        status=batch.status[idx],
        collateral=batch.collateral[idx],
        upnl=batch.upnl[idx],
        worst_und=batch.worst_und[idx],
        worst_cls=batch.worst_cls[idx],
        worst_index=batch.worst_index[idx],
        worst_loss=batch.worst_loss[idx],
        scenarios=batch.scenarios,
        group_names=batch.group_names,
    )


def concat_batches(batches: list[AccountBatch]) -> AccountBatch:
    """Batches of disjoint accounts as one (in the given order)."""
    if len(batches) == 1:
        return batches[0]
    cat = np.concatenate
    names = tuple(dict.fromkeys(n for b in batches for n in b.group_names))
    pos = {n: i for i, n in enumerate(names)}
    wu = []
    for b in batches:
        remap = np.asarray([pos[n] for n in b.group_names] + [-1], np.int64)
        wu.append(remap[b.worst_und])
    return AccountBatch(
        accounts=cat([b.accounts for b in batches]),
        equity=cat([b.equity for b in batches]),
        m_equity=cat([b.m_equity for b in batches]),
        im=cat([b.im for b in batches]),
        mm=cat([b.mm for b in batches]),
        ratio=cat([b.ratio for b in batches]),
        status=cat([b.status for b in batches]),
        collateral=cat([b.collateral for b in batches]),
        upnl=cat([b.upnl for b in batches]),
        worst_und=cat(wu),
        worst_cls=cat([b.worst_cls for b in batches]),
        worst_index=cat([b.worst_index for b in batches]),
        worst_loss=cat([b.worst_loss for b in batches]),
        scenarios=next((b.scenarios for b in batches if b.scenarios is not None), None),
        group_names=names,
    )


def worst_of(
    account: IntArray, und: IntArray, cls: IntArray, worst: IntArray, scan: FloatArray, n: int
) -> tuple[IntArray, IntArray, IntArray, FloatArray]:
    """Per account: underlying, class, worst scenario and loss of its largest-scan group.

    Ties go to the first such group. Groups need not be sorted; sorted by account (as a
    model's and the kernel's recombination return them) it is a segmented pass, else a
    counting pass.
    """
    out_u = np.full(n, -1, np.int64)
    out_c = np.full(n, -1, np.int64)
    out_i = np.full(n, -1, np.int64)
    out_l = np.zeros(n)
    s = np.where(np.isfinite(scan) & (worst >= 0) & (scan > 0), scan, -np.inf)
    if not np.isfinite(s).any():
        return out_u, out_c, out_i, out_l
    m = int(account.shape[0])
    if m and bool((account[1:] >= account[:-1]).all()):
        start = np.flatnonzero(np.concatenate([[True], account[1:] != account[:-1]]))
        seg = np.maximum.reduceat(s, start)
        best_of = np.repeat(seg, np.diff(np.append(start, m)))
        at = np.flatnonzero((s == best_of) & np.isfinite(s))
        a_at = account[at]
        g = at[np.concatenate([[True], a_at[1:] != a_at[:-1]])]
        a = account[g]
    else:
        best = np.full(n, -np.inf)
        np.maximum.at(best, account, s)
        hit = (s == best[account]) & np.isfinite(s)
        first = np.full(n, m, np.int64)
        at = np.flatnonzero(hit)
        np.minimum.at(first, account[at], at)
        a = np.flatnonzero(first < m)
        g = first[a]
    out_u[a], out_c[a], out_i[a], out_l[a] = und[g], cls[g], worst[g], s[g]
    return out_u, out_c, out_i, out_l


def _worst_of_table(
    table: IntArray, risk: GroupRisk
) -> tuple[IntArray, IntArray, IntArray, FloatArray]:
    """:func:`worst_of` for groups laid out in a ``(accounts, underlyings)`` table of rows.

    Scans the table's columns in order, so ties go to the first group as there.
    """
    k = int(table.shape[0])
    if risk.n == 0 or table.shape[1] == 0:
        return worst_of(risk.account, risk.und, risk.cls, risk.worst, risk.scan, k)
    scan = risk.scan
    s = np.where(np.isfinite(scan) & (risk.worst >= 0) & (scan > 0), scan, -np.inf)
    s_tab = np.where(table >= 0, s[np.maximum(table, 0)], -np.inf)
    best = s_tab[:, 0].copy()
    col = np.zeros(k, np.int64)
    for u in range(1, table.shape[1]):
        better = s_tab[:, u] > best
        best = np.where(better, s_tab[:, u], best)
        col[better] = u
    ok = np.isfinite(best)
    g = np.where(ok, table[np.arange(k), col], 0)
    wu, wc, wi = (np.where(ok, a[g], -1) for a in (risk.und, risk.cls, risk.worst))
    return wu, wc, wi, np.where(ok, best, 0.0)


class AccountKernel:
    """Margins sets of accounts with any registered model (module docstring).

    Parameters
    ----------
    model
        Registered model name.
    config
        Risk configuration.
    """

    #: Whether a tick re-margins per (account, underlying) group (else per account).
    group_level = False

    def __init__(self, model: str, config: RiskConfig) -> None:
        self.name = model
        self.config = config
        self.model = get_model(model, config)

    def run(self, rb: ResolvedBook) -> AccountResults:
        """The model and the health assessment over a resolved (sub-)book."""
        return assess(rb, self.model.compute(rb))

    def margin(
        self,
        book: LiveBook,
        sub: SubBook,
        inst: InstrumentTable,
        snapshot: MarketSnapshot,
        *,
        commit: bool = True,
    ) -> AccountBatch:
        """Margin the accounts of ``sub``.

        With ``commit`` the sub-book is the live state (caches keep what they need); without,
        a hypothetical state (a pre-trade check).

        Raises
        ------
        MarketDataError, ModelError
            Missing market data, a non-finite requirement.
        """
        rb = resolve_sub(book, sub, inst, snapshot)
        res = self.run(rb)
        self.keep(book, rb, sub.accounts, commit=commit)
        return AccountBatch.from_results(res, sub.accounts)

    def keep(self, book: LiveBook, rb: ResolvedBook, accounts: IntArray, *, commit: bool) -> None:
        """Cache what the kernel keeps of a :meth:`run` over the sub-book ``rb``.

        ``accounts``: its accounts' global numbers; ``commit``: the run is the live state
        (else a hypothetical one, kept for :meth:`commit_last`). Nothing here.
        """

    def sweep(
        self, book: LiveBook, inst: InstrumentTable, snapshot: MarketSnapshot, accounts: IntArray
    ) -> AccountBatch:
        """Re-margin ``accounts`` from scratch (the safety-net sweep): their sub-book's margin."""
        return self.margin(book, gather(book, accounts), inst, snapshot)

    def full(
        self, book: LiveBook, inst: InstrumentTable, snapshot: MarketSnapshot
    ) -> tuple[AccountBatch, AccountResults]:
        """Every account from scratch (the sweep), with the whole-book results."""
        accounts = np.arange(book.n_accounts, dtype=np.int64)
        rb = resolve_sub(book, gather(book, accounts), inst, snapshot)
        res = self.run(rb)
        self.adopt(book, rb, res)
        return AccountBatch.from_results(res, accounts), res

    def adopt(self, book: LiveBook, rb: ResolvedBook, res: AccountResults) -> None:
        """Take a whole-book run as the cached state (nothing to keep here)."""

    def on_marks(self, inst: InstrumentTable, underlyings: tuple[str, ...] | None) -> None:
        """Contracts of ``underlyings`` (``None``: all) were re-marked."""

    def tick(
        self,
        book: LiveBook,
        inst: InstrumentTable,
        snapshot: MarketSnapshot,
        asset: str,
        accounts: IntArray,
    ) -> AccountBatch:
        """Re-margin after a tick of ``asset``: ``accounts`` are every account it touched."""
        return self.margin(book, gather(book, accounts), inst, snapshot)

    def whatif(
        self, book: LiveBook, sub: SubBook, inst: InstrumentTable, snapshot: MarketSnapshot
    ) -> AccountBatch:
        """Margin a hypothetical state of some accounts (a pre-trade check; nothing cached)."""
        return self.margin(book, sub, inst, snapshot, commit=False)

    def forget(self, accounts: IntArray) -> None:
        """Drop cached state of ``accounts`` (their positions changed outside :meth:`margin`)."""

    def commit_last(self, book: LiveBook, local: IntArray, accounts: IntArray) -> None:
        """Keep the last uncommitted :meth:`margin` of sub-book accounts ``local``.

        They become the live state of global ``accounts`` (a pre-trade check whose trades
        were accepted).
        """


#: Parts (threads) a big tick or sweep is split into: one per core, at most two (the benchmark
#: machine's). NumPy's and SciPy's loops release the GIL, so the parts' arithmetic overlaps.
_PARTS = max(1, min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1))
#: Fewest groups or accounts per part.
_PART_MIN = 8192

_T = TypeVar("_T")
_R = TypeVar("_R")
_pool: tuple[int, ThreadPoolExecutor] | None = None
_pool_lock = threading.Lock()


def _workers() -> ThreadPoolExecutor:
    """The kernels' worker threads (one pool per process: a fork gets its own)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(1, thread_name_prefix="crossmargin-kernel"))
        return _pool[1]


def _parallel(fn: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    """``[fn(x) for x in items]``, the first in this thread and the others in the workers.

    Returns only when every call has ended (they write the kernel's arrays); the first
    exception is raised.
    """
    if len(items) <= 1:
        return [fn(x) for x in items]
    pool = _workers()
    futures = [pool.submit(fn, x) for x in items[1:]]
    try:
        first = fn(items[0])
    finally:
        wait(futures)
    return [first, *(f.result() for f in futures)]


#: The per-account arrays of an :class:`AccountBatch` and their types.
_BATCH_ARRAYS = (
    *((f, np.float64) for f in ("equity", "m_equity", "im", "mm", "ratio", "collateral", "upnl")),
    *((f, np.int64) for f in ("status", "worst_und", "worst_cls", "worst_index")),
    ("worst_loss", np.float64),
)
#: Recombination layouts kept (a venue's ticking underlyings, in parts; ~40 bytes per group).
_RECOMBINATIONS = 8
#: Pre-trade group layouts kept (a few hundred small arrays).
_WHATIF_LAYOUTS = 256

_GROUP_FIELDS = (
    "scan",
    "delta",
    "delta_notional",
    "basis",
    "delta_shock",
    "price_risk",
    "scan_range",
    "short_option_minimum",
)


class PortfolioKernel(AccountKernel):
    """The ``portfolio`` model with group-level caching (module docstring)."""

    group_level = True

    def __init__(self, config: RiskConfig) -> None:
        super().__init__("portfolio", config)
        assert isinstance(self.model, PortfolioMargin)
        self.pm: PortfolioMargin = self.model
        self.unit: FloatArray | None = None
        self.groups = _group_table()
        self.lookup = np.full((16, 4), -1, np.int64)
        self.cv = np.zeros(16)
        self.cv_mm = np.zeros(16)
        self.fx = np.ones(16)
        self._shell: tuple[int, int, Book] | None = None
        self._ccy: tuple[IntArray, list[str]] = (np.zeros(0, np.int64), [])
        self._ccy_of: list[str] | None = None
        self._risk: tuple[GroupRisk, GroupMatrix] | None = None
        self._pending: tuple[ResolvedBook, tuple[GroupRisk, GroupMatrix] | None] | None = None
        self._slices: dict[int, _Slice] = {}
        #: Bumped whenever ``lookup`` changes (caches of group rows are then stale).
        self._lk_version = 0
        #: Row layouts of recent recombinations (one per ticking underlying's holder set).
        self._recomb: list[_Recombination] = []
        #: Group layouts of recent pre-trade checks, by their positions (see ``_whatif_layout``).
        self._whatif_layouts: dict[tuple[int, int, bytes, bytes], GroupMatrix] = {}
        #: Asset prices and haircuts of the last pre-trade check that moved cash (see
        #: ``_whatif_prices``).
        self._whatif_ap: tuple[MarketSnapshot, int, bytes, AssetPrices] | None = None
        #: Parts (threads) a tick's or sweep's groups and accounts are split into, and the
        #: fewest groups or accounts per part (below, fewer parts: a hand-off costs ~0.1 ms).
        self.parts = _PARTS
        self.part_min = _PART_MIN

    # -- risk arrays ---------------------------------------------------------------------------
    def on_marks(self, inst: InstrumentTable, underlyings: tuple[str, ...] | None) -> None:
        """Re-value the risk arrays of the re-marked contracts (in parts when many)."""
        S = self.pm.scenarios(inst.classes).n_scenarios
        if (
            underlyings is None
            or self.unit is None
            or self.unit.shape[1] != S
            or self.unit.shape[0] > inst.n
        ):
            rows = np.arange(inst.n, dtype=np.int64)
            self.unit = unit = np.empty((inst.n, S))
        else:
            if self.unit.shape[0] < inst.n:
                self.unit = grow_rows(self.unit, inst.n)[: inst.n]
            rows, unit = inst.rows_of(underlyings), self.unit
        # each contract's arrays are its own: the parts' rows are those of one call
        cut = self._cuts(rows.size, S)

        def part(lo_hi: tuple[int, int]) -> None:
            r = rows[lo_hi[0] : lo_hi[1]]
            if r.size:
                unit[r] = self.pm.risk_arrays(inst, only=r)

        _parallel(part, list(pairwise(cut)))

    def _units(self, inst: InstrumentTable) -> FloatArray:
        if self.unit is None or self.unit.shape[0] != inst.n:
            self.on_marks(inst, None)
        assert self.unit is not None
        return self.unit

    # -- any set of accounts -------------------------------------------------------------------
    def run(self, rb: ResolvedBook) -> AccountResults:
        """Portfolio margin with the cached risk arrays (same numbers as the model alone)."""
        if self.pm.has_addons:
            return assess(rb, self.pm.compute(rb))
        layout = self.pm.layout(rb)
        risk = self.pm.risk_of(rb.instruments, layout, rb.positions, self._units(rb.instruments))
        self._risk = (risk, layout)  # kept for _store, right after
        return assess(rb, self.pm.combine(rb, risk, groups=layout.groups))

    def keep(self, book: LiveBook, rb: ResolvedBook, accounts: IntArray, *, commit: bool) -> None:
        """See :meth:`AccountKernel.keep`: the groups of a committed run are cached."""
        computed, self._risk = self._risk, None
        if commit:
            if computed is not None:
                self._store(book, rb, computed, accounts)
        else:
            self._pending = (rb, computed)

    def commit_last(self, book: LiveBook, local: IntArray, accounts: IntArray) -> None:
        """See :meth:`AccountKernel.commit_last`."""
        pending, self._pending = self._pending, None
        if pending is None or pending[1] is None or local.size == 0:
            return
        rb, computed = pending
        assert computed is not None
        glob = np.full(rb.n_accounts, -1, np.int64)
        glob[local] = accounts
        self._store(book, rb, computed, glob)

    def adopt(self, book: LiveBook, rb: ResolvedBook, res: AccountResults) -> None:
        """Rebuild every cached group from a whole-book run."""
        computed, self._risk = self._risk, None
        self.groups.keep(np.zeros(0, np.int64))
        self.lookup[:] = -1
        self._lk_version += 1
        if computed is not None:
            self._store(book, rb, computed, np.arange(book.n_accounts, dtype=np.int64))

    def forget(self, accounts: IntArray) -> None:
        """Drop the cached groups of ``accounts``."""
        if accounts.size and self.lookup.shape[0]:
            self.lookup[accounts[accounts < self.lookup.shape[0]]] = -1
            self._lk_version += 1

    def _ensure(self, n_acc: int, n_und: int) -> None:
        if n_acc > self.lookup.shape[0] or n_und > self.lookup.shape[1]:
            lk = np.full(
                (max(n_acc, 2 * self.lookup.shape[0]), max(n_und, self.lookup.shape[1])),
                -1,
                np.int64,
            )
            lk[: self.lookup.shape[0], : self.lookup.shape[1]] = self.lookup
            self.lookup = lk
            self._lk_version += 1
        self.cv = grow_rows(self.cv, n_acc)
        self.cv_mm = grow_rows(self.cv_mm, n_acc)
        self.fx = grow_rows(self.fx, n_acc, 1.0)

    def _store(
        self,
        book: LiveBook,
        rb: ResolvedBook,
        computed: tuple[GroupRisk, GroupMatrix],
        accounts: IntArray,
    ) -> None:
        """Cache the groups and collateral of the sub-book ``rb``'s accounts.

        Local account ``i`` is stored as global ``accounts[i]`` (−1: left out).
        """
        risk, layout = computed
        inst = rb.instruments
        self._ensure(book.n_accounts, len(inst.underlyings))
        n = rb.n_accounts
        mine = accounts >= 0
        acc = accounts[mine]
        old = self.lookup[acc]
        keep = np.zeros((n, old.shape[1]), np.bool_)
        keep[risk.account, risk.und] = True
        self.lookup[acc] = np.where(keep[mine], old, -1)
        self._lk_version += 1
        col = rb.collateral
        self.cv[acc] = col.per_account(col.value_im, n)[mine]
        self.cv_mm[acc] = col.per_account(col.value_mm, n)[mine]
        self.fx[acc] = rb.fx[mine]
        mtm = sum_by(layout.groups.of_position, rb.positions.mtm, risk.n)
        g = np.flatnonzero(mine[risk.account])
        sel = _take_risk(risk, g)
        self._write(accounts[sel.account], sel, mtm[g])

    def _write(
        self, g_acc: IntArray, risk: GroupRisk, mtm: FloatArray, rows: IntArray | None = None
    ) -> IntArray | None:
        """Store group results; returns their rows (``None`` when rows were renumbered).

        ``rows``: the rows of these groups, when the caller knows them (a tick's slice).
        """
        g = self.groups
        known = rows is not None
        if rows is None:
            rows = self.lookup[g_acc, risk.und]
            new = rows < 0
            if new.any():
                start = self.groups.append(int(new.sum()))
                rows[new] = np.arange(start, self.groups.n, dtype=np.int64)
                self.lookup[g_acc[new], risk.und[new]] = rows[new]
                self._lk_version += 1
        if not known:  # known rows already hold these groups (their keys and class)
            g["account"][rows] = g_acc
            g["und"][rows] = risk.und
            g["cls"][rows] = risk.cls
        g["worst"][rows] = risk.worst
        g["mtm"][rows] = mtm
        for f in _GROUP_FIELDS:
            g[f][rows] = getattr(risk, f)
        if not known and g.n > 64 and g.n > 2 * max(int((self.lookup >= 0).sum()), 1):
            self._compact_groups()
            return None
        return rows

    def _compact_groups(self) -> None:
        live = self.lookup >= 0
        rows = self.lookup[live]
        order = np.sort(rows)
        self.groups.keep(order)
        remap = np.full(max(int(rows.max()) + 1, 1), -1, np.int64)
        remap[order] = np.arange(order.size, dtype=np.int64)
        self.lookup[live] = remap[rows]
        self._lk_version += 1

    # -- the sweep: every group from scratch ----------------------------------------------------
    def sweep(
        self, book: LiveBook, inst: InstrumentTable, snapshot: MarketSnapshot, accounts: IntArray
    ) -> AccountBatch:
        """See :meth:`AccountKernel.sweep`.

        Over every account (none frozen), without issue-3 add-ons: each underlying's group
        layout is rebuilt from the live positions, each group recomputed from its positions
        and the marks, each account's collateral revalued from its balances, and every
        account recombined — nothing is read from the cached groups, slices or collateral
        values, which the fresh ones replace (an error leaves the cache as it was). Anything
        else takes the generic path (each account's sub-book through the model).
        """
        if self.pm.has_addons or accounts.size != book.n_accounts:
            return super().sweep(book, inst, snapshot, accounts)
        self._ensure(book.n_accounts, len(inst.underlyings))
        saved = (self.groups, self.lookup, self._slices, self.cv, self.cv_mm, self.fx)
        self.groups = _group_table()
        self.lookup = np.full_like(self.lookup, -1)
        self._slices = {}
        self.cv, self.cv_mm, self.fx = self.cv.copy(), self.cv_mm.copy(), self.fx.copy()
        self._lk_version += 1
        try:
            for und in range(len(inst.underlyings)):
                self._tick_groups(book, inst, und)
            return self._recombine(
                book, inst, accounts, lambda acc: self.value_collateral(book, snapshot, acc)
            )
        except BaseException:
            self.groups, self.lookup, self._slices, self.cv, self.cv_mm, self.fx = saved
            self._lk_version += 1
            raise

    # -- a tick: the groups of one underlying ---------------------------------------------------
    def tick(
        self,
        book: LiveBook,
        inst: InstrumentTable,
        snapshot: MarketSnapshot,
        asset: str,
        accounts: IntArray,
    ) -> AccountBatch:
        """Recompute the groups of underlying ``asset`` and recombine ``accounts``.

        See the module docstring; collateral in (or valued through) ``asset`` is revalued.
        """
        if self.pm.has_addons:
            return super().tick(book, inst, snapshot, asset, accounts)
        self._ensure(book.n_accounts, len(inst.underlyings))
        if asset in inst.underlyings:
            self._tick_groups(book, inst, inst.underlyings.index(asset))
        return self.recombine(book, inst, snapshot, accounts, revalue=asset)

    def _cuts(self, n: int, weight: int = 1) -> list[int]:
        """Bounds ``[0, …, n]`` of the parts ``n`` rows are split into (``weight``: work per row).

        One part per core while each has at least ``part_min`` units of work.
        """
        k = max(1, min(self.parts, n * weight // max(self.part_min, 1)))
        return [(i * n) // k for i in range(k + 1)]

    def _tick_groups(self, book: LiveBook, inst: InstrumentTable, und: int) -> None:
        """Recompute and store the groups of underlying ``und``, its parts in parallel.

        A part whose rows in the group table are known writes them in its thread (disjoint
        rows); the others are written here, after, since they may add rows.
        """
        sl = self._slice(book, inst, und)
        if sl is None:
            return
        version = int(book.qty_version[und])
        unit = self._units(inst)[sl.cols]
        lk = self._lk_version

        def compute(part: _Part) -> tuple[GroupRisk, FloatArray] | None:
            layout = part.ready(book, version)
            assert part.m_quantity is not None and part.m_short is not None
            agg = GroupAggregates.of_contracts(
                inst, layout, part.m_quantity, part.m_short, unit, sl.cols
            )
            risk = self.pm.risk_from(inst, layout.groups, agg)
            mtm = _part_mtm(inst, sl.cols, part)
            if part.rows_version == lk and part.group_rows is not None:
                self._write(risk.account, risk, mtm, part.group_rows)
                return None
            return risk, mtm

        done = _parallel(compute, sl.parts)
        rows = [
            p.group_rows if out is None else self._write(out[0].account, *out)
            for p, out in zip(sl.parts, done, strict=True)
        ]
        valid = all(r is not None for r in rows)  # none renumbered the table (compaction)
        for p, r in zip(sl.parts, rows, strict=True):
            p.group_rows = r
            p.rows_version = self._lk_version if valid else -1

    def _slice(self, book: LiveBook, inst: InstrumentTable, und: int) -> _Slice | None:
        """The cached layout of underlying ``und``'s positions (rebuilt when rows appeared)."""
        key = (book.layout, int(book.und_version[und]), inst.n)
        sl = self._slices.get(und)
        if sl is not None and sl.key == key:
            return sl
        p = book.pos
        rows = np.flatnonzero(p["alive"] & (p["und"] == und)).astype(np.int64)
        if rows.size == 0:
            self._slices.pop(und, None)
            return None
        cols = inst.rows_of((inst.underlyings[und],))
        col_of = np.full(inst.n, -1, np.int64)
        col_of[cols] = np.arange(cols.size, dtype=np.int64)
        # one group per holder: (account, und) keys of one underlying sort as the accounts
        acc = p["account"][rows]
        held = np.bincount(acc, minlength=book.n_accounts) > 0
        holders = np.flatnonzero(held).astype(np.int64)
        of_position = (np.cumsum(held) - 1)[acc].astype(np.int64)
        column = col_of[p["instrument"][rows]]
        n_und = max(len(inst.underlyings), 1)
        cut = self._cuts(holders.size)
        parts = []
        for lo, hi in pairwise(cut):
            mine = (of_position >= lo) & (of_position < hi) if len(cut) > 2 else slice(None)
            groups = Groups(
                account=holders[lo:hi],
                und=np.full(hi - lo, und, np.int64),
                of_position=of_position[mine] - lo,
                n_und=n_und,
            )
            parts.append(_Part(rows[mine], groups, column[mine], int(cols.size)))
        sl = self._slices[und] = _Slice(key, cols, tuple(parts))
        return sl

    def recombine(
        self,
        book: LiveBook,
        inst: InstrumentTable,
        snapshot: MarketSnapshot,
        accounts: IntArray,
        *,
        revalue: str | None = None,
    ) -> AccountBatch:
        """Health of ``accounts`` from their cached groups (credits and floors recombined).

        Accounts holding collateral in, or reporting in, the ticked underlying ``revalue`` (all
        of ``accounts`` when it is an asset of theirs) get their collateral and FX revalued.
        """
        asset = revalue
        return self._recombine(
            book,
            inst,
            accounts,
            None
            if asset is None
            else lambda acc: self._revalue_collateral(book, snapshot, acc, asset),
        )

    def _recombine(
        self,
        book: LiveBook,
        inst: InstrumentTable,
        accounts: IntArray,
        collateral: Callable[[IntArray], None] | None,
    ) -> AccountBatch:
        """:meth:`recombine`, the accounts in parts (in parallel); ``collateral(part)`` first.

        Every account's groups are all in the table, so each part is recombined alone, and
        its numbers are those of a recombination of all of ``accounts`` bit for bit.
        """
        cut = self._cuts(accounts.size)
        k = len(cut) - 1
        chunks = [accounts[lo:hi] for lo, hi in pairwise(cut)]
        n_und = len(inst.underlyings)
        rcs = [self._recombination(c, n_und) for c in chunks]  # the shared caches: here
        self._currency_codes(book)

        out = {f: np.empty(accounts.size, t) for f, t in _BATCH_ARRAYS} if k > 1 else {}

        def part(i: int) -> AccountBatch:
            if collateral is not None:
                collateral(chunks[i])
            b = self._health_of(book, inst, chunks[i], rcs[i])
            for f in out:  # the parts' rows in place (no concatenation after)
                out[f][cut[i] : cut[i + 1]] = getattr(b, f)
            return b

        done = _parallel(part, list(range(k)))
        if k == 1:
            return done[0]
        return AccountBatch(
            accounts=accounts,
            **out,
            scenarios=done[0].scenarios,
            group_names=done[0].group_names,
        )

    def _health_of(
        self, book: LiveBook, inst: InstrumentTable, accounts: IntArray, rc: _Recombination
    ) -> AccountBatch:
        """Health of ``accounts`` from the cached groups of their recombination layout."""
        rows = rc.rows
        g = self.groups
        risk = GroupRisk(
            account=rc.account,
            und=rc.und,
            cls=rc.cls,
            scan=g["scan"][rows],
            worst=g["worst"][rows],
            delta=g["delta"][rows],
            delta_notional=g["delta_notional"][rows],
            basis=g["basis"][rows],
            delta_shock=g["delta_shock"][rows],
            price_risk=g["price_risk"][rows],
            scan_range=rc.scan_range,
            short_option_minimum=g["short_option_minimum"][rows],
            pnl=None,
        )
        return self._health(book, inst, accounts, risk, rc.table, g["mtm"][rows])

    def _health(
        self,
        book: LiveBook,
        inst: InstrumentTable,
        accounts: IntArray,
        risk: GroupRisk,
        table: IntArray,
        g_mtm: FloatArray,
        values: tuple[FloatArray, FloatArray] | None = None,
    ) -> AccountBatch:
        """Health of ``accounts`` from all of their groups (local account numbers in ``risk``).

        Credits and floors across the groups, requirement and mark-to-market sums, collateral
        value (``values``: IM and MM, else the cached ones) and FX from the cache.
        """
        cv, cv_mm = values if values is not None else (self.cv[accounts], self.cv_mm[accounts])
        k = int(accounts.shape[0])
        req = self.pm.requirements(risk, table, inst.underlyings)
        im_raw = sum_by(risk.account, req.im, k)
        mtm = sum_by(risk.account, g_mtm, k)
        fx = self.fx[accounts]
        im = im_raw * fx
        mm = self.config.mm_factor * im_raw * fx
        equity = cv * fx + mtm * fx
        m_equity = cv_mm * fx + mtm * fx
        bad = ~(np.isfinite(im) & np.isfinite(equity) & np.isfinite(m_equity))
        if bad.any():
            i = int(accounts[np.argmax(bad)])
            raise ModelError(
                f"margin of account {book.accounts[i]!r} under 'portfolio' is not a finite number",
                path=f"accounts.{book.accounts[i]}",
            )
        ratio, status = health_codes(equity, m_equity, im, mm)
        wu, wc, wi, wl = _worst_of_table(table, risk)
        return AccountBatch(
            accounts=accounts,
            equity=equity,
            m_equity=m_equity,
            im=im,
            mm=mm,
            ratio=ratio,
            status=status,
            collateral=cv * fx,
            upnl=mtm * fx,
            worst_und=wu,
            worst_cls=wc,
            worst_index=wi,
            worst_loss=wl,
            scenarios=self.pm.scenarios(inst.classes),
            group_names=inst.underlyings,
        )

    # -- a pre-trade check: the traded underlyings' groups only ---------------------------------
    def whatif(
        self, book: LiveBook, sub: SubBook, inst: InstrumentTable, snapshot: MarketSnapshot
    ) -> AccountBatch:
        """See :meth:`AccountKernel.whatif`.

        For one account whose balances the trades leave unchanged, only the groups of the
        underlyings whose positions changed are computed (their positions marked, aggregated
        and risked, :meth:`~crossmargin.margin.portfolio.PortfolioMargin.risk_of`); the other
        groups, the collateral value and FX come from the cache and everything is recombined
        as a tick recombines. Anything else takes the generic path.
        """
        fast = self._whatif_one(book, sub, inst, snapshot) if sub.n == 1 else None
        return fast if fast is not None else super().whatif(book, sub, inst, snapshot)

    def _whatif_one(
        self, book: LiveBook, sub: SubBook, inst: InstrumentTable, snapshot: MarketSnapshot
    ) -> AccountBatch | None:
        a = int(sub.accounts[0])
        n_und = len(inst.underlyings)
        if (
            self.pm.has_addons
            or a < 0
            or a >= self.lookup.shape[0]
            or n_und > self.lookup.shape[1]
            or self.unit is None
            or self.unit.shape[0] != inst.n
        ):
            return None
        bal = book.balance_view()[a]
        hyp = np.zeros_like(bal)
        hyp[sub.col_asset] = sub.col_amount
        values = None
        if not np.array_equal(bal, hyp):  # cash moved (a premium, realised P&L)
            if self.config.dynamic_haircuts.enabled:
                return None
            values = self._static_values(
                book, snapshot, hyp[None, :], self._whatif_prices(book, snapshot, hyp != 0)
            )
        h = sub.hold
        p = book.pos
        row = np.maximum(h.first_row, 0)
        changed = (
            (h.first_row < 0)
            | (h.quantity != p["quantity"][row])
            | (h.cost_known != p["cost_known"][row])
            | (h.qty_unknown != p["qty_unknown"][row])
        )
        h_und = inst.und[h.instrument]
        fresh_m = np.zeros(n_und, np.bool_)
        fresh_m[h_und[changed]] = True
        kept_m = np.zeros(n_und, np.bool_)
        kept_m[h_und] = True
        kept_m &= ~fresh_m
        lk = self.lookup[a, :n_und]
        if not fresh_m.any() or (lk[kept_m] < 0).any():
            return None
        pos = mark_positions(h.take(np.flatnonzero(fresh_m[h_und])), inst, inst)
        layout = self._whatif_layout(pos, inst)
        fresh = self.pm.risk_of(inst, layout, pos, self.unit)
        kept = np.flatnonzero(kept_m)
        rows = lk[kept]
        order = np.argsort(np.concatenate([kept, fresh.und]), kind="stable")
        g = self.groups
        risk = GroupRisk(
            account=np.zeros(order.size, np.int64),
            und=np.concatenate([kept, fresh.und])[order],
            pnl=None,
            **{
                f: np.concatenate([g[f][rows], getattr(fresh, f)])[order]
                for f in ("cls", "worst", "scan_range", *_GROUP_FIELDS)
            },
        )
        g_mtm = np.concatenate(
            [g["mtm"][rows], sum_by(layout.groups.of_position, pos.mtm, fresh.n)]
        )[order]
        table = np.full((1, n_und), -1, np.int64)
        table[0, risk.und] = np.arange(risk.n, dtype=np.int64)
        return self._health(book, inst, sub.accounts, risk, table, g_mtm, values)

    def _whatif_layout(self, pos: Holdings, inst: InstrumentTable) -> GroupMatrix:
        """The group layout of a pre-trade check's positions (kept for the next checks).

        A layout depends only on which contracts the positions are in (and on the contract
        rows' underlyings, fixed once a row exists), not on quantities or marks: an account
        checked again with the same set of positions — a trade adding to or reducing a held
        position — reuses it.
        """
        key = (inst.n, len(inst.underlyings), pos.account.tobytes(), pos.instrument.tobytes())
        layout = self._whatif_layouts.pop(key, None)
        if layout is None:
            layout = GroupMatrix.build(group_positions(pos, inst), pos.instrument, inst.n)
            if len(self._whatif_layouts) >= _WHATIF_LAYOUTS:
                del self._whatif_layouts[next(iter(self._whatif_layouts))]
        self._whatif_layouts[key] = layout  # most recent last
        return layout

    def _recombination(self, accounts: IntArray, n_und: int) -> _Recombination:
        """The group rows of ``accounts`` (cached while the group table keeps its rows)."""
        self._recomb = [rc for rc in self._recomb if rc.version == self._lk_version]
        for rc in self._recomb:
            if rc.table.shape[1] == n_und and np.array_equal(rc.accounts, accounts):
                return rc
        lk = self.lookup[accounts, :n_und]
        loc, und = np.nonzero(lk >= 0)
        rows = lk[loc, und]
        table = np.full(lk.shape, -1, np.int64)
        table[loc, und] = np.arange(loc.size, dtype=np.int64)
        g = self.groups
        rc = _Recombination(
            self._lk_version,
            accounts.copy(),
            loc.astype(np.int64),
            und.astype(np.int64),
            rows,
            table,
            g["cls"][rows],
            g["scan_range"][rows],
        )
        self._recomb = [rc, *self._recomb[: _RECOMBINATIONS - 1]]
        return rc

    def _shell_of(self, book: LiveBook) -> Book:
        """A position-less book of the live accounts (all a group computation reads of it)."""
        key = (book.n_accounts, book.n_contracts)
        if self._shell is None or self._shell[:2] != key:
            e = np.zeros(0, np.int64)
            shell = Book(
                accounts=tuple(book.accounts),
                base_currency=tuple(book.base_currency),
                contracts=book.terms.contracts,
                pos_account=e,
                pos_instrument=e,
                pos_quantity=np.zeros(0),
                pos_entry=np.zeros(0),
                assets=(),
                col_account=e,
                col_asset=e,
                col_amount=np.zeros(0),
            )
            self._shell = (*key, shell)
        return self._shell[2]

    def _revalue_collateral(
        self, book: LiveBook, snapshot: MarketSnapshot, accounts: IntArray, asset: str
    ) -> None:
        """Collateral value and FX of the accounts with a balance in (or based in) ``asset``."""
        spec = self.config.oracles.assets
        related = {asset} | {s for s, o in spec.items() if o.underlying == asset}
        cols = [book.asset_index[a] for a in related if a in book.asset_index]
        bal = book.balance_view()
        touched = np.zeros(accounts.shape[0], np.bool_)
        for k in cols:
            touched |= bal[accounts, k] != 0
        based = book.based_in(asset)
        if based.size:
            touched |= np.isin(accounts, based)
        if touched.any():
            self.value_collateral(book, snapshot, accounts[touched])

    def _whatif_prices(
        self, book: LiveBook, snapshot: MarketSnapshot, used: BoolArray
    ) -> AssetPrices:
        """:func:`asset_prices` of the ``used`` assets, kept while the snapshot is the same.

        Prices and haircuts depend only on the snapshot, the configuration and which assets are
        used: pre-trade checks of one account between two ticks price its assets once.
        """
        key = used.tobytes()
        c = self._whatif_ap
        if c is not None and c[0] is snapshot and c[1] == len(book.assets) and c[2] == key:
            return c[3]
        ap = asset_prices(book.assets, used, snapshot, self.config)
        self._whatif_ap = (snapshot, len(book.assets), key, ap)
        return ap

    def _static_values(
        self,
        book: LiveBook,
        snapshot: MarketSnapshot,
        bal: FloatArray,
        ap: AssetPrices | None = None,
    ) -> tuple[FloatArray, FloatArray]:
        """Collateral value (IM, MM haircuts) of balance rows ``bal`` under per-asset haircuts.

        ``ap``: the prices of the assets used by ``bal`` (else priced here).
        """
        used = (bal != 0).any(axis=0)
        if ap is None:
            ap = asset_prices(book.assets, used, snapshot, self.config)
        cv = np.zeros(bal.shape[0])
        cv_mm = np.zeros(bal.shape[0])
        for k in np.flatnonzero(used).tolist():
            col_k = bal[:, k]
            held = col_k != 0
            cv += np.where(held, haircut_value(col_k, ap.price[k], ap.haircut_im[k]), 0.0)
            cv_mm += np.where(held, haircut_value(col_k, ap.price[k], ap.haircut_mm[k]), 0.0)
        return cv, cv_mm

    def value_collateral(self, book: LiveBook, snapshot: MarketSnapshot, acc: IntArray) -> None:
        """Cache the collateral value (IM and MM haircuts) and FX of accounts ``acc``.

        Static and oracle haircuts are per asset, so each balance is valued with its asset's
        price and haircuts (:func:`~crossmargin.collateral.valuation.asset_prices`), summed
        over assets in order as :func:`~crossmargin.collateral.valuation.value_collateral`
        sums them; dynamic haircuts (per balance) go through ``value_collateral`` itself.
        """
        bal = book.balance_view()[acc]
        if self.config.dynamic_haircuts.enabled:
            a, s = np.nonzero(bal)
            empty = np.zeros(0, np.int64)
            sub = SubBook(
                acc,
                Holdings(
                    empty, empty, np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0, bool), empty
                ),
                a.astype(np.int64),
                s.astype(np.int64),
                bal[a, s],
                tuple(book.accounts[i] for i in acc.tolist()),
                tuple(book.base_currency[i] for i in acc.tolist()),
            )
            bk = sub_book_shell(book, sub)
            col = value_collateral(bk, snapshot, self.config)
            self.cv[acc] = col.per_account(col.value_im, acc.size)
            self.cv_mm[acc] = col.per_account(col.value_mm, acc.size)
        else:
            self.cv[acc], self.cv_mm[acc] = self._static_values(book, snapshot, bal)
        code, names = self._currency_codes(book)
        code = code[acc]
        present = np.flatnonzero(np.bincount(code, minlength=len(names)))
        rates = fx_rates({names[c] for c in present.tolist()}, snapshot, self.config)
        self.fx[acc] = np.asarray([rates.get(c, np.nan) for c in names], np.float64)[code]

    def _currency_codes(self, book: LiveBook) -> tuple[IntArray, list[str]]:
        """Each account's base currency as a code into a list of names (kept as accounts open)."""
        code, names = self._ccy
        n = book.n_accounts
        if self._ccy_of is not book.base_currency:  # another book: start again
            code, names, self._ccy_of = np.zeros(0, np.int64), [], book.base_currency
        if code.size < n:
            new = book.base_currency[code.size : n]
            for c in dict.fromkeys(new):
                if c not in names:
                    names.append(c)
            ix = {c: i for i, c in enumerate(names)}
            code = np.concatenate([code, np.asarray([ix[c] for c in new], np.int64)])
            self._ccy = (code, names)
        return code, names


@dataclass(slots=True, eq=False)
class _Part:
    """A contiguous run of an underlying's groups (holders): positions, layout, matrices.

    The layout is built on first use (in the part's thread); the quantities, costs and their
    group matrices are re-read when a position of the underlying changed (``qty_key``); the
    group rows of the kernel's table are valid while its lookup keeps ``rows_version``.
    """

    rows: IntArray
    groups: Groups
    column: IntArray
    n_cols: int
    layout: GroupMatrix | None = None
    qty_key: int = -1
    m_quantity: sparse.csr_matrix | None = None
    m_cost: sparse.csr_matrix | None = None
    m_unknown: sparse.csr_matrix | None = None
    m_short: sparse.csr_matrix | None = None
    group_rows: IntArray | None = None
    rows_version: int = -1

    def ready(self, book: LiveBook, version: int) -> GroupMatrix:
        """The layout, with the quantity matrices of the underlying's ``version``."""
        lay = self.layout
        if lay is None:
            lay = self.layout = GroupMatrix.build(self.groups, self.column, self.n_cols)
        if version != self.qty_key:
            p = book.pos
            q = p["quantity"][self.rows]
            self.m_quantity = _matrix(lay, q)
            self.m_short = _matrix(lay, np.where(q < 0, -q, 0.0))
            self.m_cost = _matrix(lay, p["cost_known"][self.rows])
            qu = p["qty_unknown"][self.rows]
            self.m_unknown = _matrix(lay, qu) if qu.any() else None
            self.qty_key = version
        return lay


@dataclass(slots=True, eq=False)
class _Slice:
    """An underlying's positions (live book rows) and contract columns, in parts.

    The parts split the holders into contiguous runs of accounts (one per core on a big
    book): each part's groups are computed alone, in its own thread. The whole is rebuilt
    when rows appear (``key``).
    """

    key: tuple[int, int, int]
    cols: IntArray
    parts: tuple[_Part, ...]


def _matrix(layout: GroupMatrix, values: FloatArray) -> sparse.csr_matrix:
    """The layout's matrix of per-position ``values``, its own (the structure is shared)."""
    t = layout.template
    data = np.take(np.asarray(values, dtype=np.float64), layout.order)
    return sparse.csr_matrix((data, t.indices, t.indptr), shape=t.shape, copy=False)


def _part_mtm(inst: InstrumentTable, c: IntArray, part: _Part) -> FloatArray:
    """Mark-to-market per group of a part (columns ``c``): products with per-contract numbers.

    Linear: ``mult (q F − cost − q_u F)``; inverse: ``mult (cost + q_u/F − q/F) S``; options:
    ``mult q V`` (:mod:`crossmargin.resolve.positions`).
    """
    mult, fwd, spot = inst.mult[c], inst.fwd[c], inst.spot[c]
    opt = inst.kind[c] == KIND_OPTION
    inv = inst.inverse[c] & ~opt
    lin = ~inv & ~opt
    a = np.where(opt, mult * inst.value[c], np.where(inv, -mult * spot / fwd, mult * fwd))
    b = np.where(opt, 0.0, np.where(inv, mult * spot, -mult))
    assert part.m_quantity is not None and part.m_cost is not None
    mtm = np.asarray(part.m_quantity @ a, dtype=np.float64)
    mtm += part.m_cost @ b
    if part.m_unknown is not None:
        cu = np.where(opt, 0.0, np.where(inv, mult * spot / fwd, -mult * fwd))
        mtm += part.m_unknown @ np.where(lin | inv, cu, 0.0)
    return mtm


@dataclass(frozen=True, slots=True, eq=False)
class _Recombination:
    """The groups of a set of accounts in the kernel's table (valid for one lookup version)."""

    version: int
    accounts: IntArray
    account: IntArray
    und: IntArray
    rows: IntArray
    table: IntArray
    cls: IntArray
    scan_range: FloatArray


def _group_table() -> Columns:
    """The kernel's per-group columns (empty)."""
    return Columns(
        {
            "account": np.int64,
            "und": np.int64,
            "cls": np.int64,
            "worst": np.int64,
            "mtm": np.float64,
            **dict.fromkeys(_GROUP_FIELDS, np.float64),
        }
    )


def _take_risk(risk: GroupRisk, idx: IntArray) -> GroupRisk:
    """Rows ``idx`` of group results."""
    out: GroupRisk = take_rows(risk, idx)
    return out


def _no_collateral() -> CollateralTable:
    e = np.zeros(0, np.int64)
    z = np.zeros(0)
    return CollateralTable((), e, e, z, z, z, z, z, z, z)


def make_kernel(model: str, config: RiskConfig) -> AccountKernel:
    """The kernel of ``model``: group-level for ``portfolio``, per account for the others."""
    if model == "portfolio":
        return PortfolioKernel(config)
    return AccountKernel(model, config)
