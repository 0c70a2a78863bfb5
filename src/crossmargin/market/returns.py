"""Joint returns from a price history: explicit alignment, EWMA filtering, overlapping windows.

* **Alignment** (no forward-fill): the *core* calendar is the set of observation times at which
  every core asset has a price. Returns are log price ratios between consecutive core times, so
  a crypto return over a weekend is paired with the equity return from Friday to Monday. A return
  spanning more than ``max_gap_days`` calendar days (a data hole) is dropped, and no window may
  straddle it.
* **EWMA volatility** (RiskMetrics, J.P. Morgan 1996): ``σ²_t = λ σ²_{t−1} + (1 − λ) x²_{t−1}``,
  seeded with the mean square of the first 30 returns; ``σ_t`` uses information up to ``t − 1``.
* **Filtered historical simulation** (Barone-Adesi, Giannopoulos & Vosper 1999; Hull & White
  1998): ``x*_t = x_t · σ_now / σ_t`` with ``σ_now`` the forecast for the next period.
* **Margin period of risk**: ``h`` = MPOR in observations (MPOR days / median spacing, so 2 for
  daily data, 48 for hourly) and scenario returns are overlapping ``h``-observation sums
  ``X_t = x_{t−h+1} + … + x_t`` — the history's own multi-day distribution instead of ``√h``
  scaling.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from crossmargin._typing import BoolArray, FloatArray, IntArray
from crossmargin.errors import ModelError
from crossmargin.market.history import PriceHistory

__all__ = [
    "JointReturns",
    "Windows",
    "ewma_filter",
    "ewma_variance",
    "joint_returns",
    "overlapping_windows",
]

_NS_PER_DAY = 86_400e9
_SEED_OBS = 30


@dataclass(frozen=True, slots=True, eq=False)
class JointReturns:
    """Log returns of the core assets on their common calendar.

    Attributes
    ----------
    assets
        Core asset symbols (columns of ``x``).
    times
        ``(n + 1,)`` core observation times; return ``t`` runs from ``times[t]`` to ``times[t+1]``.
    x
        ``(n, n_assets)`` log returns.
    valid
        ``(n,)`` False for a return spanning a data hole (longer than ``max_gap_days``).
    rows
        ``(n + 1,)`` row of each core time in the history (to read other columns there).
    spacing_days
        Median spacing of valid returns, in days.
    dropped
        Number of returns dropped for spanning a hole.
    """

    assets: tuple[str, ...]
    times: np.ndarray
    x: FloatArray
    valid: BoolArray
    rows: IntArray
    spacing_days: float
    dropped: int

    @property
    def n(self) -> int:
        """Number of returns."""
        return int(self.x.shape[0])


def joint_returns(
    history: PriceHistory,
    assets: Sequence[str],
    *,
    until: np.datetime64,
    max_gap_days: float,
    needed_by: str = "",
) -> JointReturns:
    """Align the core assets on their common observation times (up to ``until``) and difference.

    Raises
    ------
    MarketDataError
        An asset has no column in the history.
    ModelError
        Fewer than two common observations.
    """
    cols = np.column_stack([history.column(a, needed_by=needed_by) for a in assets])
    keep = np.all(np.isfinite(cols), axis=1) & (history.times <= until)
    rows = np.flatnonzero(keep).astype(np.int64)
    if rows.size < 2:
        raise ModelError(
            f"the price history has fewer than two common observations of {', '.join(assets)} "
            f"up to {np.datetime_as_string(until, unit='D')}",
            path="history",
        )
    times = history.times[rows]
    logp = np.log(cols[rows])
    x = np.diff(logp, axis=0)
    gap = np.diff(times).astype(np.float64) / _NS_PER_DAY
    valid = gap <= max_gap_days
    spacing = float(np.median(gap[valid])) if valid.any() else float(np.median(gap))
    return JointReturns(tuple(assets), times, x, valid, rows, spacing, int((~valid).sum()))


def ewma_filter(x2: FloatArray, lam: float, seed: FloatArray | float) -> FloatArray:
    """The EWMA recursion ``y_t = λ y_{t−1} + (1 − λ) x²_t`` along axis 0, from ``y_{−1} = seed``."""
    from scipy.signal import lfilter  # lazy: scipy.signal costs ~0.6 s to import

    x2 = np.asarray(x2, dtype=np.float64)
    zi = lam * np.asarray(seed, dtype=np.float64).reshape((1, *x2.shape[1:]))
    y, _ = lfilter([1.0 - lam], [1.0, -lam], x2, axis=0, zi=zi)
    return np.asarray(y, dtype=np.float64)


def ewma_variance(x: FloatArray, lam: float) -> tuple[FloatArray, FloatArray]:
    """EWMA variance forecasts per column: ``(σ²_t for each t, σ²_now)`` (see module docstring).

    ``x`` is ``(n, k)`` with NaN rows skipped (a dropped return neither updates nor is scaled).
    """
    n, k = x.shape
    ok = np.all(np.isfinite(x), axis=1)
    xs = x[ok]
    if xs.shape[0] == 0:
        raise ModelError("no valid returns to estimate a volatility from", path="history")
    seed = np.mean(xs[: min(_SEED_OBS, xs.shape[0])] ** 2, axis=0)
    seed = np.where(seed > 0, seed, np.mean(xs**2, axis=0) + 1e-18)
    y = ewma_filter(xs**2, lam, seed)
    fc = np.empty_like(xs)
    fc[0] = seed
    fc[1:] = y[:-1]
    out = np.full((n, k), np.nan)
    out[ok] = fc
    return out, np.asarray(y[-1], dtype=np.float64)


@dataclass(frozen=True, slots=True, eq=False)
class Windows:
    """Overlapping ``h``-return windows: sums and their start/end core-time indices."""

    X: FloatArray
    start: IntArray
    end: IntArray


def overlapping_windows(x: FloatArray, valid: BoolArray, h: int) -> Windows:
    """All windows of ``h`` consecutive valid returns: ``X`` ``(n_windows, k)``.

    Window ``w`` covers returns ``end[w] − h … end[w] − 1``, i.e. core times ``start[w]`` to
    ``end[w]`` with ``start = end − h``.
    """
    n, k = x.shape
    if n < h:
        return Windows(np.zeros((0, k)), np.zeros(0, np.int64), np.zeros(0, np.int64))
    xz = np.where(valid[:, None], x, 0.0)
    cs = np.vstack([np.zeros((1, k)), np.cumsum(xz, axis=0)])
    bad = np.concatenate([[0], np.cumsum(~valid)])
    end = np.arange(h, n + 1, dtype=np.int64)
    start = end - h
    ok = (bad[end] - bad[start]) == 0
    end, start = end[ok], start[ok]
    return Windows(cs[end] - cs[start], start, end)
