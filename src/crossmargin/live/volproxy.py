"""Implied-vol proxies for replays: vols that move with the prices of a tick stream.

A replay of real history has real prices but no option quotes. Margin of an option book
depends on the implied vol as much as on the price, and in a crash the two move together (vol
spikes as prices fall). A :class:`VolRule` turns each price tick into the vol update that goes
with it, observable at that tick (no look-ahead).

:class:`EWMAVolProxy` — the RiskMetrics exponentially weighted variance of the asset's own log
returns (J.P. Morgan/Reuters, RiskMetrics Technical Document, 1996), updated tick by tick on
an irregular clock::

    r   = ln(P_t / P_{t−1})                    Δ = t − (t−1) in days
    λ_Δ = λ_day ** Δ                           (λ_day = 0.94: the RiskMetrics daily decay)
    v_t = λ_Δ · v_{t−1} + (1 − λ_Δ) · r² / Δ    (variance per day)
    σ_t = clip(premium · sqrt(365 · v_t), floor, cap)

seeded so that the first tick shows the asset's vol in the starting snapshot
(``v_0 = (σ_0 / premium)² / 365``). ``premium``
(default 1: none) is an implied-over-realised premium; ``floor`` / ``cap`` keep the proxy inside
[0.05, 5], quoted to 4 decimals (0.01 vol point). The same decay is the backtest's ``ewma`` proxy (:mod:`crossmargin.backtest.vol`,
a batch over a calendar); this one runs online. The surface it yields is flat in strike and
expiry: the asset-level ``vol`` of each tick (skew and term structure are not modelled).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from crossmargin.errors import InputError
from crossmargin.live.records import MAX_VOL, VolSurfaceIn
from crossmargin.market.vol import FlatVol

__all__ = ["EWMAVolProxy", "VolRule"]

_DAY = 86_400.0


class VolRule(Protocol):
    """Derives the vol update that goes with a price tick."""

    def update(
        self, asset: str, time: datetime, price: float
    ) -> Mapping[datetime | None, VolSurfaceIn]:
        """The vols (expiry → surface, ``None``: asset level) after ``asset`` printed ``price``."""
        ...


@dataclass
class EWMAVolProxy:
    """Online EWMA realised vol × premium as the asset-level implied vol (module docstring).

    Parameters
    ----------
    initial
        Asset → starting annual vol (the snapshot's); an asset not listed gets no vol updates.
    lam
        Daily decay λ.
    premium
        Implied-over-realised multiplier.
    floor, cap
        Bounds of the proxy (annual vol).
    """

    initial: Mapping[str, float]
    lam: float = 0.94
    premium: float = 1.0
    floor: float = 0.05
    cap: float = 5.0
    _state: dict[str, tuple[datetime, float, float]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 < self.lam < 1.0:
            raise InputError(f"must be in (0, 1), got {self.lam!r}", path="vol_rule.lam")
        if not 0.0 < self.floor <= self.cap <= MAX_VOL:
            raise InputError(
                f"need 0 < floor <= cap <= {MAX_VOL:g}, got {self.floor!r}, {self.cap!r}",
                path="vol_rule",
            )
        for sym, v in self.initial.items():
            if not (isinstance(v, float | int) and math.isfinite(v) and 0 < v <= MAX_VOL):
                raise InputError(
                    f"must be a vol in (0, {MAX_VOL:g}]", path=f"vol_rule.initial.{sym}"
                )

    def update(
        self, asset: str, time: datetime, price: float
    ) -> Mapping[datetime | None, VolSurfaceIn]:
        """Advance ``asset``'s variance to ``time`` and return its proxy vol."""
        seed = self.initial.get(asset)
        if seed is None or not (math.isfinite(price) and price > 0):
            return {}  # no vol for this asset, or a bad price the record will refuse
        prev = self._state.get(asset)
        if prev is None:
            var = (seed / self.premium) ** 2 / 365.0  # the first tick shows the seed
        else:
            t0, p0, v0 = prev
            days = (time - t0).total_seconds() / _DAY
            if days <= 0:
                var = v0
            else:
                r = math.log(price / p0)
                decay = self.lam**days
                var = decay * v0 + (1.0 - decay) * r * r / days
        self._state[asset] = (time, price, var)
        vol = min(max(self.premium * math.sqrt(365.0 * var), self.floor), self.cap)
        return {None: FlatVol(round(vol, 4))}
