"""The market snapshot: every price, forward, discount and vol, at one instant ``as_of``.

There is no global clock: ``as_of`` is the only "now" and every year fraction is measured from it.
Prices are in the snapshot's ``base_currency`` (normally USD). Lookups that a held instrument needs
and the snapshot lacks raise :class:`~crossmargin.errors.MarketDataError` naming the asset and
field — the engine never falls back to a smaller margin.

Fallbacks (documented in docs/methodology.md):

* expiry forward: given ``forward``, else ``spot × exp(rate × T)``;
* expiry discount: given ``discount``, else ``exp(−rate × T)``;
* rate: the expiry's ``rate``, else the asset's ``rate``, else 0;
* vol surface: the expiry's ``smile``, ``svi`` or ``vol`` (in that order), else the asset's
  ``vol``; if none — error;
* perpetual mark: ``perp.mark``, else the spot (index) price.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType

from crossmargin._time import format_instant, year_fraction
from crossmargin.errors import MarketDataError
from crossmargin.market.history import PriceHistory
from crossmargin.market.vol import FlatVol, ScaledVol, VolSurface

__all__ = ["AssetMarket", "ExpiryMarket", "MarketSnapshot", "OptionMark", "OracleRecord"]


def _exp(x: float) -> float:
    """``exp(x)``, ``inf`` on overflow (an absurd rate then fails the finite-forward check)."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


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

    def __post_init__(self) -> None:
        object.__setattr__(self, "expiries", MappingProxyType(dict(self.expiries)))
        object.__setattr__(self, "settlements", MappingProxyType(dict(self.settlements)))

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

    Changed copies come from :meth:`shifted` (moves and replacements; everything else kept).
    """

    as_of: datetime
    base_currency: str = "USD"
    assets: Mapping[str, AssetMarket] = field(default_factory=dict)
    oracles: Mapping[str, OracleRecord] = field(default_factory=dict)
    history: PriceHistory | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "assets", MappingProxyType(dict(self.assets)))
        object.__setattr__(self, "oracles", MappingProxyType(dict(self.oracles)))

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

    def forward(self, symbol: str, expiry: datetime) -> float:
        """Forward price of ``symbol`` for ``expiry``."""
        a = self.asset(symbol)
        e = a.expiries.get(expiry)
        if e is not None and e.forward is not None:
            return e.forward
        return a.price * _exp(self.rate(symbol, expiry) * max(self.time_to(expiry), 0.0))

    def discount(self, symbol: str, expiry: datetime) -> float:
        """Discount factor from ``expiry`` back to ``as_of``."""
        e = self.asset(symbol).expiries.get(expiry)
        if e is not None and e.discount is not None:
            return e.discount
        return _exp(-self.rate(symbol, expiry) * max(self.time_to(expiry), 0.0))

    def surface(self, symbol: str, expiry: datetime, *, needed_by: str = "") -> VolSurface:
        """Vol surface for ``expiry``: the expiry's own, else the asset's flat ``vol``."""
        a = self.asset(symbol, needed_by=needed_by)
        e = a.expiries.get(expiry)
        if e is not None and e.surface is not None:
            return e.surface
        if a.vol is not None:
            return FlatVol(a.vol)
        why = f"no implied vol for expiry {format_instant(expiry)} and no asset-level vol" + (
            f" (needed by {needed_by})" if needed_by else ""
        )
        raise MarketDataError(why, path=f"assets.{symbol}.vol")

    def perp_mark(self, symbol: str) -> float:
        """Perpetual mark price (falls back to the spot/index price)."""
        a = self.asset(symbol)
        return a.perp_mark if a.perp_mark is not None else a.price

    def settlement(self, symbol: str, expiry: datetime) -> float | None:
        """Settlement price of an expired expiry, if the snapshot carries one."""
        return self.asset(symbol).settlements.get(expiry)
