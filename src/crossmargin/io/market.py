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
as one of ``smile`` (strikes + vols), ``svi`` (raw SVI ``a, b, rho, m, sigma``) or a flat ``vol``.
What the snapshot does not list (an expiry's forward, discount or vol) is derived from the
listed expiries with a warning (:mod:`crossmargin.market.term`). The top-level ``timestamp`` is
the observation time of every price without its own (:mod:`crossmargin.market.checks`).

Optional venue-feed fields (read by the venue presets, e.g. Derive PMRM_2): per expiry
``forward_fixed`` (part of the forward fixed by the settlement average), ``forward_confidence``,
``rate_confidence``, ``vol_confidence``, ``svi.forward``/``svi.t`` (the fit's forward and year
fraction) and ``marks`` (per listed option: ``strike``, optional ``right``, mark ``vol`` — applied
over the expiry's surface — and vol-feed ``confidence``); per perpetual ``perp.confidence`` and
``perp.open_interest`` (underlying units); per asset ``total_deposits`` (the venue's market-wide
deposits of the asset, token units — Drift scales a spot market's initial asset weight by it).

Oracle-valued collateral (lending deposits, vault shares, liquid-staking tokens) reads its
exchange rate from an optional top-level ``oracles`` object::

    "oracles": {"WSTETH": {"value": 1.2031, "timestamp": "2026-11-22T06:00:00Z",
                           "confidence": 0.99, "source": "lido", "reference": 1.2025}}
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from crossmargin._checks import symbol_value
from crossmargin._time import format_instant, parse_instant
from crossmargin._validation import (
    Finite,
    NonNegative,
    Positive,
    Rate,
    Unit,
    Vol,
    domain,
    read_json,
    translate,
)
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

__all__ = ["MarketIn", "load_market", "market_from_obj", "oracle_to_obj"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SmileIn(_Model):
    """Vols at strikes, interpolated in log-moneyness."""

    strikes: list[Positive] = Field(min_length=1)
    vols: list[Vol] = Field(min_length=1)

    @model_validator(mode="after")
    def _shape(self) -> SmileIn:
        domain(lambda: SmileVol(tuple(self.strikes), tuple(self.vols)))
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
        domain(lambda: SVIVol(self.a, self.b, self.rho, self.m, self.sigma, self.forward, self.t))
        return self


class MarkIn(_Model):
    """Feed data of one listed option: mark vol and/or vol-feed confidence."""

    strike: Positive
    right: Literal["call", "put"] | None = Field(
        default=None, description="call or put; omitted: both"
    )
    vol: Vol | None = Field(default=None, description="Mark implied vol")
    confidence: Unit = Field(default=1.0, description="Vol feed confidence")


class ExpiryIn(_Model):
    """Market data of one expiry."""

    forward: Positive | None = None
    discount: Positive | None = None
    rate: Rate | None = None
    vol: Vol | None = None
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
        given = [k for k in ("smile", "svi", "vol") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(
                f"give one of smile, svi or vol for an expiry, not {' and '.join(given)} "
                "(either smile or svi, or a flat vol)"
            )
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
    funding_rate: Finite | None = Field(
        default=None, description="Funding rate per funding period (|f| <= 1)", ge=-1.0, le=1.0
    )
    confidence: Unit = Field(default=1.0, description="Perp price feed confidence")
    open_interest: NonNegative | None = Field(
        default=None, description="Market open interest, underlying units"
    )


class AssetIn(_Model):
    """Market data of one asset."""

    price: Positive
    confidence: Unit = 1.0
    timestamp: str | None = Field(
        default=None, description="Observation time of the price (else the snapshot's timestamp)"
    )
    vol: Vol | None = None
    rate: Rate | None = None
    perp: PerpIn | None = None
    expiries: dict[str, ExpiryIn] = Field(default_factory=dict)
    settlements: dict[str, Positive] = Field(default_factory=dict)
    total_deposits: NonNegative | None = Field(
        default=None, description="Venue-wide deposits of this asset, token units (venue presets)"
    )

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
    timestamp: str | None = Field(
        default=None,
        description="Observation time of every price without its own timestamp, ISO-8601 with zone",
    )
    base_currency: str = Field(default="USD", description="Currency of every price")
    assets: dict[str, AssetIn] = Field(default_factory=dict)
    oracles: dict[str, OracleIn] = Field(default_factory=dict)

    @field_validator("as_of", "timestamp")
    @classmethod
    def _instant(cls, v: str | None) -> str | None:
        if v is not None:
            parse_instant(v)
        return v

    @field_validator("base_currency")
    @classmethod
    def _base(cls, v: str) -> str:
        return symbol_value(v)


def oracle_to_obj(r: OracleRecord) -> dict[str, Any]:
    """The JSON form of an oracle record (an entry of a snapshot's ``oracles``; :class:`OracleIn`)."""
    d: dict[str, Any] = {
        "value": r.value,
        "timestamp": format_instant(r.timestamp),
        "confidence": r.confidence,
        "source": r.source,
    }
    if r.reference is not None:
        d["reference"] = r.reference
    return d


def _surface(e: ExpiryIn) -> VolSurface | None:
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
    # marks without a base surface: the unmarked strikes get the derived surface (with a
    # warning) when the expiry is resolved (crossmargin.market.term)
    ks = tuple(dict(marked))
    return MarkedVol(ks, tuple(dict(marked)[k] for k in ks), base)


def _expiry(e: ExpiryIn) -> ExpiryMarket:
    return ExpiryMarket(
        e.forward,
        e.discount,
        e.rate,
        _surface(e),
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
    try:
        return _snapshot(m, history)
    except InputError as exc:  # a relation between fields (forward vs spot, ...) or a range
        raise InputError(exc.reason, path=_file_path(exc.path)) from None


def _file_path(path: str) -> str:
    """A domain constructor's path (``MarketSnapshot.assets.BTC``) as written in the file."""
    head, _, rest = path.partition(".")
    return rest if head in ("MarketSnapshot",) and rest else path


def _keys(d: dict[str, Any], root: str, what: str) -> dict[str, str]:
    """File key → symbol; a key that is not a symbol or repeats (case-insensitively) is an error."""
    out: dict[str, str] = {}
    seen: set[str] = set()
    for k in d:
        try:
            sym = symbol_value(k)
        except ValueError as exc:
            raise InputError(str(exc), path=f"{root}.{k}") from None
        if sym in seen:  # symbols are case-insensitive: never keep one silently
            raise InputError(
                f"{what} is listed twice (symbols are case-insensitive)", path=f"{root}.{k}"
            )
        seen.add(sym)
        out[k] = sym
    return out


def _snapshot(m: MarketIn, history: PriceHistory | Literal["bundled"] | None) -> MarketSnapshot:
    assets: dict[str, AssetMarket] = {}
    names = _keys(m.assets, "assets", "asset")
    oracle_names = _keys(m.oracles, "oracles", "oracle")
    for sym, a in m.assets.items():
        path = f"assets.{sym}"
        expiries = {t: _expiry(e) for t, e in _instant_keys(a.expiries, f"{path}.expiries").items()}
        settlements = _instant_keys(a.settlements, f"{path}.settlements")
        assets[names[sym]] = AssetMarket(
            price=a.price,
            confidence=a.confidence,
            timestamp=parse_instant(a.timestamp) if a.timestamp else None,
            vol=a.vol,
            rate=a.rate,
            perp_mark=a.perp.mark if a.perp else None,
            perp_confidence=a.perp.confidence if a.perp else 1.0,
            perp_funding_rate=a.perp.funding_rate if a.perp else None,
            perp_open_interest=a.perp.open_interest if a.perp else None,
            total_deposits=a.total_deposits,
            expiries=expiries,
            settlements=settlements,
        )
    oracles = {
        oracle_names[sym]: OracleRecord(
            o.value, parse_instant(o.timestamp), o.confidence, o.source, o.reference
        )
        for sym, o in m.oracles.items()
    }
    return MarketSnapshot(
        as_of=parse_instant(m.as_of),
        base_currency=symbol_value(m.base_currency),
        assets=assets,
        oracles=oracles,
        history=bundled_history() if history == BUNDLED else history,
        timestamp=parse_instant(m.timestamp) if m.timestamp else None,
    )


def load_market(
    path: str | Path, *, history: PriceHistory | Literal["bundled"] | None = BUNDLED
) -> MarketSnapshot:
    """Read and validate a market snapshot JSON file (``history``: see :func:`market_from_obj`)."""
    return market_from_obj(read_json(path, what="market"), history=history)
