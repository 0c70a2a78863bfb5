"""The freshness policy of price history: a model that needs history refuses a stale one.

A scenario set built on history that ends long before ``as_of`` margins today's book on
yesterday's market and says nothing — the quiet failure a margin engine must not have. For every
asset a model takes from the history, the last observation at or before ``as_of`` must be at most
``var.max_history_age_days`` calendar days old (default 7: a long weekend plus a holiday for an
exchange-traded index). Beyond that the model refuses with
:class:`~crossmargin.errors.MarketDataError` (exit code 2 on the command line) naming the asset,
the last date, ``as_of`` and the limit — unless the user opts in explicitly
(``var.allow_stale_history: true``, or ``--allow-stale-history`` on the command line), and then
every result carries a ``history_stale`` warning naming the same dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from crossmargin.config.model import VarConfig
from crossmargin.errors import MarketDataError
from crossmargin.market.fallbacks import MarketWarning
from crossmargin.market.history import PriceHistory

__all__ = ["history_freshness"]

_OPT_IN = "--allow-stale-history or var.allow_stale_history: true"


def _day(t: np.datetime64) -> str:
    return str(np.datetime_as_string(t, unit="D"))


def history_freshness(
    history: PriceHistory, assets: Sequence[str], as_of: datetime, cfg: VarConfig
) -> tuple[MarketWarning, ...]:
    """Check that the history of ``assets`` is current at ``as_of`` (module docstring).

    Assets the history lacks are left to the scenario builder (which names them).

    Returns
    -------
    tuple of MarketWarning
        ``history_stale`` per stale asset, when the user opted in.

    Raises
    ------
    MarketDataError
        A stale asset without the opt-in (``path`` = ``history.<asset>``).
    """
    limit = cfg.max_history_age_days
    if limit is None:
        return ()
    naive = as_of.astimezone(UTC).replace(tzinfo=None) if as_of.tzinfo is not None else as_of
    until = np.datetime64(naive, "ns")
    upto = history.times <= until
    out: list[MarketWarning] = []
    for a in dict.fromkeys(assets):
        if not history.has(a):
            continue
        seen = np.flatnonzero(upto & np.isfinite(history.column(a)))
        if seen.size == 0:
            continue
        last = history.times[seen[-1]]
        age = float((until - last) / np.timedelta64(1, "D"))
        if age <= limit:
            continue
        what = (
            f"price history of {a} ends {_day(last)}, {age:.0f} days before as_of "
            f"{_day(until)} (limit var.max_history_age_days {limit:g})"
        )
        if not cfg.allow_stale_history:
            raise MarketDataError(
                f"{what}; give a current history (--history FILE) or accept the stale one "
                f"explicitly ({_OPT_IN})",
                path=f"history.{a}",
            )
        out.append(
            MarketWarning(
                "history_stale", f"history.{a}", f"{what}; used because the user opted in", a
            )
        )
    return tuple(out)
