"""``explain``: one margin number broken down along the path it travelled.

collateral (haircuts) → positions (marks, deltas, standalone requirements) → scenario P&L per
underlying with the worst cell → add-ons and credits → requirement per underlying → account
health. The JSON form is :func:`explain_dict`; the CLI renders the same dictionary as tables.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from crossmargin._format import fmt_money
from crossmargin.account.health import AccountResults
from crossmargin.account.report import account_dict

__all__ = ["explain_dict"]


def _scenarios(res: AccountResults, i: int) -> list[dict[str, Any]]:
    b = res.batch
    if b.scenario_pnl is None or b.scenarios is None or b.scenario_class is None:
        return []
    fx = float(res.book.fx[i])
    out = []
    gt = b.groups
    for g in np.flatnonzero(gt.account == i):
        grid = b.scenarios.grids[int(b.scenario_class[g])]
        w = int(gt.worst[g])
        cells = [
            {
                "index": j,
                "spot_move": float(grid.spot_move[j]),
                "vol_move": grid.vol_name(j),
                "kind": grid.kind[j],
                "weight": float(grid.weight[j]),
                "pnl": float(b.scenario_pnl[g, j] * fx),
                "worst": j == w,
            }
            for j in range(grid.size)
            if grid.kind[j] != "pad"
        ]
        out.append({"underlying": gt.underlyings[int(gt.und[g])], "cells": cells})
    return out


def _derivation(d: dict[str, Any], model_lines: list[str] | None = None) -> list[str]:
    lines = list(model_lines or [])
    by_und: dict[str, dict[str, float]] = {}
    for a in d["addons"]:
        by_und.setdefault(a["underlying"], {}).setdefault(a["name"], 0.0)
        by_und[a["underlying"]][a["name"]] += a["amount"]
    for row in d["breakdown"] if model_lines is None else ():
        u = row["underlying"]
        add = by_und.get(u, {})
        if row["scan_risk"] is not None:
            parts = [f"scan {fmt_money(row['scan_risk'])}"]
            for name in ("basis", "delta_shock", "inter_commodity_credit", "short_option_minimum"):
                if name in add:
                    parts.append(f"{name} {fmt_money(add[name])}")
            lines.append(f"{u}: IM {fmt_money(row['initial_margin'])} = " + " + ".join(parts))
        else:
            lines.append(f"{u}: IM {fmt_money(row['initial_margin'])} = sum of per-position IM")
    lines.append(
        f"IM = {fmt_money(d['initial_margin'])}; MM = {fmt_money(d['maintenance_margin'])}"
    )
    lines.append(
        f"equity {fmt_money(d['equity'])} vs IM {fmt_money(d['initial_margin'])} → "
        f"free collateral {fmt_money(d['free_collateral'])}; status {d['status']}"
    )
    return lines


def explain_dict(res: AccountResults, i: int) -> dict[str, Any]:
    """The full breakdown of account ``i``: margin fields plus positions, scenarios, derivation."""
    d = account_dict(res, i, positions=True)  # validates res and i
    d["scenarios"] = _scenarios(res, i)
    extra = res.batch.explain_extra
    if extra is None:
        d["derivation"] = _derivation(d)
        return d
    # models over joint scenarios (var, es): their own sections and derivation lines
    d["model_detail"] = extra(i, float(res.book.fx[i]))
    d["derivation"] = _derivation(d, d["model_detail"].pop("derivation", []))
    return d
