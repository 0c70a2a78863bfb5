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

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from crossmargin._arrays import sum_by
from crossmargin._typing import FloatArray, IntArray
from crossmargin.config import RiskConfig
from crossmargin.margin.addons.basis import BASIS_DESCRIPTION, basis_amounts
from crossmargin.margin.addons.portfolio_hook import portfolio_addons
from crossmargin.margin.offsets import inter_commodity_credits
from crossmargin.margin.result import AddOnRows, GroupTable, MarginBatch
from crossmargin.resolve.book import ResolvedBook
from crossmargin.resolve.terms import KIND_OPTION
from crossmargin.risk.aggregate import group_pnl, group_positions, group_sum
from crossmargin.risk.pnl import grid_unit_pnl, scenario_set_for
from crossmargin.scenarios.grid import VOL_DOWN, VOL_UNCHANGED, VOL_UP, ScenarioSet

__all__ = ["PortfolioMargin", "scenario_indices"]


def scenario_indices(scen: ScenarioSet) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Per class: base cell, (0, vol up), (0, vol down) and each scenario's vol-paired cell.

    The paired cell has the same spot move and the opposite vol state (itself if none).
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
    return base, up0, dn0, pair


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
        cfg = self.config
        inst, pos = book.instruments, book.positions
        n_acc = book.n_accounts
        scen = scenario_set_for(inst, cfg)
        unit = grid_unit_pnl(inst, scen, cfg)
        groups = group_positions(pos, inst)
        G = groups.n
        pnl = group_pnl(groups, pos, unit)
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
        d_not = d_units * inst.spot[ii]
        g_delta = group_sum(groups, d_units)
        g_dn = group_sum(groups, d_not)

        # 2. basis / roll (shared with the var/es models)
        basis = basis_amounts(book, groups)

        # 3. delta shock
        thr = par([r.delta_shock.threshold for r in rcs])
        slope = par([r.delta_shock.slope_per_million for r in rcs])
        cap = par([r.delta_shock.max_shock for r in rcs])
        absd = np.abs(g_dn)
        shock = np.minimum(cap, slope * np.maximum(absd - thr, 0.0) / 1e6)
        dshock = absd * shock

        # 4. inter-commodity credits (SPAN price risk = scan − time risk − vol risk)
        if G:
            time_risk = -0.5 * (pnl[rng, up0[g_cls]] + pnl[rng, dn0[g_cls]])
            vol_risk = -0.5 * (pnl[rng, worst] - pnl[rng, pair[g_cls, worst]])
        else:
            time_risk = vol_risk = np.zeros(0)
        price_risk = np.where(scan > 0, np.maximum(scan - time_risk - vol_risk, 0.0), 0.0)
        scan_range = par([max(r.grid.price_range_down, r.grid.price_range_up) for r in rcs])
        credit, credit_rows = inter_commodity_credits(
            cfg.inter_commodity,
            inst.underlyings,
            groups.lookup(n_acc),
            g_dn,
            price_risk,
            scan_range,
        )

        # 5. short option minimum
        short_opt = (inst.kind[ii] == KIND_OPTION) & ~inst.settled[ii] & (pos.quantity < 0)
        short_not = np.where(short_opt, np.abs(pos.quantity) * inst.mult[ii] * inst.fwd[ii], 0.0)
        calls = group_sum(groups, np.where(inst.is_call[ii], short_not, 0.0))
        puts = group_sum(groups, np.where(inst.is_call[ii], 0.0, short_not))
        som = par([r.short_option_minimum for r in rcs]) * np.maximum(calls, puts)

        core = scan + basis + dshock - credit
        g_im = np.maximum(core, som)
        som_excess = g_im - core
        # issue-3 add-ons (liquidity, correlation breakdown, wrong-way collateral): each applies
        # only if "portfolio" is listed under margin_addons.<add-on>.models (not by default)
        x_group, x_account, x_rows = portfolio_addons(
            book, self.name, groups, g_dn, scan, worst, scen, g_cls, credit_rows
        )
        g_im = g_im + x_group
        g_mm = cfg.mm_factor * g_im
        im = sum_by(groups.account, g_im, n_acc) + x_account
        upnl = sum_by(pos.account, pos.mtm, n_acc)
        labels = tuple(np.asarray(inst.underlyings, dtype=object)[groups.und])
        addons = (
            AddOnRows(
                "basis",
                groups.account,
                labels,
                basis,
                BASIS_DESCRIPTION,
            ),
            AddOnRows(
                "delta_shock",
                groups.account,
                labels,
                dshock,
                "extra move on a net delta notional above the threshold",
            ),
            *credit_rows,
            AddOnRows(
                "short_option_minimum",
                groups.account,
                labels,
                som_excess,
                "raise to rate x max(short call, short put) notional",
            ),
            *x_rows,
        )
        return MarginBatch(
            model=self.name,
            liquidation_scope="account",
            im=im,
            mm=cfg.mm_factor * im,
            upnl_im=upnl,
            upnl_mm=upnl,
            groups=GroupTable(
                account=groups.account,
                und=groups.und,
                underlyings=inst.underlyings,
                im=g_im,
                mm=g_mm,
                scan=scan,
                worst=worst,
                delta=g_delta,
                delta_notional=g_dn,
            ),
            addons=addons,
            scenarios=scen,
            scenario_pnl=pnl if detail else None,
            scenario_class=g_cls,
        )
