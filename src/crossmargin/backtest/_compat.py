"""Hand a point-in-time price history to models that read one from the snapshot.

Models that build scenarios from history (``var``, ``es``) read ``MarketSnapshot.history``
(:mod:`crossmargin.scenarios.history`). The backtest gives each day's snapshot the *cleaned*
history **truncated at that day** — the model cannot see a later close even if it wanted to, and
it sees the same cleaned data as the backtest. When the core has no such field, nothing is
attached.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np

from crossmargin.backtest.history import PriceHistory
from crossmargin.market.snapshot import MarketSnapshot

__all__ = ["SNAPSHOT_HAS_HISTORY", "snapshot_history"]

SNAPSHOT_HAS_HISTORY = "history" in {f.name for f in fields(MarketSnapshot)}


def snapshot_history(hist: PriceHistory | None, day: np.datetime64) -> dict[str, Any]:
    """``{"history": <history up to and including day>}`` for the snapshot, or ``{}``."""
    if hist is None or not SNAPSHOT_HAS_HISTORY:
        return {}
    try:
        from crossmargin.scenarios.history import PriceHistory as ScenarioHistory
    except ImportError:  # pragma: no cover - core without historical scenarios
        return {}
    n = int(np.searchsorted(hist.dates, day, side="right"))
    return {
        "history": ScenarioHistory(
            hist.dates[:n].astype("datetime64[ns]"),
            hist.columns,
            hist.values[:n],
            f"{hist.source} (cleaned, up to {day})",
        )
    }
