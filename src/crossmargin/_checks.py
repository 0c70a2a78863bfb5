"""Argument checks shared by the public constructors and the file schemas (one rule each).

Numbers are real numbers (``bool`` and ``str`` are not: ``True`` is not 1 and ``'5'`` is not 5),
finite, and within the field's range; symbols follow one documented rule. The ``*_value``
functions raise :class:`ValueError` with the bare reason (pydantic turns it into a field error
at the file edge); the others raise :class:`~crossmargin.errors.InputError` naming ``path``
(public constructors).

Symbol rule (underlyings, collateral assets, currencies, snapshot asset keys): 1 to 32
characters from ``A-Z 0-9 _ .``, starting with a letter or digit and containing at least one
letter; case-insensitive (stored upper-case). ``-`` is the instrument-name separator and is
therefore never part of a symbol.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Collection
from typing import Any

from crossmargin.errors import InputError

__all__ = [
    "MAX_SYMBOL_CHARS",
    "account_index",
    "choice",
    "instance",
    "number_value",
    "real",
    "real_or_none",
    "sequence_of",
    "symbol",
    "symbol_value",
]

MAX_SYMBOL_CHARS = 32
_SYMBOL_RE = re.compile(r"^[A-Z0-9][A-Z0-9_.]{0,31}$")
_LETTER_RE = re.compile(r"[A-Z]")


def _show(x: float) -> str:
    return "NaN" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def number_value(
    v: Any,
    *,
    positive: bool = False,
    non_negative: bool = False,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
) -> float:
    """``v`` as a finite float within range; :class:`ValueError` with the reason otherwise.

    Accepts Python and NumPy integers and floats; refuses ``bool``, strings and anything else.
    """
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise ValueError(f"must be a number, got {type(v).__name__} {v!r}"[:120])
    try:
        x = float(v)
    except (OverflowError, ValueError):
        raise ValueError("must be a finite number, got an integer too large for a float") from None
    if not math.isfinite(x):
        raise ValueError(f"must be finite, got {_show(x)}")
    if positive and x <= 0:
        raise ValueError(f"must be positive, got {x!r}")
    if non_negative and x < 0:
        raise ValueError(f"must be non-negative, got {x!r}")
    if lo is not None and (x <= lo if lo_open else x < lo):
        raise ValueError(f"must be {'>' if lo_open else '>='} {lo:g}, got {x!r}")
    if hi is not None and x > hi:
        raise ValueError(f"must be <= {hi:g}, got {x!r}")
    return x


def real(v: Any, path: str, **bounds: Any) -> float:
    """:func:`number_value` (same keyword bounds) raising :class:`InputError` naming ``path``."""
    try:
        return number_value(v, **bounds)
    except ValueError as exc:
        raise InputError(str(exc), path=path) from None


def real_or_none(v: Any, path: str, **kw: Any) -> float | None:
    """:func:`real`, letting ``None`` through."""
    return None if v is None else real(v, path, **kw)


def symbol_value(v: Any) -> str:
    """``v`` as an upper-case symbol (module docstring); :class:`ValueError` otherwise."""
    if not isinstance(v, str):
        raise ValueError(f"must be a symbol string, got {type(v).__name__}")
    s = v.strip().upper()
    if not _SYMBOL_RE.match(s) or not _LETTER_RE.search(s):
        raise ValueError(
            f"{v[:40]!r} is not a symbol (1-{MAX_SYMBOL_CHARS} letters, digits, '_' or '.', "
            "starting with a letter or digit, with at least one letter)"
        )
    return s


def symbol(v: Any, path: str) -> str:
    """:func:`symbol_value` raising :class:`InputError` naming ``path``."""
    try:
        return symbol_value(v)
    except ValueError as exc:
        raise InputError(str(exc), path=path) from None


def choice(v: Any, options: Collection[str], path: str) -> str:
    """``v`` if it is one of ``options``; :class:`InputError` naming ``path`` otherwise."""
    if not isinstance(v, str) or v not in options:
        raise InputError(
            f"must be one of {', '.join(repr(o) for o in options)}, got {v!r}"[:160], path=path
        )
    return v


def instance(v: Any, kind: type | tuple[type, ...], path: str, what: str) -> Any:
    """``v`` if it is an instance of ``kind``; :class:`InputError` naming ``path`` otherwise."""
    if not isinstance(v, kind):
        raise InputError(f"must be {what}, got {type(v).__name__}", path=path)
    return v


def sequence_of(v: Any, kind: type | tuple[type, ...], path: str, what: str) -> tuple[Any, ...]:
    """``v`` as a tuple whose items are all ``kind`` (a str or a mapping is not a sequence)."""
    from collections.abc import Iterable, Mapping

    if isinstance(v, str | bytes | Mapping) or not isinstance(v, Iterable):
        raise InputError(f"must be a sequence of {what}, got {type(v).__name__}", path=path)
    out = tuple(v)
    for i, x in enumerate(out):
        if not isinstance(x, kind):
            raise InputError(f"must be {what}, got {type(x).__name__}", path=f"{path}[{i}]")
    return out


def account_index(i: Any, n: int, path: str = "account") -> int:
    """``i`` as an account index in ``[0, n)`` (no negative indexing, no ``bool``)."""
    if isinstance(i, bool) or not isinstance(i, numbers.Integral):
        raise InputError(f"account index must be an integer, got {type(i).__name__}", path=path)
    if not 0 <= int(i) < n:
        raise InputError(f"account index {int(i)} is out of range (0 to {n - 1})", path=path)
    return int(i)
