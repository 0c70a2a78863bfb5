"""ADL split: which part of a bankrupt unit goes to opposite-side accounts, and to whom.

For a unit whose market close-out leaves a deficit the insurance fund cannot pay, the largest
market share ``φ`` whose deficit the fund's allocation covers is closed in the market (found by
bisection: the projected deficit is convex in ``φ`` and 0 at ``φ = 0`` up to collateral-sale
costs); the rest, ``1 − φ``, is taken over by accounts holding the opposite side of the same
contract at the unit's bankruptcy price — the deficit (the unit's value at mark, negated) spread
over its positions pro rata to gross notional, so that the transfer leaves the unit at exactly
zero. Counterparties are the accounts not being liquidated, ranked by ``profit% × leverage``
(:func:`~crossmargin.liquidation.waterfall.adl_score`); each takes over no more than its
maintenance equity pays for (ADL may push a counterparty below MM — the contagion channel of
ADL — but never into bankruptcy). Where opposite-side capacity is short, the unmatched part is
closed in the market after all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossmargin._arrays import sum_by
from crossmargin._typing import BoolArray, FloatArray, IntArray
from crossmargin.liquidation.projection import CloseOutContext, project
from crossmargin.liquidation.waterfall import adl_match, adl_score

__all__ = ["AdlSplit", "adl_split"]


@dataclass(frozen=True, slots=True, eq=False)
class AdlSplit:
    """How each bankrupt unit is closed.

    Per unit row: the share closed in the market and by ADL, the full-row transfer and the
    bankruptcy price; per unit: the ADL transfer received and the market share ``φ``; per
    counterparty fill: its net-position row, quantity and payment.
    """

    market: FloatArray
    adl: FloatArray
    t_full: FloatArray
    bankruptcy_price: FloatArray
    transfer: FloatArray
    market_share: FloatArray
    cand_rows: IntArray
    fill: FloatArray
    pay: FloatArray


def adl_split(
    ctx: CloseOutContext,
    close: FloatArray,
    need: BoolArray,
    fund_share: FloatArray,
    liquidating: BoolArray,
    pnl: FloatArray,
    equity: FloatArray,
) -> AdlSplit:
    """Split the units ``need`` between market and ADL (module docstring).

    Parameters
    ----------
    ctx
        The round's close-out context.
    close
        Planned close fraction per unit row.
    need
        Units with a deficit beyond their share of the insurance fund.
    fund_share
        Insurance-fund allocation per unit.
    liquidating
        Accounts being liquidated this round (never counterparties).
    pnl
        Unrealised P&L per net position (ADL ranking).
    equity
        Maintenance equity per account (snapshot currency): the most a counterparty pays.
    """
    rb, units, pricer = ctx.rb, ctx.units, ctx.pricer
    pos = rb.positions
    U = units.n
    ru = units.row_unit
    rows = units.row
    q = pos.quantity[rows]
    ins = pos.instrument[rows]
    M = rows.shape[0]
    market = close.copy()
    adl = np.zeros(M)
    transfer = np.zeros(U)
    row_bp = np.full(M, np.nan)
    share = np.ones(U)
    t_full = np.zeros(M)
    empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0)
    if not need.any():
        return AdlSplit(market, adl, t_full, row_bp, transfer, share, empty_i, empty_f, empty_f)
    au = np.flatnonzero(need).astype(np.int64)
    sub_rows = np.isin(ru, au)
    notional = pos.notional[rows]
    tot = sum_by(ru, notional, U)
    cnt = units.counts.astype(np.float64)
    w = np.where(tot[ru] > 0, notional / np.where(tot[ru] > 0, tot[ru], 1.0), 1.0 / cnt[ru])
    t_full = -ctx.v0[ru] * w  # value moved to the unit if the whole row goes through ADL
    sru = units.take(au).row_unit
    tf_sub = t_full[sub_rows]
    lo = np.zeros(au.size)
    hi = np.ones(au.size)
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        p = project(
            ctx, au, np.ones(sru.size), mid[sru], sum_by(sru, (1.0 - mid[sru]) * tf_sub, au.size)
        )
        ok = -p.value_after <= fund_share[au]
        lo = np.where(ok, mid, lo)
        hi = np.where(ok, hi, mid)
    phi = lo
    # counterparties: accounts not being liquidated holding the opposite side, ranked
    n_acc = rb.n_accounts
    val = rb.collateral.per_account(rb.collateral.market_value, n_acc) + sum_by(
        pos.account, pos.mtm, n_acc
    )
    lev = sum_by(pos.account, pos.notional, n_acc) / np.maximum(val, 1e-12)
    cand = np.flatnonzero(~liquidating[pos.account] & (pos.quantity != 0))
    # an account's equity is shared among its positions pro rata to notional, so that what it
    # pays over all contracts never exceeds it
    c_acc = pos.account[cand]
    c_not = pos.notional[cand]
    acc_not = sum_by(c_acc, c_not, n_acc)
    with np.errstate(divide="ignore", invalid="ignore"):
        c_cap = equity[c_acc] * np.where(acc_not[c_acc] > 0, c_not / acc_not[c_acc], 0.0)
    match = adl_match(
        ins[sub_rows],
        (1.0 - phi[sru]) * q[sub_rows],
        (1.0 - phi[sru]) * tf_sub,
        pos.instrument[cand],
        pos.quantity[cand],
        adl_score(pnl[cand], pos.notional[cand], lev[pos.account[cand]]),
        rb.instruments.n,
        c_cap,
    )
    a_row = (1.0 - phi[sru]) * match.fill_ratio
    adl[sub_rows] = a_row
    market[sub_rows] = 1.0 - a_row
    transfer[au] = sum_by(sru, a_row * tf_sub, au.size)
    share[au] = phi
    row_bp[sub_rows] = pricer.price_for_value(ins[sub_rows], q[sub_rows], tf_sub)
    took = match.fill > 0
    return AdlSplit(
        market, adl, t_full, row_bp, transfer, share, cand[took], match.fill[took], match.pay[took]
    )
