"""The ``var`` / ``es`` models of a backtest replay, every day at once (research replica).

The library margins a backtest day by day for these models (each day resolves a snapshot,
re-reads the whole history up to that day, filters it, builds ~1 000 labelled scenarios and the
add-ons): 60-100 ms a day on the 2026 history, 4-10 minutes per book and model. A parameter
search needs hundreds of such runs, so this module computes the *same numbers* for all days of
a replay in one vectorised pass:

* the joint returns, EWMA variances and overlapping windows of each set of underlyings are
  built **once** for the whole history; day ``T``'s filtered window is ``σ_now(T) · Σ x_i/σ_i``
  (the FHS rescaling factorises), its lookback and stress windows are index ranges;
* risk arrays, VaR/ES (per-row weights), the correlation-breakdown stresses (rotation to the
  pushed and worst-window correlations, full revaluation of the second leg), the liquidity,
  concentration and basis add-ons and the anti-procyclicality buffer/floor follow
  ``crossmargin.margin.var`` formula for formula, in blocks of days.

It is checked against the library's per-day resolution (``crossmargin.backtest.replay``) on
probe days of every book (:func:`check_against_library`, results in
``results/replica_check.json``); the study's final evidence is then the replica's numbers.
This is also the shape suggested for the library's own implementation (docs/calibration.md,
"What the implementer must change").

The replica additionally returns each account's parts (core measure, add-ons, the per-
underlying stand-alone requirements) so that the study can apply the netting-never-costs rule
(:func:`netting_never_costs`) without another pass.

Not covered (not needed by backtest books): wrong-way collateral (backtest books carry no
collateral), Monte Carlo (``method: mc``), the independent-legs stress (``independent: true``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from crossmargin.backtest.replay import BookReplay, ModelRun
from crossmargin.backtest.snapshots import instrument_rows
from crossmargin.config import RiskConfig
from crossmargin.config.model import VarConfig, VolResponse
from crossmargin.kernels.black76 import black76_greeks, black76_price_block
from crossmargin.margin.addons.basis import basis_amounts
from crossmargin.resolve.instruments import KIND_OPTION
from crossmargin.risk.aggregate import group_positions
from crossmargin.risk.volshock import vega_scale

NS_DAY = np.timedelta64(1, "D")
_EPS = 1e-12
_MIN_STRESS_WINDOWS = 20
_SEED_OBS = 30
BLOCK_DAYS = 192


# ----------------------------------------------------------------------------- joint returns


@dataclass(eq=False)
class CoreReturns:
    """Joint returns of one set of assets over the whole (cleaned) history."""

    assets: tuple[str, ...]
    times: np.ndarray  # (n+1,) datetime64[D] common observation dates
    rows: np.ndarray  # (n+1,) history rows
    x: np.ndarray  # (n, k) log returns (NaN where invalid)
    valid: np.ndarray  # (n,)
    h: int
    _ewma: dict[float, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    def ewma(self, lam: float) -> tuple[np.ndarray, np.ndarray]:
        """``(σ²_t forecast per return, σ² after each return)``, both ``(n, k)``.

        Invalid returns neither update nor are scaled; the "after" series carries the last
        value through them, so ``after[i]`` is the forecast after the last valid return ≤ i.
        """
        if lam in self._ewma:
            return self._ewma[lam]
        from scipy.signal import lfilter

        ok = self.valid
        xs = self.x[ok]
        seed = np.mean(xs[: min(_SEED_OBS, xs.shape[0])] ** 2, axis=0)
        seed = np.where(seed > 0, seed, np.mean(xs**2, axis=0) + 1e-18)
        y = lfilter([1.0 - lam], [1.0, -lam], xs**2, axis=0, zi=(lam * seed)[None, :])[0]
        fc = np.empty_like(xs)
        fc[0] = seed
        fc[1:] = y[:-1]
        var_t = np.full(self.x.shape, np.nan)
        var_t[ok] = fc
        after = np.full(self.x.shape, np.nan)
        after[ok] = y
        # forward-fill "after" through invalid returns (and NaN before the first valid one)
        idx = np.where(ok, np.arange(self.n), -1)
        idx = np.maximum.accumulate(idx)
        after = np.where(idx[:, None] >= 0, after[np.maximum(idx, 0)], np.nan)
        self._ewma[lam] = (var_t, after)
        return var_t, after


def core_returns(
    values: np.ndarray, dates: np.ndarray, cfg: VarConfig, assets: tuple[str, ...]
) -> CoreReturns:
    """Joint returns of ``values`` (``(n_dates, k)`` closes, NaN = none) on their common dates."""
    keep = np.all(np.isfinite(values), axis=1)
    rows = np.flatnonzero(keep).astype(np.int64)
    times = dates[rows]
    x = np.diff(np.log(values[rows]), axis=0)
    gap = np.diff(times.astype(np.int64)).astype(np.float64)
    valid = gap <= cfg.max_gap_days
    x = np.where(valid[:, None], x, np.nan)
    spacing = float(np.median(gap[valid])) if valid.any() else float(np.median(gap))
    h = max(1, round(cfg.mpor_days / max(spacing, 1e-9)))
    return CoreReturns(assets, times, rows, x, valid, h)


@dataclass(eq=False)
class Windows:
    """Overlapping ``h``-return windows of a :class:`CoreReturns` (all of history)."""

    end: np.ndarray  # (W,) end index (core time), start = end - h
    ok: np.ndarray  # (W,) no invalid return inside
    raw: np.ndarray  # (W, k) Σ x
    t_start: np.ndarray
    t_end: np.ndarray

    @staticmethod
    def of(cr: CoreReturns) -> Windows:
        h = cr.h
        xz = np.where(cr.valid[:, None], cr.x, 0.0)
        cs = np.vstack([np.zeros((1, xz.shape[1])), np.cumsum(xz, axis=0)])
        bad = np.concatenate([[0], np.cumsum(~cr.valid)])
        end = np.arange(h, cr.n + 1, dtype=np.int64)
        start = end - h
        ok = (bad[end] - bad[start]) == 0
        return Windows(end, ok, cs[end] - cs[start], cr.times[start], cr.times[end])

    def standardised(self, cr: CoreReturns, var_t: np.ndarray) -> np.ndarray:
        """``Σ x_i / σ_i`` over each window (FHS: times ``σ_now`` gives the filtered window)."""
        z = np.where(cr.valid[:, None], cr.x / np.sqrt(var_t), 0.0)
        cs = np.vstack([np.zeros((1, z.shape[1])), np.cumsum(z, axis=0)])
        return np.asarray(cs[self.end] - cs[self.end - cr.h])


# ----------------------------------------------------------------------------- scenario sets


@dataclass(eq=False)
class DaySets:
    """Per evaluation day: indices of the lookback and stress windows, and availability."""

    n_t: np.ndarray  # (D,) returns in the day's prefix
    lb: list[np.ndarray]
    st: list[np.ndarray]
    ok: np.ndarray  # (D,) the model can margin the day
    why: list[str]


class _AutoStress:
    """The library's auto-detected most volatile window, for every prefix length.

    ``z2`` of a return is ``mean_k x_k² / var_k`` with ``var_k`` the prefix's mean square; the
    score of the window ending at return ``i`` is the mean ``z2`` over the ``days`` before it.
    Per-asset window sums of ``x²`` do not depend on the prefix, so each prefix costs one
    weighted sum and an argmax.
    """

    def __init__(self, cr: CoreReturns, win: Windows, days: int) -> None:
        self.cr, self.win = cr, win
        fin = np.isfinite(cr.x)
        x2 = np.where(fin, cr.x**2, 0.0)
        self.cx2 = np.vstack([np.zeros((1, x2.shape[1])), np.cumsum(x2, axis=0)])
        self.cnt = np.vstack([np.zeros((1, x2.shape[1])), np.cumsum(fin, axis=0)])
        ends = cr.times[1:]
        span = np.timedelta64(days, "D")
        self.span = span
        first = np.searchsorted(ends, ends - span, side="right")
        idx = np.arange(ends.size)
        self.count = idx + 1 - first
        self.full = (ends - span) >= cr.times[0]
        self.ws = self.cx2[idx + 1] - self.cx2[first]  # (n, k)
        self.ends = ends
        self.cache: dict[int, np.ndarray] = {}

    def __call__(self, n_t: int) -> np.ndarray:
        if n_t in self.cache:
            return self.cache[n_t]
        win = self.win
        with np.errstate(invalid="ignore", divide="ignore"):
            var = self.cx2[n_t] / self.cnt[n_t]
        var = np.where(var > 0, var, 1.0)
        full = self.full[:n_t]
        out = np.zeros(0, np.int64)
        if full.any():
            cnt = self.count[:n_t]
            z = np.mean(self.ws[:n_t] / var, axis=1)
            score = np.where(full & (cnt > 0), z / np.maximum(cnt, 1), -1.0)
            best = int(np.argmax(score))
            lo_t, hi_t = self.ends[best] - self.span, self.ends[best]
            m = win.end <= n_t
            out = np.flatnonzero(m & win.ok & (win.t_start >= lo_t) & (win.t_end <= hi_t))
        self.cache[n_t] = out
        return out


def day_sets(
    cr: CoreReturns,
    win: Windows,
    day_dates: np.ndarray,
    cfg: VarConfig,
    *,
    lookback_days: float | None = None,
    with_stress: bool = True,
) -> DaySets:
    """Lookback and stress window indices of every evaluation day (library semantics)."""
    D = day_dates.shape[0]
    # prefix: core times <= day (the day's close is in its snapshot history)
    n_t = np.searchsorted(cr.times, day_dates, side="right") - 1  # index of last core time
    lb_days = cfg.lookback_days if lookback_days is None else lookback_days
    span_ns = np.timedelta64(int(lb_days * 86_400e9), "ns")
    lb_list: list[np.ndarray] = []
    st_list: list[np.ndarray] = []
    ok = np.ones(D, np.bool_)
    why = [""] * D
    # configured stress windows (whole history), per period, ordered by end
    periods = []
    for p in cfg.stress_periods:
        lo = np.datetime64(p.start, "D")
        hi = np.datetime64(p.end, "D") + NS_DAY
        periods.append(np.flatnonzero(win.ok & (win.t_start >= lo) & (win.t_end < hi)))
    p_end = [win.end[ix] for ix in periods]
    picked_cache: dict[tuple[int, ...], np.ndarray] = {}
    auto = _AutoStress(cr, win, cfg.stress_window_days) if with_stress else None
    times_ns = cr.times.astype("datetime64[ns]")
    end_ns = times_ns[win.end]
    m_hi_all = np.searchsorted(win.end, n_t, side="right")
    for d in range(D):
        nt = int(n_t[d])
        if nt < 1:
            ok[d] = False
            why[d] = "fewer than two common observations"
            lb_list.append(np.zeros(0, np.int64))
            st_list.append(np.zeros(0, np.int64))
            continue
        last = times_ns[nt]
        m_hi = int(m_hi_all[d])
        m_lo = int(np.searchsorted(end_ns[:m_hi], last - span_ns, side="right"))
        lb = np.arange(m_lo, m_hi, dtype=np.int64)
        lb = lb[win.ok[lb]]
        lb_list.append(lb)
        if lb.size < cfg.min_observations:
            ok[d] = False
            why[d] = f"only {lb.size} scenarios in the lookback"
        st = np.zeros(0, np.int64)
        if with_stress and cfg.stress_weight > 0:
            counts = tuple(int(np.searchsorted(e, nt, side="right")) for e in p_end)
            key = tuple(c if c >= _MIN_STRESS_WINDOWS else 0 for c in counts)
            if any(key):
                if key not in picked_cache:
                    parts = [ix[:c] for ix, c in zip(periods, key, strict=True) if c]
                    picked_cache[key] = np.unique(np.concatenate(parts))
                st = picked_cache[key]
            else:
                assert auto is not None
                st = auto(nt)
            if st.size == 0 and cfg.anti_procyclicality == "stress_weight":
                ok[d] = False
                why[d] = "no stressed observations"
        st_list.append(st)
    return DaySets(n_t, lb_list, st_list, ok, why)


# ----------------------------------------------------------------------------- per-leg P&L


@dataclass(eq=False)
class LegTable:
    """The book's legs on every evaluation day, as ``(D, L)`` arrays (from the instrument rows)."""

    und: np.ndarray  # (L,)
    kind: np.ndarray  # (L,)
    inverse: np.ndarray
    q: np.ndarray  # (D, L)
    mult: np.ndarray
    fwd: np.ndarray
    spot: np.ndarray
    t: np.ndarray
    strike: np.ndarray
    call: np.ndarray
    disc: np.ndarray
    sigma: np.ndarray
    value: np.ndarray
    delta: np.ndarray
    scale: np.ndarray  # vega term scale per option (D, L)


def leg_table(rep: BookReplay, cfg: RiskConfig) -> LegTable:
    daily = rep.daily
    inst = instrument_rows(daily, rep.market, cfg, at=daily.days)
    D, L = daily.n_days, daily.n_legs

    def r(a: np.ndarray) -> np.ndarray:
        return np.asarray(a).reshape(D, L)

    grids = [cfg.risk_classes[c].grid for c in inst.classes]
    cls = r(inst.cls)

    def par(name: str) -> np.ndarray:
        return np.asarray([getattr(g, name) for g in grids], dtype=np.float64)[cls]

    scale = vega_scale(
        r(inst.dte),
        short_power=par("short_term_vega_power"),
        long_power=par("long_term_vega_power"),
        cutoff_days=par("vega_power_cutoff_days"),
        floor_days=par("dte_floor_days"),
    )
    return LegTable(
        und=np.asarray(daily.und),
        kind=r(inst.kind)[0],
        inverse=r(inst.inverse)[0],
        q=np.asarray(daily.quantity),
        mult=r(inst.mult),
        fwd=r(inst.fwd),
        spot=r(inst.spot),
        t=r(inst.t),
        strike=r(inst.strike),
        call=r(inst.is_call),
        disc=r(inst.discount),
        sigma=r(inst.sigma),
        value=r(inst.value),
        delta=r(inst.delta),
        scale=scale,
    )


def legs_pnl(
    lt: LegTable, days: np.ndarray, legs: np.ndarray, m: np.ndarray, v: np.ndarray
) -> np.ndarray:
    """Position P&L ``Σ_legs q × unit P&L`` of ``legs`` on ``days`` under moves ``m``/``v``.

    ``m``/``v`` are ``(B, S, n_legs)`` spot and log-vol moves of each leg's underlying.
    """
    B, S = m.shape[0], m.shape[1]
    out = np.zeros((B, S))
    for j, leg in enumerate(legs):
        q = lt.q[days, leg][:, None]
        mult = lt.mult[days, leg][:, None]
        mm = m[:, :, j]
        if lt.kind[leg] != KIND_OPTION:
            if lt.inverse[leg]:
                u = mult * (lt.spot[days, leg] / lt.fwd[days, leg])[:, None] * mm
            else:
                u = mult * lt.fwd[days, leg][:, None] * mm
        else:
            F = lt.fwd[days, leg][:, None] * (1.0 + mm)
            sg = lt.sigma[days, leg][:, None] * np.exp(v[:, :, j] * lt.scale[days, leg][:, None])
            V = np.empty_like(F)
            black76_price_block(
                F,
                lt.strike[days, leg][:, None],
                lt.t[days, leg][:, None],
                sg,
                lt.disc[days, leg][:, None],
                lt.call[days, leg][:, None],
                V,
            )
            v0 = lt.value[days, leg][:, None]
            base = v0 * (1.0 + mm) if lt.inverse[leg] else v0
            u = mult * (V - base)
        out += q * u
    return out


# ----------------------------------------------------------------------------- tail measures


def tails(
    loss: np.ndarray, w: np.ndarray, alphas: dict[str, float]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Row-wise weighted VaR and ES at several confidences (``crossmargin.scenarios.tail``
    semantics with per-row weights; zero-weight entries are padding and never in the tail).

    Only the ``k`` worst scenarios of a row can be in a tail of mass ``τ``, with ``k`` the
    number of lightest positive weights needed to exceed ``τ`` (plus two): a partition, then a
    sort of ``k`` candidates — the library's shortcut.
    """
    n, S = loss.shape
    tau_max = max(1.0 - a for a in alphas.values())
    pos = w > 0
    wmin = float(np.min(np.where(pos, w, np.inf)))
    k = min(S, int(np.ceil((tau_max + _EPS) / wmin)) + 2)
    lossm = np.where(pos, loss, -np.inf)
    if k < S:
        cand = np.argpartition(lossm, S - k, axis=1)[:, S - k :]
    else:
        cand = np.broadcast_to(np.arange(S), (n, S))
    lc = np.take_along_axis(lossm, cand, axis=1)
    o = np.lexsort((cand, -lc), axis=1)
    order = np.take_along_axis(cand, o, axis=1)
    ls = np.take_along_axis(lc, o, axis=1)
    ws = np.take_along_axis(w, order, axis=1)
    cw = np.cumsum(ws, axis=1)
    rows = np.arange(n)
    out = {}
    for name, alpha in alphas.items():
        tau = 1.0 - alpha
        hit = cw > tau + _EPS
        j = np.argmax(hit, axis=1)
        j = np.where(hit[:, -1], j, ls.shape[1] - 1)
        var = ls[rows, j]
        tw = np.clip(tau - (cw - ws), 0.0, ws)
        es = np.sum(np.where(tw > 0, tw * ls, 0.0), axis=1) / tau
        out[name] = (var, es)
    return out


def measures(loss: np.ndarray, w: np.ndarray, alphas: dict[str, float]) -> dict[str, np.ndarray]:
    """``{kind: measure}`` for kinds ``var``/``es`` at their confidences."""
    t = tails(loss, w, alphas)
    return {k: (t[k][1] if k == "es" else t[k][0]) for k in alphas}


def measure(loss: np.ndarray, w: np.ndarray, alpha: float, kind: str) -> np.ndarray:
    return measures(loss, w, {kind: alpha})[kind]


def _wstats(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = np.sum(w * x, axis=1, keepdims=True)
    s = np.sqrt(np.maximum(np.sum(w * (x - m) ** 2, axis=1, keepdims=True), 1e-300))
    return m, s


def rotate(xu: np.ndarray, xv: np.ndarray, w: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Row-wise ``crossmargin.margin.addons.correlation.rotate``."""
    mu, su = _wstats(xu, w)
    mv, sv = _wstats(xv, w)
    zu, zv = (xu - mu) / su, (xv - mv) / sv
    rho = np.clip(np.sum(w * zu * zv, axis=1, keepdims=True), -1.0, 1.0)
    e = (zv - rho * zu) / np.sqrt(np.maximum(1.0 - rho * rho, 1e-12))
    t = np.clip(target, -1.0, 1.0)[:, None]
    return np.asarray(mv + sv * (t * zu + np.sqrt(1.0 - t * t) * e))


def wcorr(xu: np.ndarray, xv: np.ndarray, w: np.ndarray) -> np.ndarray:
    mu, su = _wstats(xu, w)
    mv, sv = _wstats(xv, w)
    return np.asarray(np.clip(np.sum(w * (xu - mu) * (xv - mv), axis=1) / (su * sv)[:, 0], -1, 1))


def worst_window_corr(
    values: np.ndarray, dates: np.ndarray, day_dates: np.ndarray, window: int
) -> tuple[np.ndarray, np.ndarray]:
    """Lowest / highest rolling-``window`` correlation of daily returns of two series up to each day.

    ``window_correlations`` of the library evaluated on every prefix (NaN where none).
    """
    keep = np.all(np.isfinite(values), axis=1)
    rows = np.flatnonzero(keep)
    t = dates[rows]
    x = np.diff(np.log(values[rows]), axis=0)
    gap = np.diff(t.astype(np.int64))
    valid = gap <= 5
    x = x[valid]
    te = t[1:][valid]
    n = x.shape[0]
    lo = np.full(day_dates.shape[0], np.nan)
    hi = np.full(day_dates.shape[0], np.nan)
    if n < window:
        return lo, hi
    c = np.vstack([np.zeros((1, 5)), np.cumsum(np.column_stack([x, x**2, x[:, 0] * x[:, 1]]), 0)])
    s = c[window:] - c[:-window]
    m1, m2 = s[:, 0] / window, s[:, 1] / window
    cov = s[:, 4] / window - m1 * m2
    v1 = s[:, 2] / window - m1**2
    v2 = s[:, 3] / window - m2**2
    with np.errstate(invalid="ignore", divide="ignore"):
        r = cov / np.sqrt(v1 * v2)
    r = np.where(np.isfinite(r), r, np.nan)
    # window i ends at return i + window - 1 (time te[i + window - 1])
    wend = te[window - 1 :]
    rmin = np.fmin.accumulate(np.where(np.isfinite(r), r, np.inf))
    rmax = np.fmax.accumulate(np.where(np.isfinite(r), r, -np.inf))
    k = np.searchsorted(wend, day_dates, side="right") - 1
    have = k >= 0
    lo[have] = rmin[k[have]]
    hi[have] = rmax[k[have]]
    lo[~np.isfinite(lo)] = np.nan
    hi[~np.isfinite(hi)] = np.nan
    return lo, hi


# ----------------------------------------------------------------------------- the model


@dataclass(eq=False)
class VarParts:
    """Everything the study needs from one var/es run of a replay."""

    model: str
    im: np.ndarray  # (D,) account IM as the library computes it
    core: np.ndarray  # (D,) max(0, measure) of the whole book
    corr: np.ndarray  # (D,) correlation-breakdown add-on (sum over pairs)
    basis: np.ndarray  # (D,)
    liquidity: np.ndarray  # (D,) close-out cost
    concentration: np.ndarray  # (D,)
    apc: np.ndarray  # (D,)
    alone: np.ndarray  # (D, U) IM of each underlying margined alone (as the library)
    alone_core: np.ndarray  # (D, U) its core measure
    alone_size: np.ndarray  # (D, U) its liquidity + concentration
    ok: np.ndarray  # (D,) model could margin the day
    info: dict[str, Any]
    alone_legs: np.ndarray | None = None  # (D, L) risk part of each leg (position) alone
    #: (D, U) each underlying's stand-alone measure on the *book's* scenario set (floored at 0):
    #: the library caps the correlation add-on at ``Σ_u stand_u − core`` with these (on a book
    #: mixing 5- and 7-day calendars they differ from ``alone_core``, each on its own calendar)
    stand: np.ndarray | None = None

    def run(self, mm_factor: float = 0.8, im: np.ndarray | None = None) -> ModelRun:
        """As a library :class:`ModelRun` (days it cannot margin are NaN)."""
        x = self.im if im is None else im
        x = np.where(self.ok, x, np.nan)
        by = np.where(self.ok[:, None], self.alone, np.nan)
        return ModelRun(
            self.model,
            "replica",
            "benchmarks/calibration/fastvar.py",
            x,
            mm_factor * x,
            by,
            {},
            0.0,
        )


def _single_vol_ewma(
    hist_vals: np.ndarray, dates: np.ndarray, day_dates: np.ndarray, lam: float
) -> np.ndarray:
    """Daily EWMA vol of one asset's own history up to each day (liquidity add-on fallback)."""
    from scipy.signal import lfilter

    keep = np.isfinite(hist_vals)
    rows = np.flatnonzero(keep)
    t = dates[rows]
    x = np.diff(np.log(hist_vals[rows]))
    gap = np.diff(t.astype(np.int64)).astype(np.float64)
    valid = gap <= 5.0
    spacing = float(np.median(gap[valid]))
    xs = x[valid]
    seed = np.mean(xs[:_SEED_OBS] ** 2)
    seed = seed if seed > 0 else np.mean(xs**2) + 1e-18
    y = lfilter([1.0 - lam], [1.0, -lam], xs**2, zi=[lam * seed])[0]
    te = t[1:][valid]
    k = np.searchsorted(te, day_dates, side="right") - 1
    out = np.where(k >= 0, np.sqrt(y[np.maximum(k, 0)] / spacing), np.nan)
    return np.asarray(out)


class Replica:
    """var/es of every day of one replay under one configuration."""

    def __init__(self, rep: BookReplay, cfg: RiskConfig) -> None:
        self.rep = rep
        self.cfg = cfg
        self.vc = cfg.var
        hist = rep.market.history
        assert hist is not None
        self.hist = hist
        self.und = rep.underlyings
        self.U = len(self.und)
        self.D = rep.n_days
        self.day_dates = rep.market.dates[rep.daily.days]
        self.lt = leg_table(rep, cfg)
        self._cores: dict[tuple[str, ...], tuple[CoreReturns, Windows]] = {}

    # -- scenario sets
    def core(self, assets: tuple[str, ...]) -> tuple[CoreReturns, Windows]:
        if assets not in self._cores:
            vals = np.column_stack([self.hist.column(a) for a in assets])
            cr = core_returns(vals, self.hist.dates, self.vc, assets)
            self._cores[assets] = (cr, Windows.of(cr))
        return self._cores[assets]

    def stress_ratios(self, assets: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """``(D, k)`` stress ratios of ``assets`` per day and ``(D,)`` days with enough history.

        The library's :func:`crossmargin.margin.apc.stress_ratios` on every day at once: EWMA
        vol after the day's last return over the RMS return of ``apc_release_window_days``.
        """
        cr, _ = self.core(assets)
        vc = self.vc
        _, after = cr.ewma(vc.ewma_lambda)
        n_t = np.searchsorted(cr.times, self.day_dates, side="right") - 1
        x2 = np.where(cr.valid[:, None], np.nan_to_num(cr.x) ** 2, 0.0)
        cs = np.vstack([np.zeros((1, x2.shape[1])), np.cumsum(x2, axis=0)])
        cnt = np.concatenate([[0], np.cumsum(cr.valid)])
        last = cr.times[np.maximum(n_t, 0)]
        lo = np.searchsorted(
            cr.times[1:], last - np.timedelta64(vc.apc_release_window_days, "D"), side="right"
        )
        n = cnt[np.maximum(n_t, 0)] - cnt[lo]
        var_long = (cs[np.maximum(n_t, 0)] - cs[lo]) / np.maximum(n, 1)[:, None]
        now = after[np.maximum(n_t - 1, 0)]
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(var_long > 0, np.sqrt(now / var_long), 1.0)
        return ratio, (n >= vc.min_observations) & (n_t > 0)

    def release_factors(
        self, stand: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(f (D,), f per underlying alone (D, U), ok (D,))`` of the releasable buffer.

        ``stand`` ``(D, U)``: the book's stand-alone measure per underlying (the weights of the
        account's stress ratio; ``None`` for a one-underlying book).
        """
        from crossmargin.margin.apc import account_ratio, release_factor

        vc = self.vc
        und = tuple(self.und)
        r_book, ok = self.stress_ratios(und)
        w = np.ones_like(r_book) if stand is None else stand
        f_acc = release_factor(account_ratio(r_book, w), vc.apc_buffer, vc.apc_release_from)
        f_und = np.ones((self.D, self.U))
        for u, a in enumerate(und):
            r_u, ok_u = self.stress_ratios((a,))
            f_und[:, u] = release_factor(r_u[:, 0], vc.apc_buffer, vc.apc_release_from)
            ok &= ok_u
        return f_acc, f_und, ok

    def _vol_index_moves(self, cr: CoreReturns, win: Windows) -> np.ndarray:
        """Log vol-index move over each window per asset (NaN where none)."""
        out = np.full((win.end.size, len(cr.assets)), np.nan)
        for j, a in enumerate(cr.assets):
            idx = self.vc.vol_index.get(a)
            if idx is None or not self.hist.has(idx):
                continue
            col = self.hist.column(idx)
            with np.errstate(invalid="ignore", divide="ignore"):
                iv = np.log(col[cr.rows[win.end]] / col[cr.rows[win.end - cr.h]])
            out[:, j] = np.where(np.isfinite(iv), iv, np.nan)
        return out

    def scenario_blocks(
        self, assets: tuple[str, ...], *, floor: bool = False
    ) -> tuple[DaySets, Any]:
        """Day sets and a function building the (B, S, k) moves and weights of a block."""
        cr, win = self.core(assets)
        vc = self.vc
        method = "hs" if floor else vc.method
        var_t, after = cr.ewma(vc.ewma_lambda)
        zs = win.standardised(cr, var_t) if method == "fhs" else None
        ivx = self._vol_index_moves(cr, win)
        responses = []
        for a in assets:
            rc = self.cfg.risk_class_of(a)
            responses.append(vc.vol_response.get(rc or "", VolResponse()))
        beta = np.asarray([r.beta for r in responses])
        gamma = np.asarray([r.gamma for r in responses])
        if floor:
            ds = day_sets(
                cr,
                win,
                self.day_dates,
                vc,
                lookback_days=vc.apc_floor_years * 365.25,
                with_stress=False,
            )
        else:
            ds = day_sets(cr, win, self.day_dates, vc)
        depeg = [] if floor else [c for c in vc.depeg if c in assets]
        sw = 0.0 if floor else vc.stress_weight

        def build(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            B = days.size
            k = len(assets)
            n_dep = len(depeg)
            lbs = [ds.lb[d] for d in days]
            sts = [ds.st[d] for d in days]
            n_lb = np.asarray([x.size for x in lbs], np.int64)
            n_st = np.asarray([x.size for x in sts], np.int64)
            S = int((n_lb + n_st).max()) + n_dep
            X = np.zeros((B, S, k))
            IV = np.full((B, S, k), np.nan)
            r_lb = np.repeat(np.arange(B), n_lb)
            c_lb = np.arange(r_lb.size) - np.repeat(np.cumsum(n_lb) - n_lb, n_lb)
            r_st = np.repeat(np.arange(B), n_st)
            c_st = np.arange(r_st.size) - np.repeat(np.cumsum(n_st) - n_st, n_st) + n_lb[r_st]
            f_lb = np.concatenate(lbs) if lbs else np.zeros(0, np.int64)
            f_st = np.concatenate(sts) if sts else np.zeros(0, np.int64)
            if method == "fhs":
                sd_now = np.sqrt(after[ds.n_t[days] - 1])  # (B, k)
                X[r_lb, c_lb] = zs[f_lb] * sd_now[r_lb]  # type: ignore[index]
            else:
                X[r_lb, c_lb] = win.raw[f_lb]
            X[r_st, c_st] = win.raw[f_st]
            IV[r_lb, c_lb] = ivx[f_lb]
            IV[r_st, c_st] = ivx[f_st]
            Vm = beta * X + gamma * np.abs(X)
            Vm = np.where(np.isfinite(IV), IV, Vm)
            # weights (library _weights): the stress segment is the stress windows + depeg
            W = np.zeros((B, S))
            nl, ns = n_lb.astype(np.float64), n_st.astype(np.float64)
            seg = ns + n_dep
            equal = (n_st == 0) | (sw <= 0)
            w_eq = 1.0 / (nl + ns + n_dep)
            w_l = np.where(equal, w_eq, (1.0 - sw) / np.maximum(nl, 1.0))
            w_s = np.where(equal, w_eq, sw / np.maximum(seg, 1.0))
            tot = np.where(equal, 1.0, nl * w_l + seg * w_s)
            W[r_lb, c_lb] = (w_l / tot)[r_lb]
            W[r_st, c_st] = (w_s / tot)[r_st]
            for i, c in enumerate(depeg):
                j = assets.index(c)
                price = self.rep.market.spot[self.rep.daily.days[days], self.und.index(c)]
                col = S - n_dep + i
                X[:, col, :] = 0.0
                X[:, col, j] = np.log1p(vc.depeg[c] / price - 1.0)  # stored as a log move
                Vm[:, col, :] = 0.0
                W[:, col] = w_s / tot
            return X, Vm, W

        return ds, build

    # -- the run
    def run(self, kind: str) -> VarParts:
        """One model (``var`` or ``es``)."""
        return self.run_many((kind,))[kind]

    def run_many(self, kinds: tuple[str, ...] = ("var", "es")) -> dict[str, VarParts]:
        """Several models from one pass over the scenarios (they share every P&L matrix)."""
        cfg, vc, lt = self.cfg, self.vc, self.lt
        add = cfg.margin_addons
        alphas = {k: (vc.var_confidence if k == "var" else vc.es_confidence) for k in kinds}
        D, U = self.D, self.U
        und = self.und
        full_assets = tuple(und)
        z = {k: np.zeros(D) for k in kinds}
        core = {k: np.zeros(D) for k in kinds}
        corr = {k: np.zeros(D) for k in kinds}
        alone_core = {k: np.zeros((D, U)) for k in kinds}
        stand_full = {k: np.zeros((D, U)) for k in kinds}
        ok = np.ones(D, np.bool_)
        legs_of = [np.flatnonzero(lt.und == u) for u in range(U)]
        # ---- full book
        ds, build = self.scenario_blocks(full_assets)
        ok &= ds.ok
        want_corr = {k: k in add.correlation_breakdown.models and U > 1 for k in kinds}
        cb = add.correlation_breakdown
        ww: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        if any(want_corr.values()) and cb.worst_window:
            for i in range(U):
                for j in range(i + 1, U):
                    vals = np.column_stack([self.hist.column(und[i]), self.hist.column(und[j])])
                    ww[(i, j)] = worst_window_corr(
                        vals, self.hist.dates, self.day_dates, cb.window_days
                    )
        days_ok = np.flatnonzero(ds.ok)
        for s0 in range(0, days_ok.size, BLOCK_DAYS):
            days = days_ok[s0 : s0 + BLOCK_DAYS]
            X, Vm, W = build(days)
            M = np.expm1(X)
            P_u = [
                legs_pnl(
                    lt,
                    days,
                    legs_of[u],
                    M[:, :, [u] * legs_of[u].size],
                    Vm[:, :, [u] * legs_of[u].size],
                )
                for u in range(U)
            ]
            L = -np.sum(P_u, axis=0)
            m = measures(L, W, alphas)
            for u in range(U if U > 1 else 0):
                mu = measures(-P_u[u], W, alphas)
                for k in kinds:
                    stand_full[k][days, u] = mu[k]
            for k in kinds:
                core[k][days] = np.maximum(m[k], 0.0)
                if U == 1:
                    stand_full[k][days, 0] = m[k]
            if not any(want_corr.values()):
                continue
            for i in range(U):
                for j in range(i + 1, U):
                    xu, xv = X[:, :, i], X[:, :, j]
                    rho = wcorr(xu, xv, W)
                    low = cb.low_factor * rho
                    high = np.minimum(1.0, cb.high_factor * rho)
                    if (i, j) in ww:
                        wl, wh = ww[(i, j)][0][days], ww[(i, j)][1][days]
                        low = np.where(np.isfinite(wl), np.minimum(low, wl), low)
                        high = np.where(np.isfinite(wh), np.maximum(high, wh), high)
                    best = {k: np.full(days.size, -np.inf) for k in kinds}
                    for tgt in (low, high):
                        act = np.abs(tgt - rho) >= 1e-9
                        if not act.any():
                            continue
                        xv2 = rotate(xu, xv, W, tgt)
                        lv = legs_of[j]
                        Pv2 = legs_pnl(
                            lt,
                            days,
                            lv,
                            np.expm1(xv2)[:, :, None].repeat(lv.size, 2),
                            Vm[:, :, [j] * lv.size],
                        )
                        l2 = L + P_u[j] - Pv2
                        m2 = measures(l2, W, {k: alphas[k] for k in kinds if want_corr[k]})
                        for k, v2 in m2.items():
                            best[k] = np.where(act, np.maximum(best[k], v2 - m[k]), best[k])
                    for k in kinds:
                        b_ = best[k]
                        corr[k][days] += np.maximum(np.where(np.isfinite(b_), b_, 0.0), 0.0)
        # ---- each underlying alone (the library's sub-accounts) and each leg alone
        L_ = lt.q.shape[1]
        leg_core = {k: np.zeros((D, L_)) for k in kinds}
        for u in range(U):
            dsu, bu = self.scenario_blocks((und[u],))
            if U > 1:
                ok &= dsu.ok
            du = np.flatnonzero(dsu.ok)
            lv = legs_of[u]
            for s0 in range(0, du.size, BLOCK_DAYS):
                days = du[s0 : s0 + BLOCK_DAYS]
                X, Vm, W = bu(days)
                M1 = np.expm1(X)
                P = np.zeros((days.size, X.shape[1]))
                for leg in lv:
                    Pl = legs_pnl(lt, days, np.asarray([leg]), M1[:, :, [0]], Vm[:, :, [0]])
                    P += Pl
                    ml = measures(-Pl, W, alphas)
                    for k in kinds:
                        leg_core[k][days, leg] = np.maximum(ml[k], 0.0)
                if U > 1:
                    ma = measures(-P, W, alphas)
                    for k in kinds:
                        alone_core[k][days, u] = np.maximum(ma[k], 0.0)
        if U == 1:
            for k in kinds:
                alone_core[k][:, 0] = core[k]
        leg_basis = self._leg_basis()
        out: dict[str, VarParts] = {}
        for k in kinds:
            apc = z[k]
            alone_apc = np.zeros((D, U))
            leg_apc = np.zeros((D, L_))
            if vc.anti_procyclicality == "buffer":
                apc = vc.apc_buffer * core[k]
                alone_apc = vc.apc_buffer * alone_core[k]
                leg_apc = vc.apc_buffer * leg_core[k]
            elif vc.anti_procyclicality == "releasable_buffer":
                f_acc, f_und, ok_r = self.release_factors(stand_full[k] if U > 1 else None)
                ok &= ok_r
                apc = vc.apc_buffer * f_acc * core[k]
                alone_apc = vc.apc_buffer * f_und * alone_core[k]
                leg_apc = vc.apc_buffer * f_und[:, lt.und] * leg_core[k]
            elif vc.anti_procyclicality == "floor":
                apc, alone_apc, leg_apc = self._floor(
                    k, alphas[k], core[k], alone_core[k], leg_core[k], legs_of
                )
            basis_f, basis_a, liq, conc_f, conc_a = self._group_addons(
                k, stand_full[k], alone_core[k]
            )
            im = core[k] + corr[k] + apc + basis_f.sum(1) + liq.sum(1) + conc_f.sum(1)
            alone = alone_core[k] + alone_apc + basis_a + liq + conc_a
            if U == 1:
                alone = im[:, None].copy()
            out[k] = VarParts(
                k,
                im,
                core[k],
                corr[k],
                basis_f.sum(1),
                liq.sum(1),
                conc_f.sum(1),
                apc,
                alone,
                alone_core[k],
                liq + conc_a,
                ok.copy(),
                {"unavailable_days": int((~ok).sum())},
                leg_core[k] + leg_basis + leg_apc,
                np.maximum(stand_full[k], 0.0) if U > 1 else core[k][:, None].copy(),
            )
        return out

    def _leg_basis(self) -> np.ndarray:
        """Basis add-on of each leg margined alone: ``max(min_move, annual × T) · |q δ S|``."""
        lt, cfg = self.lt, self.cfg
        rate = np.zeros_like(lt.q)
        if not (set(cfg.margin_addons.basis.models) & {"var", "es"}):
            return rate
        for u, sym in enumerate(self.und):
            rc = cfg.risk_class_of(sym)
            assert rc is not None
            b = cfg.risk_classes[rc].basis
            sel = lt.und == u
            rate[:, sel] = np.maximum(b.min_move, b.annual_move * lt.t[:, sel])
        return np.asarray(rate * np.abs(lt.q * lt.delta * lt.spot))

    def _floor(
        self,
        kind: str,
        alpha: float,
        core: np.ndarray,
        alone_core: np.ndarray,
        leg_core: np.ndarray,
        legs_of: list[np.ndarray],
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        D, U, und, lt = self.D, self.U, self.und, self.lt
        extra = np.zeros(D)
        extra_a = np.zeros((D, U))
        extra_l = np.zeros_like(leg_core)
        sets = [(tuple(und), None)] + [((und[u],), u) for u in range(U)]
        for assets, u in sets:
            ds, build = self.scenario_blocks(assets, floor=True)
            d_ok = np.flatnonzero(ds.ok)
            for s0 in range(0, d_ok.size, BLOCK_DAYS):
                days = d_ok[s0 : s0 + BLOCK_DAYS]
                X, Vm, W = build(days)
                M = np.expm1(X)
                P = np.zeros((days.size, X.shape[1]))
                for c in range(len(assets)):
                    uu = und.index(assets[c])
                    for leg in legs_of[uu]:
                        Pl = legs_pnl(lt, days, np.asarray([leg]), M[:, :, [c]], Vm[:, :, [c]])
                        P += Pl
                        if u is not None:
                            r10l = np.maximum(measure(-Pl, W, alpha, kind), 0.0)
                            extra_l[days, leg] = np.maximum(r10l - leg_core[days, leg], 0.0)
                r10 = np.maximum(measure(-P, W, alpha, kind), 0.0)
                if u is None:
                    extra[days] = np.maximum(r10 - core[days], 0.0)
                elif U > 1:
                    extra_a[days, u] = np.maximum(r10 - alone_core[days, u], 0.0)
        if U == 1:
            extra_a[:, 0] = extra
        return extra, extra_a, extra_l

    def _group_addons(
        self, name: str, stand_full: np.ndarray, alone_core: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        """Basis (library function), liquidity and concentration per (day, underlying)."""
        rep, cfg, lt = self.rep, self.cfg, self.lt
        add = cfg.margin_addons
        D, U = self.D, self.U
        rb = rep.resolved
        rb = replace(rb, config=cfg)
        groups = group_positions(rb.positions, rb.instruments)
        acc, gu = groups.account, groups.und
        basis_f = np.zeros((D, U))
        basis_a = np.zeros((D, U))
        if name in add.basis.models:
            b = basis_amounts(rb.instruments, rb.positions, groups, cfg)
            full = acc < D
            basis_f[acc[full], gu[full]] = b[full]
            if U > 1:
                sub = ~full
                d = (acc[sub] - D) // U
                basis_a[d, gu[sub]] = b[sub]
            else:
                basis_a = basis_f.copy()
        liq = np.zeros((D, U))
        conc_f = np.zeros((D, U))
        conc_a = np.zeros((D, U))
        if name in add.liquidity.models:
            # net delta notional per (day, underlying) and option vega crossing
            dn = lt.q * lt.delta * lt.spot
            vega = np.zeros_like(lt.q)
            opt = lt.kind == KIND_OPTION
            if opt.any():
                g = black76_greeks(
                    lt.spot[:, opt],
                    lt.fwd[:, opt],
                    lt.strike[:, opt],
                    lt.t[:, opt],
                    lt.sigma[:, opt],
                    lt.disc[:, opt],
                    lt.call[:, opt],
                )
                vega[:, opt] = np.abs(lt.q[:, opt]) * np.abs(g.vega) * lt.mult[:, opt]
            from crossmargin.liquidity.impact import close_out_cost, impact_params

            for u, sym in enumerate(self.und):
                p = impact_params(cfg, sym)
                sel = lt.und == u
                D_u = dn[:, sel].sum(1)
                sv = rep.market.vol[rep.daily.days, u]
                if np.all(np.isfinite(sv)):
                    sd = sv / np.sqrt(365.0)
                else:
                    ew = _single_vol_ewma(
                        self.hist.column(sym), self.hist.dates, self.day_dates, cfg.var.ewma_lambda
                    )
                    sd = np.where(np.isfinite(sv), sv / np.sqrt(365.0), ew)
                cost = close_out_cost(D_u, spread=p.spread, sigma_daily=sd, adv=p.adv, k=p.impact_k)
                cost = cost + vega[:, sel].sum(1) * (p.option_vol_impact / 0.01)
                liq[:, u] = cost
                if add.liquidity.concentration:
                    absd = np.abs(D_u)
                    oi = p.open_interest or np.inf
                    r = np.maximum(
                        absd / (p.concentration_share * p.adv), absd / (p.concentration_share * oi)
                    )
                    f = np.sqrt(np.maximum(r, 1.0)) - 1.0
                    conc_f[:, u] = np.maximum(stand_full[:, u], 0.0) * f
                    conc_a[:, u] = np.maximum(alone_core[:, u], 0.0) * f
        return basis_f, basis_a, liq, conc_f, conc_a


# ----------------------------------------------------------------------------- netting rule


def netting_never_costs(parts: VarParts, level: str = "position") -> dict[str, np.ndarray]:
    """The recommended rule (docs/calibration.md, "Netting never costs") on one run.

    ``risk = core + corr' + basis + apc`` with the correlation add-on capped at the
    diversification benefit ``max(0, Σ_u stand_u − core)`` (each underlying's measure on the
    book's scenario set, as the library), then ``IM = min(risk, cap) + size
    add-ons``: ``cap`` is the sum of the risk parts of every position (leg) margined alone
    (``level="position"``, the rule) or of every underlying margined alone
    (``level="underlying"``); size add-ons (liquidity close-out cost, concentration) are added
    on top and reported apart.
    """
    stand = parts.alone_core if parts.stand is None else parts.stand
    benefit = np.maximum(stand.sum(1) - parts.core, 0.0)
    corr_capped = np.minimum(parts.corr, benefit)
    risk = parts.core + corr_capped + parts.basis + parts.apc
    if level == "position":
        assert parts.alone_legs is not None
        cap = parts.alone_legs.sum(1)
    else:
        cap = (parts.alone - parts.alone_size).sum(1)
    capped = np.minimum(risk, cap)
    size = parts.liquidity + parts.concentration
    return {
        "im": capped + size,
        "risk": risk,
        "risk_capped": capped,
        "size": size,
        "corr_capped": corr_capped,
        "cap": cap,
    }


# ----------------------------------------------------------------------------- check


def check_against_library(
    rep: BookReplay, cfg: RiskConfig, kind: str, parts: VarParts, n_probe: int = 8
) -> dict[str, Any]:
    """Margins of ``n_probe`` evenly spaced available days by the library's per-day resolution
    against the replica's: maximum relative difference of the account IM (the replica with the
    netting-never-costs rule, as the library computes it), of each underlying's
    stand-alone IM and of each leg's stand-alone risk requirement (IM without the size
    add-ons), the latter from one-position accounts resolved and margined by the library."""
    from crossmargin.backtest.replay import _per_day
    from crossmargin.backtest.snapshots import day_snapshot
    from crossmargin.instruments.book import Book
    from crossmargin.instruments.position import Portfolio, Position
    from crossmargin.margin.base import get_model
    from crossmargin.resolve.book import resolve

    rep = replace(rep, resolved=replace(rep.resolved, config=cfg))
    avail = np.flatnonzero(parts.ok)
    probe = sorted({int(avail[int(i)]) for i in np.linspace(0, avail.size - 1, n_probe)})
    ref = _per_day(rep, kind, cfg, probe)
    # the library applies the netting-never-costs rule inside var/es (since 2026-12-07): its
    # account IM is the replica's ``capped`` variant; ``parts.im`` is the formula without it
    im = netting_never_costs(parts)["im"][probe]
    rel_plain = np.abs(ref.im - parts.im[probe]) / np.maximum(np.abs(ref.im), 1.0)
    rel = np.abs(ref.im - im) / np.maximum(np.abs(ref.im), 1.0)
    by = parts.alone[probe]
    rel_by = np.abs(ref.by - by) / np.maximum(np.abs(ref.by), 1.0)
    legs_rel = []
    model = get_model(kind, cfg)
    daily = rep.daily
    for d in probe:
        pfs = [
            Portfolio(
                f"leg{li}",
                positions=(
                    Position(
                        daily.contracts[int(daily.contract_id[d, li])], float(daily.quantity[d, li])
                    ),
                ),
            )
            for li in range(daily.n_legs)
        ]
        snap = day_snapshot(rep.market, int(daily.days[d]))
        b = model.compute(resolve(Book.from_portfolios(pfs), snap, cfg))
        size = np.zeros(daily.n_legs)
        for r in b.addons:
            if r.name in ("liquidity", "concentration"):
                np.add.at(size, r.account, r.amount)
        lib = b.im - size
        assert parts.alone_legs is not None
        mine = parts.alone_legs[d]
        legs_rel.append(float(np.max(np.abs(lib - mine) / np.maximum(np.abs(lib), 1.0))))
    return {
        "probe_days": [str(rep.dates[i]) for i in probe],
        "library_failures": ref.failures,
        "max_rel_diff_im": float(np.nanmax(rel)) if rel.size else None,
        "max_rel_diff_im_without_rule": float(np.nanmax(rel_plain)) if rel.size else None,
        "max_rel_diff_standalone": float(np.nanmax(rel_by)) if rel_by.size else None,
        "max_rel_diff_position_alone": float(max(legs_rel)) if legs_rel else None,
        "library_im": ref.im.tolist(),
        "replica_im": im.tolist(),
    }
