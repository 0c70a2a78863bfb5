"""Market snapshot files (JSON) → :class:`~crossmargin.market.MarketSnapshot`.

::

    {"as_of": "2026-11-22T08:00:00Z", "base_currency": "USD",
     "assets": {
       "USDC": {"price": 0.9998},
       "BTC": {"price": 65000.0, "confidence": 1.0, "vol": 0.55, "rate": 0.0,
               "timestamp": "2026-11-22T07:59:58Z",
               "perp": {"mark": 65020.0},
               "expiries": {"2026-12-26T08:00:00Z": {"forward": 65300.0, "discount": 0.9965,
                                                     "vol": 0.56,
                                                     "smile": {"strikes": [...], "vols": [...]}}},
               "settlements": {"2026-11-20T08:00:00Z": 64100.0}}}}

Expiry keys are ISO-8601 instants or codes (``26DEC26`` = 08:00 UTC). A vol is given per expiry
as ``smile`` (strikes + vols), ``svi`` (raw SVI ``a, b, rho, m, sigma``) or a flat ``vol`` (used in
that order); the asset-level ``vol`` is the fallback.

Optional venue-feed fields (read by the venue presets, e.g. Derive PMRM_2): per expiry
``forward_fixed`` (part of the forward fixed by the settlement average), ``forward_confidence``,
``rate_confidence``, ``vol_confidence``, ``svi.forward``/``svi.t`` (the fit's forward and year
fraction) and ``marks`` (per listed option: ``strike``, optional ``right``, mark ``vol`` — applied
over the expiry's surface — and vol-feed ``confidence``); per perpetual ``perp.confidence`` and
``perp.open_interest`` (underlying units).

Oracle-valued collateral (lending deposits, vault shares, liquid-staking tokens) reads its
exchange rate from an optional top-level ``oracles`` object::

    "oracles": {"WSTETH": {"value": 1.2031, "timestamp": "2026-11-22T06:00:00Z",
                           "confidence": 0.99, "source": "lido", "reference": 1.2025}}
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from crossmargin._time import format_instant, parse_instant
from crossmargin._validation import Finite, NonNegative, Positive, Unit, read_json, translate
from crossmargin.errors import InputError
from crossmargin.market.history import PriceHistory, bundled_history
from crossmargin.market.snapshot import (
    AssetMarket,
    ExpiryMarket,
    MarketSnapshot,
    OptionMark,
    OracleRecord,
)
from crossmargin.market.vol import FlatVol, MarkedVol, SmileVol, SVIVol, VolSurface

__all__ = ["MarketIn", "load_market", "market_from_obj"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SmileIn(_Model):
    """Vols at strikes, interpolated in log-moneyness."""

    strikes: list[Positive] = Field(min_length=1)
    vols: list[Positive] = Field(min_length=1)

    @model_validator(mode="after")
    def _shape(self) -> SmileIn:
        if len(self.strikes) != len(self.vols):
            raise ValueError(
                f"strikes and vols must have the same length ({len(self.strikes)} vs {len(self.vols)})"
            )
        if any(b <= a for a, b in zip(self.strikes, self.strikes[1:], strict=False)):
            raise ValueError("strikes must be strictly increasing")
        return self


class SVIIn(_Model):
    """Raw SVI parameters of total implied variance."""

    a: Finite
    b: NonNegative
    rho: Finite
    m: Finite
    sigma: Positive
    forward: Positive | None = Field(
        default=None, description="Forward the fit was made with (default: the expiry forward)"
    )
    t: Positive | None = Field(
        default=None, description="Year fraction of the fit (default: the expiry's)"
    )

    @model_validator(mode="after")
    def _arb(self) -> SVIIn:
        if not -1.0 < self.rho < 1.0:
            raise ValueError(f"rho must be in (-1, 1), got {self.rho!r}")
        minw = self.a + self.b * self.sigma * math.sqrt(1.0 - self.rho**2)
        if minw < 0:
            raise ValueError(f"total variance a + b sigma sqrt(1 - rho^2) = {minw:g} is negative")
        return self


class MarkIn(_Model):
    """Feed data of one listed option: mark vol and/or vol-feed confidence."""

    strike: Positive
    right: Literal["call", "put"] | None = Field(
        default=None, description="call or put; omitted: both"
    )
    vol: Positive | None = Field(default=None, description="Mark implied vol")
    confidence: Unit = Field(default=1.0, description="Vol feed confidence")


class ExpiryIn(_Model):
    """Market data of one expiry."""

    forward: Positive | None = None
    discount: Positive | None = None
    rate: Finite | None = None
    vol: Positive | None = None
    smile: SmileIn | None = None
    svi: SVIIn | None = None
    forward_fixed: NonNegative | None = Field(
        default=None,
        description="Part of the forward already fixed by the settlement average (venue feeds)",
    )
    forward_confidence: Unit = 1.0
    rate_confidence: Unit = 1.0
    vol_confidence: Unit = 1.0
    marks: list[MarkIn] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_surface(self) -> ExpiryIn:
        if self.smile is not None and self.svi is not None:
            raise ValueError("give either smile or svi for an expiry, not both")
        if (
            self.forward_fixed is not None
            and self.forward is not None
            and self.forward_fixed > self.forward
        ):
            raise ValueError("forward_fixed must not exceed forward")
        seen: dict[float, float] = {}
        for mk in self.marks:
            if mk.vol is None:
                continue
            if seen.setdefault(mk.strike, mk.vol) != mk.vol:
                raise ValueError(
                    f"marks give two vols at strike {mk.strike:g}; an implied vol is per strike"
                )
        return self


class PerpIn(_Model):
    """Perpetual swap market data."""

    mark: Positive
    funding_rate: Finite | None = None
    confidence: Unit = Field(default=1.0, description="Perp price feed confidence")
    open_interest: NonNegative | None = Field(
        default=None, description="Market open interest, underlying units"
    )


class AssetIn(_Model):
    """Market data of one asset."""

    price: Positive
    confidence: Unit = 1.0
    timestamp: str | None = None
    vol: Positive | None = None
    rate: Finite | None = None
    perp: PerpIn | None = None
    expiries: dict[str, ExpiryIn] = Field(default_factory=dict)
    settlements: dict[str, Positive] = Field(default_factory=dict)

    @field_validator("timestamp")
    @classmethod
    def _ts(cls, v: str | None) -> str | None:
        if v is not None:
            parse_instant(v)
        return v


class OracleIn(_Model):
    """A collateral-oracle reading: units of the underlying per collateral token."""

    value: Positive
    timestamp: str = Field(description="When the oracle last updated, ISO-8601 with zone")
    confidence: Unit = 1.0
    source: str = Field(min_length=1)
    reference: Positive | None = Field(default=None, description="Independent check value")

    @field_validator("timestamp")
    @classmethod
    def _ts(cls, v: str) -> str:
        parse_instant(v)
        return v


class MarketIn(_Model):
    """A market snapshot file."""

    as_of: str = Field(description="Valuation instant, ISO-8601 with zone")
    base_currency: str = Field(default="USD", description="Currency of every price")
    assets: dict[str, AssetIn] = Field(default_factory=dict)
    oracles: dict[str, OracleIn] = Field(default_factory=dict)

    @field_validator("as_of")
    @classmethod
    def _asof(cls, v: str) -> str:
        parse_instant(v)
        return v


def _surface(e: ExpiryIn, asset_vol: float | None = None) -> VolSurface | None:
    base: VolSurface | None = None
    if e.smile is not None:
        base = SmileVol(tuple(e.smile.strikes), tuple(e.smile.vols))
    elif e.svi is not None:
        s = e.svi
        base = SVIVol(s.a, s.b, s.rho, s.m, s.sigma, s.forward, s.t)
    elif e.vol is not None:
        base = FlatVol(e.vol)
    marked = [(mk.strike, mk.vol) for mk in e.marks if mk.vol is not None]
    if not marked:
        return base
    if base is None and asset_vol is not None:
        base = FlatVol(asset_vol)
    ks = tuple(dict(marked))
    return MarkedVol(ks, tuple(dict(marked)[k] for k in ks), base)


def _expiry(e: ExpiryIn, asset_vol: float | None) -> ExpiryMarket:
    return ExpiryMarket(
        e.forward,
        e.discount,
        e.rate,
        _surface(e, asset_vol),
        forward_fixed=e.forward_fixed,
        forward_confidence=e.forward_confidence,
        rate_confidence=e.rate_confidence,
        vol_confidence=e.vol_confidence,
        marks=tuple(OptionMark(mk.strike, mk.right, mk.vol, mk.confidence) for mk in e.marks),
    )


def _instant_keys(d: dict[str, Any], path: str) -> dict[datetime, Any]:
    out: dict[datetime, Any] = {}
    for k, v in d.items():
        try:
            t = parse_instant(k)
        except ValueError as exc:
            raise InputError(str(exc), path=f"{path}.{k}") from None
        if t in out:
            raise InputError(f"duplicate expiry {format_instant(t)}", path=f"{path}.{k}")
        out[t] = v
    return out


#: The default ``history`` of the loaders: the bundled daily closes.
BUNDLED: Literal["bundled"] = "bundled"


def market_from_obj(
    obj: Any, *, history: PriceHistory | Literal["bundled"] | None = BUNDLED
) -> MarketSnapshot:
    """Validate a parsed market document into a snapshot.

    ``history`` is the price history the snapshot carries (for historical scenarios and EWMA
    volatilities): the bundled daily closes by default (:func:`bundled_history`, reported as the
    history's source), a user's history, or ``None`` for none — the choice is made here, at the
    edge, never by a hidden fallback further in.

    Raises
    ------
    InputError
        Naming the offending path (e.g. ``assets.BTC.expiries.26DEC26.vol``).
    """
    if not isinstance(obj, dict):
        raise InputError("a market file must be a JSON object", path="market")
    try:
        m = MarketIn.model_validate(obj)
    except ValidationError as exc:
        raise translate(exc) from None
    assets: dict[str, AssetMarket] = {}
    for sym, a in m.assets.items():
        path = f"assets.{sym}"
        if sym.upper() in assets:  # symbols are case-insensitive: never keep one silently
            raise InputError("asset is listed twice (symbols are case-insensitive)", path=path)
        if sym.upper() == m.base_currency.upper() and a.price != 1.0:
            raise InputError(
                f"the snapshot currency {sym.upper()} must have price 1, got {a.price!r}",
                path=f"{path}.price",
            )
        expiries = {
            t: _expiry(e, a.vol) for t, e in _instant_keys(a.expiries, f"{path}.expiries").items()
        }
        settlements = _instant_keys(a.settlements, f"{path}.settlements")
        assets[sym.upper()] = AssetMarket(
            price=a.price,
            confidence=a.confidence,
            timestamp=parse_instant(a.timestamp) if a.timestamp else None,
            vol=a.vol,
            rate=a.rate,
            perp_mark=a.perp.mark if a.perp else None,
            perp_confidence=a.perp.confidence if a.perp else 1.0,
            perp_funding_rate=a.perp.funding_rate if a.perp else None,
            perp_open_interest=a.perp.open_interest if a.perp else None,
            expiries=expiries,
            settlements=settlements,
        )
    oracles: dict[str, OracleRecord] = {}
    for sym, o in m.oracles.items():
        if sym.upper() in oracles:
            raise InputError(
                "oracle is listed twice (symbols are case-insensitive)", path=f"oracles.{sym}"
            )
        oracles[sym.upper()] = OracleRecord(
            o.value, parse_instant(o.timestamp), o.confidence, o.source, o.reference
        )
    return MarketSnapshot(
        as_of=parse_instant(m.as_of),
        base_currency=m.base_currency.upper(),
        assets=assets,
        oracles=oracles,
        history=bundled_history() if history == BUNDLED else history,
    )


def load_market(
    path: str | Path, *, history: PriceHistory | Literal["bundled"] | None = BUNDLED
) -> MarketSnapshot:
    """Read and validate a market snapshot JSON file (``history``: see :func:`market_from_obj`)."""
    return market_from_obj(read_json(path, what="market"), history=history)
