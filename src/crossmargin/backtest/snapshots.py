"""Point-in-time snapshots and the batched ("stacked") resolution of every backtest day at once.

**Point-in-time snapshot** of calendar date ``d`` (:func:`day_snapshot`): ``as_of`` = ``d``
00:00 UTC; each underlying's price is its close on ``d``; its flat vol is the estimate available
on ``d`` (:mod:`crossmargin.backtest.vol`); forwards and discounts follow from the book's
``rate`` (``F = S e^{rT}``, ``D = e^{−rT}``; default 0, i.e. no carry, funding or dividends);
a perpetual is marked at the close (no perp-basis history); models that build scenarios from
history get the cleaned history truncated at ``d``. Nothing after ``d`` is read.

**Stacked resolution** (:func:`stacked_resolved`): instead of building and resolving one snapshot
per day, the book of every evaluation day becomes one *account* of a single
:class:`~crossmargin.resolve.ResolvedBook`, with one instrument row per (day, leg) carrying that
day's spot, forward, time to expiry and vol. Every model that reads only the resolved arrays
(grid, cross, isolated and any model written the same way) then margins all days in one vectorised
call. It is exactly what :func:`~crossmargin.resolve.resolve` produces day by day — the same
forward/discount formulas and the same value/delta function — which the tests check against
:func:`day_snapshot` + :func:`~crossmargin.engine.margin_book` for every registered model, and the
replay engine re-checks per model at run time before trusting it.

Optionally each day also gets one sub-account per underlying (the day's positions in that
underlying only): their margins measure how much the model nets *across* underlyings.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import numpy as np

from crossmargin._time import SECONDS_PER_YEAR
from crossmargin._typing import BoolArray, FloatArray, IntArray
from crossmargin.backtest.schedule import DailyLegs, epoch_seconds
from crossmargin.collateral.valuation import value_collateral
from crossmargin.config import RiskConfig
from crossmargin.instruments.book import Book
from crossmargin.instruments.position import Portfolio, Position
from crossmargin.market.history import PriceHistory
from crossmargin.market.snapshot import AssetMarket, MarketSnapshot
from crossmargin.resolve.book import ResolvedBook
from crossmargin.resolve.instruments import InstrumentTable
from crossmargin.resolve.marks import Marks
from crossmargin.resolve.positions import book_holdings, mark_positions
from crossmargin.resolve.terms import KIND_FUTURE, KIND_OPTION, contract_terms

__all__ = [
    "MarketPath",
    "day_book",
    "day_snapshot",
    "instrument_rows",
    "realised_pnl",
    "solve_hedges",
    "stacked_resolved",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True, eq=False)
class MarketPath:
    """Market data of the book's underlyings on every calendar date.

    Attributes
    ----------
    dates
        Calendar dates (``datetime64[D]``).
    underlyings
        Names, index = column of ``spot``/``vol``.
    spot
        ``(n_dates, n_underlyings)`` closes.
    vol
        ``(n_dates, n_underlyings)`` point-in-time vol estimates (NaN where none / not needed).
    rate
        Continuously compounded rate for forwards and discounts.
    history
        The cleaned price history; each day's snapshot carries it truncated at that day, for
        models that build scenarios from history (:meth:`PriceHistory.until`: the model cannot
        see a later close).
    """

    dates: np.ndarray
    underlyings: tuple[str, ...]
    spot: FloatArray
    vol: FloatArray
    rate: float
    history: PriceHistory | None = None

    def as_of(self, j: int) -> datetime:
        """Valuation instant of calendar date ``j``."""
        return _EPOCH + timedelta(days=int(self.dates[j].astype(np.int64)))


def day_snapshot(market: MarketPath, j: int, *, base_currency: str = "USD") -> MarketSnapshot:
    """The point-in-time snapshot of calendar date ``j`` (module docstring)."""
    assets = {}
    for u, name in enumerate(market.underlyings):
        v = float(market.vol[j, u])
        assets[name] = AssetMarket(
            price=float(market.spot[j, u]),
            vol=v if np.isfinite(v) else None,
            rate=market.rate,
        )
    return MarketSnapshot(
        as_of=market.as_of(j),
        base_currency=base_currency,
        assets=assets,
        timestamp=market.as_of(j),  # the day's closes are observed at its as_of
        history=None
        if market.history is None
        else market.history.until(
            market.dates[j], source=f"{market.history.source} (cleaned, up to {market.dates[j]})"
        ),
    )


def instrument_rows(
    daily: DailyLegs, market: MarketPath, config: RiskConfig, *, at: IntArray
) -> InstrumentTable:
    """Instrument table with one row per (day, leg), priced on calendar dates ``at`` (per day).

    ``at = daily.days`` prices each day's book on its own day (for margin);
    ``at = daily.days + mpor`` re-prices the same contracts at the end of the window. The terms
    are the engine's (:func:`~crossmargin.resolve.terms.contract_terms`, once per contract, then
    one row per (day, leg)); the marks are that day's spot, forward, discount and vol valued by
    the engine's :func:`~crossmargin.resolve.marks.unit_values` — the stacked marks of every day.
    """
    D, L = daily.n_days, daily.n_legs
    terms = contract_terms(daily.contracts, config, underlyings=daily.underlyings).take(
        daily.contract_id.ravel()
    )
    kind, und = terms.kind, terms.und
    dated = (kind == KIND_FUTURE) | (kind == KIND_OPTION)
    # expiry buckets numbered as within one day's snapshot (small, so that the dense
    # (group x bucket) add-ons stay small over years of rolled contracts)
    terms = replace(terms, expiry_key=_day_expiry_keys(D, L, und, daily.expiry.ravel(), dated))
    day_of_row = np.repeat(at, L)
    spot = market.spot[day_of_row, und]
    asof = np.repeat(epoch_seconds(market.dates[at]), L)
    t = np.where(dated, (daily.expiry.ravel() - asof) / SECONDS_PER_YEAR, 0.0)
    if np.any(dated & (t <= 0)):
        raise AssertionError("a backtest contract is priced at or after its expiry")
    r = market.rate
    fwd = np.where(dated, spot * np.exp(r * t), spot)
    disc = np.where(dated, np.exp(-r * t), 1.0)
    opt = kind == KIND_OPTION
    sigma = np.where(opt, market.vol[day_of_row, und], 0.0)
    if np.any(opt & ~(np.isfinite(sigma) & (sigma > 0))):
        raise AssertionError("an option row has no vol estimate (evaluation days must have one)")
    settled = np.zeros(D * L, dtype=np.bool_)
    return InstrumentTable.join(terms, Marks.valued(terms, (spot, fwd, t, disc, sigma, settled)))


def _day_expiry_keys(D: int, L: int, und: IntArray, expiry: IntArray, dated: BoolArray) -> IntArray:
    """Expiry bucket of each (day, leg) row, numbered as within one day's snapshot.

    Per (day, underlying) the distinct expiries are 1, 2, … in order; perpetuals and spot
    share bucket 0.
    """
    key = np.zeros(D * L, dtype=np.int64)
    if dated.any():
        day = np.repeat(np.arange(D, dtype=np.int64), L)[dated]
        uniq, inv = np.unique(
            np.stack([day, und[dated], expiry[dated]]), axis=1, return_inverse=True
        )
        new_group = np.ones(uniq.shape[1], dtype=np.bool_)
        new_group[1:] = np.any(uniq[:2, 1:] != uniq[:2, :-1], axis=0)
        start = np.maximum.accumulate(np.where(new_group, np.arange(uniq.shape[1]), 0))
        key[dated] = (np.arange(uniq.shape[1]) - start + 1)[inv.ravel()]
    return key


def solve_hedges(daily: DailyLegs, inst: InstrumentTable, spot: FloatArray) -> DailyLegs:
    """Size the hedge legs so that each hedged underlying's net delta notional hits its target.

    ``spot`` is the ``(n_days, n_underlyings)`` spot on the evaluation days; ``inst`` the table
    of :func:`instrument_rows` on those days (deltas per unit, multiplier included).
    """
    hedges = [li for li, leg in enumerate(daily.legs) if leg.is_hedge]
    if not hedges:
        return daily
    D, L = daily.n_days, daily.n_legs
    delta = inst.delta.reshape(D, L)
    q = daily.quantity.copy()
    for h in hedges:
        u = int(daily.und[h])
        others = (daily.und == u) & ~np.isnan(q[0])
        others[h] = False
        held = np.sum(np.where(others[None, :], q * delta, 0.0), axis=1)
        target = float(daily.legs[h].hedge_delta_notional or 0.0) / spot[:, u]
        q[:, h] = (target - held) / delta[:, h]
    return daily.with_quantity(q)


def stacked_resolved(
    daily: DailyLegs,
    inst: InstrumentTable,
    market: MarketPath,
    config: RiskConfig,
    *,
    by_underlying: bool = False,
    name: str = "book",
) -> ResolvedBook:
    """One resolved book whose accounts are the evaluation days (module docstring).

    ``inst`` is the (day, leg) table of :func:`instrument_rows`; legs of one day that hold the
    same contract share one instrument row, as :func:`~crossmargin.resolve.resolve` would give
    them. Accounts ``0 … D−1`` are the full books; with ``by_underlying`` (and two or more
    underlyings) account ``D + d × U + u`` holds day ``d``'s positions in underlying ``u`` only.
    """
    D, L = daily.n_days, daily.n_legs
    U = len(daily.underlyings)
    n_c = max(len(daily.contracts), 1)
    day = np.repeat(np.arange(D, dtype=np.int64), L)
    key = day * n_c + daily.contract_id.ravel()
    _, first, of_row = np.unique(key, return_index=True, return_inverse=True)
    table = inst.take(first)
    of_row = of_row.ravel().astype(np.int64)
    acc = day
    pos_inst = of_row
    qty = daily.quantity.ravel()
    leg = np.tile(np.arange(L, dtype=np.int64), D)
    n_acc = D
    if by_underlying and U > 1:
        sub = D + day * U + np.tile(daily.und, D)
        acc = np.concatenate([acc, sub])
        pos_inst = np.concatenate([pos_inst, of_row])
        qty = np.concatenate([qty, qty])
        leg = np.concatenate([leg, leg])
        n_acc = D + D * U
    day_names = [str(market.dates[j]) for j in daily.days]
    accounts = [f"{name}@{d}" for d in day_names]
    if n_acc > D:
        accounts += [f"{name}@{d}:{u}" for d in day_names for u in daily.underlyings]
    book = Book(
        accounts=tuple(accounts),
        base_currency=("USD",) * n_acc,
        contracts=table.contracts,
        pos_account=acc,
        pos_instrument=pos_inst,
        pos_quantity=qty,
        pos_entry=np.full(qty.shape[0], np.nan),
        assets=(),
        col_account=np.zeros(0, dtype=np.int64),
        col_asset=np.zeros(0, dtype=np.int64),
        col_amount=np.zeros(0),
        pos_row=leg,
        pos_prefix=("legs",) * n_acc,
    )
    snap = day_snapshot(market, int(daily.days[0]))
    pos = mark_positions(book_holdings(book, table), table, table)
    col = value_collateral(book, snap, config)
    return ResolvedBook(book, snap, config, table, pos, col, np.ones(n_acc))


def day_book(daily: DailyLegs, d: int, *, by_underlying: bool = False, name: str = "book") -> Book:
    """The book of evaluation day ``d`` as ordinary portfolios (the per-day reference path).

    Account 0 is the full book; with ``by_underlying`` (two or more underlyings) account
    ``1 + u`` holds the positions in underlying ``u`` only.
    """
    q = daily.quantity[d]
    cons = [daily.contracts[int(i)] for i in daily.contract_id[d]]
    full = Portfolio(
        account=name, positions=tuple(Position(c, float(x)) for c, x in zip(cons, q, strict=True))
    )
    pfs = [full]
    if by_underlying and len(daily.underlyings) > 1:
        for u, sym in enumerate(daily.underlyings):
            sel = [li for li in range(daily.n_legs) if int(daily.und[li]) == u]
            pfs.append(
                Portfolio(
                    account=f"{name}:{sym}",
                    positions=tuple(Position(cons[li], float(q[li])) for li in sel),
                )
            )
    return Book.from_portfolios(pfs)


def realised_pnl(start: InstrumentTable, end: InstrumentTable) -> FloatArray:
    """P&L per unit of each row from ``start`` to ``end`` (same contracts, later market).

    Defined as the engine marks an account (and as :func:`~crossmargin.risk.unit_pnl` defines a
    scenario): linear delta-one ``m (F₁ − F₀)``; inverse delta-one (USD face)
    ``m (1/F₀ − 1/F₁) S₁``; linear option ``m (V₁ − V₀)``; inverse option, whose premium is held
    in coin, ``m (V₁ − V₀ S₁/S₀)``.
    """
    opt = start.kind == KIND_OPTION
    inv = start.inverse
    m = start.mult
    lin_d1 = m * (end.fwd - start.fwd)
    inv_d1 = m * (1.0 / start.fwd - 1.0 / end.fwd) * end.spot
    lin_opt = m * (end.value - start.value)
    inv_opt = m * (end.value - start.value * end.spot / start.spot)
    return np.asarray(
        np.where(opt, np.where(inv, inv_opt, lin_opt), np.where(inv, inv_d1, lin_d1)),
        dtype=np.float64,
    )
