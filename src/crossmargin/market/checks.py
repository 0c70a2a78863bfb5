"""Fail-closed market-data checks applied to every asset a book actually uses."""

from __future__ import annotations

from crossmargin._time import format_instant
from crossmargin.config import MarketRules
from crossmargin.errors import MarketDataError
from crossmargin.market.snapshot import MarketSnapshot

__all__ = ["check_asset"]


def check_asset(
    snapshot: MarketSnapshot, symbol: str, rules: MarketRules, *, needed_by: str
) -> None:
    """Refuse a missing, low-confidence, stale or future-dated price of ``symbol``.

    Raises
    ------
    MarketDataError
        Naming ``assets.<symbol>.<field>`` and who needed it.
    """
    if symbol == snapshot.base_currency and symbol not in snapshot.assets:
        return
    a = snapshot.asset(symbol, needed_by=needed_by)
    if a.confidence < rules.min_confidence:
        raise MarketDataError(
            f"confidence {a.confidence:g} is below the minimum {rules.min_confidence:g} "
            f"(needed by {needed_by})",
            path=f"assets.{symbol}.confidence",
        )
    if a.timestamp is not None:
        age = (snapshot.as_of - a.timestamp).total_seconds()
        if age > rules.max_age_seconds:
            raise MarketDataError(
                f"price is stale: observed {format_instant(a.timestamp)}, {age:.0f} s before as_of "
                f"(max {rules.max_age_seconds:g} s; needed by {needed_by})",
                path=f"assets.{symbol}.timestamp",
            )
        if age < 0:
            raise MarketDataError(
                f"price observed {format_instant(a.timestamp)} is after as_of "
                f"{format_instant(snapshot.as_of)}",
                path=f"assets.{symbol}.timestamp",
            )
