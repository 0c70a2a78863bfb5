"""Coverage statistics of a margin backtest: Kupiec, Christoffersen, Basel traffic light, ES.

All tests take the exceedance indicator ``I_t = 1{loss_t > margin_t}`` of ``n`` backtest windows
and the promised exceedance probability ``p = 1 − confidence``.

* **Kupiec POF** (P. Kupiec, "Techniques for verifying the accuracy of risk measurement models",
  J. Derivatives 3(2), 1995): ``LR = −2 ln[(1−p)^{n−x} p^x] + 2 ln[(1−x/n)^{n−x} (x/n)^x]``,
  χ²(1) under the null. Published check: n = 250, p = 1 %: x = 7 → 5.497 (reject at 5 %),
  x = 6 → 3.555 (accept).
* **Christoffersen** (P. Christoffersen, "Evaluating interval forecasts", Int. Econ. Rev. 39(4),
  1998): first-order Markov independence test on the transition counts ``n_ij`` (state i
  yesterday, j today), ``LR_ind = −2 ln[(1−π)^{n00+n10} π^{n01+n11}] + 2 ln[(1−π01)^{n00}
  π01^{n01} (1−π11)^{n10} π11^{n11}]`` ~ χ²(1), and conditional coverage
  ``LR_cc = −2 ln[(1−p)^{n00+n10} p^{n01+n11}] + 2 ln L(π01, π11)`` ~ χ²(2), which is Kupiec's
  LR on the same ``n − 1`` transitions plus ``LR_ind``.
* **Basel traffic light** (Basel Committee, "Supervisory framework for the use of backtesting in
  conjunction with the internal models approach to market risk capital requirements", 1996):
  green while the binomial probability of at most ``x`` exceedances is below 95 %, yellow below
  99.99 %, red beyond; for 250 days at 99 %: green 0–4, yellow 5–9, red ≥ 10.
  **Overlapping windows** (an MPOR of ``h > 1`` days evaluated daily) make the indicators
  dependent, so the count is over-dispersed. We use the exact variance of the count of ``n``
  overlapping ``h``-day windows of i.i.d. normal returns under a correct model,
  ``Var X = n p(1−p) + 2 Σ_{k=1}^{h−1} (n−k) [Φ₂(−q, −q; (h−k)/h) − p²]`` (``q = Φ⁻¹(1−p)``),
  and replace the binomial by the beta-binomial with the same mean ``n p`` and this variance
  (intra-class correlation ``ρ = (φ − 1)/(n − 1)``, ``φ = Var X / (n p (1−p))``). ``φ = 1`` for
  ``h = 1`` gives the Basel binomial table exactly; for ``h > 1`` the green bound matches a
  200 000-path Monte Carlo of overlapping windows and the yellow bound is within a few counts
  (slightly wider); see docs/validation.md and the tests.
* **ES backtest**: Acerbi–Székely ``Z2`` (C. Acerbi and B. Székely, "Backtesting expected
  shortfall", Risk, December 2014): ``Z2 = 1 − Σ_t L_t I_t / (n α ES_t)``, expected 0 under the
  null, rejected below about −0.70 at 5 % significance (their Table 1 for the distributions
  studied). A margin is a single number, so the backtest treats it as the VaR at the tested
  confidence and takes ``ES_t = κ × margin_t`` with ``κ`` the ES/VaR ratio of a normal
  distribution at that confidence (1.146 at 99 %) — a "does the margin plus a normal tail cover the
  realised tail" test, reported beside the plain severity ratio ``mean(L_t / margin_t | I_t)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import special, stats

from crossmargin._typing import BoolArray, FloatArray

__all__ = [
    "BASEL_GREEN",
    "BASEL_YELLOW",
    "Z2_CRITICAL_5PCT",
    "ChristoffersenTest",
    "ESBacktest",
    "LikelihoodRatio",
    "TrafficLight",
    "Zone",
    "christoffersen",
    "es_backtest",
    "kupiec_pof",
    "normal_es_var_ratio",
    "overlap_inflation",
    "traffic_light",
]

Zone = Literal["green", "yellow", "red"]

#: Cumulative-probability bounds of the Basel zones (green below, yellow below, red at/above).
BASEL_GREEN = 0.95
BASEL_YELLOW = 0.9999
#: Acerbi–Székely Z2 critical value at 5 % significance.
Z2_CRITICAL_5PCT = -0.70


def _xlogy(x: float, y: float) -> float:
    """``x ln y`` with ``0 ln 0 = 0``."""
    return float(special.xlogy(x, y))


@dataclass(frozen=True, slots=True)
class LikelihoodRatio:
    """A likelihood-ratio statistic, its degrees of freedom and χ² p-value."""

    lr: float
    df: int
    p_value: float

    def rejects(self, level: float = 0.05) -> bool:
        """Whether the null is rejected at significance ``level``."""
        return self.p_value < level


def _check_p(p: float) -> None:
    if not 0.0 < p < 1.0:
        raise ValueError(f"exceedance probability must be in (0, 1), got {p!r}")


def kupiec_pof(exceedances: int, n: int, p: float) -> LikelihoodRatio:
    """Kupiec's proportion-of-failures test.

    Parameters
    ----------
    exceedances
        Number of windows whose loss exceeded the margin (``0 ≤ x ≤ n``).
    n
        Number of windows (``n ≥ 1``).
    p
        Promised exceedance probability (1 − confidence).

    Returns
    -------
    LikelihoodRatio
        ``LR_pof`` with 1 degree of freedom.
    """
    _check_p(p)
    x = int(exceedances)
    if n < 1 or not 0 <= x <= n:
        raise ValueError(f"need 0 <= exceedances <= n and n >= 1, got x={x}, n={n}")
    ph = x / n
    null = _xlogy(n - x, 1.0 - p) + _xlogy(x, p)
    alt = _xlogy(n - x, 1.0 - ph) + _xlogy(x, ph)
    lr = max(-2.0 * (null - alt), 0.0)
    return LikelihoodRatio(lr, 1, float(stats.chi2.sf(lr, 1)))


@dataclass(frozen=True, slots=True)
class ChristoffersenTest:
    """Christoffersen's independence and conditional-coverage tests."""

    n00: int
    n01: int
    n10: int
    n11: int
    pi01: float
    pi11: float
    independence: LikelihoodRatio
    conditional_coverage: LikelihoodRatio


def christoffersen(indicators: BoolArray, p: float) -> ChristoffersenTest:
    """Independence (first-order Markov) and conditional-coverage tests of an exceedance sequence.

    Parameters
    ----------
    indicators
        Exceedance indicator per window, in time order (at least 2 windows).
    p
        Promised exceedance probability.
    """
    _check_p(p)
    seq = np.asarray(indicators, dtype=np.bool_)
    if seq.size < 2:
        raise ValueError("the independence test needs at least 2 windows")
    prev, cur = seq[:-1], seq[1:]
    n00 = int(np.sum(~prev & ~cur))
    n01 = int(np.sum(~prev & cur))
    n10 = int(np.sum(prev & ~cur))
    n11 = int(np.sum(prev & cur))
    pi01 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    null = _xlogy(n00 + n10, 1.0 - pi) + _xlogy(n01 + n11, pi)
    alt = _xlogy(n00, 1.0 - pi01) + _xlogy(n01, pi01) + _xlogy(n10, 1.0 - pi11) + _xlogy(n11, pi11)
    lr_ind = max(-2.0 * (null - alt), 0.0)
    ind = LikelihoodRatio(lr_ind, 1, float(stats.chi2.sf(lr_ind, 1)))
    # conditional coverage: promised p against the Markov chain on the same n − 1 transitions
    # (= Kupiec on those transitions + LR_ind, exactly)
    cc_null = _xlogy(n00 + n10, 1.0 - p) + _xlogy(n01 + n11, p)
    lr_cc = max(-2.0 * (cc_null - alt), 0.0)
    cc = LikelihoodRatio(lr_cc, 2, float(stats.chi2.sf(lr_cc, 2)))
    return ChristoffersenTest(n00, n01, n10, n11, pi01, pi11, ind, cc)


def _bvn_upper_orthant(q: float, rho: float) -> float:
    """``P(Z1 > q, Z2 > q)`` for standard normals with correlation ``rho`` (Owen's T)."""
    if rho >= 1.0:
        return float(stats.norm.sf(q))
    a = math.sqrt((1.0 - rho) / (1.0 + rho))
    # Φ₂(h, h; ρ) = Φ(h) − 2 T(h, a); upper orthant at q = lower orthant at −q
    return float(stats.norm.cdf(-q) - 2.0 * special.owens_t(-q, a))


def overlap_inflation(n: int, p: float, overlap: int) -> float:
    """Variance inflation ``φ`` of the count of ``n`` overlapping ``overlap``-day windows.

    ``φ = Var X / (n p (1 − p))`` under a correct model with i.i.d. normal daily returns (module
    docstring); 1 when ``overlap == 1``.
    """
    _check_p(p)
    h = int(overlap)
    if h < 1 or n < 1:
        raise ValueError(f"need n >= 1 and overlap >= 1, got n={n}, overlap={h}")
    if h == 1:
        return 1.0
    q = float(stats.norm.isf(p))
    var = n * p * (1.0 - p)
    for k in range(1, min(h, n)):
        cov = _bvn_upper_orthant(q, (h - k) / h) - p * p
        var += 2.0 * (n - k) * cov
    return var / (n * p * (1.0 - p))


@dataclass(frozen=True, slots=True)
class TrafficLight:
    """Basel zones for ``n`` windows at exceedance probability ``p``.

    Attributes
    ----------
    n, p, overlap
        Windows, promised exceedance probability, overlap (MPOR in observations).
    inflation
        Variance inflation ``φ`` (1 without overlap).
    green_max, yellow_max
        Largest exceedance count in the green and yellow zones (red above ``yellow_max``).
    """

    n: int
    p: float
    overlap: int
    inflation: float
    green_max: int
    yellow_max: int

    def cumulative(self, x: int) -> float:
        """Probability of at most ``x`` exceedances under a correct model."""
        return float(_count_cdf(np.asarray([x]), self.n, self.p, self.inflation)[0])

    def zone(self, x: int) -> Zone:
        """Zone of ``x`` exceedances."""
        if x <= self.green_max:
            return "green"
        if x <= self.yellow_max:
            return "yellow"
        return "red"


def _count_cdf(x: np.ndarray, n: int, p: float, phi: float) -> np.ndarray:
    """``P(X ≤ x)``: binomial when ``φ = 1``, else the moment-matched beta-binomial."""
    k = np.floor(np.asarray(x, dtype=np.float64))
    if phi <= 1.0 or n < 2:
        out = stats.binom.cdf(k, n, p)
    else:
        rho = min((phi - 1.0) / (n - 1.0), 1.0 - 1e-12)
        a = p * (1.0 - rho) / rho
        b = (1.0 - p) * (1.0 - rho) / rho
        # cumulated pmf (scipy's betabinom.cdf sums the pmf point by point, per x)
        cum = np.minimum(np.cumsum(stats.betabinom.pmf(np.arange(n + 1), n, a, b)), 1.0)
        out = cum[np.clip(k, 0, n).astype(np.int64)]
    return np.asarray(np.where(k < 0, 0.0, out), dtype=np.float64)


def traffic_light(n: int, p: float, *, overlap: int = 1) -> TrafficLight:
    """Basel traffic-light zones, widened for overlapping windows (module docstring)."""
    phi = overlap_inflation(n, p, overlap)
    cdf = _count_cdf(np.arange(n + 1), n, p, phi)
    green_max = int(np.sum(cdf < BASEL_GREEN)) - 1
    yellow_max = int(np.sum(cdf < BASEL_YELLOW)) - 1
    # zero exceedances is always green (a heavily over-dispersed count can put P(X = 0) above 95 %)
    green_max = max(green_max, 0)
    return TrafficLight(n, p, int(overlap), phi, green_max, max(yellow_max, green_max))


def normal_es_var_ratio(confidence: float) -> float:
    """``ES / VaR`` of a normal distribution at ``confidence``: ``φ(z) / ((1 − c) z)``."""
    if not 0.5 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0.5, 1), got {confidence!r}")
    z = float(stats.norm.ppf(confidence))
    return float(stats.norm.pdf(z) / ((1.0 - confidence) * z))


@dataclass(frozen=True, slots=True)
class ESBacktest:
    """Expected-shortfall backtest of a margin series.

    Attributes
    ----------
    z2
        Acerbi–Székely Z2 (0 expected; below ``critical`` rejects).
    critical
        Critical value used (5 % significance).
    kappa
        ES/VaR ratio assumed to turn the margin into an ES forecast.
    severity
        Mean ``loss / margin`` over exceedances (``None`` without exceedances).
    mean_shortfall
        Mean ``loss − margin`` over exceedances (0 without).
    max_shortfall
        Largest ``loss − margin``.
    """

    z2: float
    critical: float
    kappa: float
    severity: float | None
    mean_shortfall: float
    max_shortfall: float

    @property
    def rejected(self) -> bool:
        """Whether Z2 is below its critical value."""
        return self.z2 < self.critical


def es_backtest(
    losses: FloatArray, margin: FloatArray, *, confidence: float, kappa: float | None = None
) -> ESBacktest:
    """Acerbi–Székely Z2 and severity statistics of losses against a margin series.

    Parameters
    ----------
    losses
        Realised loss per window (positive = loss).
    margin
        Margin held at the start of each window (treated as the VaR at ``confidence``).
    confidence
        Tested confidence (e.g. 0.99).
    kappa
        ES/VaR ratio; the normal ratio at ``confidence`` if ``None``.
    """
    L = np.asarray(losses, dtype=np.float64)
    M = np.asarray(margin, dtype=np.float64)
    if L.shape != M.shape or L.size == 0:
        raise ValueError("losses and margin must be non-empty arrays of the same shape")
    k = normal_es_var_ratio(confidence) if kappa is None else float(kappa)
    alpha = 1.0 - confidence
    exceed = L > M
    es = k * M
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(exceed, L / np.where(es > 0, es, np.nan), 0.0)
    # a zero margin with a loss is an unbounded shortfall
    unbounded = bool(np.any(exceed & ~(es > 0)))
    z2 = -math.inf if unbounded else 1.0 - float(np.sum(terms)) / (L.size * alpha)
    short = np.maximum(L - M, 0.0)
    if exceed.any():
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = L[exceed] / M[exceed]
        severity: float | None = float(np.mean(ratio))
        mean_short = float(np.mean(short[exceed]))
    else:
        severity, mean_short = None, 0.0
    return ESBacktest(z2, Z2_CRITICAL_5PCT, k, severity, mean_short, float(short.max()))
