"""The book on every evaluation day: rolled contracts and their sizes (no look-ahead).

For each leg the contract held on each evaluation day is fixed by the roll rule of
:mod:`crossmargin.backtest.spec` using only that day's date and spot; sizes follow the book's
rebalancing rule. Rolls are found per *roll event* (a ``searchsorted`` over the evaluation dates),
not per day. Hedge legs are sized later, once the day's option deltas are known
(:func:`crossmargin.backtest.snapshots.solve_hedges`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from crossmargin._time import EXPIRY_HOUR_UTC
from crossmargin._typing import BoolArray, FloatArray, IntArray
from crossmargin.backtest.spec import BacktestBook, Leg
from crossmargin.errors import InputError
from crossmargin.instruments.contracts import Contract, Future, Option, Perpetual, Spot

__all__ = ["DailyLegs", "build_daily_legs", "epoch_seconds", "listed_strike"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_seconds(days: np.ndarray, hour: int = 0) -> IntArray:
    """Seconds since the epoch of ``datetime64[D]`` dates at ``hour`` UTC."""
    return np.asarray(days.astype("datetime64[s]").astype(np.int64) + 3600 * hour, dtype=np.int64)


def _day(d: np.datetime64) -> datetime:
    return _EPOCH + timedelta(days=int(d.astype(np.int64)))


@dataclass(frozen=True, slots=True, eq=False)
class DailyLegs:
    """The book on each evaluation day, as ``(n_days, n_legs)`` arrays.

    Attributes
    ----------
    days
        Calendar index of each evaluation day.
    legs, und, underlyings
        The legs, each leg's underlying index and the underlying names.
    contract_id
        Index into ``contracts`` of the contract each leg holds that day.
    contracts
        Every contract held at some point (one per roll).
    strike, expiry
        Strike (options, else 0) and expiry in epoch seconds (dated legs, else 0).
    quantity
        Signed size; NaN for hedge legs until solved.
    rolled
        The leg was opened (or re-opened) that day.
    """

    days: IntArray
    legs: tuple[Leg, ...]
    und: IntArray
    underlyings: tuple[str, ...]
    contract_id: IntArray
    contracts: tuple[Contract, ...]
    strike: FloatArray
    expiry: IntArray
    quantity: FloatArray
    rolled: BoolArray

    @property
    def n_days(self) -> int:
        """Number of evaluation days."""
        return int(self.days.shape[0])

    @property
    def n_legs(self) -> int:
        """Number of legs."""
        return len(self.legs)

    def with_quantity(self, quantity: FloatArray) -> DailyLegs:
        """A copy with other quantities (hedges solved)."""
        return DailyLegs(
            self.days,
            self.legs,
            self.und,
            self.underlyings,
            self.contract_id,
            self.contracts,
            self.strike,
            self.expiry,
            quantity,
            self.rolled,
        )


def listed_strike(x: float) -> float:
    """``x`` rounded to 4 significant figures — a listing grid (6 762.9 → 6 763, 575.22 → 575.2)."""
    if x <= 0 or not np.isfinite(x):
        raise ValueError(f"strike must be positive, got {x!r}")
    step = 10.0 ** (np.floor(np.log10(x)) - 3)
    return float(np.round(x / step) * step)


def _undated(leg: Leg) -> Contract:
    if leg.kind == "spot":
        return Spot(leg.underlying, leg.settlement, leg.multiplier)
    return Perpetual(leg.underlying, leg.settlement, leg.multiplier)


def build_daily_legs(
    book: BacktestBook,
    dates: np.ndarray,
    spot: FloatArray,
    days: IntArray,
    mpor: int,
) -> DailyLegs:
    """Instantiate every leg on every evaluation day.

    Parameters
    ----------
    book
        The recipe.
    dates
        Calendar dates (``datetime64[D]``).
    spot
        ``(n_dates, n_underlyings)`` closes of ``book.underlyings``.
    days
        Calendar indices of the evaluation days (increasing, ``days + mpor`` on the calendar).
    mpor
        Margin period of risk in calendar steps.

    Raises
    ------
    InputError
        A dated leg's tenor cannot outlive its roll window and the margin period of risk.
    """
    D, L = days.shape[0], len(book.legs)
    und_ix = {u: i for i, u in enumerate(book.underlyings)}
    und = np.asarray([und_ix[leg.underlying] for leg in book.legs], dtype=np.int64)
    contract_id = np.zeros((D, L), dtype=np.int64)
    strike = np.zeros((D, L))
    expiry = np.zeros((D, L), dtype=np.int64)
    rolled = np.zeros((D, L), dtype=np.bool_)
    contracts: list[Contract] = []
    ids: dict[Contract, int] = {}

    def intern(c: Contract) -> int:
        """One id per distinct contract (two legs holding the same contract share it)."""
        if c not in ids:
            ids[c] = len(contracts)
            contracts.append(c)
        return ids[c]

    start_day = dates[days].astype(np.int64)
    end_day = dates[days + mpor].astype(np.int64)
    for li, leg in enumerate(book.legs):
        if not leg.dated:
            contract_id[:, li] = intern(_undated(leg))
            rolled[0, li] = True
            continue
        k = 0
        while k < D:
            exp_day = int(start_day[k]) + leg.tenor_days
            nxt = min(
                int(np.searchsorted(start_day, exp_day - leg.roll_days, side="right")),
                int(np.searchsorted(end_day, exp_day, side="left")),
            )
            if nxt <= k:
                raise InputError(
                    f"a {leg.tenor_days}-day {leg.kind} opened on {dates[days[k]]} expires before "
                    f"the margin period of risk ends on {dates[days[k] + mpor]} (or within "
                    f"roll_days); use a longer tenor",
                    path=f"legs[{li}].tenor_days",
                )
            exp_dt = _day(np.datetime64(exp_day, "D")).replace(hour=EXPIRY_HOUR_UTC)
            s0 = float(spot[days[k], und[li]])
            c: Contract
            if leg.kind == "option":
                assert leg.right is not None
                k_strike = listed_strike(leg.moneyness * s0)
                c = Option(
                    leg.underlying, exp_dt, k_strike, leg.right, leg.settlement, leg.multiplier
                )
                strike[k:nxt, li] = k_strike
            else:
                c = Future(leg.underlying, exp_dt, leg.settlement, leg.multiplier)
            contract_id[k:nxt, li] = intern(c)
            expiry[k:nxt, li] = int((exp_dt - _EPOCH).total_seconds())
            rolled[k, li] = True
            k = nxt
    quantity = _quantities(book, spot, days, und)
    return DailyLegs(
        days=days,
        legs=book.legs,
        und=und,
        underlyings=book.underlyings,
        contract_id=contract_id,
        contracts=tuple(contracts),
        strike=strike,
        expiry=expiry,
        quantity=quantity,
        rolled=rolled,
    )


def _quantities(book: BacktestBook, spot: FloatArray, days: IntArray, und: IntArray) -> FloatArray:
    """Sizes of the non-hedge legs per day (hedge legs NaN)."""
    D, L = days.shape[0], len(book.legs)
    q = np.full((D, L), np.nan)
    s = spot[days][:, und]  # (D, L) spot of each leg's underlying
    if book.rebalance == "static":
        s = np.broadcast_to(s[:1], s.shape)
    for li, leg in enumerate(book.legs):
        if leg.quantity is not None:
            q[:, li] = leg.quantity
        elif leg.notional is not None:
            face = leg.settlement == "inverse" and leg.kind != "option"
            q[:, li] = (
                leg.notional / leg.multiplier
                if face
                else leg.notional / (leg.multiplier * s[:, li])
            )
    return q
