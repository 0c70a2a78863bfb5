"""JSON views of the engine's answers (the library's ``to_obj`` plus what the API adds).

Account lists are sorted, filtered and paged here, on a copy of the engine's columns
(:class:`~crossmargin.live.results.AccountTable`), outside the engine thread.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from crossmargin._format import json_number
from crossmargin.account.health import STATUSES
from crossmargin.live.engine import LiveEngine
from crossmargin.live.results import AccountTable, AccountView, Ack
from crossmargin.service.errors import ApiError

__all__ = [
    "SORT_KEYS",
    "STATUS_FILTERS",
    "ack_obj",
    "margin_obj",
    "page_accounts",
    "status_counts",
    "summary_obj",
    "summary_of",
]

#: Sort keys of ``GET /v1/accounts`` (``-key``: descending).
SORT_KEYS = (
    "margin_ratio",
    "equity",
    "initial_margin",
    "maintenance_margin",
    "free_collateral",
    "account",
    "status",
)
SortKey = Literal[
    "margin_ratio",
    "-margin_ratio",
    "equity",
    "-equity",
    "initial_margin",
    "-initial_margin",
    "maintenance_margin",
    "-maintenance_margin",
    "free_collateral",
    "-free_collateral",
    "account",
    "-account",
    "status",
    "-status",
]
STATUS_FILTERS = (*STATUSES, "frozen")


def summary_of(t: AccountTable, i: int) -> dict[str, Any]:
    """Row ``i`` of the table as an account summary."""
    return summary_obj(t.view(i))


def summary_obj(v: AccountView) -> dict[str, Any]:
    """An account view as an account summary."""
    return {
        "account": v.account,
        "status": v.status,
        "reported_status": v.reported_status,
        "equity": json_number(v.equity),
        "maintenance_equity": json_number(v.maintenance_equity),
        "initial_margin": json_number(v.initial_margin),
        "maintenance_margin": json_number(v.maintenance_margin),
        "free_collateral": json_number(v.equity - v.initial_margin),
        "margin_ratio": v.margin_ratio,
        "frozen": v.frozen,
    }


def margin_obj(v: AccountView, seq: int) -> dict[str, Any]:
    """``GET /v1/accounts/{id}``: the margin JSON plus ``live`` (the last numbers if frozen)."""
    live = {"seq": seq, "reported_status": v.reported_status, "frozen": v.frozen}
    if v.result:
        return {**v.result, "live": live}
    s = summary_obj(v)
    s.pop("reported_status")
    s.pop("frozen")
    return {**s, "live": live}


def ack_obj(a: Ack) -> dict[str, Any]:
    """An acknowledgement (``duplicate``: a repeated client id answered again)."""
    o = a.to_obj()
    o["duplicate"] = bool(a.reason and a.reason.startswith("duplicate (id already applied)"))
    return o


def status_counts(t: AccountTable) -> dict[str, int]:
    """Accounts per status, and how many are frozen."""
    counts = np.bincount(t.status[t.status >= 0], minlength=len(STATUSES))
    out = {name: int(counts[k]) for k, name in enumerate(STATUSES)}
    out["frozen"] = int(t.frozen.sum())
    return out


def _order(t: AccountTable, key: str, descending: bool) -> np.ndarray:
    idx = np.arange(t.n)
    if key == "account":
        order = np.array(sorted(range(t.n), key=t.accounts.__getitem__), dtype=np.int64)
        return order[::-1] if descending else order
    if key == "status":
        values = t.status.astype(np.float64)
        values = np.where(values < 0, -np.inf, values)
        # worst first by default
        descending = not descending
    elif key == "free_collateral":
        values = t.equity - t.initial_margin
    else:
        column = {
            "margin_ratio": t.margin_ratio,
            "equity": t.equity,
            "initial_margin": t.initial_margin,
            "maintenance_margin": t.maintenance_margin,
        }[key]
        values = column.astype(np.float64)
    nan = ~np.isfinite(values)
    v = np.where(nan, 0.0, -values if descending else values)
    # NaN (no ratio: MM = 0) last either way; ties in opening order
    return np.lexsort((idx, v, nan))


def page_accounts(
    t: AccountTable, *, sort: str, status: str | None, offset: int, limit: int
) -> dict[str, Any]:
    """``GET /v1/accounts``: one page of the table."""
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in SORT_KEYS:
        raise ApiError(
            422, f"must be one of {', '.join(SORT_KEYS)} (optionally with -)", path="sort"
        )
    order = _order(t, key, descending)
    if status == "frozen":
        order = order[t.frozen[order]]
    elif status is not None:
        code = STATUSES.index(status)
        order = order[t.status[order] == code]
    rows = order[offset : offset + limit]
    return {
        "seq": t.seq,
        "total": int(order.size),
        "counts": status_counts(t),
        "sort": sort,
        "offset": offset,
        "limit": limit,
        "items": [summary_of(t, int(i)) for i in rows],
    }


def explain_of(engine: LiveEngine, account: str) -> dict[str, Any]:
    """``GET /v1/accounts/{id}/explain`` (run on the engine thread)."""
    return engine.explain(account)
