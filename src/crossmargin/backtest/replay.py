"""Replay a backtest book over history: margin each day, realise the next MPOR's P&L.

For every evaluation day ``t`` (a calendar date with ``t + mpor`` on the calendar and every vol
estimate the book needs):

1. the book is instantiated from its recipe on ``t`` (rolls and sizes use only ``t``'s date and
   spot; :mod:`crossmargin.backtest.schedule`);
2. each model margins it against the point-in-time snapshot of ``t``
   (:mod:`crossmargin.backtest.snapshots`) — all days in one batched call where the model allows;
3. the same positions are re-priced at ``t + mpor`` (spot, vol and time to expiry of that day):
   the realised P&L, with loss ``L_t = −P&L``. Positions are held unchanged through the period
   (no rebalancing, no funding, no fees) — the hypothetical P&L of a defaulter's static book.

Coverage compares ``L_t`` with the initial margin ``IM_t``: an account holding exactly its IM has
``IM_t`` of equity to absorb the loss (equity includes the mark-to-market), so ``L_t > IM_t`` is
an exceedance. Exceedances against maintenance margin are reported too.

**Engine.** ``stacked`` margins all days at once (one resolved book whose accounts are the days);
``per-day`` builds and resolves every day's snapshot separately and works for any model; ``auto``
(default) checks, per model, that the stacked result equals the per-day one on seven evenly spaced
days (first and last included) and falls back to per-day otherwise (reported as the model's
``engine``). A model that reads the snapshot itself (its ``as_of``, its history, its prices)
differs on the probe days — the stacked snapshot is the first day's — and is run per day.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from crossmargin._arrays import sum_by
from crossmargin._typing import BoolArray, FloatArray, IntArray
from crossmargin.backtest.calendar import BookCalendar, align
from crossmargin.backtest.cleaning import CleaningRules, clean_history
from crossmargin.backtest.schedule import DailyLegs, build_daily_legs
from crossmargin.backtest.snapshots import (
    MarketPath,
    day_book,
    day_snapshot,
    instrument_rows,
    realised_pnl,
    solve_hedges,
    stacked_resolved,
)
from crossmargin.backtest.spec import BacktestBook
from crossmargin.backtest.vol import realised_vol, vol_on_calendar
from crossmargin.config import RiskConfig
from crossmargin.errors import CrossMarginError, InputError, ModelError
from crossmargin.margin.base import get_model
from crossmargin.margin.result import MarginBatch
from crossmargin.market.history import PriceHistory
from crossmargin.resolve.book import ResolvedBook, resolve

__all__ = ["BookReplay", "ModelRun", "ReplayOptions", "margin_model", "prepare"]

Engine = Literal["auto", "stacked", "per-day"]

#: Relative tolerance of the stacked-vs-per-day check.
PROBE_RTOL = 1e-9
#: Days (evenly spaced, first and last included) on which ``auto`` checks stacked vs per-day.
PROBE_DAYS = 7


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """Settings of a replay.

    Attributes
    ----------
    mpor
        Margin period of risk in calendar steps (days for crypto, exchange days for equities).
    start, end
        First evaluation date and last window end (``YYYY-MM-DD``), ``None`` for all history.
    cleaning
        Data-cleaning rules.
    engine
        ``auto``, ``stacked`` or ``per-day`` (module docstring).
    max_gap_days
        A window spanning up to this many missing days of a 7-day series (e.g. one dropped bad
        print) still counts — it is simply that much longer than the MPOR; beyond, it is a gap
        window.
    netting
        Also margin each underlying alone (needed for the netting checks).
    book_vol_window
        Window of the realised vols used for the procyclicality measures.
    """

    mpor: int = 2
    start: str | None = None
    end: str | None = None
    cleaning: CleaningRules = field(default_factory=CleaningRules)
    engine: Engine = "auto"
    max_gap_days: int = 1
    netting: bool = True
    book_vol_window: int = 30


@dataclass(frozen=True, slots=True, eq=False)
class BookReplay:
    """Everything about one book's replay that does not depend on the margin model.

    Attributes
    ----------
    book, calendar, market, daily
        Recipe, aligned calendar, market path and the instantiated daily book.
    mpor
        Margin period of risk (steps).
    dates, end_dates
        Start and end date of each window.
    pnl, pnl_by_und
        Realised P&L of each window, total and per underlying.
    gross, gross_by_und, delta_by_und
        Gross notional and net delta notional on each start day.
    missing
        Missing days of 7-day series inside each window (:mod:`crossmargin.backtest.calendar`).
    gap
        ``missing > max_gap_days``: a gap window.
    book_vol
        Gross-weighted realised vol of the book's underlyings on each start day.
    step_returns
        Calendar-step log returns of the underlyings.
    warmup_days
        Calendar dates skipped before every needed vol estimate existed.
    resolved
        The stacked resolved book (accounts = days, then days × underlyings).
    options, history_source
        The replay settings and where the history came from.
    """

    book: BacktestBook
    calendar: BookCalendar
    market: MarketPath
    daily: DailyLegs
    mpor: int
    dates: np.ndarray
    end_dates: np.ndarray
    pnl: FloatArray
    pnl_by_und: FloatArray
    gross: FloatArray
    gross_by_und: FloatArray
    delta_by_und: FloatArray
    missing: IntArray
    gap: BoolArray
    book_vol: FloatArray
    step_returns: FloatArray
    warmup_days: int
    resolved: ResolvedBook
    options: ReplayOptions
    history_source: str

    @property
    def loss(self) -> FloatArray:
        """Realised loss of each window (positive = loss)."""
        return -self.pnl

    @property
    def n_days(self) -> int:
        """Number of windows."""
        return int(self.dates.shape[0])

    @property
    def underlyings(self) -> tuple[str, ...]:
        """The book's underlyings."""
        return self.daily.underlyings

    @property
    def split_by_underlying(self) -> bool:
        """Whether each underlying is margined alone too."""
        return self.resolved.n_accounts > self.n_days


@dataclass(frozen=True, slots=True, eq=False)
class ModelRun:
    """One model's margins on every evaluation day.

    Attributes
    ----------
    model
        Registered model name.
    engine
        ``stacked`` or ``per-day``; ``engine_note`` says why.
    im, mm
        Initial and maintenance margin per day.
    im_by_und
        IM of each underlying margined alone, ``(n_days, n_underlyings)`` (single-underlying
        books: the total).
    credits
        Explicit cross-underlying credits per day keyed by pair label ``A/B`` (positive).
    seconds
        Wall time of the margin computation.

    Days the model could not margin (per-day engine only, e.g. too little history before
    them) are NaN and not counted (:attr:`available`); ``engine_note`` says how many and why.
    """

    model: str
    engine: str
    engine_note: str
    im: FloatArray
    mm: FloatArray
    im_by_und: FloatArray
    credits: dict[str, FloatArray]
    seconds: float

    @property
    def available(self) -> BoolArray:
        """Days on which the model produced a margin (per-day runs can miss early days)."""
        return np.asarray(np.isfinite(self.im), dtype=np.bool_)


def _parse_day(text: str | None, what: str) -> np.datetime64 | None:
    if text is None:
        return None
    try:
        return np.datetime64(text, "D")
    except ValueError:
        raise InputError(f"expected a date YYYY-MM-DD, got {text!r}", path=what) from None


def prepare(
    book: BacktestBook, history: PriceHistory, config: RiskConfig, options: ReplayOptions
) -> BookReplay:
    """Clean and align the history, build the daily book and realise every window's P&L.

    Raises
    ------
    InputError
        The history lacks a series the book needs, the date range leaves no evaluation day, or a
        leg cannot roll within the margin period of risk.
    """
    h = int(options.mpor)
    if h < 1:
        raise InputError(f"must be at least 1, got {h}", path="--mpor")
    if options.max_gap_days < 0:
        raise InputError(f"must be >= 0, got {options.max_gap_days}", path="--max-gap")
    needed = book.needed_series()
    cleaned, dropped = clean_history(history, options.cleaning)
    cal = align(cleaned, needed, dropped=dropped)
    und = book.underlyings
    spot = np.stack([cal.column(u) for u in und], axis=1)
    vol = np.full_like(spot, np.nan)
    for u in book.option_underlyings:
        vol[:, und.index(u)] = vol_on_calendar(book.vol_spec(u), cleaned, u, cal)
    pos = np.searchsorted(cleaned.dates, cal.dates)
    rv = np.stack([realised_vol(cleaned, u, options.book_vol_window)[pos] for u in und], axis=1)
    market = MarketPath(cal.dates, und, spot, vol, book.rate, cleaned)
    start = _parse_day(options.start, "--start")
    end = _parse_day(options.end, "--end")
    n = cal.n
    j = np.arange(max(n - h, 0), dtype=np.int64)
    ok = np.ones(j.shape[0], dtype=np.bool_)
    if start is not None:
        ok &= cal.dates[j] >= start
    if end is not None:
        ok &= cal.dates[j + h] <= end
    in_range = ok.copy()
    for u in book.option_underlyings:
        k = und.index(u)
        ok &= np.isfinite(vol[j, k]) & np.isfinite(vol[j + h, k])
    days = j[ok]
    if days.size == 0:
        first_vol = {
            u: (
                str(cal.dates[np.flatnonzero(np.isfinite(vol[:, und.index(u)]))[0]])
                if np.isfinite(vol[:, und.index(u)]).any()
                else "never"
            )
            for u in book.option_underlyings
        }
        raise InputError(
            f"no evaluation day: the book's calendar runs {cal.dates[0]} .. {cal.dates[-1]}"
            + (f", vol estimates start {first_vol}" if first_vol else "")
            + f", mpor {h}",
            path="--start/--end" if (start is not None or end is not None) else "history",
        )
    daily = build_daily_legs(book, cal.dates, spot, days, h)
    inst0 = instrument_rows(daily, market, config, at=days)
    daily = solve_hedges(daily, inst0, spot[days])
    inst1 = instrument_rows(daily, market, config, at=days + h)
    D, L = daily.n_days, daily.n_legs
    U = len(und)
    q = daily.quantity
    leg_pnl = q * realised_pnl(inst0, inst1).reshape(D, L)
    pnl_by_und = np.zeros((D, U))
    delta_by_und = np.zeros((D, U))
    dn = q * inst0.delta.reshape(D, L) * inst0.spot.reshape(D, L)
    for k in range(U):
        sel = daily.und == k
        pnl_by_und[:, k] = leg_pnl[:, sel].sum(axis=1)
        delta_by_und[:, k] = dn[:, sel].sum(axis=1)
    split = options.netting and U > 1
    rb = stacked_resolved(daily, inst0, market, config, by_underlying=split, name=book.name)
    npos = rb.positions
    first = npos.account < D
    gross = sum_by(npos.account[first], npos.notional[first], D)
    und_of_pos = rb.instruments.und[npos.instrument]
    gross_by_und = np.zeros((D, U))
    for k in range(U):
        sel = first & (und_of_pos == k)
        gross_by_und[:, k] = sum_by(npos.account[sel], npos.notional[sel], D)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = gross_by_und / gross[:, None]
        book_vol = np.nansum(np.where(np.isfinite(rv[days]), rv[days], np.nan) * w, axis=1)
        book_vol = np.where(np.all(np.isfinite(rv[days]), axis=1), book_vol, np.nan)
    step_returns = np.diff(np.log(spot), axis=0)
    missing = cal.window_missing(days, h)
    warmup = int(np.sum(in_range[: int(days[0])])) if days.size else 0
    return BookReplay(
        book=book,
        calendar=cal,
        market=market,
        daily=daily,
        mpor=h,
        dates=cal.dates[days],
        end_dates=cal.dates[days + h],
        pnl=leg_pnl.sum(axis=1),
        pnl_by_und=pnl_by_und,
        gross=gross,
        gross_by_und=gross_by_und,
        delta_by_und=delta_by_und,
        missing=missing,
        gap=missing > options.max_gap_days,
        book_vol=book_vol,
        step_returns=step_returns,
        warmup_days=warmup,
        resolved=rb,
        options=options,
        history_source=history.source,
    )


def _pair_credits(batch: MarginBatch, n_days: int) -> dict[str, FloatArray]:
    """Explicit cross-underlying credits per day, positive.

    A credit is a *negative* add-on row labelled with a pair (``A/B``); pair-labelled charges
    (e.g. a correlation-breakdown add-on) are not credits.
    """
    out: dict[str, FloatArray] = {}
    for rows in batch.addons:
        if not rows.pair or not np.any(rows.amount < 0):
            continue
        sel = rows.account < n_days
        amt = sum_by(rows.account[sel], -np.minimum(rows.amount[sel], 0.0), n_days)
        if rows.pair in out:
            out[rows.pair] = out[rows.pair] + amt
        else:
            out[rows.pair] = amt
    return out


def _split(
    im: FloatArray, mm: FloatArray, n_days: int, n_und: int, split: bool
) -> tuple[FloatArray, FloatArray, FloatArray]:
    full_im, full_mm = im[:n_days], mm[:n_days]
    by = im[n_days:].reshape(n_days, n_und) if split else full_im[:, None].copy()
    return full_im, full_mm, by


@dataclass(slots=True)
class _PerDay:
    im: FloatArray
    mm: FloatArray
    by: FloatArray
    credits: dict[str, FloatArray]
    failures: int = 0
    first_error: str = ""


def _per_day(rep: BookReplay, model: str, config: RiskConfig, days: Sequence[int]) -> _PerDay:
    """Margins of the given evaluation days through ordinary per-day resolution.

    A day the model cannot margin (e.g. too little history before it) is NaN and counted.
    """
    U = len(rep.underlyings)
    split = rep.split_by_underlying
    m = get_model(model, config)
    out = _PerDay(
        np.full(len(days), np.nan),
        np.full(len(days), np.nan),
        np.full((len(days), U if split else 1), np.nan),
        {},
    )
    for i, d in enumerate(days):
        snap = day_snapshot(rep.market, int(rep.daily.days[d]))
        b = day_book(rep.daily, d, by_underlying=split, name=rep.book.name)
        try:
            batch = m.compute(resolve(b, snap, config))
        except CrossMarginError as exc:
            if not out.failures:
                out.first_error = f"{rep.dates[d]}: {exc}"
            out.failures += 1
            continue
        out.im[i], out.mm[i] = batch.im[0], batch.mm[0]
        out.by[i] = batch.im[1:] if split else batch.im[:1]
        for k, v in _pair_credits(batch, 1).items():
            out.credits.setdefault(k, np.zeros(len(days)))[i] = v[0]
    return out


def _close(a: FloatArray, b: FloatArray) -> bool:
    scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)), 1.0)
    return bool(np.all(np.abs(a - b) <= PROBE_RTOL * scale))


def margin_model(rep: BookReplay, model: str, config: RiskConfig, engine: Engine) -> ModelRun:
    """Margin every evaluation day of ``rep`` under ``model`` (module docstring).

    Raises
    ------
    CrossMarginError
        Whatever the model raises for this book (unknown model, missing data, ...); a
        :class:`~crossmargin.errors.ModelError` if it cannot margin a single day.
    """
    D, U = rep.n_days, len(rep.underlyings)
    split = rep.split_by_underlying
    t0 = time.perf_counter()
    note = ""
    if engine != "per-day":
        try:
            batch = get_model(model, config).compute(rep.resolved)
            im, mm, by = _split(batch.im, batch.mm, D, U, split)
            credits = _pair_credits(batch, D)
        except CrossMarginError as exc:
            if engine == "stacked":
                raise
            note = f"stacked run failed ({exc}); per-day"
        else:
            if engine == "stacked":
                return ModelRun(
                    model, "stacked", "forced", im, mm, by, credits, time.perf_counter() - t0
                )
            probe = sorted({int(x) for x in np.linspace(0, D - 1, PROBE_DAYS)})
            ref = _per_day(rep, model, config, probe)
            same = (
                ref.failures == 0
                and _close(im[probe], ref.im)
                and _close(mm[probe], ref.mm)
                and _close(by[probe], ref.by)
                and set(ref.credits) <= set(credits)
                and all(_close(credits[k][probe], v) for k, v in ref.credits.items())
            )
            if same:
                return ModelRun(
                    model,
                    "stacked",
                    f"agrees with per-day resolution on {len(probe)} probe days",
                    im,
                    mm,
                    by,
                    credits,
                    time.perf_counter() - t0,
                )
            if ref.failures:
                note = f"per-day resolution fails on a probe day ({ref.first_error}); per-day"
            else:
                worst = int(np.argmax(np.abs(im[probe] - ref.im)))
                note = (
                    f"stacked result differs from per-day on {rep.dates[probe[worst]]} "
                    f"({im[probe[worst]]:.6g} vs {ref.im[worst]:.6g}); per-day"
                )
    full = _per_day(rep, model, config, range(D))
    if full.failures == D:
        raise ModelError(f"cannot margin any day ({full.first_error})", path=f"model.{model}")
    if full.failures:
        note += f"; no margin on {full.failures} of {D} days, first {full.first_error}"
    return ModelRun(
        model,
        "per-day",
        note.lstrip("; ") or "requested",
        full.im,
        full.mm,
        full.by,
        full.credits,
        time.perf_counter() - t0,
    )
