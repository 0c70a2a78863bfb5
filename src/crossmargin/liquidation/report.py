"""JSON contracts of ``liquidate`` and ``cascade`` (plain dictionaries, base currencies)."""

from __future__ import annotations

from typing import Any

import numpy as np

from crossmargin._format import json_number
from crossmargin.account.health import STATUSES
from crossmargin.account.report import account_dict
from crossmargin.liquidation.cascade import CascadeResult
from crossmargin.liquidation.ledger import EVENT_KINDS, PARTY_NAMES
from crossmargin.liquidation.run import LiquidationRun

__all__ = [
    "COMPARISON_LINES",
    "cascade_dict",
    "comparison_rows",
    "liquidation_dict",
    "plan_dict",
    "venue_dict",
]


def _party(code: int, accounts: tuple[str, ...]) -> str:
    return accounts[code] if code >= 0 else PARTY_NAMES.get(code, "")


def plan_dict(run: LiquidationRun, i: int) -> dict[str, Any]:
    """The plan for account ``i``: what was closed, at what price and cost, and the waterfall."""
    out = run.result
    st = run.state
    rb = run.before.book
    fx = float(rb.fx[i])
    names = rb.instruments.names
    res0 = run.before
    liquidated = bool(np.any(out.triggered == i))
    u_sel = np.flatnonzero(out.units.account == i)
    scope = (
        "none"
        if u_sel.size == 0
        else ("position" if bool(out.units.position_scope[u_sel].all()) else "account")
    )
    mark_of = {int(j): float(rb.instruments.quote_price[j]) for j in np.unique(out.row_instrument)}
    closes = []
    for k in np.flatnonzero(out.row_account == i):
        j = int(out.row_instrument[k])
        pos_q = float(out.row_quantity[k])
        mkt = float(out.row_market[k])
        adl = float(out.row_adl[k])
        if mkt == 0.0 and adl == 0.0:
            continue
        closes.append(
            {
                "instrument": names[j],
                "position": pos_q,
                "closed": mkt + adl,
                "fraction": (mkt + adl) / pos_q if pos_q else None,
                "closed_in_market": mkt,
                "closed_by_adl": adl,
                "mark": mark_of.get(j),
                "price": json_number(out.row_price[k]) if mkt else None,
                "bankruptcy_price": json_number(out.row_bankruptcy_price[k]) if adl else None,
                "notional": float(out.row_notional[k] * fx),
                "slippage": float(out.row_slippage[k] * fx),
                "fee": float(out.row_fee[k] * fx),
            }
        )
    sales = [
        {
            "asset": st.assets[int(out.sale_asset[k])],
            "amount": float(out.sale_amount[k]),
            "price": float(out.sale_price[k] * fx),
            "proceeds": float((out.sale_amount[k] * out.sale_price[k] - out.sale_cost[k]) * fx),
            "cost": float(out.sale_cost[k] * fx),
        }
        for k in np.flatnonzero(out.sale_account == i)
    ]
    adl_fills = [
        {
            "instrument": names[int(out.adl_instrument[k])],
            "quantity": float(out.adl_quantity[k]),
            "price": json_number(out.adl_price[k]),
            "paid": float(out.adl_pay[k] * fx),
        }
        for k in np.flatnonzero(out.adl_account == i)
    ]
    mine_rows = out.row_account == i
    slip = float(out.row_slippage[mine_rows].sum() * fx)
    fees = float(out.row_fee[mine_rows].sum() * fx)
    sale_cost = float(out.sale_cost[out.sale_account == i].sum() * fx)
    bk = None
    if u_sel.size:
        dfc = float(out.unit_deficit[u_sel].sum())
        paid = float(out.unit_fund_paid[u_sel].sum())
        bk = {
            "value_before": float(out.unit_value[u_sel].sum() * fx),
            "value_after_close_out": float(out.unit_value_after[u_sel].sum() * fx),
            "bankrupt": bool(out.bankrupt_units[u_sel].any()),
            "deficit": dfc * fx,
            "insurance_fund_paid": paid * fx,
            "market_share": float(out.unit_market_share[u_sel].min()),
            "adl_transfer": 0.0,
            "uncovered": (dfc - paid) * fx if dfc - paid > 1e-12 else 0.0,
        }
    led = run.ledger.columns()
    mine = np.flatnonzero((led["account"] == i) | (led["payer"] == i) | (led["payee"] == i))
    events = [
        {
            "event": EVENT_KINDS[int(led["kind"][k])],
            "payer": _party(int(led["payer"][k]), st.accounts),
            "payee": _party(int(led["payee"][k]), st.accounts),
            "amount": float(led["amount"][k] * fx),
            **(
                {"instrument": names[int(led["instrument"][k])]}
                if led["instrument"][k] >= 0
                else {}
            ),
            **({"asset": st.assets[int(led["asset"][k])]} if led["asset"][k] >= 0 else {}),
        }
        for k in mine
    ]
    if bk is not None:
        is_adl = led["kind"] == EVENT_KINDS.index("adl")
        got = float(led["amount"][is_adl & (led["payee"] == i)].sum())
        gave = float(led["amount"][is_adl & (led["payer"] == i)].sum())
        bk["adl_transfer"] = (got - gave) * fx
    liq = run.before.book.config.liquidation
    return {
        "account": st.accounts[i],
        "model": run.model,
        "policy": run.policy,
        "liquidated": liquidated,
        "scope": scope,
        "trigger": {
            "status": res0.status(i),
            "maintenance_equity": float(res0.maintenance_equity[i]),
            "maintenance_margin": float(res0.maintenance_margin[i]),
            "margin_ratio": json_number(res0.margin_ratio[i]),
            "rule": "liquidate when maintenance equity < maintenance margin",
        },
        "target": {
            "buffer": liq.buffer.kind,
            "rate": liq.buffer.rate,
            "rule": (
                "equity >= (1 + rate) x MM after"
                if liq.buffer.kind == "maintenance"
                else "equity >= MM + rate x gross notional after"
            ),
        },
        "closes": closes,
        "collateral_sales": sales,
        "adl_fills_as_counterparty": adl_fills,
        "costs": {
            "slippage": slip,
            "liquidation_fees": fees,
            "collateral_sale_costs": sale_cost,
            "socialized_loss": float(out.socialized[i] * fx),
            "total": slip + fees + sale_cost + float(out.socialized[i] * fx),
        },
        "bankruptcy": bk,
        "insurance_fund": {"before": run.fund_before, "after": run.fund_after},
        "events": events,
    }


def liquidation_dict(run: LiquidationRun, i: int) -> dict[str, Any]:
    """``{"plan": ..., "before": ..., "after": ...}`` of account ``i``.

    ``before``/``after`` carry the keys of ``margin --format json`` plus the ``positions``.
    """
    plan = plan_dict(run, i)
    plan["conservation"] = run.conservation
    return {
        "plan": plan,
        "before": account_dict(run.before, i, positions=True),
        "after": account_dict(run.after, i, positions=True),
    }


def venue_dict(run: LiquidationRun) -> dict[str, Any]:
    """A whole venue's liquidation, compactly: totals and one row per account touched.

    An account is touched when it was liquidated, deleveraged (ADL counterparty) or charged a
    socialised loss. Amounts are in the snapshot currency.
    """
    out, st = run.result, run.state
    n = st.n_accounts
    b, a = run.before, run.after

    def per(idx: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.bincount(idx, weights=x, minlength=n)

    notional = per(out.row_account, out.row_notional)
    slip = per(out.row_account, out.row_slippage) + per(out.sale_account, out.sale_cost)
    fees = per(out.row_account, out.row_fee)
    deficit = per(out.units.account, out.unit_deficit)
    paid = per(out.units.account, out.unit_fund_paid)
    adl_paid = per(out.adl_account, out.adl_pay)
    touched = np.zeros(n, np.bool_)
    touched[out.triggered] = True
    touched[out.adl_account] = True
    touched |= out.socialized > 0
    statuses = np.asarray(STATUSES, dtype=object)
    liquidated = np.zeros(n, np.bool_)
    liquidated[out.triggered] = True
    rows = [
        {
            "account": st.accounts[i],
            "status_before": statuses[b.status_code[i]],
            "status_after": statuses[a.status_code[i]],
            "equity_before": float(b.equity[i]),
            "equity_after": float(a.equity[i]),
            "maintenance_margin_before": float(b.maintenance_margin[i]),
            "maintenance_margin_after": float(a.maintenance_margin[i]),
            "liquidated": bool(liquidated[i]),
            "notional_closed": float(notional[i]),
            "slippage": float(slip[i]),
            "fees": float(fees[i]),
            "deficit": float(deficit[i]),
            "insurance_fund_paid": float(paid[i]),
            "adl_paid": float(adl_paid[i]),
            "socialized_loss": float(out.socialized[i]),
        }
        for i in np.flatnonzero(touched).tolist()
    ]
    return {
        "model": run.model,
        "policy": run.policy,
        "summary": {
            "accounts": n,
            "accounts_liquidated": out.n_liquidated,
            "accounts_bankrupt": int(out.bankrupt_units.sum()),
            "accounts_deleveraged": int(np.unique(out.adl_account).size),
            "notional_closed_in_market": out.notional_market,
            "notional_adl": out.notional_adl,
            "slippage": out.slippage,
            "liquidation_fees": out.fees_to_fund + out.fees_to_venue,
            "bad_debt": out.bad_debt,
            "insurance_fund_paid": out.insurance_paid,
            "adl_transfer": out.adl_transfer_in,
            "socialized_loss": out.socialized_total,
            "uncovered_bad_debt": out.uncovered,
            "status_before": {
                s: int((b.status_code == k).sum()) for k, s in enumerate(statuses.tolist())
            },
            "status_after": {
                s: int((a.status_code == k).sum()) for k, s in enumerate(statuses.tolist())
            },
        },
        "insurance_fund": {"before": run.fund_before, "after": run.fund_after},
        "conservation": run.conservation,
        "accounts": rows,
    }


#: The side-by-side lines of a cascade (label, key of :func:`comparison_rows`, kind: ``money``,
#: ``count``, ``share`` or ``int``), as the command and the PNG report print them.
COMPARISON_LINES: tuple[tuple[str, str, str], ...] = (
    ("initial margin (start)", "initial_margin", "money"),
    ("collateral (start)", "collateral", "money"),
    ("accounts liquidated", "accounts_liquidated", "count"),
    ("share liquidated", "share_liquidated", "share"),
    ("accounts bankrupt", "accounts_bankrupt", "count"),
    ("notional liquidated", "notional_liquidated", "money"),
    ("bad debt", "bad_debt", "money"),
    ("insurance fund (end)", "insurance_fund_end", "money"),
    ("ADL transfer", "adl_transfer", "money"),
    ("socialised loss", "socialized_loss", "money"),
    ("uncovered bad debt", "uncovered_bad_debt", "money"),
    ("rounds", "rounds", "int"),
)


def comparison_rows(res: CascadeResult) -> list[dict[str, Any]]:
    """One row per regime: the side-by-side table of the cascade."""
    rows = []
    for name, run in res.runs.items():
        s = run.summary()
        rows.append(
            {
                "regime": name,
                "initial_margin": s["initial"]["initial_margin"],
                "collateral": s["initial"]["collateral_value"],
                "accounts_liquidated": s["accounts_liquidated"],
                "share_liquidated": s["share_liquidated"],
                "accounts_bankrupt": s["accounts_bankrupt"],
                "notional_liquidated": s["notional_liquidated"],
                "bad_debt": s["bad_debt"],
                "insurance_fund_end": s["insurance_fund"]["end"],
                "adl_transfer": s["adl_transfer"],
                "socialized_loss": s["socialized_loss"],
                "uncovered_bad_debt": s["uncovered_bad_debt"],
                "extra_move_max": s["extra_move_max"],
                "rounds": s["rounds"],
            }
        )
    return rows


def cascade_dict(res: CascadeResult, *, rounds: bool = True) -> dict[str, Any]:
    """The ``cascade --format json`` document."""
    regimes: dict[str, Any] = {}
    for name, run in res.runs.items():
        d = run.summary()
        d["price_path"] = {
            s: {
                "exogenous": [float(x) for x in run.exogenous[:, j]],
                "actual": [float(x) for x in run.prices[:, j]],
            }
            for j, s in enumerate(run.symbols)
        }
        d["insurance_fund_path"] = [run.fund_start, *(r.insurance_fund for r in run.rounds)]
        d["liquidations_per_round"] = [r.accounts_liquidated for r in run.rounds]
        if rounds:
            d["per_round"] = [r.as_dict() for r in run.rounds]
        regimes[name] = d
    v = res.venue
    return {
        "venue": {"name": v.name, "accounts": v.book.n_accounts, **v.info},
        "shock": res.shock.describe(),
        "settings": res.settings,
        "comparison": comparison_rows(res),
        "regimes": regimes,
    }
