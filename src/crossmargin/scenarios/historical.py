"""Historical and filtered historical scenario sets (VaR/ES), SPAN 2-style weighted.

The set for a book is built from the joint returns of the assets it needs
(:mod:`crossmargin.market.returns`):

1. **lookback** — the overlapping MPOR windows ending within ``lookback_days`` of the last
   usable observation (``≤ as_of``: never look ahead); with ``method = fhs`` their returns are
   EWMA-filtered to today's volatility, with ``hs`` they are used as observed;
2. **stress** — the overlapping windows inside the configured stress periods, *unfiltered* (they
   are meant to keep their stress). Periods without data for every core asset are skipped; if
   none is left, the most volatile ``stress_window_days`` window of the available history is
   used (average of each asset's squared returns relative to its own full-sample variance);
3. **depeg** — one scenario per configured stablecoin that the book or its collateral uses: that
   coin at its stressed price, everything else unchanged.

Weights (CME SPAN 2 blends a stressed component into its filtered historical VaR; EMIR RTS
153/2013 Art. 28(1)(b) asks for ≥ 25 % weight on stressed observations): the stress segment
(stress windows and depeg scenarios) carries ``stress_weight`` in total, the lookback the rest,
equally within each segment. Without a stress segment the lookback carries everything.

Vol moves: ``ln(I_end / I_start)`` of the asset's vol index over the same window where one is
configured and observed at both ends (CBOE VIX for SPX), else ``β X + γ |X|`` of the window's
log return ``X`` with the risk class's response (``vol_response``); the count of each is
reported. Collateral assets with a history column ("auxiliary") get their own window returns
(NaN → no move, counted) so wrong-way collateral can be detected.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import numpy as np

from crossmargin._typing import FloatArray, IntArray
from crossmargin.config.model import VarConfig, VolResponse
from crossmargin.errors import ModelError
from crossmargin.market.history import PriceHistory, as_datetime64
from crossmargin.market.returns import (
    JointReturns,
    Windows,
    ewma_variance,
    joint_returns,
    overlapping_windows,
)
from crossmargin.scenarios.joint import (
    SEGMENT_DEPEG,
    SEGMENT_LOOKBACK,
    SEGMENT_STRESS,
    JointScenarioSet,
)

__all__ = ["add_depeg", "historical_scenarios", "mpor_observations", "vol_moves"]

_NS_PER_DAY = 86_400e9
_MIN_STRESS_WINDOWS = 20


def mpor_observations(mpor_days: float, spacing_days: float) -> int:
    """MPOR in observations of a history sampled every ``spacing_days`` (at least 1)."""
    return max(1, round(mpor_days / max(spacing_days, 1e-9)))


def _day(t: np.datetime64) -> str:
    return str(np.datetime_as_string(t, unit="D"))


def vol_moves(X: FloatArray, response: VolResponse) -> FloatArray:
    """Proportional implied-vol response ``β X + γ |X|`` to log returns ``X``."""
    return np.asarray(response.beta * X + response.gamma * np.abs(X), dtype=np.float64)


def _stress_windows(jr: JointReturns, win: Windows, cfg: VarConfig) -> tuple[IntArray, list[str]]:
    """Indices of windows inside the configured stress periods (or an auto-detected one)."""
    t_start = jr.times[win.start]
    t_end = jr.times[win.end]
    picked: list[IntArray] = []
    used: list[str] = []
    for p in cfg.stress_periods:
        lo = as_datetime64(p.start)
        hi = as_datetime64(p.end) + np.timedelta64(1, "D")
        ix = np.flatnonzero((t_start >= lo) & (t_end < hi))
        if ix.size >= _MIN_STRESS_WINDOWS:
            picked.append(ix)
            used.append(f"{p.label or 'stress'} {p.start}..{p.end} ({ix.size} windows)")
    if picked:
        return np.unique(np.concatenate(picked)), used
    # auto-detect: most volatile window of stress_window_days in the available history
    x = np.where(jr.valid[:, None], jr.x, np.nan)
    var = np.nanmean(x**2, axis=0)
    z2 = np.nanmean(np.where(np.isfinite(x), x**2 / np.where(var > 0, var, 1.0), 0.0), axis=1)
    cs = np.concatenate([[0.0], np.cumsum(z2)])
    ends = jr.times[1:]
    span = np.timedelta64(int(cfg.stress_window_days * _NS_PER_DAY), "ns")
    first = np.searchsorted(ends, ends - span, side="right")
    idx = np.arange(ends.size)
    count = idx + 1 - first
    full = (ends - span) >= jr.times[0]
    if not full.any():
        return np.zeros(0, np.int64), []
    score = np.where(full & (count > 0), (cs[idx + 1] - cs[first]) / np.maximum(count, 1), -1.0)
    best = int(np.argmax(score))
    lo_t, hi_t = ends[best] - span, ends[best]
    ix = np.flatnonzero((t_start >= lo_t) & (t_end <= hi_t))
    used.append(
        f"auto-detected most volatile {cfg.stress_window_days}-day window {_day(lo_t)}..{_day(hi_t)} ({ix.size} windows)"
    )
    return ix, used


def historical_scenarios(
    history: PriceHistory,
    core: Sequence[str],
    *,
    as_of: datetime,
    cfg: VarConfig,
    risk_class_of: Callable[[str], str | None],
    aux: Sequence[str] = (),
    stable_prices: Mapping[str, float] | None = None,
    method: str | None = None,
    lookback_days: float | None = None,
    with_stress: bool = True,
) -> JointScenarioSet:
    """Build the (filtered) historical scenario set of the ``core`` assets (module docstring).

    Parameters
    ----------
    history
        Price history.
    core
        Assets that must have history (the book's underlyings).
    as_of
        The snapshot instant; later observations are ignored.
    cfg
        VaR configuration.
    risk_class_of
        Maps an asset to its risk class (for the vol response).
    aux
        Further assets moved where the history has them (collateral).
    stable_prices
        Current prices of stablecoins to add depeg scenarios for.
    method, lookback_days, with_stress
        Overrides of ``cfg.method`` / ``cfg.lookback_days`` and of the stress segment (the
        anti-procyclicality floor uses plain HS over a long lookback without stress).

    Raises
    ------
    MarketDataError
        A core asset has no history (freshness: :mod:`crossmargin.scenarios.freshness`).
    ModelError
        Too few observations in the lookback.
    """
    method = method or cfg.method
    until = as_datetime64(as_of)
    jr = joint_returns(
        history, core, until=until, max_gap_days=cfg.max_gap_days, needed_by="var/es scenarios"
    )
    last = jr.times[-1]
    age = float((until - last) / np.timedelta64(1, "D"))
    h = mpor_observations(cfg.mpor_days, jr.spacing_days)
    x = np.where(jr.valid[:, None], jr.x, np.nan)
    if method == "fhs":
        var_t, var_now = ewma_variance(x, cfg.ewma_lambda)
        xf = x * np.sqrt(var_now)[None, :] / np.sqrt(var_t)
    else:
        xf = x
    win_f = overlapping_windows(np.nan_to_num(xf), jr.valid, h)
    win_raw = overlapping_windows(np.nan_to_num(x), jr.valid, h)
    lb_days = cfg.lookback_days if lookback_days is None else lookback_days
    span = np.timedelta64(int(lb_days * _NS_PER_DAY), "ns")
    lb = np.flatnonzero(jr.times[win_f.end] > last - span)
    if lb.size < cfg.min_observations:
        raise ModelError(
            f"only {lb.size} scenarios of {', '.join(core)} in the {lb_days:g}-day lookback "
            f"ending {_day(last)} (min_observations {cfg.min_observations})",
            path="history",
        )
    st = np.zeros(0, np.int64)
    stress_used: list[str] = []
    if with_stress and cfg.stress_weight > 0:
        st, stress_used = _stress_windows(jr, win_raw, cfg)
        if st.size == 0 and cfg.anti_procyclicality == "stress_weight":
            raise ModelError(
                f"anti_procyclicality stress_weight needs stressed observations, but the history "
                f"of {', '.join(core)} has none (no configured stress period with data and less "
                f"than stress_window_days of history); supply a longer history or choose another "
                f"anti_procyclicality option",
                path="var.stress_periods",
            )
    X = np.vstack([win_f.X[lb], win_raw.X[st]])
    w_start = np.concatenate([win_f.start[lb], win_raw.start[st]])
    w_end = np.concatenate([win_f.end[lb], win_raw.end[st]])
    seg = np.concatenate(
        [np.full(lb.size, SEGMENT_LOOKBACK), np.full(st.size, SEGMENT_STRESS)]
    ).astype(np.int64)
    # vol moves: vol index over the window, else the proportional response
    V = np.empty_like(X)
    n_index = 0
    for j, a in enumerate(core):
        rc = risk_class_of(a)
        resp = cfg.vol_response.get(rc or "", VolResponse())
        V[:, j] = vol_moves(X[:, j], resp)
        idx = cfg.vol_index.get(a)
        if idx is not None and history.has(idx):
            col = history.column(idx)
            iv = np.log(col[jr.rows[w_end]] / col[jr.rows[w_start]])
            ok = np.isfinite(iv)
            V[ok, j] = iv[ok]
            n_index += int(ok.sum())
    # auxiliary (collateral) assets with history
    aux_rows: list[FloatArray] = []
    aux_names: list[str] = []
    aux_missing = 0
    for a in aux:
        if a in core or not history.has(a):
            continue
        col = history.column(a)
        r = np.log(col[jr.rows[w_end]] / col[jr.rows[w_start]])
        aux_missing += int((~np.isfinite(r)).sum())
        aux_rows.append(np.where(np.isfinite(r), np.expm1(r), 0.0))
        aux_names.append(a)
    spot = np.vstack([np.expm1(X).T, *aux_rows]) if aux_rows else np.expm1(X).T
    vol = np.vstack([V.T, np.zeros((len(aux_rows), X.shape[0]))])
    assets = [*core, *aux_names]
    # dates formatted in one vectorised call (per-window formatting dominated backtests)
    d_start = np.datetime_as_string(jr.times[w_start], unit="D")
    d_end = np.datetime_as_string(jr.times[w_end], unit="D")
    labels = [
        f"{a}..{b}" + (" (stress)" if g == SEGMENT_STRESS else "")
        for a, b, g in zip(d_start.tolist(), d_end.tolist(), seg.tolist(), strict=True)
    ]
    spot, vol, assets, labels, seg = add_depeg(spot, vol, assets, labels, seg, cfg, stable_prices)
    weight = _weights(seg, cfg.stress_weight if with_stress else 0.0)
    info = {
        "method": {"fhs": "filtered historical simulation", "hs": "historical simulation"}[method],
        "history": history.source,
        "history_end": _day(last),
        "history_age_days": round(age, 1),
        "lookback": f"{_day(jr.times[win_f.start[lb].min()])}..{_day(last)}",
        "mpor_observations": h,
        "spacing_days": jr.spacing_days,
        "ewma_lambda": cfg.ewma_lambda if method == "fhs" else None,
        "lookback_scenarios": int(lb.size),
        "stress_scenarios": int(st.size),
        "stress_periods": stress_used,
        "depeg_scenarios": int((seg == SEGMENT_DEPEG).sum()),
        "returns_dropped_for_gaps": jr.dropped,
        "vol_moves_from_index": n_index,
        "collateral_moves_missing": aux_missing,
    }
    return JointScenarioSet(
        tuple(assets),
        np.ascontiguousarray(spot),
        np.ascontiguousarray(vol),
        weight,
        tuple(labels),
        seg,
        info,
    )


def add_depeg(
    spot: FloatArray,
    vol: FloatArray,
    assets: list[str],
    labels: list[str],
    seg: IntArray,
    cfg: VarConfig,
    stable_prices: Mapping[str, float] | None,
) -> tuple[FloatArray, FloatArray, list[str], list[str], IntArray]:
    """Append one depeg scenario (and a row if needed) per configured stablecoin in use."""
    coins = [c for c in cfg.depeg if stable_prices and c in stable_prices]
    if not coins:
        return spot, vol, assets, labels, seg
    S = spot.shape[1]
    for c in coins:
        if c not in assets:
            assets.append(c)
            spot = np.vstack([spot, np.zeros((1, S))])
            vol = np.vstack([vol, np.zeros((1, S))])
    k = len(coins)
    spot = np.hstack([spot, np.zeros((spot.shape[0], k))])
    vol = np.hstack([vol, np.zeros((vol.shape[0], k))])
    assert stable_prices is not None
    for i, c in enumerate(coins):
        spot[assets.index(c), S + i] = cfg.depeg[c] / stable_prices[c] - 1.0
        labels.append(f"depeg {c} to {cfg.depeg[c]:g}")
    seg = np.concatenate([seg, np.full(k, SEGMENT_DEPEG, np.int64)])
    return spot, vol, assets, labels, seg


def _weights(seg: IntArray, stress_weight: float) -> FloatArray:
    """Equal weights within the lookback and the stress segment (stress windows + depeg).

    Without stress windows every scenario (depeg included) weighs the same.
    """
    stress = seg != SEGMENT_LOOKBACK
    n_s, n_l = int(stress.sum()), int((~stress).sum())
    if not (seg == SEGMENT_STRESS).any() or stress_weight <= 0:
        return np.full(seg.size, 1.0 / seg.size)
    w = np.where(stress, stress_weight / n_s, (1.0 - stress_weight) / max(n_l, 1))
    return np.asarray(w / w.sum(), dtype=np.float64)
