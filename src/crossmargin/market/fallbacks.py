"""Market-data warnings: every documented fallback the engine used, made visible.

A fallback is a value the engine derived because the snapshot did not carry it (an expiry's
forward interpolated from its neighbours, the asset-level flat vol, the spot price as the perp
mark, ...). Each use is a :class:`MarketWarning` carried by the resolved book to every account
that depends on it (``warnings`` in ``margin``/``explain``/``compare`` output). With
``market.fallbacks: error`` in the configuration each fallback is refused instead
(:class:`~crossmargin.errors.MarketDataError`). The table of codes is :data:`WARNING_CODES`
(and docs/formats.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["WARNING_CODES", "MarketWarning"]

#: Every warning code and what it means (docs/formats.md, "Fallbacks and warnings").
WARNING_CODES: dict[str, str] = {
    "forward_interpolated": "expiry without a forward: ln F interpolated linearly in time between "
    "the neighbouring listed forwards (spot at T = 0), i.e. constant carry between them",
    "forward_extrapolated": "expiry after the last listed forward: carried from it at the asset "
    "rate (else the carry implied by that forward)",
    "forward_from_rate": "no listed forward for the asset: spot × exp(rate × T) with the asset "
    "rate (0 if none)",
    "discount_interpolated": "expiry without a discount: ln D interpolated linearly in time "
    "between the neighbouring listed discounts (1 at T = 0)",
    "discount_extrapolated": "expiry after the last listed discount: discounted further at the "
    "asset rate (else the rate implied by that discount)",
    "discount_from_rate": "no listed discount for the asset: exp(−rate × T) with the asset rate "
    "(0 if none)",
    "vol_interpolated": "expiry without a vol surface: total variance σ²T interpolated linearly "
    "in time at the same log-moneyness ln(K/F) between the neighbouring listed surfaces",
    "vol_extrapolated": "expiry before the first or after the last listed surface: the nearest "
    "surface's vol at the same log-moneyness (flat vol extrapolation)",
    "asset_vol": "no vol surface for any expiry of the asset: its flat asset-level vol",
    "perp_mark_from_spot": "no perp mark: the perpetual is marked at the spot (index) price",
    "no_timestamp": "price without an observation time accepted because "
    "market.require_timestamps is false: its age cannot be checked",
    "oracle_stale": "oracle older than its heartbeat: the collateral is valued at zero",
    "oracle_deviation": "oracle deviates from its reference beyond the bound: valued at zero",
    "oracle_low_confidence": "oracle confidence below the threshold: extra IM haircut (or zero)",
    "bundled_history": "var/es: no price history given, the bundled sample is used",
    "history_stale": "var/es: an asset's price history ends more than var.max_history_age_days before as_of (used only on the user's explicit opt-in)",
}


@dataclass(frozen=True, slots=True)
class MarketWarning:
    """One fallback used (or one check relaxed) while resolving a book.

    Attributes
    ----------
    code
        One of :data:`WARNING_CODES`.
    path
        The snapshot field that was missing, e.g. ``assets.BTC.expiries.2026-12-31T08:00:00Z``.
    message
        What was used instead, in words.
    asset
        The asset concerned (an underlying or a collateral asset).
    expiry
        The expiry concerned (``None``: every use of the asset, or its perpetual).
    kinds
        Contract kinds the warning concerns (``()``: anything using the asset, collateral too).
    """

    code: str
    path: str
    message: str
    asset: str
    expiry: datetime | None = None
    kinds: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """``{"code", "path", "message"}`` (the JSON output)."""
        return {"code": self.code, "path": self.path, "message": self.message}
