"""Contracts: the economics of what can be held (not who holds how much).

Four kinds, all frozen and slotted (immutable values, safe to share between threads):

* :class:`Spot` — the asset itself traded on margin (delta one, no expiry);
* :class:`Future` — a dated future on the underlying, settling at ``expiry``;
* :class:`Perpetual` — a perpetual swap marked at the snapshot's perp mark;
* :class:`Option` — a European call or put on the expiry's forward (Black-76).

Settlement is ``"linear"`` (quote-currency settled, quantity in underlying units) or
``"inverse"`` (coin settled, Deribit style). For inverse futures and perpetuals the quantity is the
USD face value; for inverse options it is in coins of the underlying (one Deribit BTC option = 1
BTC), their price is quoted in coin. ``multiplier`` scales one unit of quantity (e.g. 100 for an
SPX index option held in contracts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from crossmargin._time import format_expiry_code, format_instant, is_named_expiry

__all__ = [
    "Contract",
    "Future",
    "Kind",
    "Option",
    "Perpetual",
    "Right",
    "Settlement",
    "Spot",
]

Settlement = Literal["linear", "inverse"]
Right = Literal["call", "put"]
Kind = Literal["spot", "future", "perpetual", "option"]


def _suffix(settlement: Settlement, multiplier: float) -> str:
    out = "-INV" if settlement == "inverse" else ""
    if multiplier != 1.0:
        out += f"-X{_fmt_number(multiplier)}"
    return out


def _fmt_number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _fmt_expiry(expiry: datetime) -> str:
    return format_expiry_code(expiry) if is_named_expiry(expiry) else format_instant(expiry)


@dataclass(frozen=True, slots=True)
class Spot:
    """The underlying asset itself, held as a margined position (delta one)."""

    underlying: str
    settlement: Settlement = "linear"
    multiplier: float = 1.0
    kind: Literal["spot"] = "spot"

    @property
    def name(self) -> str:
        """Canonical instrument name, e.g. ``BTC-SPOT``."""
        return f"{self.underlying}-SPOT{_suffix(self.settlement, self.multiplier)}"

    @property
    def expiry(self) -> None:
        """Spot positions do not expire."""
        return None


@dataclass(frozen=True, slots=True)
class Perpetual:
    """A perpetual swap on ``underlying``."""

    underlying: str
    settlement: Settlement = "linear"
    multiplier: float = 1.0
    kind: Literal["perpetual"] = "perpetual"

    @property
    def name(self) -> str:
        """Canonical instrument name, e.g. ``BTC-PERP``."""
        return f"{self.underlying}-PERP{_suffix(self.settlement, self.multiplier)}"

    @property
    def expiry(self) -> None:
        """Perpetuals do not expire."""
        return None


@dataclass(frozen=True, slots=True)
class Future:
    """A dated future on ``underlying`` settling at ``expiry`` (aware UTC)."""

    underlying: str
    expiry: datetime
    settlement: Settlement = "linear"
    multiplier: float = 1.0
    kind: Literal["future"] = "future"

    @property
    def name(self) -> str:
        """Canonical instrument name, e.g. ``BTC-26DEC26``."""
        return f"{self.underlying}-{_fmt_expiry(self.expiry)}{_suffix(self.settlement, self.multiplier)}"


@dataclass(frozen=True, slots=True)
class Option:
    """A European option on the ``expiry`` forward of ``underlying``."""

    underlying: str
    expiry: datetime
    strike: float
    right: Right
    settlement: Settlement = "linear"
    multiplier: float = 1.0
    kind: Literal["option"] = "option"

    @property
    def name(self) -> str:
        """Canonical instrument name, e.g. ``BTC-26DEC26-70000-C``."""
        r = "C" if self.right == "call" else "P"
        return (
            f"{self.underlying}-{_fmt_expiry(self.expiry)}-{_fmt_number(self.strike)}-{r}"
            f"{_suffix(self.settlement, self.multiplier)}"
        )


Contract = Spot | Perpetual | Future | Option
