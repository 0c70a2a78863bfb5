"""What every venue importer produces: holdings, the venue's own figures, market facts.

A venue importer reads a venue's API responses and returns a :class:`VenueImport`:

* :class:`Holding` — one position converted to our contract and units, with the venue's row
  (instrument name, size and unit, mark) kept beside it for the explanation;
* the venue's **equity per currency** (collateral is derived from it, see
  :mod:`crossmargin.io.venues._build`);
* :class:`Reported` — the venue's own IM / MM / equity (what ``--check`` compares against);
* :class:`MarketFacts` — the marks, index prices, forwards and mark vols the export carries.

Nothing here knows a venue; the venue modules know nothing of each other. How the rows of an
export are read is :mod:`crossmargin.io.venues._reader`; instrument-name conventions are
:mod:`crossmargin.io.venues._names`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from crossmargin.instruments.contracts import Contract, Future, Perpetual
from crossmargin.io.venues._fields import Fields

__all__ = ["Holding", "MarketFacts", "Quote", "Reported", "VenueImport"]


@dataclass(frozen=True, slots=True)
class Holding:
    """One imported position.

    Attributes
    ----------
    venue
        Venue name (``deribit``, ``okx``, ``bybit``, ``binance``): the position's label.
    symbol
        The venue's instrument name (``BTC-PERPETUAL``, ``BTC-USD-SWAP``, ``BTCUSDT``...).
    contract
        Our contract (settlement and expiry exact; multiplier 1).
    quantity
        Signed quantity in our units: USD face for inverse futures/perpetuals, coins of the
        underlying for everything else.
    entry_price
        Average entry price in the contract's quote (inverse options: coin), if known.
    mark
        The venue's mark price in the contract's quote.
    settle
        Settlement currency (P&L and margin currency: the coin for inverse contracts).
    venue_size
        The venue's size as written, with its unit (``-50 contracts × 100 USD``).
    path
        Where the row is (``file:data[0]``).
    """

    venue: str
    symbol: str
    contract: Contract
    quantity: Decimal
    entry_price: float | None
    mark: float
    settle: str
    venue_size: str
    path: str

    def mark_value(self) -> float:
        """Mark-to-market at the venue's mark, in the settlement currency.

        Options: ``q × mark`` (the premium's value); inverse futures/perps: ``q (1/entry −
        1/mark)`` coins; linear: ``q (mark − entry)``; no entry price: 0 (entered at the mark).
        """
        q = float(self.quantity)
        if self.contract.kind == "option":
            return q * self.mark
        if self.entry_price is None:
            return 0.0
        if self.contract.settlement == "inverse":
            return q * (1.0 / self.entry_price - 1.0 / self.mark)
        return q * (self.mark - self.entry_price)


@dataclass(frozen=True, slots=True)
class Reported:
    """The venue's own account figures from the same export.

    Attributes
    ----------
    venue, pool
        Venue and margin pool (``account``, or a currency for segregated pools).
    margin_model
        The venue's name for how it margined the account (``cross_pm``, ``portfolio margin``).
    currency
        Unit of the figures below.
    initial_margin, maintenance_margin
        As reported.
    equity
        Account value at market, before collateral haircuts (``None`` if not reported).
    adjusted_equity
        Equity after the venue's collateral haircuts (``None`` if not reported).
    path
        Where the figures are.
    """

    venue: str
    pool: str
    margin_model: str
    currency: str
    initial_margin: float
    maintenance_margin: float
    equity: float | None
    path: str
    adjusted_equity: float | None = None

    @classmethod
    def read(
        cls,
        f: Fields,
        venue: str,
        pool: str,
        margin_model: str,
        currency: str,
        *,
        im: str,
        mm: str,
        equity: str,
        adjusted: str | None = None,
    ) -> Reported:
        """The figures of the venue record ``f`` read from its fields (the path is ``im``'s).

        ``im`` and ``mm`` are required, ``equity`` and ``adjusted`` optional.
        """
        return cls(
            venue,
            pool,
            margin_model,
            currency,
            float(f.need(im)),
            float(f.need(mm)),
            f.num(equity, required=False),
            f.at(im),
            None if adjusted is None else f.num(adjusted, required=False),
        )


Quote = tuple[float, str]  # value and the path it was read from


@dataclass(slots=True)
class MarketFacts:
    """Market data found in one export (first value wins; a conflicting later one is noted).

    Keys: ``index``/``perp`` by underlying (``index_stable``: an index quoted in a stablecoin,
    used only where no venue gives a USD index); ``forward`` and ``iv`` (fraction) by (underlying,
    expiry) and (underlying, expiry, strike); ``usd`` = price of a currency in USD;
    ``times`` = timestamps that bound when the export was taken; ``observed`` = when an
    underlying's price was observed (tickers).
    """

    index: dict[str, Quote] = field(default_factory=dict)
    index_stable: dict[str, Quote] = field(default_factory=dict)
    perp: dict[str, Quote] = field(default_factory=dict)
    forward: dict[tuple[str, datetime], Quote] = field(default_factory=dict)
    iv: dict[tuple[str, datetime, float], Quote] = field(default_factory=dict)
    usd: dict[str, Quote] = field(default_factory=dict)
    times: list[tuple[datetime, str]] = field(default_factory=list)
    observed: dict[str, datetime] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def put(self, table: str, key: object, value: float, path: str) -> None:
        """Record ``value`` under ``key`` of ``table`` unless one is there already."""
        d: dict[object, Quote] = getattr(self, table)
        old = d.get(key)
        if old is None:
            d[key] = (value, path)
        elif abs(old[0] - value) > 1e-6 * max(abs(old[0]), abs(value)):
            self.notes.append(
                f"{_label(table, key)}: {value:g} at {path} differs from {old[0]:g} at {old[1]}; "
                f"the first is used"
            )

    def mark(self, contract: Contract, mark: float, path: str) -> None:
        """Record a mark as the market fact its contract quotes.

        A perpetual's mark is the perpetual price of its underlying, a future's mark the forward
        of its expiry; an option's mark is a premium, not a market fact (nothing is recorded).
        """
        if isinstance(contract, Perpetual):
            self.put("perp", contract.underlying, mark, path)
        elif isinstance(contract, Future):
            self.put("forward", (contract.underlying, contract.expiry), mark, path)


def _label(table: str, key: object) -> str:
    if isinstance(key, tuple):
        return f"{table} " + " ".join(
            k.strftime("%Y-%m-%d")
            if isinstance(k, datetime)
            else f"{k:g}"
            if isinstance(k, float)
            else str(k)
            for k in key
        )
    return f"{table} {key}"


@dataclass(frozen=True, slots=True)
class VenueImport:
    """Everything one venue's export says.

    Attributes
    ----------
    venue
        Venue name.
    holdings
        Imported positions.
    equity
        The venue's equity per currency (coin amounts), when its account/balance response is in
        the export.
    reported
        The venue's own IM/MM figures.
    facts
        Market data the export carries.
    account_id
        The venue's account identifier, if the export names one.
    """

    venue: str
    holdings: tuple[Holding, ...]
    equity: dict[str, Decimal]
    reported: tuple[Reported, ...]
    facts: MarketFacts
    account_id: str | None = None
