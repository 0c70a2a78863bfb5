"""The market snapshot: every price, forward, discount and vol, at one instant ``as_of``.

There is no global clock: ``as_of`` is the only "now" and every year fraction is measured from it.
Prices are in the snapshot's ``base_currency`` (normally USD). Lookups that a held instrument needs
and the snapshot lacks raise :class:`~crossmargin.errors.MarketDataError` naming the asset and
field — the engine never falls back to a smaller margin.

Every constructor validates its arguments (types, finiteness and the physical ranges of
:mod:`crossmargin.ranges`) and raises :class:`~crossmargin.errors.InputError` naming the
field, so a snapshot that exists is a sane one.

Values the snapshot does not list are derived by :mod:`crossmargin.market.term` (forwards,
discounts and vols of unlisted expiries interpolated from the listed ones) and each derivation is
reported as a :class:`~crossmargin.market.fallbacks.MarketWarning` (docs/formats.md, "Fallbacks
and warnings"); the perpetual mark falls back to the spot price, also with a warning.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from crossmargin._checks import choice, instance, real, real_or_none, symbol
from crossmargin._time import aware_instant, format_instant, year_fraction
from crossmargin._typing import FloatArray
from crossmargin.errors import InputError, MarketDataError
from crossmargin.market.fallbacks import MarketWarning
from crossmargin.market.history import PriceHistory
from crossmargin.market.term import discount_at, forward_at, surface_at
from crossmargin.market.vol import ScaledVol, VolSurface, check_surface
from crossmargin.ranges import (
    MAX_BASIS,
    MAX_DISCOUNT_SLACK,
    MAX_FUNDING,
    MAX_RATE,
    MAX_VOL,
)

__all__ = ["AssetMarket", "ExpiryMarket", "MarketSnapshot", "OptionMark", "OracleRecord"]


def _unit(v: Any, path: str) -> float:
    return real(v, path, lo=0.0, hi=1.0)


def _rate(v: Any, path: str) -> float | None:
    return real_or_none(v, path, lo=-MAX_RATE, hi=MAX_RATE)


def _instant_map(m: Any, path: str, value: Any) -> dict[datetime, Any]:
    if not isinstance(m, Mapping):
        raise InputError(f"must be a mapping of instants, got {type(m).__name__}", path=path)
    out: dict[datetime, Any] = {}
    for k, v in m.items():
        t = aware_instant(k, path=f"{path}[{k!r}]")
        if t in out:
            raise InputError(f"instant {format_instant(t)} is given twice", path=path)
        out[t] = value(v, f"{path}.{format_instant(t)}")
    return out


@dataclass(frozen=True, slots=True)
class OptionMark:
    """Feed data of one listed option of an expiry (``right`` ``None``: both call and put).

    ``vol`` is the venue's mark implied vol (also applied through the expiry's vol surface),
    ``confidence`` the vol feed's confidence in [0, 1] (Derive PMRM_2 charges low confidence).
    """

    strike: float
    right: str | None = None
    vol: float | None = None
    confidence: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "strike", real(self.strike, "OptionMark.strike", positive=True))
        if self.right is not None:
            choice(self.right, ("call", "put"), "OptionMark.right")
        object.__setattr__(
            self, "vol", real_or_none(self.vol, "OptionMark.vol", positive=True, hi=MAX_VOL)
        )
        object.__setattr__(self, "confidence", _unit(self.confidence, "OptionMark.confidence"))


@dataclass(frozen=True, slots=True)
class ExpiryMarket:
    """Market data of one expiry of one underlying.

    The optional venue-feed fields (``forward_fixed`` and the confidences, ``marks``) are read
    by the venue presets (e.g. Derive PMRM_2); the generic models ignore them.
    ``forward_fixed`` is the part of ``forward`` already fixed by a settlement average (only
    ``forward − forward_fixed`` moves with spot).
    """

    forward: float | None = None
    discount: float | None = None
    rate: float | None = None
    surface: VolSurface | None = None
    forward_fixed: float | None = None
    forward_confidence: float = 1.0
    rate_confidence: float = 1.0
    vol_confidence: float = 1.0
    marks: tuple[OptionMark, ...] = ()

    def __post_init__(self) -> None:
        p = "ExpiryMarket"
        fwd = real_or_none(self.forward, f"{p}.forward", positive=True)
        object.__setattr__(self, "forward", fwd)
        object.__setattr__(
            self, "discount", real_or_none(self.discount, f"{p}.discount", positive=True)
        )
        object.__setattr__(self, "rate", _rate(self.rate, f"{p}.rate"))
        if self.surface is not None:
            check_surface(self.surface, f"{p}.surface")
        fixed = real_or_none(self.forward_fixed, f"{p}.forward_fixed", non_negative=True)
        if fixed is not None and fwd is not None and fixed > fwd:
            raise InputError("forward_fixed must not exceed forward", path=f"{p}.forward_fixed")
        object.__setattr__(self, "forward_fixed", fixed)
        for name in ("forward_confidence", "rate_confidence", "vol_confidence"):
            object.__setattr__(self, name, _unit(getattr(self, name), f"{p}.{name}"))
        marks = tuple(self.marks)
        for i, mk in enumerate(marks):
            instance(mk, OptionMark, f"{p}.marks[{i}]", "an OptionMark")
        object.__setattr__(self, "marks", marks)

    def moved(self, spot: float, vol: float) -> ExpiryMarket:
        """The expiry with its unfixed forward × ``spot`` and its vols × ``vol`` (all else kept)."""
        fixed = self.forward_fixed or 0.0
        return replace(
            self,
            forward=None if self.forward is None else fixed + (self.forward - fixed) * spot,
            surface=self.surface
            if self.surface is None or vol == 1.0
            else ScaledVol(self.surface, vol),
            marks=self.marks
            if vol == 1.0
            else tuple(m if m.vol is None else replace(m, vol=m.vol * vol) for m in self.marks),
        )


@dataclass(frozen=True, slots=True)
class AssetMarket:
    """Market data of one asset (an underlying, a collateral asset, or both).

    Attributes
    ----------
    price
        Spot / index price in the snapshot currency.
    confidence
        Oracle confidence in [0, 1]; below the configured minimum the price is refused.
    timestamp
        When the price was observed; older than the configured maximum age is refused.
    vol
        Fallback implied vol for expiries without their own.
    rate
        Fallback continuously compounded rate (forwards and discounts).
    perp_mark
        Mark price of the perpetual swap.
    perp_confidence, perp_funding_rate, perp_open_interest
        Perp feed confidence, funding rate (fraction of notional per 8 hours, positive = longs
        pay) and market open interest (underlying units); read by venue presets.
    total_deposits
        The venue's market-wide deposits of the asset (token units); read by venue presets
        (Drift scales a spot market's initial asset weight down above a deposit value).
    expiries
        Per-expiry forward, discount, rate and vol surface.
    settlements
        Settlement prices of expired expiries (lets expired instruments be valued).
    """

    price: float
    confidence: float = 1.0
    timestamp: datetime | None = None
    vol: float | None = None
    rate: float | None = None
    perp_mark: float | None = None
    expiries: Mapping[datetime, ExpiryMarket] = field(default_factory=dict)
    settlements: Mapping[datetime, float] = field(default_factory=dict)
    perp_confidence: float = 1.0
    perp_funding_rate: float | None = None
    perp_open_interest: float | None = None
    total_deposits: float | None = None

    def __post_init__(self) -> None:
        p = "AssetMarket"
        set_ = object.__setattr__
        set_(self, "price", real(self.price, f"{p}.price", positive=True))
        set_(self, "confidence", _unit(self.confidence, f"{p}.confidence"))
        if self.timestamp is not None:
            set_(self, "timestamp", aware_instant(self.timestamp, path=f"{p}.timestamp"))
        set_(self, "vol", real_or_none(self.vol, f"{p}.vol", positive=True, hi=MAX_VOL))
        set_(self, "rate", _rate(self.rate, f"{p}.rate"))
        set_(self, "perp_mark", real_or_none(self.perp_mark, f"{p}.perp_mark", positive=True))
        set_(self, "perp_confidence", _unit(self.perp_confidence, f"{p}.perp_confidence"))
        set_(
            self,
            "perp_funding_rate",
            real_or_none(
                self.perp_funding_rate, f"{p}.perp_funding_rate", lo=-MAX_FUNDING, hi=MAX_FUNDING
            ),
        )
        set_(
            self,
            "perp_open_interest",
            real_or_none(self.perp_open_interest, f"{p}.perp_open_interest", non_negative=True),
        )
        expiries = _instant_map(
            self.expiries,
            f"{p}.expiries",
            lambda v, path: instance(v, ExpiryMarket, path, "an ExpiryMarket"),
        )
        settlements = _instant_map(
            self.settlements, f"{p}.settlements", lambda v, path: real(v, path, positive=True)
        )
        set_(self, "expiries", MappingProxyType(expiries))
        set_(self, "settlements", MappingProxyType(settlements))

    def moved(self, spot: float, vol: float) -> AssetMarket:
        """The asset with prices × ``spot`` and vols × ``vol`` (see :meth:`MarketSnapshot.shifted`)."""
        return replace(
            self,
            price=self.price * spot,
            perp_mark=None if self.perp_mark is None else self.perp_mark * spot,
            vol=None if self.vol is None else self.vol * vol,
            expiries={t: e.moved(spot, vol) for t, e in self.expiries.items()},
        )


@dataclass(frozen=True, slots=True)
class OracleRecord:
    """A collateral-oracle reading (exchange rate, price per share or staking rate).

    Attributes
    ----------
    value
        Units of the underlying per unit of the collateral token.
    timestamp
        When the oracle last updated.
    confidence
        Confidence in [0, 1] reported by (or assigned to) the source.
    source
        Source name (its rules are ``oracles.sources.<source>`` in the risk configuration).
    reference
        Optional independent value (e.g. a market exchange rate) the oracle is checked against.
    """

    value: float
    timestamp: datetime
    confidence: float
    source: str
    reference: float | None = None

    def __post_init__(self) -> None:
        p = "OracleRecord"
        object.__setattr__(self, "value", real(self.value, f"{p}.value", positive=True))
        object.__setattr__(self, "timestamp", aware_instant(self.timestamp, path=f"{p}.timestamp"))
        object.__setattr__(self, "confidence", _unit(self.confidence, f"{p}.confidence"))
        if not isinstance(self.source, str) or not self.source.strip():
            raise InputError("must be a non-empty string", path=f"{p}.source")
        object.__setattr__(
            self, "reference", real_or_none(self.reference, f"{p}.reference", positive=True)
        )


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """All market data at one instant.

    Parameters
    ----------
    as_of
        The valuation instant (aware, UTC).
    base_currency
        Currency of every price in the snapshot; its own price is 1.
    assets
        Symbol → :class:`AssetMarket`.
    oracles
        Collateral symbol → :class:`OracleRecord` (oracle-valued collateral kinds).
    history
        Price history for historical scenario sets and EWMA volatilities; ``None``: the snapshot
        has none, and a model that needs one refuses (:meth:`require_history`). The file
        loaders attach the bundled daily closes unless told otherwise
        (:func:`crossmargin.io.load_market`).
    timestamp
        When the prices without their own ``timestamp`` were observed (the file's top-level
        ``timestamp``). A price with neither is refused unless the configuration sets
        ``market.require_timestamps: false`` (:mod:`crossmargin.market.checks`).

    Changed copies come from :meth:`shifted` (moves and replacements; everything else kept).

    Raises
    ------
    InputError
        A field of the wrong type or outside its range (:mod:`crossmargin.ranges`), a
        naive datetime, an asset key that is not a symbol (or given twice, case-insensitively),
        a forward or discount inconsistent with spot and the time to expiry, a settlement price
        for an expiry after ``as_of``, or a snapshot currency priced other than 1.
    """

    as_of: datetime
    base_currency: str = "USD"
    assets: Mapping[str, AssetMarket] = field(default_factory=dict)
    oracles: Mapping[str, OracleRecord] = field(default_factory=dict)
    history: PriceHistory | None = None
    timestamp: datetime | None = None

    def __post_init__(self) -> None:
        p = "MarketSnapshot"
        as_of = aware_instant(self.as_of, path=f"{p}.as_of")
        object.__setattr__(self, "as_of", as_of)
        base = symbol(self.base_currency, f"{p}.base_currency")
        object.__setattr__(self, "base_currency", base)
        if self.timestamp is not None:
            object.__setattr__(
                self, "timestamp", aware_instant(self.timestamp, path=f"{p}.timestamp")
            )
        assets = _symbol_map(self.assets, "assets", AssetMarket, "an AssetMarket")
        oracles = _symbol_map(self.oracles, "oracles", OracleRecord, "an OracleRecord")
        for sym, a in assets.items():
            _check_asset_terms(sym, a, as_of, base)
        object.__setattr__(self, "assets", MappingProxyType(assets))
        object.__setattr__(self, "oracles", MappingProxyType(oracles))

    # -- changed copies -------------------------------------------------------------------------
    def shifted(
        self,
        *,
        spot: Mapping[str, float] | None = None,
        vol: Mapping[str, float] | None = None,
        assets: Mapping[str, AssetMarket] | None = None,
        oracles: Mapping[str, OracleRecord] | None = None,
        history: PriceHistory | None = None,
    ) -> MarketSnapshot:
        """A copy with some market data moved or replaced; everything else is kept.

        The one way to derive a snapshot from another (a cascade round, a stress step, a live
        update): oracles, the price history, confidences, timestamps, settlements and the venue
        feed fields of every asset and expiry travel with the copy.

        Parameters
        ----------
        spot
            Symbol → factor on the spot price, the perpetual mark and the part of each expiry
            forward not yet fixed (``F' = F_fix + (F − F_fix)·f``).
        vol
            Symbol → factor on the asset vol, every expiry's vol surface and its option mark vols.
        assets
            Symbol → asset data replacing (or adding) an asset, applied after the moves.
        oracles
            Symbol → oracle record replacing (or adding) a record.
        history
            A price history replacing the current one.
        """
        moved = dict(self.assets)
        for sym, a in self.assets.items():
            f = 1.0 if spot is None else spot.get(sym, 1.0)
            v = 1.0 if vol is None else vol.get(sym, 1.0)
            if f != 1.0 or v != 1.0:
                moved[sym] = a.moved(f, v)
        moved.update(assets or {})
        return replace(
            self,
            assets=moved,
            oracles={**self.oracles, **(oracles or {})},
            history=self.history if history is None else history,
        )

    # -- lookups -------------------------------------------------------------------------------
    def require_history(self, *, needed_by: str) -> PriceHistory:
        """The snapshot's price history, or an error naming who needed it.

        Raises
        ------
        MarketDataError
            The snapshot carries no history.
        """
        if self.history is None:
            raise MarketDataError(
                f"the market snapshot has no price history (needed by {needed_by}); supply one "
                "with --history FILE or attach the bundled closes",
                path="history",
            )
        return self.history

    def asset(self, symbol: str, *, needed_by: str = "") -> AssetMarket:
        """Return the asset's data or raise naming who needed it."""
        try:
            return self.assets[symbol]
        except KeyError:
            why = f"no market data for {symbol}" + (
                f" (needed by {needed_by})" if needed_by else ""
            )
            raise MarketDataError(why, path=f"assets.{symbol}") from None

    def price(self, symbol: str, *, needed_by: str = "") -> float:
        """Spot price of ``symbol`` in the snapshot currency (1 for the snapshot currency)."""
        if symbol == self.base_currency and symbol not in self.assets:
            return 1.0
        return self.asset(symbol, needed_by=needed_by).price

    def has_price(self, symbol: str) -> bool:
        """Whether :meth:`price` would succeed."""
        return symbol == self.base_currency or symbol in self.assets

    def time_to(self, instant: datetime) -> float:
        """Year fraction from ``as_of`` to ``instant``."""
        return year_fraction(self.as_of, instant)

    def expiry(self, symbol: str, expiry: datetime) -> ExpiryMarket | None:
        """Data of one expiry, or ``None`` if the snapshot has none for it."""
        return self.asset(symbol).expiries.get(expiry)

    def rate(self, symbol: str, expiry: datetime) -> float:
        """Rate for discounting/forwarding to ``expiry`` (expiry, else asset, else 0)."""
        a = self.asset(symbol)
        e = a.expiries.get(expiry)
        if e is not None and e.rate is not None:
            return e.rate
        return a.rate if a.rate is not None else 0.0

    def forward_term(self, symbol: str, expiry: datetime) -> tuple[float, MarketWarning | None]:
        """Forward for ``expiry`` and the warning if it was derived (:mod:`~.term`)."""
        a = self.asset(symbol)
        t = forward_at(a, symbol, self.as_of, expiry, a.rate if a.rate is not None else 0.0)
        return t.value, t.warning

    def discount_term(self, symbol: str, expiry: datetime) -> tuple[float, MarketWarning | None]:
        """Discount factor for ``expiry`` and the warning if it was derived (:mod:`~.term`)."""
        a = self.asset(symbol)
        t = discount_at(a, symbol, self.as_of, expiry, a.rate if a.rate is not None else 0.0)
        return t.value, t.warning

    def surface_term(
        self,
        symbol: str,
        expiry: datetime,
        *,
        strikes: FloatArray | None = None,
        needed_by: str = "",
    ) -> tuple[VolSurface, MarketWarning | None]:
        """Vol surface for ``expiry`` and the warning if it was derived (:mod:`~.term`).

        Raises
        ------
        MarketDataError
            No surface for any expiry of the asset and no asset-level ``vol``.
        """
        a = self.asset(symbol, needed_by=needed_by)
        forwards = {t: self.forward_term(symbol, t)[0] for t in a.expiries}
        return surface_at(
            a, symbol, self.as_of, expiry, forwards, strikes=strikes, needed_by=needed_by
        )

    def perp_term(self, symbol: str) -> tuple[float, MarketWarning | None]:
        """Perpetual mark and the warning when it falls back to the spot price."""
        a = self.asset(symbol)
        if a.perp_mark is not None:
            return a.perp_mark, None
        return a.price, MarketWarning(
            "perp_mark_from_spot",
            f"assets.{symbol}.perp.mark",
            f"no perp mark for {symbol}: the perpetual is marked at the spot price {a.price:g}",
            symbol,
            None,
            ("perpetual",),
        )

    def forward(self, symbol: str, expiry: datetime) -> float:
        """Forward price of ``symbol`` for ``expiry`` (derived ones: :meth:`forward_term`)."""
        return self.forward_term(symbol, expiry)[0]

    def discount(self, symbol: str, expiry: datetime) -> float:
        """Discount factor from ``expiry`` back to ``as_of``."""
        return self.discount_term(symbol, expiry)[0]

    def surface(self, symbol: str, expiry: datetime, *, needed_by: str = "") -> VolSurface:
        """Vol surface for ``expiry`` (derived ones: :meth:`surface_term`)."""
        return self.surface_term(symbol, expiry, needed_by=needed_by)[0]

    def perp_mark(self, symbol: str) -> float:
        """Perpetual mark price (falls back to the spot/index price, see :meth:`perp_term`)."""
        return self.perp_term(symbol)[0]

    def settlement(self, symbol: str, expiry: datetime) -> float | None:
        """Settlement price of an expired expiry, if the snapshot carries one."""
        return self.asset(symbol).settlements.get(expiry)


def _symbol_map(m: Any, name: str, kind: type, what: str) -> dict[str, Any]:
    path = f"MarketSnapshot.{name}"
    if not isinstance(m, Mapping):
        raise InputError(f"must be a mapping of symbols, got {type(m).__name__}", path=path)
    out: dict[str, Any] = {}
    for k, v in m.items():
        sym = symbol(k, f"{path}.{k}")
        if sym in out:
            raise InputError(
                f"{sym} is listed twice (symbols are case-insensitive)", path=f"{path}.{k}"
            )
        out[sym] = instance(v, kind, f"{path}.{k}", what)
    return out


def _check_asset_terms(sym: str, a: AssetMarket, as_of: datetime, base: str) -> None:
    """Relations between an asset's fields and ``as_of`` (:mod:`crossmargin.ranges`)."""
    path = f"assets.{sym}"
    if sym == base and a.price != 1.0:
        raise InputError(
            f"the snapshot currency {sym} must have price 1, got {a.price!r}", path=f"{path}.price"
        )
    for t, e in a.expiries.items():
        tau = year_fraction(as_of, t)
        if tau <= 0.0:
            continue
        ep = f"{path}.expiries.{format_instant(t)}"
        if e.forward is not None:
            basis = math.log(e.forward / a.price)
            bound = MAX_BASIS + MAX_RATE * tau
            if abs(basis) > bound:
                raise InputError(
                    f"forward {e.forward:g} is {math.exp(basis):.3g}x the spot {a.price:g}: beyond "
                    f"exp(±{bound:.3g}) for an expiry {tau:.3g} years away",
                    path=f"{ep}.forward",
                )
        if e.discount is not None:
            bound = MAX_RATE * tau + MAX_DISCOUNT_SLACK
            if abs(math.log(e.discount)) > bound:
                raise InputError(
                    f"discount {e.discount:g} implies a rate of {-math.log(e.discount) / tau:.3g} "
                    f"a year over {tau:.3g} years (limit ±{MAX_RATE:g})",
                    path=f"{ep}.discount",
                )
    for t in a.settlements:
        if t > as_of:
            raise InputError(
                f"settlement price for an expiry after as_of {format_instant(as_of)}",
                path=f"{path}.settlements.{format_instant(t)}",
            )
