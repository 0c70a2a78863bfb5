"""The ``isolated`` and ``cross`` models: per-position rules, different collateral sharing.

* ``isolated``: every position is margined alone and owns its collateral; its unrealised P&L only
  offsets its own requirement. Collateral required ``Σ max(0, IM_i − uPnL_i)``; equity counts each
  position's mark-to-market only up to its own requirement: ``equity = C + Σ min(uPnL_i, IM_i)``
  (so ``equity ≥ IM ⇔ C ≥ Σ max(0, IM_i − uPnL_i)`` exactly; MM likewise with ``MM_i``).
  Liquidation scope: the position.
* ``cross`` (standard cross margin): the same per-position requirements summed, collateral
  pooled, winners' unrealised P&L offsets losers account-wide: ``equity = C + Σ uPnL_i``.
  Liquidation scope: the whole account.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from crossmargin._arrays import sum_by
from crossmargin.margin.base import ModelVariant
from crossmargin.margin.batch import assemble_batch, group_labels
from crossmargin.margin.result import AddOnRows, MarginBatch
from crossmargin.margin.rules import position_requirements
from crossmargin.resolve.book import ResolvedBook
from crossmargin.risk.aggregate import group_positions, group_sum

__all__ = ["CROSS", "ISOLATED", "PerPositionMargin"]


def _per_position_batch(name: str, book: ResolvedBook, *, isolated: bool) -> MarginBatch:
    inst, pos = book.instruments, book.positions
    n_acc = book.n_accounts
    im_i, mm_i = position_requirements(pos, inst, book.config)
    groups = group_positions(pos, inst)
    delta_units = pos.quantity * inst.delta[pos.instrument]
    addons: tuple[AddOnRows, ...] = ()
    upnl = None
    if isolated:
        upnl = (
            sum_by(pos.account, np.minimum(pos.mtm, im_i), n_acc),
            sum_by(pos.account, np.minimum(pos.mtm, mm_i), n_acc),
        )
        addons = (
            AddOnRows(
                name="isolated_pnl_not_shared",
                account=groups.account,
                label=group_labels(inst.underlyings, groups.und),
                amount=group_sum(groups, np.maximum(pos.mtm - im_i, 0.0)),
                description="unrealised P&L above each position's own IM, not available to others",
            ),
        )
    return assemble_batch(
        name,
        book,
        account=groups.account,
        und=groups.und,
        im=group_sum(groups, im_i),
        mm=group_sum(groups, mm_i),
        delta=group_sum(groups, delta_units),
        delta_notional=group_sum(groups, delta_units * inst.spot[pos.instrument]),
        addons=addons,
        totals=(sum_by(pos.account, im_i, n_acc), sum_by(pos.account, mm_i, n_acc)),
        upnl=upnl,
        liquidation_scope="position" if isolated else "account",
        position_im=im_i,
        position_mm=mm_i,
    )


@dataclass(frozen=True, slots=True)
class PerPositionMargin(ModelVariant):
    """Per-position requirements, ``isolated`` or ``cross`` (see module docstring)."""

    ABOUT: ClassVar[Mapping[str, tuple[str, str]]] = {
        "isolated": (
            "each position margined alone; collateral and P&L not shared",
            "Deribit standard margin (options); progressive notional tiers (linear)",
        ),
        "cross": (
            "per-position requirements summed; collateral and P&L pooled",
            "Deribit/Binance standard cross margin",
        ),
    }

    name: Literal["isolated", "cross"]

    def compute(self, book: ResolvedBook, *, detail: bool = False) -> MarginBatch:
        """See module docstring."""
        return _per_position_batch(self.name, book, isolated=self.name == "isolated")


ISOLATED = PerPositionMargin.info("isolated")
CROSS = PerPositionMargin.info("cross")
