"""Instrument-name conventions shared by the venues: expiry codes, strikes, rights, settlement.

Each venue module parses its own symbols; these are the pieces their names have in common.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from crossmargin._time import EXPIRY_HOUR_UTC, parse_expiry_code
from crossmargin.errors import InputError
from crossmargin.instruments.contracts import Contract, Future, Option, Perpetual, Right, Settlement

__all__ = ["VenueSymbol", "expiry_code", "right_of", "settlement_of", "strike_of"]


def settlement_of(inverse: bool) -> Settlement:
    """``"inverse"`` or ``"linear"``."""
    return "inverse" if inverse else "linear"


def right_of(call: bool) -> Right:
    """``"call"`` or ``"put"``."""
    return "call" if call else "put"


@dataclass(frozen=True, slots=True)
class VenueSymbol:
    """A venue instrument name read by the venue's convention (Deribit, Bybit)."""

    underlying: str
    settle: str  # the coin (inverse) or USDC/USDT (linear)
    inverse: bool
    kind: str  # perpetual | future | option | spot
    expiry: datetime | None = None
    strike: float = 0.0
    right: str = ""  # call | put (options)

    def contract(self) -> Contract:
        """The contract the name stands for (a perpetual, a future or an option)."""
        settlement = settlement_of(self.inverse)
        if self.kind == "perpetual":
            return Perpetual(self.underlying, settlement)
        assert self.expiry is not None
        if self.kind == "future":
            return Future(self.underlying, self.expiry, settlement)
        return Option(
            self.underlying, self.expiry, self.strike, right_of(self.right == "call"), settlement
        )


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
