"""Number formatting for human-readable output, and numbers for JSON output."""

from __future__ import annotations

import math

__all__ = ["fmt_money", "fmt_num", "fmt_pct", "fmt_short", "json_number"]


def fmt_money(x: float | None) -> str:
    """``1,234,567.89``; ``-`` for None/NaN."""
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:,.2f}"


def fmt_num(x: float | None, digits: int = 4) -> str:
    """Compact number with ``digits`` significant decimals."""
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:,.{digits}f}"


def fmt_pct(x: float | None) -> str:
    """``+12.5%``."""
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x * 100:+.4g}%"


def fmt_short(x: float) -> str:
    """An amount in plain short units for chart axes: ``0``, ``950k``, ``1.5M``, ``2B``."""
    if not math.isfinite(x):
        return "-"
    a = abs(x)
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= scale:
            return f"{x / scale:,.4g}{suffix}"
    return f"{x:,.4g}"


def json_number(x: float | None) -> float | None:
    """``x`` as a plain float for JSON; ``None`` (JSON ``null``) for None, NaN and infinities."""
    return None if x is None or not math.isfinite(x) else float(x)
