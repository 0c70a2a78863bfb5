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

Constructors validate (:class:`~crossmargin.errors.InputError` naming ``Option.strike`` etc.):
the underlying follows the symbol rule (:mod:`crossmargin._checks`; stored upper-case),
``settlement`` is ``linear``/``inverse``, ``multiplier`` and ``strike`` are positive finite
numbers (not ``bool`` or ``str``), ``right`` is ``call``/``put`` and ``expiry`` is an aware
datetime in range (stored in UTC).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal

from crossmargin._checks import choice, real, symbol
from crossmargin._time import aware_instant, format_expiry_code, format_instant, is_named_expiry

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

_SETTLEMENTS = ("linear", "inverse")


def _validate(c: Any) -> None:
    """Check and normalise the fields every contract has (constructors raise InputError).

    ``kind`` must be the one the class declares (its field's default).
    """
    name = type(c).__name__
    kind = type(c).__dataclass_fields__["kind"].default
    object.__setattr__(c, "underlying", symbol(c.underlying, f"{name}.underlying"))
    choice(c.settlement, _SETTLEMENTS, f"{name}.settlement")
    object.__setattr__(c, "multiplier", real(c.multiplier, f"{name}.multiplier", positive=True))
    choice(c.kind, (kind,), f"{name}.kind")
    if isinstance(c, Future | Option):
        object.__setattr__(c, "expiry", aware_instant(c.expiry, path=f"{name}.expiry"))


def _suffix(settlement: Settlement, multiplier: float) -> str:
    out = "-INV" if settlement == "inverse" else ""
    if multiplier != 1.0:
        out += f"-X{_fmt_number(multiplier)}"
    return out


def _fmt_number(x: float) -> str:
    """Shortest round-trip decimal, never in exponent notation (names must parse back)."""
    if float(x).is_integer():
        return str(int(x))
    return format(Decimal(repr(float(x))), "f")


def _fmt_expiry(expiry: datetime) -> str:
    return format_expiry_code(expiry) if is_named_expiry(expiry) else format_instant(expiry)


@dataclass(frozen=True, slots=True)
class _Undated:
    """What spot and perpetual contracts share: no expiry, a name ``<UNDERLYING>-<code>``."""

    underlying: str
    settlement: Settlement = "linear"
    multiplier: float = 1.0
    kind: Literal["spot", "perpetual"] = "spot"

    #: The name's tag after the underlying (``SPOT``, ``PERP``).
    _code: ClassVar[str]

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def name(self) -> str:
        """Canonical instrument name, e.g. ``BTC-SPOT`` or ``BTC-PERP-INV``."""
        return f"{self.underlying}-{self._code}{_suffix(self.settlement, self.multiplier)}"

    @property
    def expiry(self) -> None:
        """Spot positions and perpetuals do not expire."""
        return None


@dataclass(frozen=True, slots=True)
class Spot(_Undated):
    """The underlying asset itself, held as a margined position (delta one)."""

    kind: Literal["spot"] = "spot"
    _code: ClassVar[str] = "SPOT"


@dataclass(frozen=True, slots=True)
class Perpetual(_Undated):
    """A perpetual swap on ``underlying``."""

    kind: Literal["perpetual"] = "perpetual"
    _code: ClassVar[str] = "PERP"


@dataclass(frozen=True, slots=True)
class Future:
    """A dated future on ``underlying`` settling at ``expiry`` (aware UTC)."""

    underlying: str
    expiry: datetime
    settlement: Settlement = "linear"
    multiplier: float = 1.0
    kind: Literal["future"] = "future"

    def __post_init__(self) -> None:
        _validate(self)

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

    def __post_init__(self) -> None:
        _validate(self)
        object.__setattr__(self, "strike", real(self.strike, "Option.strike", positive=True))
        choice(self.right, ("call", "put"), "Option.right")

    @property
    def name(self) -> str:
        """Canonical instrument name, e.g. ``BTC-26DEC26-70000-C``."""
        r = "C" if self.right == "call" else "P"
        return (
            f"{self.underlying}-{_fmt_expiry(self.expiry)}-{_fmt_number(self.strike)}-{r}"
            f"{_suffix(self.settlement, self.multiplier)}"
        )


Contract = Spot | Perpetual | Future | Option
