"""Fail-closed market-data checks applied to every asset a book actually uses.

Time rules (docs/formats.md, "Time rules"): a price's observation time is its asset's
``timestamp``, else the snapshot's ``timestamp``. It must not be after ``as_of`` and not more
than ``market.max_age_seconds`` before it. A price with no observation time is refused unless
``market.require_timestamps`` is false, in which case it is used with a ``no_timestamp`` warning.
The snapshot currency (price 1 by definition) has no age.
"""

from __future__ import annotations

from crossmargin._time import format_instant
from crossmargin.config import MarketRules
from crossmargin.errors import MarketDataError
from crossmargin.market.fallbacks import WARNING_CODES, MarketWarning
from crossmargin.market.snapshot import MarketSnapshot

__all__ = ["check_asset", "fallback", "timestamp_warning"]


def check_asset(
    snapshot: MarketSnapshot, symbol: str, rules: MarketRules, *, needed_by: str
) -> None:
    """Refuse a missing, low-confidence, stale, future-dated or undated price of ``symbol``.

    Raises
    ------
    MarketDataError
        Naming ``assets.<symbol>.<field>`` and who needed it.
    """
    if symbol == snapshot.base_currency:
        if symbol in snapshot.assets:
            snapshot.asset(symbol)  # its price is 1 (checked by the snapshot)
        return
    a = snapshot.asset(symbol, needed_by=needed_by)
    if not a.confidence >= rules.min_confidence:
        raise MarketDataError(
            f"confidence {a.confidence:g} is below the minimum {rules.min_confidence:g} "
            f"(needed by {needed_by})",
            path=f"assets.{symbol}.confidence",
        )
    observed = a.timestamp if a.timestamp is not None else snapshot.timestamp
    path = f"assets.{symbol}.timestamp" if a.timestamp is not None else "timestamp"
    if observed is None:
        if rules.require_timestamps:
            raise MarketDataError(
                f"the price of {symbol} has no observation time (needed by {needed_by}): give "
                f"assets.{symbol}.timestamp or the snapshot's timestamp, or set "
                "market.require_timestamps: false",
                path=f"assets.{symbol}.timestamp",
            )
        return
    age = (snapshot.as_of - observed).total_seconds()
    if age > rules.max_age_seconds:
        raise MarketDataError(
            f"price is stale: observed {format_instant(observed)}, {age:.0f} s before as_of "
            f"(max {rules.max_age_seconds:g} s; needed by {needed_by})",
            path=path,
        )
    if age < 0:
        raise MarketDataError(
            f"price observed {format_instant(observed)} is after as_of "
            f"{format_instant(snapshot.as_of)}",
            path=path,
        )


def timestamp_warning(
    snapshot: MarketSnapshot, symbol: str, rules: MarketRules
) -> MarketWarning | None:
    """The ``no_timestamp`` warning of an undated price accepted by the rules, else ``None``."""
    if symbol == snapshot.base_currency or symbol not in snapshot.assets:
        return None
    if snapshot.assets[symbol].timestamp is not None or snapshot.timestamp is not None:
        return None
    if rules.require_timestamps:
        return None
    return MarketWarning(
        "no_timestamp",
        f"assets.{symbol}.timestamp",
        f"the price of {symbol} has no observation time; its age against as_of "
        f"{format_instant(snapshot.as_of)} is not checked (market.require_timestamps: false)",
        symbol,
    )


def fallback(warning: MarketWarning | None, rules: MarketRules, *, needed_by: str) -> None:
    """Refuse a derived value when the rules say ``fallbacks: error``.

    Raises
    ------
    MarketDataError
        Naming the missing field, when ``warning`` is set and ``rules.fallbacks == "error"``.
    """
    if warning is not None and rules.fallbacks == "error":
        raise MarketDataError(
            f"{warning.message} (needed by {needed_by}; market.fallbacks: error refuses "
            f"{warning.code}: {WARNING_CODES[warning.code]})",
            path=warning.path,
        )
