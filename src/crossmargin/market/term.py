"""The term structure of one asset: forward, discount and vol surface at any expiry.

An expiry the snapshot lists with its own data uses it. Anything else is derived from the
*listed* expiries of the same asset (those still ahead of ``as_of``) and reported as a
:class:`~crossmargin.market.fallbacks.MarketWarning`:

* **forward** — the expiry's ``forward``, else ``spot × exp(r_e T)`` with the expiry's own
  ``rate``. Otherwise ``ln F`` is interpolated linearly in ``T`` between the neighbouring listed
  forwards, with the spot at ``T = 0`` (constant carry between them: ``forward_interpolated``);
  after the last listed forward ``F_n × exp(r (T − T_n))`` with the asset ``rate``, else the
  carry implied by ``F_n`` (``forward_extrapolated``); with no listed forward at all
  ``spot × exp(r T)``, ``r`` the asset rate or 0 (``forward_from_rate``).
* **discount** — the same in ``ln D`` (1 at ``T = 0``): ``discount_interpolated``,
  ``discount_extrapolated``, ``discount_from_rate``.
* **vol** — the expiry's own surface (``smile``, ``svi`` or ``vol``). Otherwise total variance
  ``w = σ²T`` is interpolated linearly in ``T`` **at the same log-moneyness** ``k = ln(K/F)``
  between the neighbouring listed surfaces (``vol_interpolated``; each surface is read at its own
  forward, ``K_i = F_i e^k``); before the first or after the last listed surface the nearest
  one's vol at the same ``k`` (flat vol extrapolation, ``vol_extrapolated``); with no listed
  surface the asset-level flat ``vol`` (``asset_vol``); with none of these — an error. Marks
  without a base surface take the derived surface for their unmarked strikes.

Interpolating total variance at constant moneyness is the standard calendar interpolation of an
implied-vol surface (J. Gatheral, *The Volatility Surface*, 2006, ch. 3); it preserves the
absence of calendar arbitrage between the listed expiries. ``T`` is ACT/365F from ``as_of``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np

from crossmargin._time import format_instant, year_fraction
from crossmargin._typing import FloatArray
from crossmargin.errors import MarketDataError
from crossmargin.market.fallbacks import MarketWarning
from crossmargin.market.vol import FlatVol, MarkedVol, VolSurface

__all__ = ["InterpolatedVol", "Term", "discount_at", "forward_at", "surface_at"]


class ExpiryMarket(Protocol):
    """What the derivations read of one listed expiry (:class:`~.snapshot.ExpiryMarket`).

    A protocol, so that this module needs nothing from the snapshot module that calls it.
    """

    @property
    def forward(self) -> float | None: ...
    @property
    def discount(self) -> float | None: ...
    @property
    def rate(self) -> float | None: ...
    @property
    def surface(self) -> VolSurface | None: ...


class AssetMarket(Protocol):
    """What the derivations read of one asset (:class:`~.snapshot.AssetMarket`)."""

    @property
    def price(self) -> float: ...
    @property
    def rate(self) -> float | None: ...
    @property
    def vol(self) -> float | None: ...
    @property
    def expiries(self) -> Mapping[datetime, ExpiryMarket]: ...


@dataclass(frozen=True, slots=True)
class Term:
    """A derived value and the warning that says how it was derived (``None``: listed data)."""

    value: float
    warning: MarketWarning | None = None


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _listed(a: AssetMarket, as_of: datetime) -> list[tuple[float, datetime, ExpiryMarket]]:
    """Listed expiries still ahead of ``as_of``, by time."""
    out = [(year_fraction(as_of, t), t, e) for t, e in a.expiries.items()]
    return sorted((x for x in out if x[0] > 0.0), key=lambda x: x[0])


def _path(sym: str, expiry: datetime, field: str = "") -> str:
    return f"assets.{sym}.expiries.{format_instant(expiry)}" + (f".{field}" if field else "")


def _own_log(e: ExpiryMarket | None, tau: float, field: str, spot: float) -> float | None:
    """``ln(F/S)`` (forward) or ``ln D`` (discount) from the expiry's own data, if any."""
    if e is None:
        return None
    if field == "forward" and e.forward is not None:
        return math.log(e.forward / spot)
    if field == "discount" and e.discount is not None:
        return math.log(e.discount)
    if e.rate is not None:
        return e.rate * tau if field == "forward" else -e.rate * tau
    return None


def _term(
    a: AssetMarket, sym: str, as_of: datetime, expiry: datetime, field: str, asset_rate: float
) -> Term:
    """Forward (``field='forward'``) or discount at ``expiry`` (module docstring)."""
    tau = year_fraction(as_of, expiry)
    fwd = field == "forward"
    sign = 1.0 if fwd else -1.0
    scale = a.price if fwd else 1.0
    kinds = ("future", "option") if fwd else ("option",)
    if tau <= 0.0:  # expired: valued at its settlement elsewhere
        e = a.expiries.get(expiry)
        given = None if e is None else (e.forward if fwd else e.discount)
        return Term(given if given is not None else scale)
    e = a.expiries.get(expiry)
    given = None if e is None else (e.forward if fwd else e.discount)
    if given is not None:  # exactly as listed
        return Term(given)
    own = _own_log(e, tau, field, a.price)
    if own is not None:  # the expiry's own rate
        return Term(scale * _exp(own))
    # nodes: (T, ln(F/S) or ln D, instant) of listed expiries with their own data; T = 0 anchors
    nodes: list[tuple[float, float, datetime | None]] = [(0.0, 0.0, None)]
    for t_i, t, e_i in _listed(a, as_of):
        v = _own_log(e_i, t_i, field, a.price)
        if v is not None:
            nodes.append((t_i, v, t))
    path = _path(sym, expiry, field)
    rate_known = a.rate is not None
    if len(nodes) == 1:
        how = f"the asset rate {asset_rate:g}" if rate_known else "rate 0 (no rate given)"
        formula = "spot × exp(rate × T)" if fwd else "exp(−rate × T)"
        msg = f"no listed {field} for {sym}: {formula} with {how}, T = {tau:.4f}"
        warning = MarketWarning(f"{field}_from_rate", path, msg, sym, expiry, kinds)
        return Term(scale * _exp(sign * asset_rate * tau), warning)
    j = int(np.searchsorted([n[0] for n in nodes], tau))
    if j < len(nodes):
        (t0, v0, i0), (t1, v1, i1) = nodes[j - 1], nodes[j]
        x = v0 + (v1 - v0) * (tau - t0) / (t1 - t0)
        lo = format_instant(i0) if i0 is not None else ("spot" if fwd else "1 at as_of")
        msg = (
            f"expiry not listed with a {field}: ln {'F' if fwd else 'D'} interpolated in time "
            f"between {lo} and {format_instant(i1)}"  # type: ignore[arg-type]
        )
        warning = MarketWarning(f"{field}_interpolated", path, msg, sym, expiry, kinds)
        return Term(scale * _exp(x), warning)
    t_n, v_n, i_n = nodes[-1]
    carry = asset_rate if rate_known else sign * v_n / t_n
    src = f"the asset rate {carry:g}" if rate_known else f"its implied rate {carry:g}"
    msg = f"expiry after the last listed {field} ({format_instant(i_n)}): extended at {src}"  # type: ignore[arg-type]
    warning = MarketWarning(f"{field}_extrapolated", path, msg, sym, expiry, kinds)
    return Term(scale * _exp(v_n + sign * carry * (tau - t_n)), warning)


def forward_at(a: AssetMarket, sym: str, as_of: datetime, expiry: datetime, rate: float) -> Term:
    """Forward of ``sym`` for ``expiry`` (``rate``: the asset's fallback rate, 0 if none)."""
    return _term(a, sym, as_of, expiry, "forward", rate)


def discount_at(a: AssetMarket, sym: str, as_of: datetime, expiry: datetime, rate: float) -> Term:
    """Discount factor from ``expiry`` to ``as_of``."""
    return _term(a, sym, as_of, expiry, "discount", rate)


@dataclass(frozen=True, slots=True)
class InterpolatedVol:
    """Vol at an unlisted expiry from one or two listed surfaces (module docstring).

    ``nodes`` are ``(surface, forward, T)`` of the listed expiries used: two to interpolate total
    variance at constant log-moneyness, one to extrapolate its vol flat.
    """

    nodes: tuple[tuple[VolSurface, float, float], ...]
    label: str = ""

    def vols(self, strikes: FloatArray, forward: float, t: float) -> FloatArray:
        """Implied vols at ``strikes`` for the expiry with ``forward`` and year fraction ``t``."""
        k = np.log(np.asarray(strikes, dtype=np.float64) / forward)
        if len(self.nodes) == 1:
            s, f, t1 = self.nodes[0]
            return np.asarray(s.vols(f * np.exp(k), f, t1), dtype=np.float64)
        (s0, f0, t0), (s1, f1, t1) = self.nodes
        w0 = np.asarray(s0.vols(f0 * np.exp(k), f0, t0), dtype=np.float64) ** 2 * t0
        w1 = np.asarray(s1.vols(f1 * np.exp(k), f1, t1), dtype=np.float64) ** 2 * t1
        a = (t - t0) / (t1 - t0)
        w = w0 + a * (w1 - w0)
        return np.asarray(np.sqrt(np.maximum(w, 0.0) / t), dtype=np.float64)

    def describe(self) -> str:
        """Describe the surface."""
        return self.label or f"interpolated ({len(self.nodes)} listed expiries)"


def _complete(s: VolSurface | None) -> bool:
    return s is not None and not (isinstance(s, MarkedVol) and s.base is None)


def surface_at(
    a: AssetMarket,
    sym: str,
    as_of: datetime,
    expiry: datetime,
    forward_of: dict[datetime, float],
    *,
    strikes: FloatArray | None = None,
    needed_by: str = "",
) -> tuple[VolSurface, MarketWarning | None]:
    """Vol surface of ``sym`` at ``expiry`` and the warning of a derived one.

    ``forward_of`` maps listed expiries to their forwards (the surfaces are read at them).
    ``strikes``, when given, are the strikes that will be read: marks covering all of them need
    no base surface.

    Raises
    ------
    MarketDataError
        No surface anywhere for the asset and no asset-level vol.
    """
    e = a.expiries.get(expiry)
    own = e.surface if e is not None else None
    if _complete(own):
        assert own is not None
        return own, None
    if (
        isinstance(own, MarkedVol)
        and strikes is not None
        and bool(np.isin(np.asarray(strikes, dtype=np.float64), own.strikes).all())
    ):
        return own, None  # every strike read is marked
    tau = year_fraction(as_of, expiry)
    listed = [(t_i, t, e_i.surface) for t_i, t, e_i in _listed(a, as_of) if _complete(e_i.surface)]
    listed = [x for x in listed if x[1] != expiry]
    path = _path(sym, expiry, "vol")
    base: VolSurface
    warning: MarketWarning
    if listed:
        ts = [x[0] for x in listed]
        j = int(np.searchsorted(ts, tau))
        if 0 < j < len(listed):
            lo, hi = listed[j - 1], listed[j]
            nodes = tuple((x[2], forward_of[x[1]], x[0]) for x in (lo, hi))
            label = f"σ²T interpolated between {format_instant(lo[1])} and {format_instant(hi[1])}"
            base = InterpolatedVol(nodes, label)  # type: ignore[arg-type]
            warning = MarketWarning(
                "vol_interpolated",
                path,
                f"no vol surface for this expiry: total variance interpolated at the same "
                f"log-moneyness between {format_instant(lo[1])} and {format_instant(hi[1])}",
                sym,
                expiry,
                ("option",),
            )
        else:
            near = listed[0] if j == 0 else listed[-1]
            label = f"flat vol extrapolation of {format_instant(near[1])}"
            base = InterpolatedVol(((near[2], forward_of[near[1]], near[0]),), label)  # type: ignore[arg-type]
            side = "before the first" if j == 0 else "after the last"
            warning = MarketWarning(
                "vol_extrapolated",
                path,
                f"no vol surface for this expiry, {side} listed surface: the vol of "
                f"{format_instant(near[1])} at the same log-moneyness",
                sym,
                expiry,
                ("option",),
            )
    elif a.vol is not None:
        base = FlatVol(a.vol)
        warning = MarketWarning(
            "asset_vol",
            path,
            f"no vol surface for any expiry of {sym}: flat asset-level vol {a.vol:g} for every "
            "strike (no skew)",
            sym,
            expiry,
            ("option",),
        )
    elif own is not None:
        return own, None  # marks only: an unmarked strike is refused where it is read (NaN)
    else:
        why = f"no implied vol for expiry {format_instant(expiry)} and no asset-level vol" + (
            f" (needed by {needed_by})" if needed_by else ""
        )
        raise MarketDataError(why, path=f"assets.{sym}.vol")
    if own is not None:  # marks without a base surface: the derived one for unmarked strikes
        assert isinstance(own, MarkedVol)
        return MarkedVol(own.strikes, own.vols_at_strikes, base), warning
    return base, warning
