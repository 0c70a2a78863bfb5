"""Margin an in-memory resolved book on an executor: its accounts split, the results joined.

The seam behind ``margin_book(book, market, executor=...)``. The client has resolved the book
(one instrument table for all its contracts); :func:`margin_accounts`

1. ships what every slice shares — the snapshot, the configuration and the instrument table —
   to each worker once (:class:`SharedBook`; the ``var``/``es`` risk arrays of its contracts
   are then computed once per worker, not once per slice);
2. splits the accounts into contiguous ranges and ships each range's own rows (positions,
   net positions, collateral, FX) as one task;
3. margins each range under the model on a worker (the same ``compute`` a single process
   runs) and joins the per-range :class:`~crossmargin.margin.result.MarginBatch` objects back
   into one, account indices and position rows shifted to the whole book.

A model's requirement of an account depends on that account's positions and collateral and on
the shared tables only, so the joined batch equals the single-process one (bitwise, except
where a library sums in a different order over a block of accounts: within 1e-12 relative).
``detail`` results (scenario P&L, explain closures) are not shipped back: ``margin_book``
computes them in process.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar

import numpy as np

from crossmargin.collateral.table import CollateralTable
from crossmargin.config import RiskConfig
from crossmargin.errors import ModelError
from crossmargin.instruments.book import Book
from crossmargin.margin.base import get_model
from crossmargin.margin.result import AddOnRows, GroupTable, MarginBatch
from crossmargin.margin.var_engine import sharing_units
from crossmargin.market.fallbacks import MarketWarning
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.resolve import InstrumentTable, NetPositions, ResolvedBook
from crossmargin.scale.context import ShippedOnce
from crossmargin.scale.runs import TaskRunner, raise_first_failure
from crossmargin.scenarios.grid import ScenarioGrid, ScenarioSet

__all__ = [
    "SharedBook",
    "account_ranges",
    "join_batches",
    "margin_accounts",
    "merge_ordered",
    "take_accounts",
]

T = TypeVar("T")

#: Slices per worker (a little over one, so a slow worker does not hold the run back).
SLICES_PER_WORKER = 2


@dataclass(frozen=True, eq=False)
class SharedBook(ShippedOnce):
    """What every slice of a book shares (shipped once per worker).

    Its ``var``/``es`` risk arrays are computed once per worker
    (:meth:`~crossmargin.scale.context.ShippedOnce.risk_arrays`).
    """

    snapshot: MarketSnapshot
    config: RiskConfig
    instruments: InstrumentTable
    model: str
    warnings: tuple[MarketWarning, ...] = ()


@dataclass(frozen=True, slots=True)
class AccountSlice:
    """The rows of one range of accounts (shipped with its task)."""

    book: Book
    positions: NetPositions
    collateral: CollateralTable
    fx: np.ndarray


def account_ranges(n_accounts: int, n_slices: int) -> list[tuple[int, int]]:
    """``n_slices`` contiguous, near-equal ``[lo, hi)`` ranges covering the accounts."""
    k = max(1, min(n_slices, n_accounts))
    edges = np.linspace(0, n_accounts, k + 1).round().astype(np.int64)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]


def _take(table: Any, rows: np.ndarray, n: int, **override: Any) -> Any:
    """Rows ``rows`` of a struct-of-arrays dataclass (arrays of length ``n`` indexed)."""
    out: dict[str, Any] = {}
    for f in fields(table):
        if not f.init:
            continue
        v = getattr(table, f.name)
        if isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape[0] == n:
            out[f.name] = v[rows]
        else:
            out[f.name] = v
    out.update(override)
    return type(table)(**out)


def take_accounts(rb: ResolvedBook, lo: int, hi: int) -> AccountSlice:
    """The rows of accounts ``lo .. hi-1`` of a resolved book, renumbered from 0."""
    b = rb.book
    p_rows = np.flatnonzero((b.pos_account >= lo) & (b.pos_account < hi))
    c_rows = np.flatnonzero((b.col_account >= lo) & (b.col_account < hi))
    new_row = np.full(b.n_positions, -1, dtype=np.int64)
    new_row[p_rows] = np.arange(p_rows.size)
    book = Book(
        accounts=b.accounts[lo:hi],
        base_currency=b.base_currency[lo:hi],
        contracts=b.contracts,
        pos_account=b.pos_account[p_rows] - lo,
        pos_instrument=b.pos_instrument[p_rows],
        pos_quantity=b.pos_quantity[p_rows],
        pos_entry=b.pos_entry[p_rows],
        assets=b.assets,
        col_account=b.col_account[c_rows] - lo,
        col_asset=b.col_asset[c_rows],
        col_amount=b.col_amount[c_rows],
        pos_row=b.pos_row[p_rows] if b.pos_row is not None else p_rows,
        pos_prefix=b.pos_prefix[lo:hi] if b.pos_prefix is not None else None,
    )
    pos = rb.positions
    a, z = np.searchsorted(pos.account, [lo, hi])  # net positions are sorted by account
    net_rows = np.arange(a, z)
    net = _take(
        pos, net_rows, pos.n, account=pos.account[a:z] - lo, first_row=new_row[pos.first_row[a:z]]
    )
    col = rb.collateral
    n_col = int(col.account.shape[0])
    coll = _take(
        col,
        c_rows,
        n_col,
        account=col.account[c_rows] - lo,
        detail=None if col.detail is None else {k: v[c_rows] for k, v in col.detail.items()},
    )
    return AccountSlice(book, net, coll, rb.fx[lo:hi])


def margin_slice(shared: SharedBook, part: AccountSlice) -> MarginBatch:
    """Margin one range of accounts (a task function); explain closures are not returned."""
    rb = ResolvedBook(
        part.book,
        shared.snapshot,
        shared.config,
        shared.instruments,
        part.positions,
        part.collateral,
        part.fx,
        shared.warnings,
    )
    with sharing_units(shared.risk_arrays()):
        batch = get_model(shared.model, shared.config).compute(rb)
    return replace(batch, explain_extra=None, scenario_pnl=None)


def _same_scenarios(a: ScenarioSet, b: ScenarioSet) -> bool:
    return (
        a.classes == b.classes
        and all(x.kind == y.kind for x, y in zip(a.grids, b.grids, strict=True))
        and np.array_equal(a.spot_move, b.spot_move)
        and np.array_equal(a.vol_state, b.vol_state)
        and np.array_equal(a.weight, b.weight)
    )


def _join_scenarios(
    parts: Sequence[MarginBatch],
) -> tuple[ScenarioSet | None, np.ndarray | None]:
    sets = [p.scenarios for p in parts]
    classes = [p.scenario_class for p in parts]
    if all(s is None for s in sets):
        return None, None
    if any(c is None for c in classes) and any(c is not None for c in classes):
        raise ModelError("cannot join results: scenario classes on some slices only")
    first = next(s for s in sets if s is not None)
    if all(s is None or _same_scenarios(first, s) for s in sets):
        cls = None if classes[0] is None else np.concatenate([c for c in classes if c is not None])
        return first, cls
    # different scenario sets per slice: stack all their grids, shift each slice's classes
    names: list[str] = []
    grids: list[ScenarioGrid] = []
    shifted = []
    for s, c in zip(sets, classes, strict=True):
        off = len(names)
        if s is not None:
            names.extend(s.classes)
            grids.extend(s.grids)
        if c is not None:
            shifted.append(c + off)
    return ScenarioSet.stack(names, grids), (np.concatenate(shifted) if shifted else None)


def join_batches(
    parts: Sequence[MarginBatch], ranges: Sequence[tuple[int, int]], n_positions: Sequence[int]
) -> MarginBatch:
    """One batch from per-range batches (accounts and net-position rows shifted)."""
    first = parts[0]
    if any(p.model != first.model or p.liquidation_scope != first.liquidation_scope for p in parts):
        raise ModelError("cannot join results of different models")
    # groups: underlying labels unified by name
    names: dict[str, int] = {}
    und = []
    for p in parts:
        g = p.groups
        remap = np.asarray([names.setdefault(u, len(names)) for u in g.underlyings], dtype=np.int64)
        und.append(remap[g.und] if g.n else np.zeros(0, np.int64))
    groups = GroupTable(
        account=np.concatenate(
            [p.groups.account + lo for p, (lo, _) in zip(parts, ranges, strict=True)]
        ),
        und=np.concatenate(und),
        underlyings=tuple(names),
        im=np.concatenate([p.groups.im for p in parts]),
        mm=np.concatenate([p.groups.mm for p in parts]),
        scan=np.concatenate([p.groups.scan for p in parts]),
        worst=np.concatenate([p.groups.worst for p in parts]),
        delta=np.concatenate([p.groups.delta for p in parts]),
        delta_notional=np.concatenate([p.groups.delta_notional for p in parts]),
    )
    # add-ons: one row set per kind, in order of first appearance
    kinds: dict[tuple[str, str, str], list[tuple[AddOnRows, int]]] = {}
    for p, (lo, _) in zip(parts, ranges, strict=True):
        for rows in p.addons:
            kinds.setdefault((rows.name, rows.description, rows.pair), []).append((rows, lo))
    addons = tuple(
        AddOnRows(
            name=name,
            account=np.concatenate([r.account + lo for r, lo in rs]),
            label=tuple(x for r, _ in rs for x in r.label),
            amount=np.concatenate([r.amount for r, _ in rs]),
            description=desc,
            pair=pair,
        )
        for (name, desc, pair), rs in kinds.items()
    )
    scen, scen_class = _join_scenarios(parts)
    return MarginBatch(
        model=first.model,
        liquidation_scope=first.liquidation_scope,
        im=np.concatenate([p.im for p in parts]),
        mm=np.concatenate([p.mm for p in parts]),
        upnl_im=np.concatenate([p.upnl_im for p in parts]),
        upnl_mm=np.concatenate([p.upnl_mm for p in parts]),
        groups=groups,
        addons=addons,
        position_im=_join_rows([p.position_im for p in parts], n_positions),
        position_mm=_join_rows([p.position_mm for p in parts], n_positions),
        scenarios=scen,
        scenario_class=scen_class,
        warnings=merge_ordered([p.warnings for p in parts]),
    )


def merge_ordered(seqs: Sequence[Sequence[T]]) -> tuple[T, ...]:
    """The union of ``seqs`` in an order consistent with each of them.

    A model lists its warnings in a fixed order (e.g. by underlying); each slice lists those of
    its own accounts, a subsequence of the whole book's list. Every slice's order is kept (a
    topological order of "comes before" in some slice), ties by first appearance — which
    rebuilds the single-process order.
    """
    first: dict[T, int] = {}
    after: dict[T, list[T]] = {}
    indegree: dict[T, int] = {}
    for seq in seqs:
        for x in seq:
            if x not in first:
                first[x] = len(first)
                after[x], indegree[x] = [], 0
        for a, b in itertools.pairwise(dict.fromkeys(seq)):
            after[a].append(b)
            indegree[b] += 1
    ready = sorted((x for x in first if indegree[x] == 0), key=first.__getitem__)
    out: list[T] = []
    while ready:
        x = ready.pop(0)
        out.append(x)
        for y in after[x]:
            indegree[y] -= 1
            if indegree[y] == 0:
                ready.append(y)
        ready.sort(key=first.__getitem__)
    if len(out) < len(first):  # slices disagree on the order: first appearance decides
        out += sorted((x for x in first if x not in set(out)), key=first.__getitem__)
    return tuple(out)


def _join_rows(arrays: Sequence[np.ndarray | None], sizes: Sequence[int]) -> np.ndarray | None:
    if all(a is None for a in arrays):
        return None
    out = []
    for a, n in zip(arrays, sizes, strict=True):
        if a is None:
            if n:
                raise ModelError("cannot join results: per-position requirements on some slices")
            a = np.zeros(0)
        out.append(a)
    return np.concatenate(out)


def margin_accounts(
    executor: TaskRunner, rb: ResolvedBook, model: str, *, slices: int | None = None
) -> MarginBatch:
    """Margin ``rb`` under ``model`` on ``executor`` (module docstring).

    Raises
    ------
    CrossMarginError
        The model's own error for an account (unchanged), or
        :class:`~crossmargin.errors.ExecutionError` if a slice still fails after its retries.
    """
    get_model(model, rb.config)  # an unknown model fails before anything is shipped
    ranges = account_ranges(rb.n_accounts, slices or SLICES_PER_WORKER * executor.workers)
    if not ranges:
        return get_model(model, rb.config).compute(rb)
    shared = SharedBook(rb.snapshot, rb.config, rb.instruments, model, rb.warnings)
    items = {f"accounts-{lo}-{hi}": take_accounts(rb, lo, hi) for lo, hi in ranges}
    run = executor.run(margin_slice, shared, items, retries=1)
    if run.failures:
        raise_first_failure(run, list(items))
    parts = [run.values[k] for k in items]
    sizes = [items[k].positions.n for k in items]
    return join_batches(parts, ranges, sizes)
