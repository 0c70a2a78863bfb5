"""What a margin model returns: per-account requirements plus the tables that explain them.

Everything is columnar (arrays over accounts, groups or positions) so that one result serves a
single account and a 100 000-account venue alike. Amounts are in the snapshot currency; the
account layer (:mod:`crossmargin.account`) converts them to each account's base currency.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from crossmargin._arrays import Rows
from crossmargin._typing import FloatArray, IntArray
from crossmargin.market.fallbacks import MarketWarning
from crossmargin.scenarios.grid import ScenarioSet

__all__ = ["AddOnRows", "GroupTable", "MarginBatch"]


@dataclass(frozen=True, slots=True, eq=False)
class GroupTable(Rows):
    """Per (account, underlying) breakdown.

    Attributes
    ----------
    account, und
        Account index and underlying index (into ``underlyings``).
    underlyings
        Underlying names.
    im, mm
        Requirement of the group (after add-ons and credits).
    scan
        Scan risk (worst scenario loss, ≥ 0); NaN for models without scenarios.
    worst
        Index of the worst scenario in the group's grid; −1 if none.
    delta
        Net delta in underlying units.
    delta_notional
        Net delta × spot, in the snapshot currency.
    """

    account: IntArray
    und: IntArray
    underlyings: tuple[str, ...]
    im: FloatArray
    mm: FloatArray
    scan: FloatArray
    worst: IntArray
    delta: FloatArray
    delta_notional: FloatArray


@dataclass(frozen=True, slots=True, eq=False)
class AddOnRows:
    """One kind of add-on (or credit, negative) for many groups/accounts.

    ``label`` names what the amount is attached to (an underlying, or a pair ``BTC/ETH``).
    """

    name: str
    account: IntArray
    label: tuple[str, ...]
    amount: FloatArray
    description: str = ""
    pair: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class MarginBatch:
    """Margin requirements of every account of a resolved book under one model.

    Attributes
    ----------
    model
        Model name.
    liquidation_scope
        ``"position"`` (isolated: each position stands alone) or ``"account"`` (the whole book).
    im, mm
        Initial and maintenance requirement per account.
    upnl_im, upnl_mm
        The mark-to-market each account may count towards equity under this model (cross and
        portfolio: all of it; isolated: each position's only up to its own requirement).
    groups
        Breakdown per (account, underlying).
    addons
        Add-ons and credits.
    position_im, position_mm
        Per net position requirements (models that have them), else ``None``.
    scenarios, scenario_pnl
        The scenario set and each group's scenario P&L (kept when ``detail=True``).
    explain_extra
        Model-specific explain sections of account ``i`` with amounts times ``fx``
        (``explain_extra(i, fx)``; models over joint scenarios, kept when ``detail=True``).
    warnings
        Fallbacks the model used (e.g. a stale or bundled price history), reported to the
        accounts trading each warning's asset.
    """

    model: str
    liquidation_scope: Literal["position", "account"]
    im: FloatArray
    mm: FloatArray
    upnl_im: FloatArray
    upnl_mm: FloatArray
    groups: GroupTable
    addons: tuple[AddOnRows, ...] = ()
    position_im: FloatArray | None = None
    position_mm: FloatArray | None = None
    scenarios: ScenarioSet | None = None
    scenario_pnl: FloatArray | None = None
    scenario_class: IntArray | None = None
    explain_extra: Callable[[int, float], dict[str, Any]] | None = None
    warnings: tuple[MarketWarning, ...] = ()

    def addons_of(self, account: int) -> list[tuple[AddOnRows, int]]:
        """``(rows, i)`` of every non-zero add-on row of one account."""
        out: list[tuple[AddOnRows, int]] = []
        for rows in self.addons:
            # amounts below a billionth of a currency unit are rounding dust, not add-ons
            for i in np.flatnonzero((rows.account == account) & (np.abs(rows.amount) > 1e-9)):
                out.append((rows, int(i)))
        return out
