"""What every venue importer produces: holdings, the venue's own figures, market facts.

A venue importer reads a venue's API responses and returns a :class:`VenueImport`:

* :class:`Holding` — one position converted to our contract and units, with the venue's row
  (instrument name, size and unit, mark) kept beside it for the explanation;
* the venue's **equity per currency** (collateral is derived from it, see
  :mod:`crossmargin.io.venues._build`);
* :class:`Reported` — the venue's own IM / MM / equity (what ``--check`` compares against);
* :class:`MarketFacts` — the marks, index prices, forwards and mark vols the export carries.

Nothing here knows a venue; the venue modules know nothing of each other.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeVar

from crossmargin._time import EXPIRY_HOUR_UTC, parse_expiry_code
from crossmargin.errors import InputError
from crossmargin.instruments.contracts import Contract, Right, Settlement

__all__ = [
    "Holding",
    "MarketFacts",
    "Reported",
    "VenueImport",
    "check_units",
    "expiry_code",
    "gather",
    "right_of",
    "settlement_of",
    "strike_of",
]


def settlement_of(inverse: bool) -> Settlement:
    """``"inverse"`` or ``"linear"``."""
    return "inverse" if inverse else "linear"


def right_of(call: bool) -> Right:
    """``"call"`` or ``"put"``."""
    return "call" if call else "put"


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


R = TypeVar("R")


def gather(
    rows: Iterable[R],
    read: Callable[[R], Holding | None],
    key: Callable[[R, Holding], object],
    what: str,
) -> tuple[Holding, ...]:
    """Read every position row of an export (``None``: an empty row, dropped).

    A position listed twice (same ``key``) is refused: the second would silently double it.

    Raises
    ------
    InputError
        Naming the second row.
    """
    out: list[Holding] = []
    seen: dict[object, str] = {}
    for row in rows:
        h = read(row)
        if h is None:
            continue
        k = key(row, h)
        if k in seen:
            raise InputError(f"duplicate position: {what} {k} is already at {seen[k]}", path=h.path)
        seen[k] = h.path
        out.append(h)
    return tuple(out)


def check_units(
    given: Decimal | None, expected: list[float], path: str, *, what: str, tol: float = 0.01
) -> None:
    """Refuse a reported size/value inconsistent with our conversion (wrong units).

    ``given`` (e.g. OKX ``notionalUsd``, Deribit ``size_currency``) must agree within ``tol``
    (relative) with one of ``expected`` (entry- or mark-based readings of the same quantity).

    Raises
    ------
    InputError
        Naming the field, both values and the convention assumed.
    """
    if given is None:
        return
    g = abs(float(given))
    for e in expected:
        if abs(g - abs(e)) <= tol * max(g, abs(e), 1e-300):
            return
    shown = " or ".join(f"{abs(e):.10g}" for e in expected)
    raise InputError(f"{g:.10g} does not match {shown} implied by {what} (wrong units?)", path=path)


_YYMMDD = re.compile(r"^(\d{2})(\d{2})(\d{2})$")


def expiry_code(code: str, path: str, *, venue: str) -> datetime:
    """Expiry of a venue instrument name's date part at 08:00 UTC.

    ``D[D]MMMYY`` (Deribit, Bybit: ``27MAR26``) or ``YYMMDD`` (OKX, Binance: ``260327``). All four
    venues deliver at 08:00 UTC; an instruments response with the exact expiry overrides this.

    Raises
    ------
    InputError
        Not a date.
    """
    m = _YYMMDD.match(code)
    try:
        if m is not None:
            yy, mm, dd = (int(x) for x in m.groups())
            return datetime(2000 + yy, mm, dd, EXPIRY_HOUR_UTC, tzinfo=UTC)
        return parse_expiry_code(code)
    except ValueError:
        raise InputError(f"{code!r} is not a {venue} expiry date", path=path) from None


def strike_of(text: str, path: str) -> float:
    """A strike from an instrument name (Deribit writes ``1d5`` for 1.5).

    Raises
    ------
    InputError
        Not a positive number.
    """
    t = text.lower().replace("d", ".")
    try:
        k = float(t) if re.match(r"^\d+(\.\d+)?$", t) else -1.0
    except ValueError:  # pragma: no cover - the pattern admits only numbers
        k = -1.0
    if k <= 0:
        raise InputError(
            f"strike {text!r} in the instrument name is not a positive number", path=path
        )
    return k
