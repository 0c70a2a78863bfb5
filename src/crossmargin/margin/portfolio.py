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
from collections.abc import Collection
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np

from crossmargin._arrays import Rows, sum_by
from crossmargin._typing import FloatArray, IntArray
from crossmargin.config import RiskConfig
from crossmargin.errors import ModelError
from crossmargin.margin.addons.basis import BASIS_DESCRIPTION, basis_amounts
from crossmargin.margin.addons.portfolio_hook import portfolio_addons
from crossmargin.margin.batch import assemble_batch, group_labels
from crossmargin.margin.offsets import inter_commodity_credits
from crossmargin.margin.result import AddOnRows, MarginBatch
from crossmargin.resolve.book import ResolvedBook
from crossmargin.resolve.terms import KIND_OPTION
from crossmargin.risk.aggregate import Groups, group_pnl, group_positions, group_sum
from crossmargin.risk.pnl import grid_unit_pnl, scenario_set_for
from crossmargin.scenarios.grid import VOL_DOWN, VOL_UNCHANGED, VOL_UP, ScenarioSet

__all__ = ["GroupRisk", "PortfolioMargin", "scenario_indices"]


@functools.lru_cache(maxsize=64)
def scenario_indices(scen: ScenarioSet) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Per class: base cell, (0, vol up), (0, vol down) and each scenario's vol-paired cell.

    The paired cell has the same spot move and the opposite vol state (itself if none).
    Computed once per scenario set (:func:`~crossmargin.risk.pnl.scenario_set_for` shares them);
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
class GroupRisk(Rows):
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


@dataclass(frozen=True, slots=True)
class PortfolioMargin:
    """Scenario-based portfolio margin with SPAN-style offsets (see module docstring)."""

    config: RiskConfig
    name: ClassVar[str] = "portfolio"
    description: ClassVar[str] = (
        "full revaluation per underlying over a spot x vol grid with tails; basis, delta-shock, "
        "short-option-minimum add-ons; inter-commodity credits"
    )
    source: ClassVar[str] = (
        "Deribit PM grid and vol shocks; CME SPAN add-ons and inter-commodity credits"
    )

    def compute(self, book: ResolvedBook, *, detail: bool = False) -> MarginBatch:
        """Compute portfolio margin of every account (see module docstring)."""
        risk, groups = self._group_risk(book, None, detail)
        return self.combine(book, risk, groups=groups)

    def group_risk(
        self,
        book: ResolvedBook,
        *,
        underlyings: Collection[str] | None = None,
        detail: bool = False,
    ) -> GroupRisk:
        """Steps 1–3 and the inputs of steps 4–5 for every group (or those of ``underlyings``)."""
        return self._group_risk(book, underlyings, detail)[0]

    def _group_risk(
        self, book: ResolvedBook, underlyings: Collection[str] | None, detail: bool
    ) -> tuple[GroupRisk, Groups]:
        cfg = self.config
        inst, pos = book.instruments, book.positions
        scen = scenario_set_for(inst, cfg)
        cols = None
        if underlyings is not None:
            cols = inst.rows_of(underlyings)
            pos = pos.take(np.flatnonzero(np.isin(pos.instrument, cols)))
        unit = grid_unit_pnl(inst, scen, cfg, only=cols)
        groups = group_positions(pos, inst)
        G = groups.n
        pnl = group_pnl(groups, pos, unit, columns=cols)
        und_cls = np.zeros(max(len(inst.underlyings), 1), np.int64)
        und_cls[inst.und] = inst.cls
        g_cls = und_cls[groups.und]
        rcs = [cfg.risk_classes[c] for c in inst.classes]

        def par(values: list[float]) -> FloatArray:
            return np.asarray(values, dtype=np.float64)[g_cls] if G else np.zeros(0)

        # 1. scan risk and worst scenario
        base, up0, dn0, pair = scenario_indices(scen)
        rng = np.arange(G)
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
        worst = np.where(worst_loss > 0, worst, base[g_cls] if G else worst).astype(np.int64)

        # deltas
        ii = pos.instrument
        d_units = pos.quantity * inst.delta[ii]
        g_delta = group_sum(groups, d_units)
        g_dn = group_sum(groups, d_units * inst.spot[ii])

        # 2. basis / roll (shared with the var/es models)
        basis = basis_amounts(inst, pos, groups, cfg)

        # 3. delta shock
        thr = par([r.delta_shock.threshold for r in rcs])
        slope = par([r.delta_shock.slope_per_million for r in rcs])
        cap = par([r.delta_shock.max_shock for r in rcs])
        absd = np.abs(g_dn)
        shock = np.minimum(cap, slope * np.maximum(absd - thr, 0.0) / 1e6)

        # inputs of 4. (SPAN price risk = scan − time risk − vol risk) and 5.
        if G:
            time_risk = -0.5 * (pnl[rng, up0[g_cls]] + pnl[rng, dn0[g_cls]])
            vol_risk = -0.5 * (pnl[rng, worst] - pnl[rng, pair[g_cls, worst]])
        else:
            time_risk = vol_risk = np.zeros(0)
        short_opt = (inst.kind[ii] == KIND_OPTION) & ~inst.settled[ii] & (pos.quantity < 0)
        short_not = np.where(short_opt, np.abs(pos.quantity) * inst.mult[ii] * inst.fwd[ii], 0.0)
        calls = group_sum(groups, np.where(inst.is_call[ii], short_not, 0.0))
        puts = group_sum(groups, np.where(inst.is_call[ii], 0.0, short_not))
        risk = GroupRisk(
            account=groups.account,
            und=groups.und,
            cls=g_cls,
            scan=scan,
            worst=worst,
            delta=g_delta,
            delta_notional=g_dn,
            basis=basis,
            delta_shock=absd * shock,
            price_risk=np.where(scan > 0, np.maximum(scan - time_risk - vol_risk, 0.0), 0.0),
            scan_range=par([max(r.grid.price_range_down, r.grid.price_range_up) for r in rcs]),
            short_option_minimum=par([r.short_option_minimum for r in rcs])
            * np.maximum(calls, puts),
            pnl=pnl if detail else None,
        )
        return risk, groups

    def combine(
        self, book: ResolvedBook, risk: GroupRisk, *, groups: Groups | None = None
    ) -> MarginBatch:
        """Steps 4–5 and the account add-ons over every group of ``book`` (module docstring).

        ``groups`` are the book's (account, underlying) groups when the caller has them.
        """
        cfg = self.config
        inst = book.instruments
        n_acc = book.n_accounts
        scen = scenario_set_for(inst, cfg)
        groups = group_positions(book.positions, inst) if groups is None else groups
        if not (
            np.array_equal(groups.account, risk.account) and np.array_equal(groups.und, risk.und)
        ):
            raise ModelError("group results do not match the book's groups", path="portfolio")
        # 4. inter-commodity credits
        credit, credit_rows = inter_commodity_credits(
            cfg.inter_commodity,
            inst.underlyings,
            groups.lookup(n_acc),
            risk.delta_notional,
            risk.price_risk,
            risk.scan_range,
        )
        # 5. short option minimum
        core = risk.scan + risk.basis + risk.delta_shock - credit
        g_im = np.maximum(core, risk.short_option_minimum)
        som_excess = g_im - core
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
        g_im = g_im + x_group
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

    def _totals(
        self, acc: IntArray, g_im: FloatArray, x_account: FloatArray, n_acc: int
    ) -> tuple[FloatArray, FloatArray]:
        im = sum_by(acc, g_im, n_acc) + x_account
        return im, self.config.mm_factor * im
