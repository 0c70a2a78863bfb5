"""Number formatting for human-readable output."""

from __future__ import annotations

import math

__all__ = ["fmt_money", "fmt_num", "fmt_pct"]


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
