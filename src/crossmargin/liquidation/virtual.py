"""Virtual accounts: re-margin a unit as if part of its positions were already closed.

A candidate close-out of a unit (keep ``keep_i`` of each position) becomes one virtual account:
the kept positions (quantity, MtM and notional scaled), the unit's collateral, and its cash after
the close — realised MtM minus slippage and the (capped) liquidation fee. Margining many virtual
accounts at once with the regime's own model answers "what is the gap to the target after this
close-out?" for every candidate of every unit in one vectorised call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossmargin._arrays import sum_by
from crossmargin._typing import BoolArray, FloatArray, IntArray
from crossmargin.collateral.table import CollateralTable
from crossmargin.instruments.book import Book
from crossmargin.liquidation.closeout import CloseOutPricer
from crossmargin.liquidation.units import Units, ranges, unit_value
from crossmargin.margin.base import get_model
from crossmargin.resolve.book import ResolvedBook
from crossmargin.resolve.positions import NetPositions

__all__ = ["Evaluation", "evaluate", "expand"]


@dataclass(frozen=True, slots=True, eq=False)
class Evaluation:
    """Outcome of closing ``1 − keep`` of each position, per virtual account (snapshot ccy)."""

    gap: FloatArray
    requirement: FloatArray
    slippage: FloatArray
    fee_raw: FloatArray


def expand(units: Units, v_unit: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """For virtual accounts ``v_unit``: (virtual id, index into ``units.row``, rank in unit)."""
    cnt = units.counts[v_unit]
    vp_v = np.repeat(np.arange(v_unit.shape[0], dtype=np.int64), cnt)
    vp_m = ranges(units.start[v_unit], cnt)
    rank = vp_m - units.start[v_unit][vp_v] if vp_m.size else np.zeros(0, np.int64)
    return vp_v, vp_m, rank


def evaluate(
    rb: ResolvedBook,
    pricer: CloseOutPricer,
    units: Units,
    v_unit: IntArray,
    vp_v: IntArray,
    vp_m: IntArray,
    keep: FloatArray,
    *,
    model: str,
    values: FloatArray | None = None,
) -> Evaluation:
    """Re-margin virtual accounts: unit ``v_unit[v]`` keeping ``keep`` of each of its positions.

    Closed parts are settled at the close-out price: realised MtM and −(slippage + capped fee)
    go to the virtual account's cash. Returns the gap ``maintenance equity − MM − buffer``.
    """
    cfg = rb.config
    liq = cfg.liquidation
    pos = rb.positions
    V = int(v_unit.shape[0])
    rows = units.row[vp_m]
    q = pos.quantity[rows]
    ins = pos.instrument[rows]
    closed = 1.0 - keep
    dq = closed * q
    slip = pricer.slippage(ins, dq, np.sign(q))
    fee_raw = pricer.fee(ins, dq)
    slip_v = sum_by(vp_v, slip, V)
    fee_raw_v = sum_by(vp_v, fee_raw, V)
    uv = unit_value(rb, units) if values is None else values
    fee_v = np.minimum(fee_raw_v, np.maximum(uv[v_unit] - slip_v, 0.0))
    cash_v = (
        np.where(units.position_scope[v_unit], units.backing[v_unit], 0.0)
        + sum_by(vp_v, closed * pos.mtm[rows], V)
        - slip_v
        - fee_v
    )
    kp = keep > 0
    nk = int(kp.sum())
    vpos = NetPositions(
        account=vp_v[kp],
        instrument=ins[kp],
        quantity=(q * keep)[kp],
        cost_known=np.zeros(nk),
        qty_unknown=np.zeros(nk),
        unknown=np.zeros(nk, np.bool_),
        first_row=np.zeros(nk, np.int64),
        mtm=(pos.mtm[rows] * keep)[kp],
        notional=(pos.notional[rows] * keep)[kp],
    )
    vcol = _virtual_collateral(rb, units.account[v_unit], ~units.position_scope[v_unit], cash_v)
    acc = units.account[v_unit]
    vbook = Book(
        accounts=("",) * V,
        base_currency=tuple(rb.book.base_currency[int(a)] for a in acc) if V < 0 else ("",) * V,
        contracts=rb.book.contracts,
        pos_account=vpos.account,
        pos_instrument=vpos.instrument,
        pos_quantity=vpos.quantity,
        pos_entry=np.full(vpos.n, np.nan),
        assets=vcol.assets,
        col_account=vcol.account,
        col_asset=vcol.asset,
        col_amount=vcol.amount,
    )
    vrb = ResolvedBook(vbook, rb.snapshot, cfg, rb.instruments, vpos, vcol, rb.fx[acc])
    batch = get_model(model, cfg).compute(vrb)
    m_eq = vcol.per_account(vcol.value_mm, V) + batch.upnl_mm
    if liq.buffer.kind == "maintenance":
        buffer = liq.buffer.rate * batch.mm
    else:
        buffer = liq.buffer.rate * sum_by(vpos.account, vpos.notional, V)
    req = batch.mm + buffer
    return Evaluation(gap=m_eq - req, requirement=req, slippage=slip_v, fee_raw=fee_raw_v)


def _virtual_collateral(
    rb: ResolvedBook, acc: IntArray, with_collateral: BoolArray, cash: FloatArray
) -> CollateralTable:
    """Collateral of virtual accounts: their account's non-cash rows (account units) + one cash row.

    The cash row nets the account's own snapshot-currency balance with ``cash`` so that haircuts
    apply to the net balance exactly as after the real close-out.
    """
    col = rb.collateral
    snap = rb.snapshot
    base = snap.base_currency
    assets = col.assets if base in col.assets else (*col.assets, base)
    cash_ix = assets.index(base)
    n_acc = rb.n_accounts
    V = int(acc.shape[0])
    is_cash = col.asset == cash_ix
    own_cash = sum_by(col.account[is_cash], col.amount[is_cash], n_acc)
    # non-cash rows of the account, replicated per virtual account
    nc = np.flatnonzero(~is_cash)
    order = nc[np.argsort(col.account[nc], kind="stable")]
    cnt = np.bincount(col.account[order], minlength=n_acc)
    first = np.concatenate([[0], np.cumsum(cnt)[:-1]]).astype(np.int64)
    vcnt = np.where(with_collateral, cnt[acc], 0)
    src = order[ranges(first[acc], vcnt)]
    rep_v = np.repeat(np.arange(V, dtype=np.int64), vcnt)
    amount_cash = np.where(with_collateral, own_cash[acc], 0.0) + cash
    h = rb.config.haircut(base, base_currency=base)
    him = h.im if h is not None else 0.0
    hmm = h.mm if h is not None else 0.0
    return CollateralTable.priced(
        assets,
        (
            np.concatenate([rep_v, np.arange(V, dtype=np.int64)]),
            np.concatenate([col.asset[src], np.full(V, cash_ix, np.int64)]),
            np.concatenate([col.amount[src], amount_cash]),
        ),
        np.concatenate([col.price[src], np.ones(V)]),
        (
            np.concatenate([col.haircut_im[src], np.full(V, him)]),
            np.concatenate([col.haircut_mm[src], np.full(V, hmm)]),
        ),
    )


# -- policies -----------------------------------------------------------------------------------
