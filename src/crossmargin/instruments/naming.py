"""Instrument names ⇄ contracts.

Grammar (case-insensitive, ``-`` separated, at most 128 characters, no inner blanks)::

    BTC-SPOT                       spot
    BTC-PERP                       perpetual swap
    BTC-26DEC26                    dated future, settles 26 Dec 2026 08:00 UTC
    BTC-26DEC26-70000-C | -P       European call / put, strike 70 000
    ...-INV                        optional: inverse (coin-settled) instead of linear
    ...-X100                       optional: contract multiplier 100 (default 1)

* underlying: a symbol — 1 to 32 of ``A-Z 0-9 _ .``, starting with a letter or digit, with at
  least one letter (``-PERP``, ``.-PERP`` or ``123-PERP`` are refused);
* strike: up to 15 digits with an optional decimal part of up to 15 digits written ``.`` or
  Deribit's ``d`` (``1d5`` = 1.5), positive (no sign, exponent, ``_`` or hex);
* multiplier: ``X`` and a positive decimal number of the same form;
* each suffix at most once (``-INV-INV`` is refused).

Instruments may also be given as explicit objects (see :func:`contract_from_fields`), which is how
an expiry at another hour or an unusual multiplier is written.

Venue names (Deribit ``BTC-PERPETUAL``, OKX ``BTC-USD-SWAP``, Bybit/Binance ``BTCUSDT``...) carry
the venue's units and are refused with advice (:mod:`crossmargin.instruments.venue_names`): a
venue export is read with the venue's convention by :mod:`crossmargin.io.venues`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, cast

from crossmargin._checks import symbol_value
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

_MULT_RE = re.compile(r"^X(\d{1,15}(?:\.\d{1,15})?)$")
_STRIKE_RE = re.compile(r"^\d{1,15}(?:[.D]\d{1,15})?$")
MAX_NAME_CHARS = 128


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
    if len(name) > MAX_NAME_CHARS:
        raise _bad(name[:40] + "…", f"longer than {MAX_NAME_CHARS} characters", path)
    parts = name.strip().upper().split("-")
    settlement: Settlement = "linear"
    multiplier = 1.0
    seen: set[str] = set()
    # optional trailing modifiers, in any order, each at most once
    while len(parts) > 1:
        mod = "INV" if parts[-1] == "INV" else ("X" if _MULT_RE.match(parts[-1]) else "")
        if not mod:
            break
        if mod in seen:
            raise _bad(name, f"suffix -{parts[-1]} is given twice", path)
        seen.add(mod)
        if mod == "INV":
            settlement = "inverse"
        else:
            mm = _MULT_RE.match(parts[-1])
            assert mm is not None
            multiplier = float(mm.group(1))
            if multiplier <= 0:
                raise _bad(name, "multiplier must be positive", path)
        parts.pop()
    try:
        und = symbol_value(parts[0])
    except ValueError as exc:
        raise _bad(name, f"underlying {exc}", path) from None
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
            raise _bad(name, f"strike {parts[2]!r} must be a positive decimal number", path)
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
    if not _STRIKE_RE.match(text):
        return None
    k = float(text.replace("D", "."))
    return k if k > 0 else None


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
    if not isinstance(obj, dict):
        raise InputError(
            f"an instrument object must be a mapping of fields, got {type(obj).__name__}", path=path
        )
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
    needs_expiry = kind in ("future", "option")
    for field in ("expiry", "strike", "right"):
        present = field in obj and obj[field] is not None
        needed = (field == "expiry" and needs_expiry) or (field != "expiry" and kind == "option")
        if needed and not present:
            raise InputError(f"required for kind {kind!r}", path=f"{path}.{field}")
        if present and not needed:
            raise InputError(f"not allowed for kind {kind!r}", path=f"{path}.{field}")
    und = obj.get("underlying")
    try:
        und = symbol_value(und)
    except ValueError as exc:
        raise InputError(
            f"must be an asset symbol such as BTC: {exc}", path=f"{path}.underlying"
        ) from None
    settlement = obj.get("settlement", "linear")
    mult = obj.get("multiplier", 1.0)
    right = obj.get("right")
    if isinstance(right, str) and right.lower() in ("call", "put", "c", "p"):
        right = "call" if right.lower().startswith("c") else "put"
    elif kind == "option":
        raise InputError("must be 'call' or 'put'", path=f"{path}.right")
    expiry = _expiry_field(obj["expiry"], f"{path}.expiry") if needs_expiry else None
    try:
        if kind == "spot":
            return Spot(und, settlement, mult)
        if kind in ("perpetual", "perp"):
            return Perpetual(und, settlement, mult)
        assert expiry is not None
        if kind == "future":
            return Future(und, expiry, settlement, mult)
        return Option(und, expiry, obj["strike"], cast(Right, right), settlement, mult)
    except InputError as exc:  # e.g. Option.strike -> <path>.strike
        field = exc.path.partition(".")[2] or "instrument"
        raise InputError(exc.reason, path=f"{path}.{field}") from None


def _expiry_field(value: Any, path: str) -> datetime:
    if not isinstance(value, str):
        raise InputError("must be an ISO-8601 instant or an expiry code like 26DEC26", path=path)
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise InputError(str(exc), path=path) from None
