"""The same book under several models: what netting frees, measured like for like.

Collateral required per model (base currency):

* isolated: ``Σ_i max(0, IM_i − uPnL_i)`` (each position funds itself, the venue's flat rule);
* cross: ``max(0, Σ IM_i − Σ uPnL_i)``;
* portfolio, var, es, presets: ``max(0, IM − Σ uPnL_i)``.

``capital_freed_vs_isolated`` = isolated − model: it mixes two things, the model's risk
measure and netting, and is negative where a flat isolated rate is cheaper than a risk model
(a 5 % rule under-margins a 2-day crypto move). So every model also reports its
**positions alone** — the same model margining every position of the account as an account
of its own (:mod:`crossmargin.margin.netting`) — and ``capital_freed_by_netting``, the
difference on the requirement net of the size-driven and collateral add-ons (which grow with
size on purpose and are shown apart): ``Σ_p max(0, IM_p − apart_p − uPnL_p) −
max(0, IM − apart − Σ uPnL_p)``. Netting never costs, so this is never negative. Where the
isolated rule is cheaper than a model, ``notes`` says so and why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from crossmargin._checks import account_index, instance
from crossmargin._format import json_number
from crossmargin._time import format_instant
from crossmargin.account.health import STATUSES, AccountResults
from crossmargin.account.report import account_warnings
from crossmargin.errors import InputError
from crossmargin.margin.base import get_model
from crossmargin.margin.netting import apart_by_account, positions_alone
from crossmargin.resolve.book import ResolvedBook, resolve

__all__ = ["comparison_dict"]


def _alone(r: AccountResults, i: int) -> dict[str, float]:
    """Account ``i``'s positions margined alone by ``r``'s model (module docstring)."""
    rb: ResolvedBook = r.book
    book, _ = positions_alone(rb, np.asarray([i], np.int64))
    fx = float(rb.fx[i])
    if book.n_accounts == 0:
        return {"initial_margin": 0.0, "apart": 0.0, "required_ex_apart": 0.0}
    arb = resolve(book, rb.snapshot, rb.config)
    b = get_model(r.batch.model, rb.config).compute(arb)
    apart = apart_by_account(b, book.n_accounts)
    upnl = np.bincount(
        arb.positions.account, weights=arb.positions.mtm, minlength=book.n_accounts
    ).astype(np.float64)
    req = np.maximum(b.im - apart - upnl, 0.0)
    return {
        "initial_margin": fx * float(b.im.sum()),
        "apart": fx * float(apart.sum()),
        "required_ex_apart": fx * float(req.sum()),
    }


def _flat_rule_note(name: str, iso: float, model: float, alone: float, gross: float) -> str:
    return (
        f"isolated (the venue's flat per-position rule, {iso / gross:.1%} of gross notional) "
        f"needs less collateral than {name} for this account: {name} charges the positions "
        f"alone {alone / gross:.1%} of gross notional, a 2-day tail move the flat rate does not "
        f"cover; against that like-for-like baseline netting under {name} frees "
        f"{alone - model:,.0f}"
    )


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
    notes: list[str] = []
    pos_i = rb.positions.account == i
    gross = float(rb.fx[i]) * float(rb.positions.notional[pos_i].sum())
    for name, r in results.items():
        req = float(r.collateral_required[i])
        alone = _alone(r, i)
        apart = float(rb.fx[i]) * float(apart_by_account(r.batch, r.n)[i])
        req_ex = max(0.0, req - apart)  # the model's own collateral rule, add-ons apart
        freed = alone["required_ex_apart"] - req_ex
        if name != "isolated" and iso is not None and req > base_req + 0.005 and gross > 0:
            notes.append(_flat_rule_note(name, base_req, req_ex, alone["required_ex_apart"], gross))
        models[name] = {
            "initial_margin": float(r.initial_margin[i]),
            "maintenance_margin": float(r.maintenance_margin[i]),
            "collateral_required": req,
            "capital_freed_vs_isolated": json_number(base_req - req),
            "positions_alone": {
                "initial_margin": alone["initial_margin"],
                "collateral_required": alone["required_ex_apart"],
                "size_and_collateral_addons": alone["apart"],
            },
            "size_and_collateral_addons": apart,
            "capital_freed_by_netting": max(freed, 0.0) if freed > -0.005 else freed,
            "equity": float(r.equity[i]),
            "free_collateral": float(r.free_collateral[i]),
            "margin_ratio": json_number(float(r.margin_ratio[i])),
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
        "gross_notional": gross,
        "unavailable": dict(unavailable or {}),
        "notes": notes,
        "warnings": list(
            {
                (w["code"], w["path"]): w for r in results.values() for w in account_warnings(r, i)
            }.values()
        ),
    }
