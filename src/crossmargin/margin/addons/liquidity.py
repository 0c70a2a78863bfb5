"""Liquidity-adjusted margin: close-out cost and concentration add-ons per (account, underlying).

**Close-out cost** of a group's net position (the square-root impact model of
:mod:`crossmargin.liquidity.impact`, shared with the liquidation engine)::

    cost = s/2 · |D| + k · σ_d · |D| · sqrt(|D| / ADV) + Σ_options |q| · mult · vega · (ι / 0.01)

``D`` is the group's net delta notional, ``s`` the relative spread, ``k`` the impact
coefficient, ``ADV`` the average daily volume, ``vega`` per vol point and ``ι`` the option
close-out impact in vol (``option_vol_impact``; each option line crosses its own vega spread).
The daily volatility ``σ_d`` is the snapshot's asset ``vol`` / √365, else the mean implied vol of
the options held on it, else the EWMA volatility of its price history; none of them is an error.

**Concentration**: a position larger than ``concentration_share`` of ADV (or of open interest,
when configured) cannot be closed within the margin period of risk at normal participation.
With ``r = max(|D| / (share · ADV), |D| / (share · OI))`` the group's standalone risk ``R`` is
scaled to the longer liquidation horizon (square-root-of-time, as Basel's liquidity horizons,
BCBS MAR33.4, and the concentration component of CME SPAN 2)::

    concentration = R · (sqrt(max(r, 1)) − 1)

Both grow faster than linearly in size, so margin is no longer homogeneous in position size.
"""

from __future__ import annotations

import numpy as np

from crossmargin._typing import FloatArray
from crossmargin.kernels.black76 import black76_greeks
from crossmargin.liquidity.impact import close_out_cost, impact_params
from crossmargin.margin.batch import group_labels
from crossmargin.margin.result import AddOnRows
from crossmargin.market.volatility import daily_vols
from crossmargin.resolve.book import ResolvedBook
from crossmargin.resolve.terms import KIND_OPTION
from crossmargin.risk.aggregate import Groups, group_sum

__all__ = ["liquidity_addons", "underlying_daily_vols"]


def underlying_daily_vols(book: ResolvedBook, *, required: bool = True) -> FloatArray:
    """Daily volatility of every underlying of the instrument table (:mod:`crossmargin.market.volatility`).

    Raises
    ------
    MarketDataError
        ``required`` and an underlying has no implied vol, no options held and no price history.
    """
    inst = book.instruments
    return daily_vols(
        inst.underlyings,
        book.snapshot,
        ewma_lambda=book.config.var.ewma_lambda,
        implied=inst.held_implied_vols(),
        needed_by="the liquidity add-on",
        required=required,
    )


def liquidity_addons(
    book: ResolvedBook,
    groups: Groups,
    delta_notional: FloatArray,
    standalone_risk: FloatArray,
    *,
    concentration: bool,
) -> tuple[FloatArray, FloatArray, tuple[AddOnRows, ...]]:
    """Close-out cost and concentration add-on per group, and their add-on rows.

    Parameters
    ----------
    book
        The resolved book.
    groups
        (account, underlying) groups of its net positions.
    delta_notional
        Net delta notional per group (snapshot currency).
    standalone_risk
        The model's standalone requirement per group (scan risk or the group's VaR/ES).
    concentration
        Whether to compute the concentration add-on.
    """
    inst, pos, cfg = book.instruments, book.positions, book.config
    G = groups.n
    if G == 0:
        z = np.zeros(0)
        return z, z, ()
    und = groups.und
    params = [impact_params(cfg, u) for u in inst.underlyings]
    spread = np.asarray([p.spread for p in params])[und]
    adv = np.asarray([p.adv for p in params])[und]
    k = np.asarray([p.impact_k for p in params])[und]
    share = np.asarray([p.concentration_share for p in params])[und]
    oi = np.asarray([p.open_interest or np.inf for p in params])[und]
    iota = np.asarray([p.option_vol_impact for p in params])[und]
    sd = underlying_daily_vols(book)[und]
    cost = close_out_cost(delta_notional, spread=spread, sigma_daily=sd, adv=adv, k=k)
    # option vega crossing: per net option position
    ii = pos.instrument
    is_opt = (inst.kind[ii] == KIND_OPTION) & ~inst.settled[ii]
    if is_opt.any():
        rows = np.flatnonzero((inst.kind == KIND_OPTION) & ~inst.settled)
        g = black76_greeks(
            inst.spot[rows],
            inst.fwd[rows],
            inst.strike[rows],
            inst.t[rows],
            inst.sigma[rows],
            inst.discount[rows],
            inst.is_call[rows],
        )
        vega = np.zeros(inst.n)
        vega[rows] = np.abs(g.vega) * inst.mult[rows]
        per_pos = np.abs(pos.quantity) * vega[ii]
        cost = cost + group_sum(groups, per_pos) * (iota / 0.01)
    conc = np.zeros(G)
    if concentration:
        absd = np.abs(delta_notional)
        r = np.maximum(absd / (share * adv), absd / (share * oi))
        conc = np.maximum(standalone_risk, 0.0) * (np.sqrt(np.maximum(r, 1.0)) - 1.0)
    labels = group_labels(inst.underlyings, und)
    rows_out = (
        AddOnRows(
            "liquidity",
            groups.account,
            labels,
            cost,
            "close-out cost: half spread + square-root impact on net delta, option vega crossing",
        ),
        AddOnRows(
            "concentration",
            groups.account,
            labels,
            conc,
            "position above concentration_share of ADV/OI: risk x (sqrt(excess) - 1)",
        ),
    )
    return cost, conc, rows_out
