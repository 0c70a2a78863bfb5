"""The VaR/ES scenario set of a resolved book: which assets, which history, which method.

* core assets: the underlyings of the book's live contracts (each needs a price history);
* auxiliary assets: the book's collateral assets that the history has (for wrong-way checks);
* stablecoins with a configured depeg price that the book trades or holds as collateral
  (and that the snapshot prices) get a depeg scenario.

The history is the snapshot's (``--history FILE``, or the bundled closes the loaders attach);
a snapshot without one is refused.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import partial

import numpy as np

from crossmargin.resolve.book import ResolvedBook
from crossmargin.scenarios.freshness import history_freshness
from crossmargin.scenarios.historical import historical_scenarios
from crossmargin.scenarios.joint import JointScenarioSet
from crossmargin.scenarios.montecarlo import montecarlo_scenarios

__all__ = ["book_scenarios"]


def book_scenarios(
    book: ResolvedBook,
    core: Sequence[str],
    *,
    with_collateral: bool,
    floor: bool = False,
    collateral: Collection[str] | None = None,
) -> JointScenarioSet:
    """Scenario set of the configured method for ``core`` (plus collateral and depeg moves).

    ``floor=True`` builds the anti-procyclicality floor set: plain HS over ``apc_floor_years``
    without the stress segment. ``collateral``: the collateral assets whose moves and depeg
    scenarios count (default: every asset the book holds) — the margin models pass those of
    the accounts being margined, so that an account's scenarios never depend on other accounts.
    """
    cfg = book.config
    vc = cfg.var
    snap = book.snapshot
    hist = snap.require_history(needed_by=f"{', '.join(core)} scenarios")
    for a in core:  # a missing column is named before a stale history
        hist.column(a, needed_by="var/es scenarios")
    history_freshness(hist, core, snap.as_of, vc)  # refuses a stale history unless opted in
    col = book.collateral
    held_idx = np.flatnonzero(np.bincount(col.asset, minlength=len(col.assets)))  # sorted, unique
    if collateral is not None:
        want = set(collateral)
        held_idx = np.asarray([a for a in held_idx.tolist() if col.assets[a] in want], np.int64)
    held = {col.assets[int(a)] for a in held_idx}
    if col.oracle is not None:  # oracle-valued tokens move with their underlying
        held |= {o.underlying for k, o in enumerate(col.oracle) if o is not None and k in held_idx}
    aux = sorted(held) if with_collateral else []
    coins = {c: snap.price(c) for c in vc.depeg if (c in core or c in held) and snap.has_price(c)}
    if vc.method == "mc" and not floor:
        return montecarlo_scenarios(
            hist, core, as_of=snap.as_of, cfg=vc, risk_class_of=cfg.risk_class_of,
            stable_prices=coins,
        )  # fmt: skip
    hs = partial(historical_scenarios, hist, core, as_of=snap.as_of, cfg=vc)
    if floor:
        return hs(
            risk_class_of=cfg.risk_class_of,
            method="hs",
            lookback_days=vc.apc_floor_years * 365.25,
            with_stress=False,
        )
    return hs(risk_class_of=cfg.risk_class_of, aux=aux, stable_prices=coins)
