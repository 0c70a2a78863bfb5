"""Isolated vs cross vs portfolio for the same book: how much capital cross-margining frees.

Collateral required per model (base currency):

* isolated: ``Σ_i max(0, IM_i − uPnL_i)`` (each position funds itself);
* cross: ``max(0, Σ IM_i − Σ uPnL_i)``;
* portfolio: ``max(0, IM_pm − Σ uPnL_i)``;

capital freed = collateral required under isolated − under the model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from crossmargin._checks import account_index, instance
from crossmargin._time import format_instant
from crossmargin.account.health import STATUSES, AccountResults
from crossmargin.account.report import account_warnings
from crossmargin.errors import InputError

__all__ = ["comparison_dict"]


def _f(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def comparison_dict(
    results: Mapping[str, AccountResults], i: int, *, unavailable: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Side-by-side figures of account ``i`` under each model.

    ``unavailable`` lists default models that could not be computed for the book, with why.
    """
    if not isinstance(results, Mapping) or not results:
        raise InputError(
            "results must be a non-empty mapping of model name -> AccountResults", path="results"
        )
    for name, r in results.items():
        instance(r, AccountResults, f"results.{name}", "an AccountResults (see compare)")
    first = next(iter(results.values()))
    i = account_index(i, first.n)
    rb = first.book
    iso = results.get("isolated")
    base_req = float(iso.collateral_required[i]) if iso is not None else math.nan
    models: dict[str, Any] = {}
    for name, r in results.items():
        req = float(r.collateral_required[i])
        models[name] = {
            "initial_margin": float(r.initial_margin[i]),
            "maintenance_margin": float(r.maintenance_margin[i]),
            "collateral_required": req,
            "capital_freed_vs_isolated": _f(base_req - req),
            "equity": float(r.equity[i]),
            "free_collateral": float(r.free_collateral[i]),
            "margin_ratio": _f(float(r.margin_ratio[i])),
            "status": STATUSES[int(r.status_code[i])],
            "liquidation_scope": r.batch.liquidation_scope,
        }
    return {
        "account": rb.book.accounts[i],
        "base_currency": rb.book.base_currency[i],
        "as_of": format_instant(rb.snapshot.as_of),
        "collateral_value": float(first.collateral_value[i]),
        "unrealized_pnl": float(first.unrealized_pnl[i]),
        "models": models,
        "unavailable": dict(unavailable or {}),
        "warnings": list(
            {
                (w["code"], w["path"]): w for r in results.values() for w in account_warnings(r, i)
            }.values()
        ),
    }
