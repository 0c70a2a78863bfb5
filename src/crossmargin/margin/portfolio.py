"""The ``portfolio`` model: full revaluation over a scenario grid per underlying, plus add-ons.

Per (account, underlying) group — SPAN's combined commodity:

1. **scan risk** = worst loss over the risk class's grid (spot × vol cells and dampened tails),
   floored at 0 (:mod:`crossmargin.scenarios.grid`, :mod:`crossmargin.risk.pnl`);
2. **basis / roll add-on**: every expiry bucket's net delta notional moved alone by
   ``max(min_move, annual_move × T)`` — ``Σ_e rate_e |D_e|`` (Deribit PM roll shock applied to net
   delta per expiry; perpetual/spot bucket at ``T = 0``). The scan moves all expiries together, so
   without it a calendar spread would be free;
3. **delta shock** for a very large net delta notional ``D``: ``|D| × min(max_shock,
   slope_per_million × (|D| − threshold) / 10⁶)`` above the threshold (Deribit PM delta shock);
4. **inter-commodity credit** between configured pairs (:mod:`crossmargin.margin.offsets`);
5. **short option minimum**: the group's requirement is at least
   ``rate × max(short call notional, short put notional)`` (SPAN SOM);

``IM_group = max(scan + basis + delta_shock − credit, SOM)``, ``IM = Σ_groups IM_group`` and
``MM = mm_factor × IM`` (0.8, Deribit PM). Collateral and equity are shared account-wide.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from crossmargin._arrays import sum_by
from crossmargin._typing import FloatArray, IntArray
from crossmargin.config import RiskConfig
from crossmargin.errors import ModelError
from crossmargin.margin.addons.basis import BASIS_DESCRIPTION, basis_cells, basis_of_cells
from crossmargin.margin.addons.portfolio_hook import portfolio_addons
from crossmargin.margin.batch import assemble_batch, group_labels
from crossmargin.margin.offsets import inter_commodity_credits
from crossmargin.margin.result import AddOnRows, MarginBatch
from crossmargin.resolve.book import ResolvedBook
from crossmargin.resolve.instruments import InstrumentTable
from crossmargin.resolve.positions import Holdings
from crossmargin.resolve.terms import KIND_OPTION
from crossmargin.risk.aggregate import GroupMatrix, Groups, group_positions, group_sum
from crossmargin.risk.pnl import grid_unit_pnl, scenario_set_of
from crossmargin.scenarios.grid import VOL_DOWN, VOL_UNCHANGED, VOL_UP, ScenarioSet

if TYPE_CHECKING:
    from scipy import sparse

__all__ = [
    "GroupAggregates",
    "GroupRequirements",
    "GroupRisk",
    "PortfolioMargin",
    "scenario_indices",
]


@functools.lru_cache(maxsize=64)
def scenario_indices(scen: ScenarioSet) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Per class: base cell, (0, vol up), (0, vol down) and each scenario's vol-paired cell.

    The paired cell has the same spot move and the opposite vol state (itself if none).
    Computed once per scenario set (:func:`~crossmargin.risk.pnl.scenario_set_of` shares them);
    the arrays are read-only.
    """
    n_cls, S = scen.spot_move.shape
    base = np.zeros(n_cls, np.int64)
    up0 = np.zeros(n_cls, np.int64)
    dn0 = np.zeros(n_cls, np.int64)
    pair = np.tile(np.arange(S), (n_cls, 1))
    for c, g in enumerate(scen.grids):
        std = [j for j in range(S) if g.kind[j] == "standard"]
        for j in std:
            if g.spot_move[j] == 0.0:
                if g.vol_state[j] == VOL_UNCHANGED:
                    base[c] = j
                elif g.vol_state[j] == VOL_UP:
                    up0[c] = j
                elif g.vol_state[j] == VOL_DOWN:
                    dn0[c] = j
            for k in range(S):
                if (
                    g.kind[k] == g.kind[j]
                    and g.spot_move[k] == g.spot_move[j]
                    and g.vol_state[k] == -g.vol_state[j]
                ):
                    pair[c, j] = k
                    break
    for a in (base, up0, dn0, pair):
        a.flags.writeable = False
    return base, up0, dn0, pair


@dataclass(frozen=True, eq=False)
class GroupRisk:
    """What the ``portfolio`` model computes inside each (account, underlying) group.

    Everything here depends only on the group's own positions and its underlying's marks, so a
    live engine keeps it per group and, when one underlying ticks, recomputes only that
    underlying's groups (:meth:`PortfolioMargin.group_risk` with ``underlyings``) and merges
    them in (:meth:`merge`); :meth:`PortfolioMargin.combine` then applies what crosses groups
    (inter-commodity credits, the short option minimum floor, the account add-ons).

    Attributes
    ----------
    account, und, cls
        Account, underlying and risk-class index of each group.
    scan, worst
        Scan risk (worst loss, ≥ 0) and the worst scenario's index in the group's grid.
    delta, delta_notional
        Net delta in underlying units and in the snapshot currency.
    basis, delta_shock
        The basis/roll and delta-shock add-ons.
    price_risk, scan_range
        SPAN price risk (scan − time risk − vol risk) and the class's largest price scan range:
        the inputs of the inter-commodity credits.
    short_option_minimum
        ``rate × max(short call, short put) notional``.
    pnl
        Scenario P&L ``(G, S)`` (kept when asked for detail), else ``None``.
    """

    ROW_TUPLES = ()

    account: IntArray
    und: IntArray
    cls: IntArray
    scan: FloatArray
    worst: IntArray
    delta: FloatArray
    delta_notional: FloatArray
    basis: FloatArray
    delta_shock: FloatArray
    price_risk: FloatArray
    scan_range: FloatArray
    short_option_minimum: FloatArray
    pnl: FloatArray | None

    @property
    def n(self) -> int:
        """Number of groups."""
        return int(self.account.shape[0])

    def merge(self, fresh: GroupRisk, n_und: int) -> GroupRisk:
        """These groups with those of ``fresh``'s underlyings replaced by ``fresh``'s rows.

        Rows come out sorted by (account, underlying), as :meth:`PortfolioMargin.group_risk`
        returns them for a whole book. Scenario P&L is kept only if both sides have it.
        """
        gone = np.isin(self.und, np.unique(fresh.und))
        keep = np.flatnonzero(~gone)
        key = np.concatenate(
            [self.account[keep] * n_und + self.und[keep], fresh.account * n_und + fresh.und]
        )
        order = np.argsort(key, kind="stable")
        out: dict[str, Any] = {}
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(fresh, f.name)
            if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
                out[f.name] = np.concatenate([a[keep], b])[order]
            else:
                out[f.name] = None
        return GroupRisk(**out)


@dataclass(frozen=True, slots=True, eq=False)
class GroupAggregates:
    """Each group's sums over its positions that steps 1–5 read (money: snapshot currency).

    Attributes
    ----------
    pnl
        Scenario P&L ``(G, S)``.
    delta, delta_notional
        Net delta in underlying units and times spot.
    bucket_notional, bucket_t
        Net delta notional and time to expiry per expiry bucket ``(G, buckets)`` (basis).
    short_calls, short_puts
        Notional of the short live calls and puts (short option minimum).
    """

    pnl: FloatArray
    delta: FloatArray
    delta_notional: FloatArray
    bucket_notional: FloatArray
    bucket_t: FloatArray
    short_calls: FloatArray
    short_puts: FloatArray

    @classmethod
    def of_positions(
        cls, inst: InstrumentTable, layout: GroupMatrix, pos: Holdings, unit: FloatArray
    ) -> GroupAggregates:
        """Sums position by position, in each group's position order (the batch's arithmetic)."""
        groups = layout.groups
        pnl = layout.product(pos.quantity, unit)
        ii = pos.instrument
        d_units = pos.quantity * inst.delta[ii]
        short_opt = (inst.kind[ii] == KIND_OPTION) & ~inst.settled[ii] & (pos.quantity < 0)
        short_not = np.where(short_opt, np.abs(pos.quantity) * inst.mult[ii] * inst.fwd[ii], 0.0)
        b_dn, t_gk = basis_cells(inst, pos, groups)
        return cls(
            pnl=pnl,
            delta=group_sum(groups, d_units),
            delta_notional=group_sum(groups, d_units * inst.spot[ii]),
            bucket_notional=b_dn,
            bucket_t=t_gk,
            short_calls=group_sum(groups, np.where(inst.is_call[ii], short_not, 0.0)),
            short_puts=group_sum(groups, np.where(inst.is_call[ii], 0.0, short_not)),
        )

    @classmethod
    def of_contracts(
        cls,
        inst: InstrumentTable,
        layout: GroupMatrix,
        m_quantity: sparse.csr_matrix,
        m_short: sparse.csr_matrix,
        unit: FloatArray,
        cols: IntArray,
    ) -> GroupAggregates:
        """The same sums as sparse products of quantity matrices with per-contract arrays.

        Every aggregate is linear in the quantities. ``m_quantity`` is the layout's quantity
        matrix and ``m_short`` that of the short quantities (``−q`` where ``q < 0``): both
        depend on the positions only, so a live engine keeps them from one tick to the next
        and a tick costs one product with the risk arrays (``unit``, the rows of columns
        ``cols``), one with ``[delta | delta notional | delta notional per expiry bucket]``
        and one with the notional per live call and put. The buckets are those of the
        columns' underlyings only (the others hold no position), and every position of a
        bucket shares its time to expiry. The sums are the same up to rounding (a product
        ``q × (Δ × S)`` instead of ``(q × Δ) × S``, summed by column instead of by position):
        the engine's sweep compares with a tolerance.
        """
        G, C = layout.groups.n, int(cols.size)
        buckets, local = np.unique(inst.expiry_key[cols], return_inverse=True)
        nk = int(buckets.size)
        delta = inst.delta[cols]
        dn_c = delta * inst.spot[cols]
        per = np.zeros((C, 2 + nk))
        per[:, 0] = delta
        per[:, 1] = dn_c
        per[np.arange(C), 2 + local] = dn_c
        lin = np.asarray(m_quantity @ per, dtype=np.float64)
        live_opt = (inst.kind[cols] == KIND_OPTION) & ~inst.settled[cols]
        fn = np.where(live_opt, inst.mult[cols] * inst.fwd[cols], 0.0)
        call = inst.is_call[cols]
        sides = np.column_stack([np.where(call, fn, 0.0), np.where(call, 0.0, fn)])
        sn = np.asarray(m_short @ sides, dtype=np.float64)
        t_c = inst.t[cols]
        t_k = np.zeros(nk)
        t_k[local] = t_c
        if np.array_equal(t_k[local], t_c):
            # a group's cell without a position has no notional: any time to expiry will do
            bucket_t: FloatArray = np.broadcast_to(t_k, (G, nk))
        else:
            bucket_t = np.zeros((G, nk))
            bucket_t[layout.entry_group, local[layout.indices]] = t_c[layout.indices]
        return cls(
            pnl=np.asarray(m_quantity @ unit, dtype=np.float64),
            delta=lin[:, 0],
            delta_notional=lin[:, 1],
            bucket_notional=lin[:, 2:],
            bucket_t=bucket_t,
            short_calls=sn[:, 0],
            short_puts=sn[:, 1],
        )


@dataclass(frozen=True, slots=True, eq=False)
class GroupRequirements:
    """Steps 4–5 of each group: IM (before the optional add-ons) and what explains it."""

    im: FloatArray
    credit_rows: tuple[AddOnRows, ...]
    som_excess: FloatArray


@dataclass(frozen=True, slots=True)
class PortfolioMargin:
    """Scenario-based portfolio margin with SPAN-style offsets (see module docstring)."""

    config: RiskConfig
    _cache: dict[
        tuple[str, ...], tuple[ScenarioSet, tuple[IntArray, IntArray, IntArray, IntArray]]
    ] = field(default_factory=dict, repr=False, compare=False)
    name: ClassVar[str] = "portfolio"
    description: ClassVar[str] = (
        "full revaluation per underlying over a spot x vol grid with tails; basis, delta-shock, "
        "short-option-minimum add-ons; inter-commodity credits"
    )
    source: ClassVar[str] = (
        "Deribit PM grid and vol shocks; CME SPAN add-ons and inter-commodity credits"
    )

    def compute(
        self, book: ResolvedBook, *, detail: bool = False, unit: FloatArray | None = None
    ) -> MarginBatch:
        """Compute portfolio margin of every account (see module docstring).

        ``unit``: the grid risk arrays of every contract of ``book.instruments``
        (:meth:`risk_arrays`), when the caller keeps them (a live engine, per underlying).
        """
        return self.combine(book, self.group_risk(book, detail=detail, unit=unit))

    def scenarios(self, classes: tuple[str, ...]) -> ScenarioSet:
        """The stacked grids of ``classes`` (built once per model instance and class list)."""
        return self._context(classes)[0]

    def _context(
        self, classes: tuple[str, ...]
    ) -> tuple[ScenarioSet, tuple[IntArray, IntArray, IntArray, IntArray]]:
        ctx = self._cache.get(classes)
        if ctx is None:
            scen = scenario_set_of(classes, self.config)
            ctx = self._cache[classes] = (scen, scenario_indices(scen))
        return ctx

    def risk_arrays(self, inst: InstrumentTable, *, only: IntArray | None = None) -> FloatArray:
        """Grid P&L of one unit of each contract (or of ``only``), ``(n, S)``."""
        return grid_unit_pnl(inst, self.scenarios(inst.classes), self.config, only=only)

    def group_risk(
        self,
        book: ResolvedBook,
        *,
        underlyings: Collection[str] | None = None,
        detail: bool = False,
        unit: FloatArray | None = None,
    ) -> GroupRisk:
        """Steps 1–3 and the inputs of steps 4–5 for every group (or those of ``underlyings``).

        ``unit``: the risk arrays of every contract (:meth:`risk_arrays`), if already computed.
        """
        cfg = self.config
        inst, pos = book.instruments, book.positions
        scen = self.scenarios(inst.classes)
        if underlyings is not None:
            cols = inst.rows_of(underlyings)
            pos = pos.take(np.flatnonzero(np.isin(pos.instrument, cols)))
            unit = grid_unit_pnl(inst, scen, cfg, only=cols) if unit is None else unit[cols]
            column = np.searchsorted(cols, pos.instrument)
        else:
            unit = grid_unit_pnl(inst, scen, cfg) if unit is None else unit
            column = pos.instrument
        layout = GroupMatrix.build(group_positions(pos, inst), column, int(unit.shape[0]))
        return self.risk_of(inst, layout, pos, unit, detail=detail)

    def layout(self, book: ResolvedBook) -> GroupMatrix:
        """The group layout of every position of ``book`` (columns: all its contracts)."""
        inst, pos = book.instruments, book.positions
        return GroupMatrix.build(group_positions(pos, inst), pos.instrument, inst.n)

    def risk_of(
        self,
        inst: InstrumentTable,
        layout: GroupMatrix,
        pos: Holdings,
        unit: FloatArray,
        *,
        detail: bool = False,
    ) -> GroupRisk:
        """Steps 1–3 of the groups of ``layout``, the groups of positions ``pos``.

        ``unit`` holds the risk arrays of the layout's columns. The layout (the groups and the
        sparse map of positions to them, :class:`~crossmargin.risk.aggregate.GroupMatrix`)
        depends on which positions exist, not on their quantities or the market: a live engine
        keeps the layout of an underlying's positions from one tick to the next.
        """
        agg = GroupAggregates.of_positions(inst, layout, pos, unit)
        return self.risk_from(inst, layout.groups, agg, detail=detail)

    def risk_from(
        self, inst: InstrumentTable, groups: Groups, agg: GroupAggregates, *, detail: bool = False
    ) -> GroupRisk:
        """Steps 1–3 and the inputs of steps 4–5 from each group's aggregates.

        Groups of one risk class (a live tick: one underlying's groups) read their class's
        parameters and scenario indices as scalars; the numbers are the same either way.
        """
        cfg = self.config
        _, (base, up0, dn0, pair) = self._context(inst.classes)
        G = groups.n
        pnl = agg.pnl
        und_cls = np.zeros(max(len(inst.underlyings), 1), np.int64)
        und_cls[inst.und] = inst.cls
        g_cls = und_cls[groups.und]
        rcs = [cfg.risk_classes[c] for c in inst.classes]
        one = int(g_cls[0]) if G and bool((g_cls == g_cls[0]).all()) else None

        def par(values: list[float]) -> FloatArray:
            if one is not None:  # a 0-d array: broadcasts like the per-group one
                return np.asarray(values[one], dtype=np.float64)
            return np.asarray(values, dtype=np.float64)[g_cls] if G else np.zeros(0)

        # 1. scan risk and worst scenario
        if G:
            # first scenario within rounding of the worst loss (a dampened tail that equals the
            # standard edge for a linear book must not be reported instead of the edge)
            worst_loss = -np.min(pnl, axis=1)
            tol = 1e-9 * np.maximum(np.abs(worst_loss), 1e-9)
            worst = np.argmax(pnl <= (tol - worst_loss)[:, None], axis=1)
        else:
            worst = np.zeros(0, np.int64)
            worst_loss = np.zeros(0)
        scan = np.maximum(worst_loss, 0.0)
        fallback = base[one] if one is not None else base[g_cls] if G else worst
        worst = np.where(worst_loss > 0, worst, fallback).astype(np.int64)

        # 2. basis / roll (shared with the var/es models)
        if one is not None and agg.bucket_t.strides[0] == 0:
            # one time to expiry per bucket (a tick's aggregates): one rate per bucket
            b = cfg.risk_classes[inst.classes[one]].basis
            rate = np.maximum(b.min_move, b.annual_move * agg.bucket_t[0])
            basis = np.zeros(G)
            for k in range(rate.size):
                basis += rate[k] * np.abs(agg.bucket_notional[:, k])
        else:
            basis = basis_of_cells(agg.bucket_notional, agg.bucket_t, groups.und, inst, cfg)

        # 3. delta shock
        thr = par([r.delta_shock.threshold for r in rcs])
        slope = par([r.delta_shock.slope_per_million for r in rcs])
        cap = par([r.delta_shock.max_shock for r in rcs])
        absd = np.abs(agg.delta_notional)
        shock = np.minimum(cap, slope * np.maximum(absd - thr, 0.0) / 1e6)

        # inputs of 4. (SPAN price risk = scan − time risk − vol risk) and 5.
        # (cells picked by flat index: pnl[g, j] = flat[g S + j])
        flat = np.ascontiguousarray(pnl).ravel()
        row0 = np.arange(G) * (pnl.shape[1] if G else 0)
        if one is not None:
            time_risk = -0.5 * (pnl[:, up0[one]] + pnl[:, dn0[one]])
            paired = pair[one][worst]
        else:
            time_risk = -0.5 * (flat.take(row0 + up0[g_cls]) + flat.take(row0 + dn0[g_cls]))
            paired = pair[g_cls, worst]
        vol_risk = -0.5 * (flat.take(row0 + worst) - flat.take(row0 + paired))
        return GroupRisk(
            account=groups.account,
            und=groups.und,
            cls=g_cls,
            scan=scan,
            worst=worst,
            delta=agg.delta,
            delta_notional=agg.delta_notional,
            basis=basis,
            delta_shock=absd * shock,
            price_risk=np.where(scan > 0, np.maximum(scan - time_risk - vol_risk, 0.0), 0.0),
            scan_range=np.broadcast_to(
                par([max(r.grid.price_range_down, r.grid.price_range_up) for r in rcs]), (G,)
            ).copy(),
            short_option_minimum=par([r.short_option_minimum for r in rcs])
            * np.maximum(agg.short_calls, agg.short_puts),
            pnl=pnl if detail else None,
        )

    def requirements(
        self, risk: GroupRisk, lookup: IntArray, underlyings: Sequence[str]
    ) -> GroupRequirements:
        """Steps 4–5 over ``risk``'s groups: credits, the short option minimum, each group's IM.

        ``lookup`` is the ``(accounts, underlyings)`` table of group rows of ``risk`` (−1 where
        an account has none). Everything here is per account, so any subset of accounts with
        all of their groups gives the same numbers as the whole book (a live engine recombines
        only the accounts a tick touched).
        """
        credit, credit_rows = inter_commodity_credits(
            self.config.inter_commodity,
            underlyings,
            lookup,
            risk.delta_notional,
            risk.price_risk,
            risk.scan_range,
        )
        core = risk.scan + risk.basis + risk.delta_shock - credit
        g_im = np.maximum(core, risk.short_option_minimum)
        return GroupRequirements(im=g_im, credit_rows=credit_rows, som_excess=g_im - core)

    def combine(
        self, book: ResolvedBook, risk: GroupRisk, *, groups: Groups | None = None
    ) -> MarginBatch:
        """Steps 4–5 and the account add-ons over every group of ``book`` (module docstring).

        ``groups``: the groups of ``book``'s positions, if already formed.
        """
        cfg = self.config
        inst = book.instruments
        n_acc = book.n_accounts
        scen = self.scenarios(inst.classes)
        if groups is None:
            groups = group_positions(book.positions, inst)
        if not (
            np.array_equal(groups.account, risk.account) and np.array_equal(groups.und, risk.und)
        ):
            raise ModelError("group results do not match the book's groups", path="portfolio")
        # 4. inter-commodity credits, 5. short option minimum
        req = self.requirements(risk, groups.lookup(n_acc), inst.underlyings)
        credit_rows, som_excess = req.credit_rows, req.som_excess
        # issue-3 add-ons (liquidity, correlation breakdown, wrong-way collateral): each applies
        # only if "portfolio" is listed under margin_addons.<add-on>.models (not by default)
        x_group, x_account, x_rows = portfolio_addons(
            book,
            self.name,
            groups,
            risk.delta_notional,
            risk.scan,
            risk.worst,
            scen,
            risk.cls,
            credit_rows,
        )
        g_im = req.im + x_group
        labels = group_labels(inst.underlyings, groups.und)
        acc = groups.account
        return assemble_batch(
            self.name,
            book,
            account=acc,
            und=groups.und,
            im=g_im,
            mm=cfg.mm_factor * g_im,
            delta=risk.delta,
            delta_notional=risk.delta_notional,
            scan=risk.scan,
            worst=risk.worst,
            addons=(
                AddOnRows("basis", acc, labels, risk.basis, BASIS_DESCRIPTION),
                AddOnRows(
                    "delta_shock",
                    acc,
                    labels,
                    risk.delta_shock,
                    "extra move on a net delta notional above the threshold",
                ),
                *credit_rows,
                AddOnRows(
                    "short_option_minimum",
                    acc,
                    labels,
                    som_excess,
                    "raise to rate x max(short call, short put) notional",
                ),
                *x_rows,
            ),
            totals=self._totals(acc, g_im, x_account, n_acc),
            scenarios=scen,
            scenario_pnl=risk.pnl,
            scenario_class=risk.cls,
        )

    @property
    def has_addons(self) -> bool:
        """Whether any issue-3 add-on applies to this model (then accounts are not group sums)."""
        add = self.config.margin_addons
        return any(
            self.name in a.models for a in (add.liquidity, add.correlation_breakdown, add.wrong_way)
        )

    def _totals(
        self, acc: IntArray, g_im: FloatArray, x_account: FloatArray, n_acc: int
    ) -> tuple[FloatArray, FloatArray]:
        im = sum_by(acc, g_im, n_acc) + x_account
        return im, self.config.mm_factor * im
