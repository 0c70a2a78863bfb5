"""One liquidation round at fixed prices: plan, close out, sell collateral, run the waterfall.

:func:`liquidate_round` takes a venue state, its resolved book and its account health under one
margin regime, and liquidates every account whose status is ``liquidation`` or ``bankrupt``
(maintenance equity < MM, :func:`crossmargin.account.assess`):

1. **plan** each unit (:mod:`~crossmargin.liquidation.planner`, policy ``full`` or ``partial``);
2. **close out** in the market at the slippage model's prices
   (:mod:`~crossmargin.liquidation.closeout`); realised P&L settles into the snapshot currency;
   the liquidation fee (capped at what the account has left, so a fee never makes a solvent
   account bankrupt) goes to the insurance fund (``fee_to_insurance``) and venue fee income;
3. an account closed in full with a negative quote balance **sells collateral** (highest MM
   haircut first, with impact) to cover it;
4. a unit left with negative value is **bankrupt**: its deficit is written off from the
   bad-debt pot, which the **insurance fund**, then the **last resort** (ADL or socialised loss)
   refill (:mod:`~crossmargin.liquidation.waterfall`). Under ADL the part of a bankrupt
   unit's positions the fund cannot afford to close in the market (the largest market share
   ``φ`` whose deficit the fund covers) is transferred to opposite-side accounts at the
   bankruptcy price instead — it never reaches the market.

Every transfer is written to the :class:`~crossmargin.liquidation.ledger.Ledger`; the flow each
round sends to the market, per underlying, drives the cascade's price impact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from crossmargin._arrays import sum_by
from crossmargin._typing import BoolArray, FloatArray, IntArray
from crossmargin.account.health import AccountResults
from crossmargin.errors import LiquidationError
from crossmargin.liquidation.adl import adl_split
from crossmargin.liquidation.closeout import CloseOutPricer, CollateralPricer
from crossmargin.liquidation.ledger import (
    ADL_POOL,
    BAD_DEBT,
    FEES,
    INSURANCE,
    MARKET,
    Ledger,
)
from crossmargin.liquidation.planner import plan_units
from crossmargin.liquidation.projection import CloseOutContext, position_pnl, project
from crossmargin.liquidation.state import VenueState
from crossmargin.liquidation.units import Units, build_units, liquidatable, unit_value
from crossmargin.liquidation.waterfall import allocate_fund, socialize
from crossmargin.resolve.book import ResolvedBook

__all__ = ["InsuranceFund", "RoundResult", "liquidate_round", "position_pnl"]


@dataclass
class InsuranceFund:
    """The insurance fund's balance (snapshot currency); mutated by :func:`liquidate_round`."""

    balance: float


@dataclass(frozen=True, slots=True, eq=False)
class RoundResult:
    """Everything one round did, as arrays (snapshot currency).

    Per unit row (``units.row`` order): ``row_*``; per collateral sale: ``sale_*``; per ADL
    counterparty fill: ``adl_*``; per unit: ``unit_*``; per account: ``socialized``.
    """

    round_no: int
    triggered: IntArray
    units: Units
    row_account: IntArray
    row_instrument: IntArray
    row_quantity: FloatArray
    row_market: FloatArray
    row_adl: FloatArray
    row_price: FloatArray
    row_slippage: FloatArray
    row_fee: FloatArray
    row_notional: FloatArray
    row_bankruptcy_price: FloatArray
    sale_account: IntArray
    sale_asset: IntArray
    sale_amount: FloatArray
    sale_price: FloatArray
    sale_cost: FloatArray
    adl_account: IntArray
    adl_instrument: IntArray
    adl_quantity: FloatArray
    adl_price: FloatArray
    adl_pay: FloatArray
    adl_notional: FloatArray
    adl_transfer_in: float
    unit_value: FloatArray
    unit_value_after: FloatArray
    unit_deficit: FloatArray
    unit_fund_paid: FloatArray
    unit_market_share: FloatArray
    socialized: FloatArray
    uncovered: float
    fund_before: float
    fund_after: float
    fees_to_fund: float
    fees_to_venue: float
    flow: dict[str, float] = field(default_factory=dict)

    @property
    def n_liquidated(self) -> int:
        """Accounts liquidated this round."""
        return int(self.triggered.shape[0])

    @property
    def bankrupt_units(self) -> BoolArray:
        """Units left with a deficit beyond rounding (1e-9 of their value, at least 1e-9)."""
        return np.asarray(
            self.unit_deficit > 1e-9 * np.maximum(1.0, np.abs(self.unit_value)), dtype=np.bool_
        )

    @property
    def bad_debt(self) -> float:
        """Total deficit written off this round."""
        return float(self.unit_deficit.sum())

    @property
    def notional_market(self) -> float:
        """Notional closed in the market."""
        return float(self.row_notional.sum())


def liquidate_round(
    state: VenueState,
    rb: ResolvedBook,
    res: AccountResults,
    *,
    fund: InsuranceFund,
    ledger: Ledger,
    round_no: int = 0,
    policy: str | None = None,
    accounts: IntArray | None = None,
) -> RoundResult:
    """Liquidate every account of ``res`` in ``liquidation``/``bankrupt`` status (module docstring).

    Parameters
    ----------
    state
        The venue; updated in place (positions closed, balances settled).
    rb, res
        ``state.to_book()`` resolved at this round's prices, and its health under the regime.
    fund
        Insurance fund (updated in place).
    ledger
        Receives every transfer.
    round_no
        Round number recorded in the ledger.
    policy
        ``full`` or ``partial`` (default: ``config.liquidation.policy``).
    accounts
        Restrict liquidation to these accounts (default: all that are triggered).

    Raises
    ------
    LiquidationError
        If ``rb`` was not resolved from ``state``.
    MarketDataError
        If a contract to close has no volatility for the impact model.
    """
    cfg = rb.config
    liq = cfg.liquidation
    policy = policy or liq.policy
    pos, inst = rb.positions, rb.instruments
    if pos.n != state.n_positions or not np.array_equal(pos.instrument, state.pos_instrument):
        raise LiquidationError(
            "resolved book does not match the venue state", path="liquidation.state"
        )
    trig_mask = liquidatable(rb, res, state.pos_margin)
    if accounts is not None:
        only = np.zeros_like(trig_mask)
        only[accounts] = True
        trig_mask &= only
    triggered = np.flatnonzero(trig_mask).astype(np.int64)
    units = build_units(rb, res, triggered, state.pos_margin)
    pricer = CloseOutPricer.from_book(rb, needed=pos.instrument[units.row])
    close = plan_units(rb, pricer, units, policy=policy, model=res.batch.model)
    coll = CollateralPricer.from_book(rb, state.assets)
    base = rb.snapshot.base_currency
    rank = np.asarray(
        [
            (h.mm if (h := cfg.haircut(a, base_currency=base)) is not None else 1.0)
            for a in state.assets
        ]
    )
    ctx = CloseOutContext(rb, state, units, pricer, coll, rank, unit_value(rb, units))
    U = units.n
    all_u = np.arange(U, dtype=np.int64)
    ru = units.row_unit
    rows = units.row
    q = pos.quantity[rows]
    ins = pos.instrument[rows]
    fund_before = fund.balance

    # -- projected market close-out and the fund's allocation ---------------------------------
    proj = project(ctx, all_u, close, close, np.zeros(U))
    deficit0 = np.maximum(-proj.value_after, 0.0)
    fees_in = float(proj.fee.sum()) * liq.fee_to_insurance
    paid0 = allocate_fund(deficit0, fund.balance + fees_in)
    tol = 1e-9 * np.maximum(1.0, np.abs(ctx.v0))
    pnl_all = position_pnl(rb, state.pos_entry)
    need_adl = (deficit0 - paid0 > tol) if liq.last_resort == "adl" else np.zeros(U, np.bool_)
    m_equity = res.maintenance_equity / rb.fx  # snapshot currency
    split = adl_split(ctx, close, need_adl, paid0, trig_mask, pnl_all, m_equity)
    market, adl, transfer, t_full = split.market, split.adl, split.transfer, split.t_full
    adl_cand_rows, adl_fill, adl_pay = split.cand_rows, split.fill, split.pay
    adl_acc = pos.account[adl_cand_rows]
    adl_ins = pos.instrument[adl_cand_rows]
    adl_px = np.zeros(0)
    row_bp, share = split.bankruptcy_price, split.market_share

    # -- execute --------------------------------------------------------------------------------
    proj = project(ctx, all_u, close, market, transfer)
    acc_r = units.account[ru]
    dq_m = market * q
    notional_m = pricer.notional(ins, dq_m)
    price_m = pricer.close_price(ins, dq_m, np.sign(q), proj.slip)
    m_rows = dq_m != 0
    ledger.record(
        "close",
        round_no=round_no,
        payer=acc_r[m_rows],
        payee=MARKET,
        amount=proj.slip[m_rows],
        account=acc_r[m_rows],
        instrument=ins[m_rows],
        quantity=-dq_m[m_rows],
        price=price_m[m_rows],
        notional=notional_m[m_rows],
    )
    f_rows = proj.fee > 0
    to_fund = proj.fee * liq.fee_to_insurance
    ledger.record(
        "liquidation_fee",
        round_no=round_no,
        payer=acc_r[f_rows],
        payee=INSURANCE,
        amount=to_fund[f_rows],
        account=acc_r[f_rows],
        instrument=ins[f_rows],
    )
    if liq.fee_to_insurance < 1.0:
        ledger.record(
            "liquidation_fee",
            round_no=round_no,
            payer=acc_r[f_rows],
            payee=FEES,
            amount=(proj.fee - to_fund)[f_rows],
            account=acc_r[f_rows],
            instrument=ins[f_rows],
        )
    fees_to_fund = float(to_fund.sum())
    fees_to_venue = float(proj.fee.sum()) - fees_to_fund
    fund.balance += fees_to_fund
    cash = close * pos.mtm[rows] - proj.slip - proj.fee
    state.credit_cash(acc_r, cash)
    # ADL legs (through the ADL clearing pot, which nets to zero)
    a_rows = adl > 0
    if a_rows.any():
        t_exec = adl * t_full
        ledger.transfer(
            "adl",
            round_no=round_no,
            src=ADL_POOL,
            dst=acc_r[a_rows],
            signed_amount=t_exec[a_rows],
            account=acc_r[a_rows],
            instrument=ins[a_rows],
            quantity=-(adl * q)[a_rows],
            price=row_bp[a_rows],
        )
        state.credit_cash(acc_r[a_rows], t_exec[a_rows])
        cq = pos.quantity[adl_cand_rows]
        frac_c = adl_fill / np.abs(cq)
        adl_px = pricer.price_for_value(adl_ins, np.sign(cq) * adl_fill, -adl_pay)
        ledger.transfer(
            "adl",
            round_no=round_no,
            src=adl_acc,
            dst=ADL_POOL,
            signed_amount=adl_pay,
            account=adl_acc,
            instrument=adl_ins,
            quantity=-np.sign(cq) * adl_fill,
            price=adl_px,
            notional=pricer.notional(adl_ins, adl_fill),
        )
        state.credit_cash(adl_acc, frac_c * pos.mtm[adl_cand_rows] - adl_pay)
        state.reduce_positions(adl_cand_rows, frac_c)
    state.reduce_positions(rows, close)
    if state.pos_margin is not None:
        # an isolated position's own margin absorbs what its partial close realised and cost
        ps = units.position_scope[ru]
        state.pos_margin[rows[ps]] += (close * pos.mtm[rows] - proj.slip - proj.fee)[ps]
        state.pos_margin[rows[~ps]] *= (1.0 - close)[~ps]
    # collateral sales
    s_acc = units.account[proj.sale_unit]
    if proj.sale_amount.size:
        px = coll.price[proj.sale_asset]
        proceeds = proj.sale_amount * px - proj.sale_cost
        np.add.at(state.balances, (s_acc, proj.sale_asset), -proj.sale_amount)
        state.credit_cash(s_acc, proceeds)
        ledger.record(
            "collateral_sale",
            round_no=round_no,
            payer=s_acc,
            payee=MARKET,
            amount=proj.sale_cost,
            account=s_acc,
            asset=proj.sale_asset,
            quantity=-proj.sale_amount,
            price=np.where(
                proj.sale_amount > 0, proceeds / np.maximum(proj.sale_amount, 1e-300), px
            ),
            notional=proj.sale_amount * px,
        )
    # bankruptcy: write off (exactly what is negative), fund, last resort
    deficit = np.maximum(-proj.value_after, 0.0)
    closed_acct = ~units.position_scope & (sum_by(ru, (close < 1.0).astype(np.float64), U) == 0)
    if closed_acct.any():
        a = units.account[closed_acct]
        px_a = np.where(np.arange(len(state.assets)) == state.cash_asset, 1.0, coll.price)
        left = state.balances[a] @ np.nan_to_num(px_a)
        deficit[closed_acct] = np.maximum(-left, 0.0)
    b = deficit > 0
    ledger.record(
        "write_off",
        round_no=round_no,
        payer=BAD_DEBT,
        payee=units.account[b],
        amount=deficit[b],
        account=units.account[b],
    )
    state.credit_cash(units.account[b], deficit[b])
    paid = allocate_fund(deficit, fund.balance)
    fund.balance -= float(paid.sum())
    p_ = paid > 0
    ledger.record(
        "insurance_payout",
        round_no=round_no,
        payer=INSURANCE,
        payee=BAD_DEBT,
        amount=paid[p_],
        account=units.account[p_],
    )
    residual = float((deficit - paid).sum())
    charges = np.zeros(rb.n_accounts)
    if residual > 0 and liq.last_resort in ("socialize_profitable", "socialize_all"):
        if liq.last_resort == "socialize_profitable":
            weight = sum_by(pos.account, pnl_all, rb.n_accounts)
        else:
            weight = rb.collateral.per_account(rb.collateral.market_value, rb.n_accounts)
        weight = np.where(trig_mask, 0.0, np.maximum(weight, 0.0))
        charges = socialize(residual, weight)
        c_ = np.flatnonzero(charges > 0)
        ledger.record(
            "socialized_loss",
            round_no=round_no,
            payer=c_,
            payee=BAD_DEBT,
            amount=charges[c_],
            account=c_,
        )
        state.credit_cash(c_, -charges[c_])
    uncovered = residual - float(charges.sum())
    # market flow per symbol (delta notional bought; a long closed is a sale)
    flow: dict[str, float] = {}
    d_not = -dq_m * inst.delta[ins] * inst.spot[ins]
    per_und = sum_by(inst.und[ins], d_not, len(inst.underlyings)) if ins.size else np.zeros(0)
    for u, x in enumerate(per_und):
        if x != 0:
            flow[inst.underlyings[u]] = flow.get(inst.underlyings[u], 0.0) + float(x)
    for k, amt in zip(proj.sale_asset, proj.sale_amount, strict=True):
        sym = state.assets[int(k)]
        flow[sym] = flow.get(sym, 0.0) - float(amt * coll.price[int(k)])
    state.compact()
    return RoundResult(
        round_no=round_no,
        triggered=triggered,
        units=units,
        row_account=acc_r,
        row_instrument=ins,
        row_quantity=q,
        row_market=dq_m,
        row_adl=adl * q,
        row_price=price_m,
        row_slippage=proj.slip,
        row_fee=proj.fee,
        row_notional=notional_m,
        row_bankruptcy_price=row_bp,
        sale_account=s_acc,
        sale_asset=proj.sale_asset,
        sale_amount=proj.sale_amount,
        sale_price=coll.price[proj.sale_asset],
        sale_cost=proj.sale_cost,
        adl_account=adl_acc,
        adl_instrument=adl_ins,
        adl_quantity=adl_fill,
        adl_price=adl_px,
        adl_pay=adl_pay,
        adl_notional=pricer.notional(adl_ins, adl_fill),
        adl_transfer_in=float((adl * t_full).sum()) if adl.any() else 0.0,
        unit_value=ctx.v0,
        unit_value_after=proj.value_after,
        unit_deficit=deficit,
        unit_fund_paid=paid,
        unit_market_share=share,
        socialized=charges,
        uncovered=uncovered,
        fund_before=fund_before,
        fund_after=fund.balance,
        fees_to_fund=fees_to_fund,
        fees_to_venue=fees_to_venue,
        flow=flow,
    )
