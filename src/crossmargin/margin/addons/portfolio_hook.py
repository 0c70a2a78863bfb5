"""The issue-3 add-ons for the grid ``portfolio`` model (each off unless configured).

``margin_addons.<add-on>.models`` lists the models applying it; the shipped configuration
lists only ``var`` and ``es``, so ``portfolio`` numbers are unchanged by default. When listed:

* ``liquidity``: close-out cost and concentration per (account, underlying)
  (:mod:`~crossmargin.margin.addons.liquidity`; the standalone risk is the scan risk);
* ``correlation_breakdown``: the part of each inter-commodity credit a stressed correlation
  would not support, per pair leg (:func:`~crossmargin.margin.addons.correlation.
  portfolio_correlation_addon`);
* ``wrong_way``: collateral in an underlying the account holds, moved by that group's worst grid
  cell (tails at their dampened size) (:mod:`~crossmargin.margin.addons.wrong_way`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from crossmargin._arrays import sum_by
from crossmargin._typing import FloatArray, IntArray
from crossmargin.margin.addons.correlation import portfolio_correlation_addon, window_correlations
from crossmargin.margin.addons.liquidity import liquidity_addons
from crossmargin.margin.addons.wrong_way import exposure_assets, wrong_way_addon
from crossmargin.margin.result import AddOnRows
from crossmargin.market.history import as_datetime64
from crossmargin.resolve.book import ResolvedBook
from crossmargin.risk.aggregate import Groups
from crossmargin.scenarios.grid import ScenarioSet

__all__ = ["portfolio_addons"]


def portfolio_addons(
    book: ResolvedBook,
    model: str,
    groups: Groups,
    delta_notional: FloatArray,
    scan: FloatArray,
    worst: IntArray,
    scen: ScenarioSet,
    group_class: IntArray,
    credit_rows: Sequence[AddOnRows],
) -> tuple[FloatArray, FloatArray, tuple[AddOnRows, ...]]:
    """Extra requirement per group, per account, and the add-on rows (module docstring)."""
    cfg = book.config
    add = cfg.margin_addons
    n_acc = book.n_accounts
    G = groups.n
    per_group = np.zeros(G)
    per_account = np.zeros(n_acc)
    rows: list[AddOnRows] = []
    if model in add.liquidity.models and G:
        cost, conc, liq_rows = liquidity_addons(
            book, groups, delta_notional, scan, concentration=add.liquidity.concentration
        )
        per_group += cost + conc
        rows.extend(liq_rows)
    und = book.instruments.underlyings
    index = {u: i for i, u in enumerate(und)}
    lookup = groups.lookup(n_acc)
    if model in add.correlation_breakdown.models and credit_rows:
        cb = add.correlation_breakdown
        rates = {f"{p.legs[0]}/{p.legs[1]}": p.credit for p in cfg.inter_commodity}
        worst_rho: dict[str, float] = {}
        if cb.worst_window:
            hist = book.snapshot.require_history(needed_by="the correlation-breakdown add-on")
            until = as_datetime64(book.snapshot.as_of)
            for pair in {r.pair for r in credit_rows}:
                a, b = pair.split("/")
                ww = window_correlations(hist, a, b, until=until, window=cb.window_days)
                if ww is not None:
                    worst_rho[pair] = ww[0]
        for r in portfolio_correlation_addon(credit_rows, rates, cb, worst_rho):
            legs, inv = np.unique(np.asarray(r.label, dtype=object), return_inverse=True)
            ui = np.asarray([index[str(u)] for u in legs], np.int64)[inv]
            g = lookup[r.account, ui]
            per_group += sum_by(g, r.amount, G)
            rows.append(r)
    col = book.collateral
    if model in add.wrong_way.models and col.account.size and G:
        ui = np.asarray([index.get(a, -1) for a in exposure_assets(col)], np.int64)[col.asset]
        g = np.where(ui >= 0, lookup[col.account, np.maximum(ui, 0)], -1)
        has = g >= 0
        gg = np.maximum(g, 0)
        c, w = group_class[gg], worst[gg]
        move = np.where(has & (w >= 0), scen.spot_move[c, w] * scen.weight[c, w], 0.0)
        ww_rows = wrong_way_addon(col, move, has & (scan[gg] > 0))
        per_account += sum_by(ww_rows.account, ww_rows.amount, n_acc)
        rows.append(ww_rows)
    return per_group, per_account, tuple(rows)
