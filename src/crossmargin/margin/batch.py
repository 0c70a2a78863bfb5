"""Assembling a :class:`~crossmargin.margin.result.MarginBatch`: written once for every model.

A model computes, per (account, underlying) group, its requirements, deltas and whatever
explains them; :func:`assemble_batch` turns that into the batch every consumer reads — the
per-account sums (plus any account-level requirement), the equity the model lets count, the
group table and the scenario detail. :func:`group_labels` names each group's underlying (the
label of a per-group add-on). Models whose accounts are not the sum of their groups (a currency-level worst case,
a venue's signed surplus) pass ``totals``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from crossmargin._arrays import sum_by
from crossmargin._typing import FloatArray, IntArray
from crossmargin.margin.result import AddOnRows, GroupTable, MarginBatch
from crossmargin.market.fallbacks import MarketWarning
from crossmargin.resolve.book import ResolvedBook
from crossmargin.scenarios.grid import ScenarioSet

__all__ = ["assemble_batch", "group_labels"]


def group_labels(underlyings: Sequence[str], und: IntArray) -> tuple[str, ...]:
    """The underlying name of each group (by array indexing, no Python loop over groups)."""
    if len(underlyings) == 0 or und.size == 0:
        return ()
    return tuple(np.asarray(underlyings, dtype=object)[np.asarray(und, np.int64)].tolist())


def assemble_batch(
    model: str,
    book: ResolvedBook,
    *,
    account: IntArray,
    und: IntArray,
    im: FloatArray,
    mm: FloatArray,
    delta: FloatArray,
    delta_notional: FloatArray,
    scan: FloatArray | None = None,
    worst: IntArray | None = None,
    underlyings: tuple[str, ...] | None = None,
    addons: Sequence[AddOnRows] = (),
    account_im: FloatArray | float = 0.0,
    account_mm: FloatArray | float = 0.0,
    totals: tuple[FloatArray, FloatArray] | None = None,
    upnl: tuple[FloatArray, FloatArray] | None = None,
    scenarios: ScenarioSet | None = None,
    scenario_pnl: FloatArray | None = None,
    scenario_class: IntArray | None = None,
    liquidation_scope: Literal["position", "account"] = "account",
    position_im: FloatArray | None = None,
    position_mm: FloatArray | None = None,
    explain_extra: Callable[[int, float], dict[str, Any]] | None = None,
    warnings: tuple[MarketWarning, ...] = (),
) -> MarginBatch:
    """The batch of ``book`` under ``model`` from its per-group results.

    Parameters
    ----------
    account, und
        Account and underlying index of each group.
    im, mm
        Requirement of each group (after its add-ons and credits).
    delta, delta_notional
        Net delta of each group, in underlying units and in the snapshot currency.
    scan, worst
        Each group's scan risk (NaN: the model has none) and worst scenario (−1: none).
    underlyings
        Names indexed by ``und`` (default: the book's underlyings; a venue may group by
        something else, e.g. underlying and settlement currency).
    addons
        Add-on and credit rows (informational: already in ``im``/``mm`` or ``account_*``).
    account_im, account_mm
        Requirements of each account on top of its groups' sum (e.g. borrowing).
    totals
        Each account's IM and MM, replacing the groups' sum (and ``account_*``).
    upnl
        The mark-to-market each account may count towards IM and MM equity; default all of it.
    scenarios, scenario_pnl, scenario_class
        The scenario set, each group's scenario P&L (``None`` unless detail was asked) and each
        group's row of the set.
    warnings
        Fallbacks the model itself used (e.g. the bundled price history), beyond the book's.
    """
    n_acc = book.n_accounts
    G = int(account.shape[0])
    if totals is None:
        totals = (sum_by(account, im, n_acc) + account_im, sum_by(account, mm, n_acc) + account_mm)
    if upnl is None:
        mtm = sum_by(book.positions.account, book.positions.mtm, n_acc)
        upnl = (mtm, mtm)
    return MarginBatch(
        model=model,
        liquidation_scope=liquidation_scope,
        im=totals[0],
        mm=totals[1],
        upnl_im=upnl[0],
        upnl_mm=upnl[1],
        groups=GroupTable(
            account=account,
            und=und,
            underlyings=book.instruments.underlyings if underlyings is None else underlyings,
            im=im,
            mm=mm,
            scan=np.full(G, np.nan) if scan is None else scan,
            worst=np.full(G, -1, np.int64) if worst is None else worst,
            delta=delta,
            delta_notional=delta_notional,
        ),
        addons=tuple(addons),
        position_im=position_im,
        position_mm=position_mm,
        scenarios=scenarios,
        scenario_pnl=scenario_pnl,
        scenario_class=scenario_class,
        explain_extra=explain_extra,
        warnings=warnings,
    )
