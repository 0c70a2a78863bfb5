"""Time conventions: UTC instants, expiry codes and year fractions.

There is no global clock in crossmargin: the market snapshot's ``as_of`` is the only "now".
Year fraction = seconds / (365 × 86 400) (ACT/365F on instants), as in Derive's PMRM_2 and
Deribit's DTE-based vol shocks.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from crossmargin.errors import InputError

SECONDS_PER_YEAR = 365.0 * 86_400.0
SECONDS_PER_DAY = 86_400.0
#: Named expiries (``26DEC26``) settle at this hour, UTC (Deribit, Derive, OKX convention).
EXPIRY_HOUR_UTC = 8

#: Instants crossmargin accepts: 1900-01-01 (inclusive) to 2200-01-01 (exclusive), UTC. Outside
#: this range date arithmetic (time zones, numpy ``datetime64[ns]``) overflows, and no market
#: snapshot, expiry or price is meaningful there.
MIN_INSTANT = datetime(1900, 1, 1, tzinfo=UTC)
MAX_INSTANT = datetime(2200, 1, 1, tzinfo=UTC)
_RANGE = "1900-01-01T00:00:00Z to 2199-12-31T23:59:59Z"

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    )
}
_MONTH_NAMES = {v: k for k, v in _MONTHS.items()}
_CODE_RE = re.compile(r"^(\d{1,2})([A-Z]{3})(\d{2})$")


def parse_expiry_code(code: str) -> datetime:
    """Parse a venue expiry code such as ``26DEC26`` into its settlement instant.

    Parameters
    ----------
    code
        ``D[D]MMMYY``, case-insensitive.

    Returns
    -------
    datetime
        The expiry at 08:00 UTC on that date.

    Raises
    ------
    ValueError
        If the code is malformed or names an impossible date.
    """
    m = _CODE_RE.match(code.upper())
    if m is None:
        raise ValueError(f"expiry code {code!r} is not of the form 26DEC26")
    day, mon, yy = int(m.group(1)), m.group(2), int(m.group(3))
    if mon not in _MONTHS:
        raise ValueError(f"unknown month {mon!r} in expiry code {code!r}")
    try:
        return datetime(2000 + yy, _MONTHS[mon], day, EXPIRY_HOUR_UTC, tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"expiry code {code!r} is not a calendar date") from exc


def format_expiry_code(expiry: datetime) -> str:
    """Format an instant as a venue expiry code (``26DEC26``); the hour is not encoded."""
    return f"{expiry.day}{_MONTH_NAMES[expiry.month]}{expiry.year % 100:02d}"


def is_named_expiry(expiry: datetime) -> bool:
    """Return whether ``expiry`` is exactly representable by an expiry code (08:00:00 UTC)."""
    return (
        expiry.hour == EXPIRY_HOUR_UTC
        and expiry.minute == 0
        and expiry.second == 0
        and expiry.microsecond == 0
    )


def parse_instant(text: str) -> datetime:
    """Parse an ISO-8601 instant or an expiry code into an aware UTC datetime.

    A naive timestamp is rejected: margin depends on the time to expiry, and a guessed time zone
    could silently change it. Instants outside :data:`MIN_INSTANT` … :data:`MAX_INSTANT` are
    rejected too.

    Raises
    ------
    ValueError
        If the text is neither an ISO-8601 instant with a zone nor an expiry code, or is out of
        range.
    """
    if not isinstance(text, str):
        raise ValueError(f"must be an ISO-8601 instant string, got {type(text).__name__}")
    text = text.strip()
    if len(text) > 64:
        raise ValueError(f"{text[:24]!r}… is not an ISO-8601 instant (too long)")
    if _CODE_RE.match(text.upper()):
        return parse_expiry_code(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise ValueError(
            f"{text!r} is not an ISO-8601 instant (e.g. 2026-11-22T08:00:00Z)"
        ) from exc
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{text!r} has no time zone; write it in UTC, e.g. 2026-11-22T08:00:00Z")
    return _in_range(dt, text)


def _in_range(dt: datetime, shown: str) -> datetime:
    try:
        out = dt.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError(f"{shown!r} is outside the supported range {_RANGE}") from None
    if not MIN_INSTANT <= out < MAX_INSTANT:
        raise ValueError(f"{shown!r} is outside the supported range {_RANGE}")
    return out


def ensure_utc(dt: datetime) -> datetime:
    """Return ``dt`` as an aware UTC datetime; naive or out-of-range datetimes are rejected.

    Raises
    ------
    ValueError
        Naive, out of range, or not a datetime.
    """
    if not isinstance(dt, datetime):
        raise ValueError(f"must be a datetime, got {type(dt).__name__}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("datetime must be time-zone aware (e.g. datetime(..., tzinfo=UTC))")
    return _in_range(dt, dt.isoformat())


def aware_instant(dt: object, *, path: str) -> datetime:
    """:func:`ensure_utc` for public constructors: an :class:`InputError` naming ``path``."""
    try:
        return ensure_utc(dt)  # type: ignore[arg-type]
    except ValueError as exc:
        raise InputError(str(exc), path=path) from None


def format_instant(dt: datetime) -> str:
    """Format an instant as ``YYYY-MM-DDTHH:MM:SSZ`` (microseconds kept if present)."""
    dt = dt.astimezone(UTC)
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        base += f".{dt.microsecond:06d}"
    return base + "Z"


def year_fraction(start: datetime, end: datetime) -> float:
    """Years from ``start`` to ``end`` as seconds / (365 × 86 400); negative if ``end`` is earlier."""
    return (end - start).total_seconds() / SECONDS_PER_YEAR


def days_between(start: datetime, end: datetime) -> float:
    """Calendar days (fractional) from ``start`` to ``end``."""
    return (end - start) / timedelta(days=1)
