"""Instrument names ⇄ contracts.

Grammar (case-insensitive, ``-`` separated)::

    BTC-SPOT                       spot
    BTC-PERP                       perpetual swap
    BTC-26DEC26                    dated future, settles 26 Dec 2026 08:00 UTC
    BTC-26DEC26-70000-C | -P       European call / put, strike 70 000
    ...-INV                        optional: inverse (coin-settled) instead of linear
    ...-X100                       optional: contract multiplier 100 (default 1)

Instruments may also be given as explicit objects (see :func:`contract_from_fields`), which is how
an expiry at another hour or an unusual multiplier is written.

Venue names (Deribit ``BTC-PERPETUAL``, OKX ``BTC-USD-SWAP``, Bybit/Binance ``BTCUSDT``...) carry
the venue's units and are refused with advice (:mod:`crossmargin.instruments.venue_names`): a
venue export is read with the venue's convention by :mod:`crossmargin.io.venues`.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from crossmargin._time import parse_expiry_code, parse_instant
from crossmargin.errors import InputError
from crossmargin.instruments.contracts import (
    Contract,
    Future,
    Option,
    Perpetual,
    Right,
    Settlement,
    Spot,
)
from crossmargin.instruments.venue_names import is_venue_only_name, venue_name_hint

__all__ = ["contract_from_fields", "parse_instrument"]

_UNDERLYING_RE = re.compile(r"^[A-Z0-9][A-Z0-9_.]*$")
_MULT_RE = re.compile(r"^X(\d+(?:\.\d+)?)$")


def _bad(name: str, why: str, path: str) -> InputError:
    return InputError(f"cannot parse instrument {name!r}: {why}", path=path)


def parse_instrument(name: str, *, path: str = "instrument") -> Contract:
    """Parse an instrument name into a contract.

    Parameters
    ----------
    name
        E.g. ``BTC-PERP``, ``ETH-27MAR27``, ``BTC-26DEC26-70000-C``, ``BTC-PERP-INV``.
    path
        Input path used in error messages.

    Returns
    -------
    Contract
        The parsed contract (named expiries settle at 08:00 UTC).

    Raises
    ------
    InputError
        If the name does not follow the grammar in this module's docstring (a venue's own name
        is refused with the convention to pick instead).
    """
    if isinstance(name, str) and is_venue_only_name(name):
        raise _bad(name, venue_name_hint(name) or "a venue's name", path)
    try:
        return _parse(name, path)
    except InputError:
        hint = venue_name_hint(name) if isinstance(name, str) else None
        if hint is None:
            raise
        raise _bad(name, hint, path) from None


def _parse(name: str, path: str) -> Contract:
    if not isinstance(name, str) or not name.strip():
        raise InputError("instrument name must be a non-empty string", path=path)
    parts = name.strip().upper().split("-")
    settlement: Settlement = "linear"
    multiplier = 1.0
    # optional trailing modifiers, in any order
    while len(parts) > 1:
        if parts[-1] == "INV":
            settlement = "inverse"
            parts.pop()
            continue
        mm = _MULT_RE.match(parts[-1])
        if mm:
            multiplier = float(mm.group(1))
            if multiplier <= 0:
                raise _bad(name, "multiplier must be positive", path)
            parts.pop()
            continue
        break
    und = parts[0]
    if not _UNDERLYING_RE.match(und):
        raise _bad(name, f"underlying {und!r} must be letters/digits", path)
    if len(parts) == 2 and parts[1] == "SPOT":
        return Spot(und, settlement, multiplier)
    if len(parts) == 2 and parts[1] == "PERP":
        return Perpetual(und, settlement, multiplier)
    if len(parts) == 2:
        try:
            return Future(und, parse_expiry_code(parts[1]), settlement, multiplier)
        except ValueError as exc:
            raise _bad(name, str(exc), path) from None
    if len(parts) == 4:
        try:
            expiry = parse_expiry_code(parts[1])
        except ValueError as exc:
            raise _bad(name, str(exc), path) from None
        strike = _parse_strike(parts[2])
        if strike is None:
            raise _bad(name, f"strike {parts[2]!r} must be a positive number", path)
        if parts[3] not in ("C", "P", "CALL", "PUT"):
            raise _bad(name, f"option right {parts[3]!r} must be C or P", path)
        right: Right = "call" if parts[3].startswith("C") else "put"
        return Option(und, expiry, strike, right, settlement, multiplier)
    raise _bad(
        name,
        "expected UND-PERP, UND-SPOT, UND-DDMMMYY or UND-DDMMMYY-STRIKE-C|P (optional -INV, -X<mult>)",
        path,
    )


def _parse_strike(text: str) -> float | None:
    # Deribit writes decimal strikes with a 'd' (e.g. 1d5 = 1.5)
    text = text.replace("D", ".")
    try:
        k = float(text)
    except ValueError:
        return None
    if not math.isfinite(k) or k <= 0:
        return None
    return k


_KINDS = {"spot", "future", "perpetual", "perp", "option"}
_FIELDS = {"kind", "underlying", "expiry", "strike", "right", "settlement", "multiplier"}


def contract_from_fields(obj: dict[str, Any], *, path: str = "instrument") -> Contract:
    """Build a contract from an explicit object.

    ``{"kind", "underlying", "expiry", "strike", "right", "settlement", "multiplier"}``; ``kind`` is
    ``spot|future|perpetual|option``; ``expiry`` is an ISO-8601 instant with zone or an expiry code;
    ``right`` is ``call|put`` (or ``C``/``P``); ``settlement`` ``linear`` (default) or ``inverse``;
    ``multiplier`` defaults to 1.

    Raises
    ------
    InputError
        Naming the offending field.
    """
    unknown = set(obj) - _FIELDS
    if unknown:
        raise InputError(
            f"unknown field (allowed: {', '.join(sorted(_FIELDS))})",
            path=f"{path}.{sorted(unknown)[0]}",
        )
    kind = obj.get("kind")
    if not isinstance(kind, str) or kind.lower() not in _KINDS:
        raise InputError("must be one of spot, future, perpetual, option", path=f"{path}.kind")
    kind = kind.lower()
    und = obj.get("underlying")
    if not isinstance(und, str) or not _UNDERLYING_RE.match(und.upper()):
        raise InputError("must be an asset symbol such as BTC", path=f"{path}.underlying")
    und = und.upper()
    settlement = obj.get("settlement", "linear")
    if settlement not in ("linear", "inverse"):
        raise InputError("must be 'linear' or 'inverse'", path=f"{path}.settlement")
    mult = obj.get("multiplier", 1.0)
    if (
        isinstance(mult, bool)
        or not isinstance(mult, int | float)
        or not math.isfinite(mult)
        or mult <= 0
    ):
        raise InputError(
            f"must be a positive finite number, got {mult!r}", path=f"{path}.multiplier"
        )
    mult = float(mult)
    needs_expiry = kind in ("future", "option")
    for field in ("expiry", "strike", "right"):
        present = field in obj and obj[field] is not None
        needed = (field == "expiry" and needs_expiry) or (field != "expiry" and kind == "option")
        if needed and not present:
            raise InputError(f"required for kind {kind!r}", path=f"{path}.{field}")
        if present and not needed:
            raise InputError(f"not allowed for kind {kind!r}", path=f"{path}.{field}")
    if kind == "spot":
        return Spot(und, settlement, mult)
    if kind in ("perpetual", "perp"):
        return Perpetual(und, settlement, mult)
    expiry = _expiry_field(obj["expiry"], f"{path}.expiry")
    if kind == "future":
        return Future(und, expiry, settlement, mult)
    strike = obj["strike"]
    if (
        isinstance(strike, bool)
        or not isinstance(strike, int | float)
        or not math.isfinite(strike)
        or strike <= 0
    ):
        raise InputError(f"must be a positive finite number, got {strike!r}", path=f"{path}.strike")
    right_raw = obj["right"]
    if not isinstance(right_raw, str) or right_raw.lower() not in ("call", "put", "c", "p"):
        raise InputError("must be 'call' or 'put'", path=f"{path}.right")
    right: Right = "call" if right_raw.lower().startswith("c") else "put"
    return Option(und, expiry, float(strike), right, settlement, mult)


def _expiry_field(value: Any, path: str) -> datetime:
    if not isinstance(value, str):
        raise InputError("must be an ISO-8601 instant or an expiry code like 26DEC26", path=path)
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise InputError(str(exc), path=path) from None
