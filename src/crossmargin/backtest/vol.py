"""Point-in-time implied-vol proxies for re-pricing options on each backtest day.

Real option quotes are not in the history, so each day's options are priced with a flat vol that
was observable on that day (no look-ahead: the estimate on date ``d`` uses closes up to ``d``):

* ``realised`` — trailing realised vol of the underlying's own clean closes: root mean square of
  the last ``window`` log returns (zero mean), annualised with 365 for a 7-day series and 252 for
  an exchange-day series; for a 7-day series a return across a missing day is divided by
  ``sqrt(days)`` so that a gap is not mistaken for a jump. Default for crypto (30 returns).
* ``ewma`` — RiskMetrics exponentially weighted variance ``σ²_t = λ σ²_{t−1} + (1 − λ) r_t²``
  (J.P. Morgan/Reuters, RiskMetrics Technical Document, 1996; λ = 0.94 daily), seeded with the
  mean of the first ``window`` squared returns.
* ``index`` — an implied-vol index in vol points divided by 100 (VIX for SPX: Cboe VIX white
  paper; the 30-day variance-swap level, a little above at-the-money vol). With ``relative_to``,
  the index is scaled by the ratio of the underlying's realised vol to that of ``relative_to``
  (NDX priced with VIX × realised(NDX)/realised(SPX), as the bundled history has no VXN).

Every estimate is multiplied by ``multiplier`` (default 1: no implied-over-realised premium).
The surface is flat in strike: skew is not modelled (a known limitation, docs/validation.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from crossmargin._typing import FloatArray
from crossmargin.backtest.calendar import BookCalendar
from crossmargin.market.history import PriceHistory
from crossmargin.market.returns import ewma_filter

__all__ = ["VolSpec", "ewma_vol", "realised_vol", "vol_on_calendar"]

VolSource = Literal["realised", "ewma", "index"]


@dataclass(frozen=True, slots=True)
class VolSpec:
    """How one underlying's vol is estimated (module docstring)."""

    source: VolSource = "realised"
    window: int = 30
    lam: float = 0.94
    series: str | None = None
    relative_to: str | None = None
    multiplier: float = 1.0

    def needed_series(self) -> tuple[str, ...]:
        """History columns this estimate reads besides the underlying itself."""
        out: list[str] = []
        if self.source == "index" and self.series:
            out.append(self.series)
        if self.relative_to:
            out.append(self.relative_to)
        return tuple(out)

    def describe(self) -> str:
        """Short description for reports."""
        if self.source == "index":
            rel = f" x realised ratio vs {self.relative_to}" if self.relative_to else ""
            base = f"index {self.series}/100{rel}"
        elif self.source == "ewma":
            base = f"EWMA lambda={self.lam:g}"
        else:
            base = f"realised, {self.window} returns"
        return base + (f" x {self.multiplier:g}" if self.multiplier != 1.0 else "")


def _own_returns(hist: PriceHistory, asset: str) -> tuple[np.ndarray, FloatArray, float]:
    """Observation rows, per-day-normalised log returns into each, and the annualisation."""
    col = hist.column(asset)
    rows = np.flatnonzero(~np.isnan(col))
    days = hist.dates[rows]
    weekend = ((days.astype(np.int64) + 3) % 7) >= 5
    seven = bool(weekend.mean() >= 0.2) if days.size else False
    r = np.diff(np.log(col[rows]))
    if seven:
        gap = np.diff(days.astype(np.int64)).astype(np.float64)
        r = r / np.sqrt(np.maximum(gap, 1.0))
    return rows, r, 365.0 if seven else 252.0


def realised_vol(hist: PriceHistory, asset: str, window: int) -> FloatArray:
    """Trailing realised vol on every history row (NaN where not observed or not enough data)."""
    out = np.full(hist.dates.shape[0], np.nan)
    rows, r, ann = _own_returns(hist, asset)
    if r.size < window:
        return out
    c = np.concatenate([[0.0], np.cumsum(r * r)])
    ms = (c[window:] - c[:-window]) / window  # mean square of returns window-1 .. end
    out[rows[window:]] = np.sqrt(ms * ann)
    return out


def ewma_vol(hist: PriceHistory, asset: str, lam: float, window: int) -> FloatArray:
    """RiskMetrics EWMA vol on every history row (NaN before ``window`` returns)."""
    out = np.full(hist.dates.shape[0], np.nan)
    rows, r, ann = _own_returns(hist, asset)
    if r.size < window:
        return out
    r2 = r * r
    seed = float(np.mean(r2[:window]))
    rest = r2[window:]
    var = np.empty(r.size - window + 1)
    var[0] = seed
    if rest.size:
        var[1:] = ewma_filter(rest, lam, seed)
    out[rows[window:]] = np.sqrt(var * ann)
    return out


def vol_on_calendar(
    spec: VolSpec, hist: PriceHistory, underlying: str, cal: BookCalendar
) -> FloatArray:
    """The vol estimate of ``underlying`` on each calendar date (NaN where unavailable)."""
    pos = np.searchsorted(hist.dates, cal.dates)
    if spec.source == "index":
        assert spec.series is not None
        v = cal.column(spec.series) / 100.0
        if spec.relative_to:
            num = realised_vol(hist, underlying, spec.window)[pos]
            den = realised_vol(hist, spec.relative_to, spec.window)[pos]
            with np.errstate(divide="ignore", invalid="ignore"):
                v = v * num / den
    elif spec.source == "ewma":
        v = ewma_vol(hist, underlying, spec.lam, spec.window)[pos]
    else:
        v = realised_vol(hist, underlying, spec.window)[pos]
    v = v * spec.multiplier
    return np.where(np.isfinite(v) & (v > 0), v, np.nan)
