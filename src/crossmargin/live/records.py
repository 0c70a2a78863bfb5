"""The input records of the live engine: market updates and account updates.

Every record is a frozen, slotted dataclass validated at construction: a record that exists is
valid, whoever built it (a tick-file reader, the HTTP service, a test, journal recovery). A bad
field raises :class:`~crossmargin.errors.InputError` naming it (``price``,
``vols.2026-12-26T08:00:00Z.smile.strikes[2]``); the parsers prefix the input's location
(``ticks.jsonl:12:price``).

Rules (fail closed — never a smaller margin from a bad number):

* numbers are real ``int``/``float`` values (``true`` and ``"5"`` are not numbers), finite, with
  magnitude at most :data:`MAX_MAGNITUDE`; prices, forwards, vols and amounts are positive;
  a trade quantity is non-zero; vols are at most :data:`MAX_VOL`;
* confidences are in [0, 1] (NaN refused);
* times are aware datetimes (stored in UTC) between :data:`MIN_INSTANT` and :data:`MAX_INSTANT`;
* feeds, accounts and ids are non-empty strings of at most :data:`MAX_TEXT` characters;
  asset symbols are ``[A-Za-z0-9][A-Za-z0-9_.]*`` and stored upper-case (as in portfolio files);
* vol surfaces are :class:`~crossmargin.market.vol.FlatVol`, ``SmileVol`` (positive, strictly
  increasing strikes, one positive vol each) or ``SVIVol`` (Gatheral's raw SVI with
  ``b ≥ 0``, ``|ρ| < 1``, ``σ > 0`` and a non-negative minimum total variance); the asset-level
  vol (key ``None``) is flat.

The JSON object form of the records is :mod:`crossmargin.live.codec`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any, TypeAlias

from crossmargin._time import MAX_INSTANT, MIN_INSTANT, aware_instant, format_instant
from crossmargin.errors import InputError
from crossmargin.instruments.contracts import Contract
from crossmargin.instruments.naming import parse_instrument
from crossmargin.instruments.position import Portfolio
from crossmargin.market.snapshot import OracleRecord
from crossmargin.market.vol import FlatVol, SmileVol, SVIVol

__all__ = [
    "MAX_INSTANT",
    "MAX_MAGNITUDE",
    "MAX_SEQ",
    "MAX_TEXT",
    "MAX_VOL",
    "MIN_INSTANT",
    "AccountUpdate",
    "Deposit",
    "MarketUpdate",
    "NewAccount",
    "Trade",
    "Transfer",
    "Update",
    "VolSurfaceIn",
    "Withdrawal",
    "check_surface",
    "contract_named",
    "iso",
]

#: Largest accepted magnitude of a price, amount or quantity: no real one is larger, and the
#: product of two stays far from overflow.
MAX_MAGNITUDE = 1e15
#: Largest accepted implied vol (10 = 1 000 %; ``55`` written for 55 % is a unit error).
MAX_VOL = 10.0
#: Longest feed name, account, instrument, id or oracle source, in characters.
MAX_TEXT = 256
#: Largest sequence number (int64).
MAX_SEQ = 2**63 - 1

_SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.]*$")

#: The vol surfaces a market update may carry.
VolSurfaceIn: TypeAlias = FlatVol | SmileVol | SVIVol


# -- field checks (each raises InputError naming the field) -----------------------------------------
def _real(
    v: Any,
    path: str,
    *,
    positive: bool = False,
    nonzero: bool = False,
    hi: float = MAX_MAGNITUDE,
) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        shown = "null" if v is None else f"{type(v).__name__} {str(v)[:40]!r}"
        raise InputError(f"must be a number, got {shown}", path=path)
    try:
        x = float(v)
    except OverflowError:
        raise InputError(
            f"must be at most {hi:g} in magnitude, got a huge integer", path=path
        ) from None
    if math.isnan(x):
        raise InputError("must be a finite number, got NaN", path=path)
    if math.isinf(x):
        raise InputError(f"must be a finite number, got {'inf' if x > 0 else '-inf'}", path=path)
    if positive and x <= 0:
        raise InputError(f"must be positive, got {x!r}", path=path)
    if nonzero and x == 0:
        raise InputError("must not be zero", path=path)
    if abs(x) > hi:
        raise InputError(f"must be at most {hi:g} in magnitude, got {x:g}", path=path)
    return x


def _opt_real(v: Any, path: str, **kw: Any) -> float | None:
    return None if v is None else _real(v, path, **kw)


def _unit(v: Any, path: str) -> float:
    x = _real(v, path)
    if not 0.0 <= x <= 1.0:
        raise InputError(f"must be between 0 and 1, got {x!r}", path=path)
    return x


def _instant(v: Any, path: str) -> datetime:
    """An aware instant in range, in UTC (the project's one time rule, ``_time``)."""
    if isinstance(v, datetime) and v.tzinfo is UTC and MIN_INSTANT <= v < MAX_INSTANT:
        return v  # already normalised (a record read back, a decoded time): the fast path
    return aware_instant(v, path=path)


@lru_cache(maxsize=4096)
def contract_named(name: str) -> Contract:
    """The contract of an instrument name (cached: a venue trades few names many times).

    Raises
    ------
    InputError
        The name does not parse (never cached).
    """
    return parse_instrument(name, path="instrument")


def iso(t: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` of a UTC instant (``format_instant``, fast path).

    Record times are normalised to UTC at construction, so their ISO form ends in ``+00:00``.
    """
    s = t.isoformat()
    return s[:-6] + "Z" if s.endswith("+00:00") else format_instant(t)


def _text(v: Any, path: str) -> str:
    if not isinstance(v, str):
        raise InputError(f"must be a string, got {type(v).__name__}", path=path)
    if not v.strip():
        raise InputError("must not be empty", path=path)
    if len(v) > MAX_TEXT:
        raise InputError(f"longer than {MAX_TEXT} characters", path=path)
    if not v.isprintable():
        raise InputError("contains control characters", path=path)
    return v


def _opt_text(v: Any, path: str) -> str | None:
    return None if v is None else _text(v, path)


def _symbol(v: Any, path: str) -> str:
    s = _text(v, path)
    if not _SYMBOL.match(s):
        raise InputError(f"{s[:40]!r} is not an asset symbol (letters, digits, _ and .)", path=path)
    return s.upper()


def _seq(v: Any, path: str) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise InputError(f"must be an integer or null, got {type(v).__name__}", path=path)
    if not 0 <= v <= MAX_SEQ:
        raise InputError(f"must be between 0 and 2^63-1, got {v}", path=path)
    return v


def _label(t: object) -> str:
    """An expiry key as written in error paths (a naive datetime as it is: no zone guessed)."""
    if isinstance(t, datetime) and t.tzinfo is not None and t.utcoffset() is not None:
        try:
            return format_instant(t)
        except (OverflowError, ValueError):
            return t.isoformat()
    return t.isoformat() if isinstance(t, datetime) else str(t)[:40]


def check_surface(s: Any, path: str) -> VolSurfaceIn:
    """Check that ``s`` is a vol surface a market update may carry.

    The surfaces validate their own parameters at construction
    (:mod:`crossmargin.market.vol`: positive vols of at most ``MAX_VOL``, strictly increasing
    strikes, SVI without negative variance); here only the kind, and an SVI fit's own ``t``
    (at most 1 000 years).

    Raises
    ------
    InputError
        Naming the offending parameter under ``path``.
    """
    if isinstance(s, FlatVol | SmileVol):
        return s
    if isinstance(s, SVIVol):
        _opt_real(s.t, f"{path}.svi.t", positive=True, hi=1000.0)
        return s
    raise InputError(
        f"must be a flat vol, a smile or an SVI surface, got {type(s).__name__}", path=path
    )


def _oracle(o: Any, path: str) -> OracleRecord:
    if not isinstance(o, OracleRecord):
        raise InputError(f"must be an oracle record, got {type(o).__name__}", path=path)
    return OracleRecord(
        value=_real(o.value, f"{path}.value", positive=True),
        timestamp=_instant(o.timestamp, f"{path}.timestamp"),
        confidence=_unit(o.confidence, f"{path}.confidence"),
        source=_text(o.source, f"{path}.source"),
        reference=_opt_real(o.reference, f"{path}.reference", positive=True),
    )


_EMPTY: Mapping[Any, Any] = MappingProxyType({})


def _forwards(m: object) -> Mapping[datetime, float]:
    if not isinstance(m, Mapping):
        raise InputError("must be a mapping of expiry to forward", path="forwards")
    if not m:
        return _EMPTY
    fwd: dict[datetime, float] = {}
    for t, f in m.items():
        where = f"forwards.{_label(t)}"
        key = _instant(t, where)
        if key in fwd:
            raise InputError("expiry given twice", path=where)
        fwd[key] = _real(f, where, positive=True)
    return MappingProxyType(dict(sorted(fwd.items())))


def _vols(m: object) -> Mapping[datetime | None, VolSurfaceIn]:
    if not isinstance(m, Mapping):
        raise InputError("must be a mapping of expiry to vol surface", path="vols")
    if not m:
        return _EMPTY
    vols: dict[datetime | None, VolSurfaceIn] = {}
    for exp, surf in m.items():
        where = "vol" if exp is None else f"vols.{_label(exp)}"
        vkey = None if exp is None else _instant(exp, where)
        if vkey in vols:
            raise InputError("expiry given twice", path=where)
        vols[vkey] = check_surface(surf, where)
        if vkey is None and not isinstance(surf, FlatVol):
            raise InputError("the asset-level vol is one number (a flat vol)", path=where)
    ordered = sorted(vols.items(), key=lambda kv: (kv[0] is not None, kv[0] or MIN_INSTANT))
    return MappingProxyType(dict(ordered))


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


# -- the records -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MarketUpdate:
    """One tick of one asset from one feed; fields left ``None`` (or empty) are unchanged.

    Attributes
    ----------
    feed
        Feed id, e.g. ``"pyth"``, ``"deribit-index"``, ``"replay"``.
    seq
        Per-feed sequence number, consecutive (``None``: the feed has none; then only the
        source times are checked for order, see :class:`~crossmargin.live.sequence.FeedSequencer`).
    time
        Source timestamp of the values (Pyth ``publish_time``), aware UTC.
    asset
        Underlying or collateral symbol (stored upper-case).
    price
        Spot / index price in the snapshot currency.
    confidence
        Confidence of ``price`` in [0, 1] (Pyth: ``1 − conf/price``); only with ``price``;
        ``None``: 1.
    perp_mark
        Mark price of the asset's perpetual.
    forwards
        Expiry → forward price.
    vols
        Expiry → vol surface; the key ``None`` is the asset-level (flat) vol.
    oracle
        Oracle record of an oracle-valued collateral symbol (``asset``).
    """

    feed: str
    seq: int | None
    time: datetime
    asset: str
    price: float | None = None
    confidence: float | None = None
    perp_mark: float | None = None
    forwards: Mapping[datetime, float] = field(default_factory=dict)
    vols: Mapping[datetime | None, VolSurfaceIn] = field(default_factory=dict)
    oracle: OracleRecord | None = None

    def __post_init__(self) -> None:
        _set(self, "feed", _text(self.feed, "feed"))
        _set(self, "seq", _seq(self.seq, "seq"))
        _set(self, "time", _instant(self.time, "time"))
        _set(self, "asset", _symbol(self.asset, "asset"))
        _set(self, "price", _opt_real(self.price, "price", positive=True))
        if self.confidence is not None:
            _set(self, "confidence", _unit(self.confidence, "confidence"))
            if self.price is None:
                raise InputError(
                    "is the confidence of a price: give it with price", path="confidence"
                )
        _set(self, "perp_mark", _opt_real(self.perp_mark, "perp_mark", positive=True))
        _set(self, "forwards", _forwards(self.forwards))
        _set(self, "vols", _vols(self.vols))
        if self.oracle is not None:
            _set(self, "oracle", _oracle(self.oracle, "oracle"))
        if (
            self.price is None
            and self.perp_mark is None
            and not self.forwards
            and not self.vols
            and self.oracle is None
        ):
            raise InputError(
                "a market update needs at least one of price, perp_mark, forwards, vol(s), oracle",
                path="asset",
            )


@dataclass(frozen=True, slots=True)
class Trade:
    """An executed trade of one account.

    Attributes
    ----------
    account
        Account id.
    instrument
        Instrument name in crossmargin's naming (``BTC-PERP``, ``BTC-27MAR20-6000-P``).
    quantity
        Signed quantity (sell < 0), non-zero.
    price
        Execution price in the instrument's quote (an option: premium per unit).
    time
        Execution time, aware UTC.
    id
        Client id; the idempotency key when given.
    """

    account: str
    instrument: str
    quantity: float
    price: float
    time: datetime
    id: str | None = None

    def __post_init__(self) -> None:
        _set(self, "account", _text(self.account, "account"))
        contract_named(_text(self.instrument, "instrument"))
        _set(self, "quantity", _real(self.quantity, "quantity", nonzero=True))
        _set(self, "price", _real(self.price, "price", positive=True))
        _set(self, "time", _instant(self.time, "time"))
        _set(self, "id", _opt_text(self.id, "id"))

    @property
    def contract(self) -> Contract:
        """The traded contract (parsed from :attr:`instrument`)."""
        return contract_named(self.instrument)


@dataclass(frozen=True, slots=True)
class Transfer:
    """Collateral moved into or out of an account: ``amount > 0`` of ``asset``.

    Attributes
    ----------
    account
        Account id.
    asset
        Collateral symbol (stored upper-case).
    amount
        Amount moved, positive.
    time
        When, aware UTC.
    id
        Client id; the idempotency key when given.
    """

    account: str
    asset: str
    amount: float
    time: datetime
    id: str | None = None

    def __post_init__(self) -> None:
        _set(self, "account", _text(self.account, "account"))
        _set(self, "asset", _symbol(self.asset, "asset"))
        _set(self, "amount", _real(self.amount, "amount", positive=True))
        _set(self, "time", _instant(self.time, "time"))
        _set(self, "id", _opt_text(self.id, "id"))


@dataclass(frozen=True, slots=True)
class Deposit(Transfer):
    """Collateral paid into an account (:class:`Transfer`)."""


@dataclass(frozen=True, slots=True)
class Withdrawal(Transfer):
    """Collateral taken out of an account (:class:`Transfer`)."""


@dataclass(frozen=True, slots=True)
class NewAccount:
    """An account opened with its balances and positions (the CLI's portfolio JSON)."""

    portfolio: Portfolio
    time: datetime

    def __post_init__(self) -> None:
        p = self.portfolio
        if not isinstance(p, Portfolio):
            raise InputError(f"must be a Portfolio, got {type(p).__name__}", path="portfolio")
        _text(p.account, "account")
        _symbol(p.base_currency, "base_currency")
        for sym, amount in p.collateral.items():
            _symbol(sym, f"collateral.{sym}")
            _real(amount, f"collateral.{sym}")
        for i, pos in enumerate(p.positions):
            _real(pos.quantity, f"positions[{i}].quantity")
            _opt_real(pos.entry_price, f"positions[{i}].entry_price", positive=True)
        _set(self, "time", _instant(self.time, "time"))


AccountUpdate: TypeAlias = Trade | Deposit | Withdrawal | NewAccount
Update: TypeAlias = MarketUpdate | AccountUpdate
