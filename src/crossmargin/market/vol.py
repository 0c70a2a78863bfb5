"""Implied-volatility surfaces for one expiry: flat, strike smile, raw SVI.

* :class:`FlatVol` — one number for every strike.
* :class:`SmileVol` — vols at listed strikes, linearly interpolated in log-moneyness
  ``k = ln(K / F)`` and extrapolated flat beyond the first/last strike.
* :class:`ScaledVol` — another surface times a factor (a vol shock);
* :class:`SVIVol` — Gatheral's raw SVI total variance
  ``w(k) = a + b (ρ (k − m) + sqrt((k − m)² + σ²))`` and ``vol = sqrt(w / T)``
  (J. Gatheral, "A parsimonious arbitrage-free implied volatility parameterization", 2004).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from crossmargin._checks import real, real_or_none
from crossmargin._typing import FloatArray
from crossmargin.errors import InputError
from crossmargin.ranges import MAX_VOL

__all__ = [
    "FlatVol",
    "MarkedVol",
    "SVIVol",
    "ScaledVol",
    "SmileVol",
    "VolSurface",
    "check_surface",
]


def _vol(v: Any, path: str) -> float:
    return real(v, path, positive=True, hi=MAX_VOL)


def _floats(values: Sequence[Any], path: str, *, vols: bool) -> tuple[float, ...]:
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
        raise InputError(f"must be a sequence of numbers, got {type(values).__name__}", path=path)
    if len(values) == 0:
        raise InputError("must not be empty", path=path)
    return tuple(
        _vol(v, f"{path}[{i}]") if vols else real(v, f"{path}[{i}]", positive=True)
        for i, v in enumerate(values)
    )


def _nodes(
    strikes: Sequence[Any], vols: Sequence[Any], name: str
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Strikes and vols of a surface: positive numbers, vols in range, one vol per strike."""
    ks = _floats(strikes, f"{name}.strikes", vols=False)
    vs = _floats(vols, f"{name}.vols", vols=True)
    if len(ks) != len(vs):
        raise InputError(
            f"strikes and vols must have the same length ({len(ks)} vs {len(vs)})", path=name
        )
    return ks, vs


def check_surface(surface: Any, path: str) -> None:
    """Refuse anything that is not a :class:`VolSurface` (``vols`` and ``describe``)."""
    if not (
        callable(getattr(surface, "vols", None)) and callable(getattr(surface, "describe", None))
    ):
        raise InputError(
            f"must be a vol surface (FlatVol, SmileVol, SVIVol, ...), got {type(surface).__name__}",
            path=path,
        )


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

    def __post_init__(self) -> None:
        object.__setattr__(self, "vol", _vol(self.vol, "FlatVol.vol"))

    def vols(self, strikes: FloatArray, forward: float, t: float) -> FloatArray:
        """Return ``vol`` for every strike."""
        return np.full(np.shape(strikes), self.vol, dtype=np.float64)

    def describe(self) -> str:
        """Describe the surface."""
        return f"flat {self.vol:.4f}"


@dataclass(frozen=True, slots=True)
class SmileVol:
    """Vols at listed strikes, linear in log-moneyness, flat extrapolation.

    ``strikes`` must be strictly increasing and positive, ``vols`` positive (at most
    :data:`~crossmargin.ranges.MAX_VOL`), one vol per strike.
    """

    strikes: tuple[float, ...]
    vols_at_strikes: tuple[float, ...]

    def __post_init__(self) -> None:
        ks, vs = _nodes(self.strikes, self.vols_at_strikes, "SmileVol")
        for i in range(1, len(ks)):
            if ks[i] <= ks[i - 1]:
                raise InputError(
                    f"must be strictly increasing ({ks[i - 1]:g} then {ks[i]:g})",
                    path=f"SmileVol.strikes[{i}]",
                )
        object.__setattr__(self, "strikes", ks)
        object.__setattr__(self, "vols_at_strikes", vs)

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
    #: Forward and year fraction the fit was made with (optional). When given, log-moneyness is
    #: measured from ``forward`` and total variance is divided by ``t`` instead of the caller's
    #: expiry forward and year fraction (Derive's feed stores both with the SVI parameters).
    forward: float | None = None
    t: float | None = None

    def __post_init__(self) -> None:
        a = real(self.a, "SVIVol.a")
        b = real(self.b, "SVIVol.b", non_negative=True)
        rho = real(self.rho, "SVIVol.rho")
        if not -1.0 < rho < 1.0:
            raise InputError(f"must be in (-1, 1), got {rho!r}", path="SVIVol.rho")
        m = real(self.m, "SVIVol.m")
        sigma = real(self.sigma, "SVIVol.sigma", positive=True)
        minw = a + b * sigma * math.sqrt(1.0 - rho * rho)
        if minw < 0:
            raise InputError(
                f"total variance a + b sigma sqrt(1 - rho^2) = {minw:g} is negative",
                path="SVIVol",
            )
        for name, v in (("a", a), ("b", b), ("rho", rho), ("m", m), ("sigma", sigma)):
            object.__setattr__(self, name, v)
        object.__setattr__(
            self, "forward", real_or_none(self.forward, "SVIVol.forward", positive=True)
        )
        object.__setattr__(self, "t", real_or_none(self.t, "SVIVol.t", positive=True))

    def total_variance(self, k: FloatArray) -> FloatArray:
        """Total implied variance ``w(k)`` at log-moneyness ``k``."""
        d = k - self.m
        return self.a + self.b * (self.rho * d + np.sqrt(d * d + self.sigma * self.sigma))

    def vols(self, strikes: FloatArray, forward: float, t: float) -> FloatArray:
        """``sqrt(w(ln(K/F)) / T)``; requires ``T > 0`` (the fit's ``forward``/``t`` if set)."""
        f = self.forward if self.forward is not None else forward
        t = self.t if self.t is not None else t
        k = np.log(np.asarray(strikes, dtype=np.float64) / f)
        w = np.maximum(self.total_variance(k), 0.0)
        return np.sqrt(w / t) if t > 0 else np.zeros_like(k)

    def min_total_variance(self) -> float:
        """Minimum of ``w`` over all k: ``a + b σ sqrt(1 − ρ²)`` (no-negative-variance check)."""
        return self.a + self.b * self.sigma * float(np.sqrt(1.0 - self.rho * self.rho))

    def describe(self) -> str:
        """Describe the surface."""
        return f"SVI a={self.a:g} b={self.b:g} rho={self.rho:g} m={self.m:g} sigma={self.sigma:g}"


@dataclass(frozen=True, slots=True)
class MarkedVol:
    """Per-option mark vols at listed strikes over a base surface.

    A venue's option feed publishes a mark vol per listed option (Derive ``MarkVol``, Deribit
    ``mark_iv``); an implied vol is a property of (strike, expiry) by put–call parity, so marks are
    keyed by strike. Strikes without a mark take the ``base`` surface; with no base they are NaN,
    which :func:`~crossmargin.resolve.resolve` refuses (fail closed).
    """

    strikes: tuple[float, ...]
    vols_at_strikes: tuple[float, ...]
    base: VolSurface | None = None

    def __post_init__(self) -> None:
        ks, vs = _nodes(self.strikes, self.vols_at_strikes, "MarkedVol")
        if len(set(ks)) != len(ks):
            raise InputError("a strike is marked twice", path="MarkedVol.strikes")
        if self.base is not None:
            check_surface(self.base, "MarkedVol.base")
        object.__setattr__(self, "strikes", ks)
        object.__setattr__(self, "vols_at_strikes", vs)

    def vols(self, strikes: FloatArray, forward: float, t: float) -> FloatArray:
        """The mark vol where the strike is listed, else the base surface's vol."""
        k = np.asarray(strikes, dtype=np.float64)
        out = (
            np.asarray(self.base.vols(k, forward, t), dtype=np.float64).copy()
            if self.base is not None
            else np.full(k.shape, np.nan)
        )
        nodes = np.asarray(self.strikes, dtype=np.float64)
        if nodes.size:
            order = np.argsort(nodes)
            pos = np.clip(np.searchsorted(nodes[order], k), 0, nodes.size - 1)
            hit = nodes[order][pos] == k
            out[hit] = np.asarray(self.vols_at_strikes, dtype=np.float64)[order][pos[hit]]
        return out

    def describe(self) -> str:
        """Describe the surface."""
        base = f" over {self.base.describe()}" if self.base is not None else ""
        return f"marks ({len(self.strikes)} strikes){base}"


@dataclass(frozen=True, slots=True)
class ScaledVol:
    """A vol surface scaled by ``factor`` (a vol shock, :meth:`MarketSnapshot.shifted`)."""

    base: VolSurface
    factor: float

    def vols(self, strikes: FloatArray, forward: float, t: float) -> FloatArray:
        """The base surface's vols times ``factor``."""
        return np.asarray(self.base.vols(strikes, forward, t) * self.factor, dtype=np.float64)

    def describe(self) -> str:
        """Describe the surface."""
        return f"{self.base.describe()} x {self.factor:g}"
