"""Procyclicality and capital-efficiency measures of a margin series.

Following the metrics of D. Murphy, M. Vasios and N. Vause, "An investigation into the
procyclicality of risk-based initial margin models" (Bank of England Financial Stability Paper
29, 2014) and CPMI-IOSCO PFMI Principle 6 / EMIR RTS Art. 28:

* **peak-to-trough ratio** ``max M / min M`` over the window — of the margin amount and of the
  margin *rate* ``M / gross notional`` (for a static book the amount also moves with the price
  level; the rate isolates the model's reaction to risk). ``None`` when the minimum is not
  positive;
* **largest k-day increase** ``max_t (M_{t+k} − M_t) / M_t`` for k = 1, 5 and 30 calendar steps,
  with its date and size in money — the margin calls a member would have faced;
* **margin vs realised vol**: correlation of the margin rate with the book's realised vol
  (gross-weighted trailing realised vol of its underlyings) and the elasticity (slope of
  ``ln rate`` on ``ln vol``): 1 means margin moves one-for-one with volatility, 0 that it ignores
  it (a fixed grid).

Capital efficiency: average margin as a share of gross notional, and as a share of the isolated
model's margin on the same days (the seed's isolated-vs-cross table, measured over years).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossmargin._typing import FloatArray

__all__ = [
    "INCREASE_HORIZONS",
    "Efficiency",
    "Increase",
    "Procyclicality",
    "efficiency",
    "procyclicality",
]

#: Horizons (calendar steps) of the largest-increase metric.
INCREASE_HORIZONS = (1, 5, 30)


@dataclass(frozen=True, slots=True)
class Increase:
    """Largest margin increase over ``horizon`` steps."""

    horizon: int
    relative: float | None
    amount: float | None
    date: str | None


@dataclass(frozen=True, slots=True)
class Procyclicality:
    """Procyclicality measures (module docstring)."""

    peak_to_trough: float | None
    peak_to_trough_rate: float | None
    increases: tuple[Increase, ...]
    vol_correlation: float | None
    vol_elasticity: float | None


def _ptt(x: FloatArray) -> float | None:
    lo = float(np.min(x)) if x.size else 0.0
    return float(np.max(x)) / lo if lo > 0 else None


def _increase(m: FloatArray, k: int, dates: np.ndarray) -> Increase:
    if m.size <= k:
        return Increase(k, None, None, None)
    a, b = m[:-k], m[k:]
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(a > 0, (b - a) / a, np.nan)
    if not np.isfinite(rel).any():
        return Increase(k, None, None, None)
    i = int(np.nanargmax(rel))
    return Increase(k, float(rel[i]), float(b[i] - a[i]), str(dates[i + k]))


def procyclicality(
    margin: FloatArray, gross: FloatArray, book_vol: FloatArray, dates: np.ndarray
) -> Procyclicality:
    """Procyclicality of a margin series on consecutive evaluation days.

    Parameters
    ----------
    margin, gross
        Margin and gross notional per day.
    book_vol
        The book's realised vol per day (NaN where unknown).
    dates
        Evaluation dates (for reporting).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(gross > 0, margin / gross, np.nan)
    ok_rate = rate[np.isfinite(rate)]
    incs = tuple(_increase(margin, k, dates) for k in INCREASE_HORIZONS)
    sel = np.isfinite(rate) & np.isfinite(book_vol) & (book_vol > 0) & (rate > 0)
    corr = slope = None
    if sel.sum() >= 3 and np.std(rate[sel]) > 0 and np.std(book_vol[sel]) > 0:
        corr = float(np.corrcoef(rate[sel], book_vol[sel])[0, 1])
        x, y = np.log(book_vol[sel]), np.log(rate[sel])
        slope = float(np.polyfit(x, y, 1)[0])
    return Procyclicality(
        peak_to_trough=_ptt(margin),
        peak_to_trough_rate=_ptt(ok_rate),
        increases=incs,
        vol_correlation=corr,
        vol_elasticity=slope,
    )


@dataclass(frozen=True, slots=True)
class Efficiency:
    """Capital efficiency of a margin series.

    Attributes
    ----------
    avg_margin
        Mean margin.
    margin_over_gross
        Mean margin / mean gross notional.
    margin_over_isolated
        Mean margin / mean isolated margin on the same days (``None`` if isolated is 0).
    margin_over_loss_quantile
        Mean margin / the realised loss quantile at the tested confidence (above 1: margin on
        average exceeds what a perfectly calibrated constant margin would have needed).
    """

    avg_margin: float
    margin_over_gross: float | None
    margin_over_isolated: float | None
    margin_over_loss_quantile: float | None


def efficiency(
    margin: FloatArray,
    gross: FloatArray,
    isolated: FloatArray | None,
    loss: FloatArray,
    confidence: float,
) -> Efficiency:
    """Capital-efficiency measures (module docstring)."""
    avg = float(np.mean(margin)) if margin.size else 0.0
    g = float(np.mean(gross)) if gross.size else 0.0
    iso = float(np.mean(isolated)) if isolated is not None and isolated.size else 0.0
    q = float(np.quantile(loss, confidence)) if loss.size else 0.0
    return Efficiency(
        avg_margin=avg,
        margin_over_gross=avg / g if g > 0 else None,
        margin_over_isolated=avg / iso if iso > 0 else None,
        margin_over_loss_quantile=avg / q if q > 0 else None,
    )
