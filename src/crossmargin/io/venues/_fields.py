"""Reading one field of a venue export: numbers as JSON numbers or strings, ms timestamps.

Venues disagree on how a number travels: Deribit sends JSON numbers, OKX, Bybit and Binance
send strings (``"97010.5"``) and write "not applicable" as ``""``. Every value is read here,
once, into a :class:`~decimal.Decimal` (exact: ``-20 × 0.01`` is ``-0.2``, not
``-0.2000000000000000111``), and every refusal names the file and the field::

    error: okx_positions.json:data[3].pos: must be a number, got 'abc'

Refused: booleans, garbage strings, NaN and infinities (also the ``NaN`` token Python's JSON
reader accepts), and — for timestamps — anything outside 2009-01-01 … 2100-01-01 in
milliseconds (a value in seconds is named as such).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from crossmargin.errors import InputError

__all__ = ["Fields", "decimal_of", "ms_to_instant"]

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
#: Milliseconds accepted as a venue time: 2009-01-01 … 2100-01-01.
_MIN_MS, _MAX_MS = 1_230_768_000_000, 4_102_444_800_000


#: Largest magnitude accepted (a larger "number" is garbage, and overflows a float).
_MAX_ABS = Decimal("1e30")


def decimal_of(v: Any, path: str) -> Decimal:
    """A finite number from a JSON number or a numeric string.

    Raises
    ------
    InputError
        Naming ``path``: not a number, a boolean, NaN, infinite or beyond ±1e30.
    """
    d = _decimal(v, path)
    if abs(d) > _MAX_ABS:
        raise InputError(f"{v!r} is out of range (|x| > 1e30)", path=path)
    return d


def _decimal(v: Any, path: str) -> Decimal:
    if isinstance(v, bool) or v is None:
        raise InputError(f"must be a number, got {'null' if v is None else v}", path=path)
    if isinstance(v, int):
        return Decimal(v)
    if isinstance(v, Decimal):
        if not v.is_finite():
            raise InputError(f"must be a finite number, got {v}", path=path)
        return v
    if isinstance(v, float):
        if not math.isfinite(v):
            raise InputError(f"must be a finite number, got {v!r}", path=path)
        return Decimal(repr(v))
    if isinstance(v, str):
        text = v.strip()
        if _NUMBER.match(text):
            try:
                return Decimal(text)
            except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
                pass
        low = text.lower().lstrip("+-")
        if low in ("nan", "inf", "infinity"):
            raise InputError(f"must be a finite number, got {v!r}", path=path)
        raise InputError(f"must be a number, got {v[:40]!r}", path=path)
    raise InputError(f"must be a number, got {type(v).__name__}", path=path)


def ms_to_instant(v: Any, path: str) -> datetime:
    """A millisecond Unix timestamp (number or digit string) → aware UTC instant.

    Raises
    ------
    InputError
        Not an integer, or outside 2009 … 2100 (a value in seconds is recognised and named).
    """
    d = decimal_of(v, path)
    if d != d.to_integral_value():
        raise InputError(f"must be whole milliseconds, got {v!r}", path=path)
    ms = int(d)
    if not _MIN_MS <= ms <= _MAX_MS:
        hint = (
            " — this looks like seconds; venue timestamps are milliseconds"
            if _MIN_MS // 1000 <= ms <= _MAX_MS // 1000
            else ""
        )
        raise InputError(
            f"timestamp {ms} is out of range for milliseconds (2009-01-01 … 2100-01-01){hint}",
            path=path,
        )
    return datetime.fromtimestamp(ms / 1000.0, tz=UTC)


class Fields:
    """One JSON object of an export, with its path (``file:data[3]``) for messages."""

    __slots__ = ("obj", "path")

    def __init__(self, obj: Any, path: str) -> None:
        if not isinstance(obj, Mapping):
            raise InputError(f"must be a JSON object, got {type(obj).__name__}", path=path)
        self.obj: Mapping[str, Any] = obj
        self.path = path

    def at(self, key: str) -> str:
        """Path of ``key``."""
        return f"{self.path}{key}" if self.path.endswith(":") else f"{self.path}.{key}"

    def present(self, key: str) -> bool:
        """Whether ``key`` holds a value (not absent, ``null`` or ``""``)."""
        v = self.obj.get(key)
        return v is not None and v != ""

    def _raw(self, key: str, required: bool) -> Any:
        if key not in self.obj or self.obj[key] is None:
            if required:
                raise InputError("required field is missing", path=self.at(key))
            return None
        v = self.obj[key]
        if v == "":
            if required:
                raise InputError("required field is empty", path=self.at(key))
            return None
        return v

    def dec(self, key: str, *, required: bool = True) -> Decimal | None:
        """The field as an exact decimal (``""``/absent → ``None`` unless required)."""
        v = self._raw(key, required)
        return None if v is None else decimal_of(v, self.at(key))

    def need(self, key: str) -> Decimal:
        """A required decimal."""
        d = self.dec(key)
        assert d is not None
        return d

    def num(self, key: str, *, required: bool = True) -> float | None:
        """The field as a float."""
        d = self.dec(key, required=required)
        return None if d is None else float(d)

    def positive(self, key: str, *, required: bool = True) -> Decimal | None:
        """A decimal that must be > 0."""
        d = self.dec(key, required=required)
        if d is not None and d <= 0:
            raise InputError(f"must be positive, got {self.obj[key]!r}", path=self.at(key))
        return d

    def text(
        self, key: str, *, required: bool = True, choices: Sequence[str] | None = None
    ) -> str | None:
        """A string field (optionally one of ``choices``)."""
        v = self._raw(key, required)
        if v is None:
            return None
        if not isinstance(v, str):
            raise InputError(f"must be a string, got {v!r}", path=self.at(key))
        if choices is not None and v not in choices:
            raise InputError(
                f"unknown value {v!r} (expected one of {', '.join(map(repr, choices))})",
                path=self.at(key),
            )
        return v

    def name(self, key: str) -> str:
        """A required non-empty string."""
        v = self.text(key)
        assert v is not None
        return v

    def ms(self, key: str, *, required: bool = True) -> datetime | None:
        """A millisecond timestamp."""
        v = self._raw(key, required)
        return None if v is None else ms_to_instant(v, self.at(key))

    def flag(self, key: str) -> bool | None:
        """An optional JSON boolean."""
        v = self.obj.get(key)
        if v is None or v == "":
            return None
        if not isinstance(v, bool):
            raise InputError(f"must be true or false, got {v!r}", path=self.at(key))
        return v

    def sub(self, key: str) -> Fields:
        """A nested object."""
        return Fields(self._raw(key, True), self.at(key))

    def rows(self, key: str) -> Iterator[Fields]:
        """The objects of a nested list."""
        v = self._raw(key, True)
        if not isinstance(v, list):
            raise InputError("must be a list", path=self.at(key))
        for i, x in enumerate(v):
            yield Fields(x, f"{self.at(key)}[{i}]")
