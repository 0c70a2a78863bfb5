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
from typing import overload

import numpy as np

from crossmargin._arrays import sum_by
from crossmargin._typing import BoolArray, FloatArray, IntArray
from crossmargin.account.health import AccountResults
from crossmargin.errors import LiquidationError
from crossmargin.liquidation.adl import AdlSplit, adl_split
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
from crossmargin.liquidation.projection import CloseOutContext, Projection, position_pnl, project
from crossmargin.liquidation.state import VenueState
from crossmargin.liquidation.units import Units, build_units, liquidatable, unit_value
from crossmargin.liquidation.waterfall import allocate_fund, socialize
from crossmargin.resolve.book import ResolvedBook

__all__ = [
    "Fills",
    "InsuranceFund",
    "Losses",
    "RoundPlan",
    "RoundResult",
    "cover_deficits",
    "execute_closeouts",
    "liquidate_round",
    "market_flow",
    "plan_round",
    "position_pnl",
    "sell_collateral",
]


@dataclass
class InsuranceFund:
    """The insurance fund's balance (snapshot currency); mutated by :func:`liquidate_round`."""

    balance: float


class _Total:
    """A round total: the sum of one or more of the round's array fields (snapshot currency)."""

    __slots__ = ("fields",)

    def __init__(self, *fields: str) -> None:
        self.fields = fields

    @overload
    def __get__(self, obj: None, owner: type) -> _Total: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> float: ...
    def __get__(self, obj: object | None, owner: type | None = None) -> float | _Total:
        if obj is None:
            return self
        return float(sum(getattr(obj, f).sum() for f in self.fields))


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

    #: Total deficit written off this round.
    bad_debt = _Total("unit_deficit")
    #: Notional closed in the market.
    notional_market = _Total("row_notional")
    #: Notional taken over by ADL counterparties.
    notional_adl = _Total("adl_notional")
    #: Slippage paid: in the market closes and in the collateral sales.
    slippage = _Total("row_slippage", "sale_cost")
    #: Paid out by the insurance fund.
    insurance_paid = _Total("unit_fund_paid")
    #: Loss socialised over accounts (the last resort).
    socialized_total = _Total("socialized")


@dataclass(frozen=True, slots=True, eq=False)
class RoundPlan:
    """Who is liquidated this round and how, before anything moves (step 1).

    ``close`` is the fraction of each unit row to close; ``split`` how much of it goes to the
    market and how much to ADL counterparties at the bankruptcy price.
    """

    triggered: IntArray
    liquidating: BoolArray
    units: Units
    ctx: CloseOutContext
    close: FloatArray
    split: AdlSplit
    pnl: FloatArray


@dataclass(frozen=True, slots=True, eq=False)
class Fills:
    """What the market and ADL executions did (steps 2–3)."""

    proj: Projection
    quantity: FloatArray
    market: FloatArray
    price: FloatArray
    notional: FloatArray
    fees_to_fund: float
    fees_to_venue: float
    adl_price: FloatArray


@dataclass(frozen=True, slots=True, eq=False)
class Losses:
    """How the round's deficits were covered (step 4)."""

    deficit: FloatArray
    fund_paid: FloatArray
    socialized: FloatArray
    uncovered: float


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
        The state resolved at this round's prices (:meth:`VenueState.bind`), and its health
        under the regime.
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
    fund_before = fund.balance
    plan = plan_round(state, rb, res, fund, policy=policy, accounts=accounts)
    fills = execute_closeouts(plan, state, rb, fund, ledger, round_no)
    sell_collateral(plan, fills.proj, state, ledger, round_no)
    losses = cover_deficits(plan, fills.proj, state, rb, fund, ledger, round_no)
    flow = market_flow(plan, fills, rb, state)
    state.compact()
    units, ctx, split, proj = plan.units, plan.ctx, plan.split, fills.proj
    coll, pricer = ctx.coll, ctx.pricer
    adl_ins = rb.positions.instrument[split.cand_rows]
    return RoundResult(
        round_no=round_no,
        triggered=plan.triggered,
        units=units,
        row_account=units.account[units.row_unit],
        row_instrument=rb.positions.instrument[units.row],
        row_quantity=fills.quantity,
        row_market=fills.market,
        row_adl=split.adl * fills.quantity,
        row_price=fills.price,
        row_slippage=proj.slip,
        row_fee=proj.fee,
        row_notional=fills.notional,
        row_bankruptcy_price=split.bankruptcy_price,
        sale_account=units.account[proj.sale_unit],
        sale_asset=proj.sale_asset,
        sale_amount=proj.sale_amount,
        sale_price=coll.price[proj.sale_asset],
        sale_cost=proj.sale_cost,
        adl_account=rb.positions.account[split.cand_rows],
        adl_instrument=adl_ins,
        adl_quantity=split.fill,
        adl_price=fills.adl_price,
        adl_pay=split.pay,
        adl_notional=pricer.notional(adl_ins, split.fill),
        adl_transfer_in=float((split.adl * split.t_full).sum()) if split.adl.any() else 0.0,
        unit_value=ctx.v0,
        unit_value_after=proj.value_after,
        unit_deficit=losses.deficit,
        unit_fund_paid=losses.fund_paid,
        unit_market_share=split.market_share,
        socialized=losses.socialized,
        uncovered=losses.uncovered,
        fund_before=fund_before,
        fund_after=fund.balance,
        fees_to_fund=fills.fees_to_fund,
        fees_to_venue=fills.fees_to_venue,
        flow=flow,
    )


def plan_round(
    state: VenueState,
    rb: ResolvedBook,
    res: AccountResults,
    fund: InsuranceFund,
    *,
    policy: str | None,
    accounts: IntArray | None,
) -> RoundPlan:
    """Step 1: units, close fractions, prices, and what the fund and ADL will have to carry."""
    cfg = rb.config
    liq = cfg.liquidation
    pos = rb.positions
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
    close = plan_units(rb, pricer, units, policy=policy or liq.policy, model=res.batch.model)
    coll = CollateralPricer.from_book(rb, state.assets)
    base = rb.snapshot.base_currency
    rank = np.asarray(
        [
            (h.mm if (h := cfg.haircut(a, base_currency=base)) is not None else 1.0)
            for a in state.assets
        ]
    )
    ctx = CloseOutContext(rb, state, units, pricer, coll, rank, unit_value(rb, units))
    # projected market close-out and the fund's allocation decide the ADL split
    U = units.n
    proj = project(ctx, np.arange(U, dtype=np.int64), close, close, np.zeros(U))
    deficit0 = np.maximum(-proj.value_after, 0.0)
    fees_in = float(proj.fee.sum()) * liq.fee_to_insurance
    paid0 = allocate_fund(deficit0, fund.balance + fees_in)
    tol = 1e-9 * np.maximum(1.0, np.abs(ctx.v0))
    pnl_all = position_pnl(rb, state.pos_entry)
    need_adl = (deficit0 - paid0 > tol) if liq.last_resort == "adl" else np.zeros(U, np.bool_)
    m_equity = res.maintenance_equity / rb.fx  # snapshot currency
    split = adl_split(ctx, close, need_adl, paid0, trig_mask, pnl_all, m_equity)
    return RoundPlan(triggered, trig_mask, units, ctx, close, split, pnl_all)


def execute_closeouts(
    plan: RoundPlan,
    state: VenueState,
    rb: ResolvedBook,
    fund: InsuranceFund,
    ledger: Ledger,
    round_no: int,
) -> Fills:
    """Steps 2–3: close in the market (slippage, fees), then hand the ADL legs over."""
    liq = rb.config.liquidation
    pos = rb.positions
    units, ctx, split, close = plan.units, plan.ctx, plan.split, plan.close
    pricer = ctx.pricer
    market, adl, t_full = split.market, split.adl, split.t_full
    ru, rows = units.row_unit, units.row
    q = pos.quantity[rows]
    ins = pos.instrument[rows]
    proj = project(ctx, np.arange(units.n, dtype=np.int64), close, market, split.transfer)
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
    state.credit_cash(acc_r, close * pos.mtm[rows] - proj.slip - proj.fee)
    adl_px = np.zeros(0)
    a_rows = adl > 0
    if a_rows.any():  # ADL legs, through the ADL clearing pot (which nets to zero)
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
            price=split.bankruptcy_price[a_rows],
        )
        state.credit_cash(acc_r[a_rows], t_exec[a_rows])
        cand = split.cand_rows
        adl_acc, adl_ins = pos.account[cand], pos.instrument[cand]
        cq = pos.quantity[cand]
        frac_c = split.fill / np.abs(cq)
        adl_px = pricer.price_for_value(adl_ins, np.sign(cq) * split.fill, -split.pay)
        ledger.transfer(
            "adl",
            round_no=round_no,
            src=adl_acc,
            dst=ADL_POOL,
            signed_amount=split.pay,
            account=adl_acc,
            instrument=adl_ins,
            quantity=-np.sign(cq) * split.fill,
            price=adl_px,
            notional=pricer.notional(adl_ins, split.fill),
        )
        state.credit_cash(adl_acc, frac_c * pos.mtm[cand] - split.pay)
        state.reduce_positions(cand, frac_c)
    state.reduce_positions(rows, close)
    if state.pos_margin is not None:
        # an isolated position's own margin absorbs what its partial close realised and cost
        ps = units.position_scope[ru]
        state.pos_margin[rows[ps]] += (close * pos.mtm[rows] - proj.slip - proj.fee)[ps]
        state.pos_margin[rows[~ps]] *= (1.0 - close)[~ps]
    return Fills(proj, q, dq_m, price_m, notional_m, fees_to_fund, fees_to_venue, adl_px)


def sell_collateral(
    plan: RoundPlan, proj: Projection, state: VenueState, ledger: Ledger, round_no: int
) -> None:
    """Step 4: an account closed in full with a negative quote balance sells collateral."""
    if not proj.sale_amount.size:
        return
    s_acc = plan.units.account[proj.sale_unit]
    px = plan.ctx.coll.price[proj.sale_asset]
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
        price=np.where(proj.sale_amount > 0, proceeds / np.maximum(proj.sale_amount, 1e-300), px),
        notional=proj.sale_amount * px,
    )


def cover_deficits(
    plan: RoundPlan,
    proj: Projection,
    state: VenueState,
    rb: ResolvedBook,
    fund: InsuranceFund,
    ledger: Ledger,
    round_no: int,
) -> Losses:
    """Step 5: write off what is negative, then the insurance fund, then the last resort."""
    liq = rb.config.liquidation
    units, pos = plan.units, rb.positions
    deficit = np.maximum(-proj.value_after, 0.0)
    U = units.n
    fully = sum_by(units.row_unit, (plan.close < 1.0).astype(np.float64), U) == 0
    closed_acct = ~units.position_scope & fully
    if closed_acct.any():
        a = units.account[closed_acct]
        px_a = np.where(np.arange(len(state.assets)) == state.cash_asset, 1.0, plan.ctx.coll.price)
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
            weight = sum_by(pos.account, plan.pnl, rb.n_accounts)
        else:
            weight = rb.collateral.per_account(rb.collateral.market_value, rb.n_accounts)
        weight = np.where(plan.liquidating, 0.0, np.maximum(weight, 0.0))
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
    return Losses(deficit, paid, charges, residual - float(charges.sum()))


def market_flow(
    plan: RoundPlan, fills: Fills, rb: ResolvedBook, state: VenueState
) -> dict[str, float]:
    """Delta notional the round bought per symbol (a long closed, or collateral sold, is a sale)."""
    inst = rb.instruments
    ins = rb.positions.instrument[plan.units.row]
    flow: dict[str, float] = {}
    d_not = -fills.market * inst.delta[ins] * inst.spot[ins]
    per_und = sum_by(inst.und[ins], d_not, len(inst.underlyings)) if ins.size else np.zeros(0)
    for u, x in enumerate(per_und):
        if x != 0:
            flow[inst.underlyings[u]] = flow.get(inst.underlyings[u], 0.0) + float(x)
    proj, price = fills.proj, plan.ctx.coll.price
    for k, amt in zip(proj.sale_asset, proj.sale_amount, strict=True):
        sym = state.assets[int(k)]
        flow[sym] = flow.get(sym, 0.0) - float(amt * price[int(k)])
    return flow
