"""What a close-out leaves: slippage, capped fees, collateral sales and the unit's value after.

:func:`project` evaluates, for many units at once and without touching the state, closing a
share of each position in the market (the rest, if any, going to ADL at the bankruptcy price):
slippage by the close-out model, the liquidation fee capped at what the unit has left (a fee
never makes a solvent unit bankrupt), and — for an account closed in full whose
snapshot-currency balance would be negative — the collateral it must sell (highest maintenance
haircut first, with impact) to cover it. The engine projects once to size the insurance fund's
share and the ADL split, then executes exactly the projected plan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossmargin._arrays import sum_by
from crossmargin._typing import FloatArray, IntArray
from crossmargin.liquidation.closeout import CloseOutPricer, CollateralPricer
from crossmargin.liquidation.state import VenueState
from crossmargin.liquidation.units import Units
from crossmargin.resolve.book import ResolvedBook
from crossmargin.resolve.terms import KIND_OPTION

__all__ = ["CloseOutContext", "Projection", "plan_sales", "position_pnl", "project"]


def position_pnl(rb: ResolvedBook, entry: FloatArray) -> FloatArray:
    """Unrealised P&L per net position: delta-one MtM; options ``q·mult·(premium − entry)``."""
    pos, inst = rb.positions, rb.instruments
    i = pos.instrument
    opt = inst.kind[i] == KIND_OPTION
    paid = pos.quantity * inst.mult[i] * np.where(np.isfinite(entry), entry, inst.value[i])
    return np.asarray(np.where(opt, pos.mtm - np.where(opt, paid, 0.0), pos.mtm), dtype=np.float64)


@dataclass(frozen=True, slots=True, eq=False)
class Projection:
    """Outcome of a projected close-out.

    Per row ``slip`` and ``fee``; per unit ``slip_u``, ``fee_u`` and ``value_after``; and the
    collateral sales (``sale_*``) it needs.
    """

    slip: FloatArray
    fee: FloatArray
    slip_u: FloatArray
    fee_u: FloatArray
    sale_unit: IntArray
    sale_asset: IntArray
    sale_amount: FloatArray
    sale_cost: FloatArray
    value_after: FloatArray


@dataclass(frozen=True, slots=True, eq=False)
class CloseOutContext:
    """Everything :func:`project` needs about one round: book, state, units, pricers, ``v0``."""

    rb: ResolvedBook
    state: VenueState
    units: Units
    pricer: CloseOutPricer
    coll: CollateralPricer
    sale_rank: FloatArray
    v0: FloatArray


def plan_sales(
    ctx: CloseOutContext, unit: IntArray, need: FloatArray
) -> tuple[IntArray, IntArray, FloatArray, FloatArray, FloatArray]:
    """Collateral to sell per unit to raise ``need`` (net of costs); highest haircut first."""
    st = ctx.state
    want = np.flatnonzero(need > 0)
    if want.size == 0:
        z = np.zeros(0)
        return np.zeros(0, np.int64), np.zeros(0, np.int64), z, z, np.zeros(unit.shape[0])
    bal = st.balances[ctx.units.account[unit[want]]]
    sellable = (bal > 0) & np.isfinite(ctx.coll.price)[None, :]
    sellable[:, st.cash_asset] = False
    pu, pa = np.nonzero(sellable)
    order = np.lexsort((pa, -ctx.sale_rank[pa], pu))
    pu, pa = pu[order], pa[order]
    held = bal[pu, pa]
    full = held * ctx.coll.price[pa] - ctx.coll.sale_cost(pa, held)
    cum = np.cumsum(full)
    first = np.concatenate([[0.0], cum])[np.searchsorted(pu, pu, side="left")]
    before = cum - full - first
    rest = need[want][pu] - before
    amount = np.where(
        rest >= full,
        held,
        np.where(rest > 0, ctx.coll.amount_for(pa, np.maximum(rest, 0.0), held), 0.0),
    )
    cost = ctx.coll.sale_cost(pa, amount)
    cost_u = np.zeros(unit.shape[0])
    np.add.at(cost_u, want[pu], cost)
    return want[pu], pa, amount, cost, cost_u


def project(
    ctx: CloseOutContext,
    sub: IntArray,
    close_total: FloatArray,
    market: FloatArray,
    transfer: FloatArray,
) -> Projection:
    """Outcome of units ``sub`` closing ``close_total`` of each row, ``market`` of it in the market.

    ``close_total``/``market`` are per row of ``units.take(sub)``; ``transfer`` per unit is the
    ADL value received at bankruptcy prices.
    """
    units = ctx.units.take(sub)
    rb, st = ctx.rb, ctx.state
    pos = rb.positions
    cfg = rb.config.liquidation
    U = units.n
    ru = units.row_unit
    rows = units.row
    q = pos.quantity[rows]
    ins = pos.instrument[rows]
    dq = market * q
    slip = ctx.pricer.slippage(ins, dq, np.sign(q))
    fee_raw = ctx.pricer.fee(ins, dq)
    slip_u = sum_by(ru, slip, U)
    fee_raw_u = sum_by(ru, fee_raw, U)
    v0 = ctx.v0[sub]
    fee_u = np.minimum(fee_raw_u, np.maximum(v0 + transfer - slip_u, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(fee_raw_u > 0, fee_u / fee_raw_u, 0.0)
    fee = fee_raw * scale[ru]
    realized = sum_by(ru, close_total * pos.mtm[rows], U)
    all_closed = sum_by(ru, (close_total < 1.0).astype(np.float64), U) == 0
    acct = ~units.position_scope & all_closed
    cash = st.balances[units.account, st.cash_asset] + realized + transfer - slip_u - fee_u
    need = np.where(acct & (cash < 0) & cfg.sell_collateral, -cash, 0.0)
    s_unit, s_asset, s_amount, s_cost, cost_u = plan_sales(ctx, sub, need)
    return Projection(
        slip=slip,
        fee=fee,
        slip_u=slip_u,
        fee_u=fee_u,
        sale_unit=s_unit,
        sale_asset=s_asset,
        sale_amount=s_amount,
        sale_cost=s_cost,
        value_after=v0 + transfer - slip_u - fee_u - cost_u,
    )
