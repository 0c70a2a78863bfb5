"""Implied-volatility surfaces for one expiry: flat, strike smile, raw SVI.

* :class:`FlatVol` — one number for every strike.
* :class:`SmileVol` — vols at listed strikes, linearly interpolated in log-moneyness
  ``k = ln(K / F)`` and extrapolated flat beyond the first/last strike.
* :class:`SVIVol` — Gatheral's raw SVI total variance
  ``w(k) = a + b (ρ (k − m) + sqrt((k − m)² + σ²))`` and ``vol = sqrt(w / T)``
  (J. Gatheral, "A parsimonious arbitrage-free implied volatility parameterization", 2004).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from crossmargin._typing import FloatArray

__all__ = ["FlatVol", "SVIVol", "SmileVol", "VolSurface"]


class VolSurface(Protocol):
    """Implied vol of one expiry as a function of strike."""

    def vols(self, strikes: FloatArray, forward: float, t: float) -> FloatArray:
        """Return the implied vol for each strike given the expiry forward and year fraction."""
        ...

    def describe(self) -> str:
        """Short human description, for ``explain``."""
        ...


@dataclass(frozen=True, slots=True)
class FlatVol:
    """The same implied vol for every strike."""

    vol: float

    def vols(self, strikes: FloatArray, forward: float, t: float) -> FloatArray:
        """Return ``vol`` for every strike."""
        return np.full(np.shape(strikes), self.vol, dtype=np.float64)

    def describe(self) -> str:
        """Describe the surface."""
        return f"flat {self.vol:.4f}"


@dataclass(frozen=True, slots=True)
class SmileVol:
    """Vols at listed strikes, linear in log-moneyness, flat extrapolation.

    ``strikes`` must be strictly increasing and positive, ``vols`` positive (checked at the edge).
    """

    strikes: tuple[float, ...]
    vols_at_strikes: tuple[float, ...]

    def vols(self, strikes: FloatArray, forward: float, t: float) -> FloatArray:
        """Interpolate in ``ln(K/F)``; beyond the end strikes the end vols apply."""
        k_nodes = np.log(np.asarray(self.strikes) / forward)
        k = np.log(np.asarray(strikes, dtype=np.float64) / forward)
        return np.asarray(np.interp(k, k_nodes, np.asarray(self.vols_at_strikes)), dtype=np.float64)

    def describe(self) -> str:
        """Describe the surface."""
        return f"smile ({len(self.strikes)} strikes)"


@dataclass(frozen=True, slots=True)
class SVIVol:
    """Raw SVI parameterisation of total implied variance."""

    a: float
    b: float
    rho: float
    m: float
    sigma: float

    def total_variance(self, k: FloatArray) -> FloatArray:
        """Total implied variance ``w(k)`` at log-moneyness ``k``."""
        d = k - self.m
        return self.a + self.b * (self.rho * d + np.sqrt(d * d + self.sigma * self.sigma))

    def vols(self, strikes: FloatArray, forward: float, t: float) -> FloatArray:
        """``sqrt(w(ln(K/F)) / T)``; requires ``T > 0``."""
        k = np.log(np.asarray(strikes, dtype=np.float64) / forward)
        w = np.maximum(self.total_variance(k), 0.0)
        return np.sqrt(w / t) if t > 0 else np.zeros_like(k)

    def min_total_variance(self) -> float:
        """Minimum of ``w`` over all k: ``a + b σ sqrt(1 − ρ²)`` (no-negative-variance check)."""
        return self.a + self.b * self.sigma * float(np.sqrt(1.0 - self.rho * self.rho))

    def describe(self) -> str:
        """Describe the surface."""
        return f"SVI a={self.a:g} b={self.b:g} rho={self.rho:g} m={self.m:g} sigma={self.sigma:g}"
