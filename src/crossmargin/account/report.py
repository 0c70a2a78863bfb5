"""Turn account results into plain dictionaries (the JSON contract) and flat tables."""

from __future__ import annotations

from typing import Any

import numpy as np

from crossmargin._checks import account_index, instance
from crossmargin._format import json_number
from crossmargin._time import format_instant
from crossmargin._typing import IntArray
from crossmargin.account.health import STATUSES, AccountResults
from crossmargin.market.fallbacks import MarketWarning
from crossmargin.resolve.book import ResolvedBook
from crossmargin.resolve.terms import KIND_OPTION
from crossmargin.risk.greeks import account_greeks

__all__ = [
    "SUMMARY_FIELDS",
    "account_dict",
    "account_warnings",
    "book_warnings",
    "collateral_rows",
    "greeks_dict",
    "position_rows",
    "summary_table",
]

#: Per-account scalar fields, in output order (also the columns of ``batch`` results).
SUMMARY_FIELDS = (
    "equity",
    "maintenance_equity",
    "account_value",
    "collateral_value",
    "collateral_market_value",
    "unrealized_pnl",
    "initial_margin",
    "maintenance_margin",
    "free_collateral",
    "collateral_required",
    "margin_ratio",
)


def _scenario(res: AccountResults, g: int) -> dict[str, Any] | None:
    b = res.batch
    w = int(b.groups.worst[g])
    if w < 0 or b.scenarios is None or b.scenario_class is None:
        return None
    grid = b.scenarios.grids[int(b.scenario_class[g])]
    out: dict[str, Any] = {
        "index": w,
        "label": grid.label(w),
        "spot_move": float(grid.spot_move[w]),
        "vol_move": grid.vol_name(w),
        "kind": grid.kind[w],
    }
    if b.scenario_pnl is not None:
        out["pnl"] = float(b.scenario_pnl[g, w] * res.book.fx[int(b.groups.account[g])])
    return out


_ORACLE_CODES = {
    "stale": "oracle_stale",
    "deviation": "oracle_deviation",
    "low_confidence": "oracle_low_confidence",
    "low_confidence_zero": "oracle_low_confidence",
}


def book_warnings(
    rb: ResolvedBook, extra: tuple[MarketWarning, ...] = ()
) -> list[tuple[MarketWarning, IntArray]]:
    """Every warning of a resolved book (and ``extra`` ones of a model) with its accounts.

    A warning about an expiry concerns the holders of contracts on that expiry (of the kinds it
    names); an asset-level one (``no_timestamp``) every account trading the asset, holding it as
    collateral or reporting in it; an oracle's the holders of that collateral.
    """
    inst, pos, col, book = rb.instruments, rb.positions, rb.collateral, rb.book
    out: list[tuple[MarketWarning, IntArray]] = []
    if not rb.warnings and not extra and col.oracle is None:
        return out
    by_asset: dict[str, list[int]] = {}
    for j, c in enumerate(inst.contracts):
        by_asset.setdefault(c.underlying, []).append(j)
    for w in (*rb.warnings, *extra):
        rows = [
            j
            for j in by_asset.get(w.asset, [])
            if not w.kinds
            or (
                inst.contracts[j].kind in w.kinds
                and (w.expiry is None or inst.contracts[j].expiry == w.expiry)
            )
        ]
        held = pos.account[np.isin(pos.instrument, np.asarray(rows, dtype=np.int64))]
        if not w.kinds:
            ks = [n for n, a in enumerate(col.assets) if a == w.asset]
            held = np.concatenate([held, col.account[np.isin(col.asset, ks)]])
            base = np.flatnonzero(np.asarray(book.base_currency, dtype=object) == w.asset)
            held = np.concatenate([held, base])
        out.append((w, np.unique(held.astype(np.int64))))
    for k, ov in enumerate(col.oracle or ()):
        if ov is None or ov.status == "ok":
            continue
        sym = col.assets[k]
        w = MarketWarning(
            _ORACLE_CODES.get(ov.status, "oracle_stale"),
            f"oracles.{sym}",
            f"oracle of collateral {sym} ({ov.source}): {ov.reason}; IM haircut {ov.haircut_im:.2%}",
            sym,
        )
        out.append((w, np.unique(col.account[col.asset == k]).astype(np.int64)))
    return out


def account_warnings(res: AccountResults, i: int) -> list[dict[str, Any]]:
    """The warnings of account ``i``: ``[{code, path, message}]`` (empty when none)."""
    return [
        w.as_dict()
        for w, acc in book_warnings(res.book, res.batch.warnings)
        if bool(np.any(acc == i))
    ]


def account_dict(res: AccountResults, i: int, *, positions: bool = False) -> dict[str, Any]:
    """The ``margin --format json`` object of account ``i``.

    Raises
    ------
    InputError
        ``res`` is not an :class:`AccountResults` or ``i`` is not one of its account indices.
    """
    instance(res, AccountResults, "results", "an AccountResults (see compute_margin)")
    i = account_index(i, res.n)
    rb = res.book
    fx = float(rb.fx[i])
    b = res.batch
    gt = b.groups
    breakdown = []
    for g in np.flatnonzero(gt.account == i):
        und = gt.underlyings[int(gt.und[g])]
        breakdown.append(
            {
                "underlying": und,
                "risk_class": rb.config.risk_class_of(und),
                "initial_margin": float(gt.im[g] * fx),
                "maintenance_margin": float(gt.mm[g] * fx),
                "scan_risk": json_number(gt.scan[g] * fx),
                "net_delta": float(gt.delta[g]),
                "delta_notional": float(gt.delta_notional[g] * fx),
                "worst_scenario": _scenario(res, int(g)),
            }
        )
    addons = []
    for rows, k in b.addons_of(i):
        item: dict[str, Any] = {"name": rows.name, "underlying": rows.label[k]}
        if rows.pair:
            item["pair"] = rows.pair
        item["amount"] = float(rows.amount[k] * fx)
        item["description"] = rows.description
        addons.append(item)
    out: dict[str, Any] = {
        "account": rb.book.accounts[i],
        "model": b.model,
        "base_currency": rb.book.base_currency[i],
        "as_of": format_instant(rb.snapshot.as_of),
    }
    for f in SUMMARY_FIELDS:
        out[f] = json_number(getattr(res, f)[i])
    out["status"] = STATUSES[int(res.status_code[i])]
    out["liquidation_scope"] = b.liquidation_scope
    out["breakdown"] = breakdown
    out["addons"] = addons
    out["collateral"] = collateral_rows(res, i)
    out["greeks"] = greeks_dict(rb, i)
    out["warnings"] = account_warnings(res, i)
    if positions:
        out["positions"] = position_rows(res, i)
    return out


def greeks_dict(rb: ResolvedBook, i: int) -> dict[str, Any]:
    """Account ``i``'s Greeks per underlying and in total (base currency; see risk/greeks.py)."""
    g = account_greeks(rb, i)
    fx = float(rb.fx[i])
    rows = [
        {
            "underlying": u,
            "spot": float(g.spot[k]),
            "delta": float(g.delta[k]),
            "delta_cash": float(g.delta_cash[k] * fx),
            "gamma": float(g.gamma[k] * fx),
            "gamma_cash": float(g.gamma_cash[k] * fx),
            "vega": float(g.vega[k] * fx),
            "theta": float(g.theta[k] * fx),
        }
        for k, u in enumerate(g.underlyings)
    ]
    return {
        "per_underlying": rows,
        "account": {
            "delta_cash": float(g.delta_cash.sum() * fx),
            "gamma_cash": float(g.gamma_cash.sum() * fx),
            "vega": float(g.vega.sum() * fx),
            "theta": float(g.theta.sum() * fx),
        },
        "units": "delta in underlying units (cash: x spot); gamma per unit of underlying "
        "squared (cash: change of cash delta for a 1 % move); vega per vol point; theta per "
        "calendar day; money in the account's base currency",
    }


def collateral_rows(res: AccountResults, i: int) -> list[dict[str, Any]]:
    """Collateral balances of account ``i`` with price, haircuts and values (base currency)."""
    col = res.book.collateral
    fx = float(res.book.fx[i])
    rows = []
    for k in np.flatnonzero(col.account == i):
        row: dict[str, Any] = {
            "asset": col.assets[int(col.asset[k])],
            "amount": float(col.amount[k]),
            "price": float(col.price[k] * fx),
            "haircut_im": float(col.haircut_im[k]),
            "haircut_mm": float(col.haircut_mm[k]),
            "market_value": float(col.market_value[k] * fx),
            "value": float(col.value_im[k] * fx),
            "value_mm": float(col.value_mm[k] * fx),
        }
        # dynamic haircut components and oracle valuation (only when they apply)
        if col.detail is not None:
            row["haircut_detail"] = {n: float(v[k]) for n, v in col.detail.items()}
        ov = col.oracle[int(col.asset[k])] if col.oracle is not None else None
        if ov is not None:
            row["oracle"] = ov.as_dict()
        rows.append(row)
    return rows


def position_rows(res: AccountResults, i: int) -> list[dict[str, Any]]:
    """Net positions of account ``i``: quantity, mark, value, delta and standalone requirements."""
    rb = res.book
    pos, inst = rb.positions, rb.instruments
    fx = float(rb.fx[i])
    b = res.batch
    rows = []
    for k in np.flatnonzero(pos.account == i):
        j = int(pos.instrument[k])
        row: dict[str, Any] = {
            "instrument": inst.names[j],
            "quantity": float(pos.quantity[k]),
            "mark": float(inst.quote_price[j]),
            "mark_to_market": float(pos.mtm[k] * fx),
            "notional": float(pos.notional[k] * fx),
            "delta": float(pos.quantity[k] * inst.delta[j]),
            "kind": "option" if inst.kind[j] == KIND_OPTION else inst.contracts[j].kind,
        }
        if inst.kind[j] == KIND_OPTION:
            row["vol"] = float(inst.sigma[j])
        if b.position_im is not None and b.position_mm is not None:
            row["initial_margin"] = float(b.position_im[k] * fx)
            row["maintenance_margin"] = float(b.position_mm[k] * fx)
        rows.append(row)
    return rows


def summary_table(res: AccountResults) -> dict[str, Any]:
    """Columnar per-account summary (for Parquet/CSV/JSON batch output)."""
    cols: dict[str, Any] = {
        "account": list(res.accounts),
        "model": [res.model] * res.n,
        "base_currency": list(res.book.book.base_currency),
    }
    for f in SUMMARY_FIELDS:
        cols[f] = getattr(res, f)
    cols["status"] = np.asarray(STATUSES, dtype=object)[res.status_code]
    # warning codes per account, joined by ';' (vectorised over accounts, a loop over codes)
    masks: dict[str, np.ndarray] = {}
    for w, acc in book_warnings(res.book, res.batch.warnings):
        masks.setdefault(w.code, np.zeros(res.n, np.bool_))[acc] = True
    codes = np.full(res.n, "", dtype=object)
    for code, m in masks.items():
        codes[m] = np.where(codes[m] == "", code, codes[m] + ";" + code)
    cols["warnings"] = codes
    return cols
