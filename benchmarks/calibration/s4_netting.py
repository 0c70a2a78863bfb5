"""Step 4: does netting ever cost? Today's models against the netting-never-costs rule.

    .venv/bin/python benchmarks/calibration/s4_netting.py             # ~3 min

At one snapshot, through the library itself (``resolve`` + each model's ``compute``): every
account is margined whole *and* every one of its net positions is margined as an account of its
own, by the same model and configuration. The property the issue asks for is

    requirement(account) ≤ Σ_positions requirement(position alone)

on the *risk* part of the requirement; size-driven add-ons (liquidity close-out cost,
concentration, the grid's delta shock) grow faster than linearly on purpose and collateral
add-ons (wrong-way) belong to the collateral, so both are reported apart. The rule prototyped
here (docs/calibration.md, "Netting never costs"):

1. the correlation-breakdown add-on is capped at the diversification benefit it claws back,
   ``min(add-on, max(0, Σ_u standalone_u − R))`` (standalone measures on the same scenario set);
2. ``risk = min(R + basis + correlation' + apc, Σ_i risk(position i alone))``;
3. ``IM = risk + size add-ons + collateral add-ons``, each reported.

Accounts: the audit's two (1 BTC-PERP + 20 ETH-PERP on ``examples/market_crypto.json``; the
``pair-05`` BTC/ETH perp pair), the seven ``examples/venue_accounts.json`` accounts on
``examples/market_venue.json``, and 400 seeded random books (2-6 positions in BTC/ETH perps,
futures and options and SPX/NDX futures and options, USD 50k-5m each). var/es read the study's
history (``daily_closes_1990_2026.csv``, cleaned as in ``common.py``; it ends 2026-03-27, 240
days before the snapshots' as_of — opted in here, see the freshness policy) and, for the
reproduction of the issue's numbers, the library's bundled 2014-2020 history.
Writes ``results/netting.json``.
"""
# ruff: noqa: N812  (study modules imported under one-letter names)

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import replace
from typing import Any

import common as C
import numpy as np

from crossmargin.backtest.cleaning import clean_history
from crossmargin.config import RiskConfig
from crossmargin.instruments.book import Book
from crossmargin.instruments.position import Portfolio
from crossmargin.io.market import load_market
from crossmargin.io.portfolio import load_portfolios, portfolios_from_obj
from crossmargin.margin.base import get_model
from crossmargin.market.history import PriceHistory
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.resolve.book import resolve

MODELS = ("isolated", "cross", "portfolio", "var", "es")
SIZE = ("liquidity", "concentration", "delta_shock")
COLLATERAL = ("wrong_way",)
EX = C.ROOT / "examples"


def study_history() -> PriceHistory:
    h, _ = clean_history(C.load_study_history(), C.CLEANING)
    return PriceHistory(h.times, h.assets, h.prices, "daily_closes_1990_2026 (cleaned)")


def net(pf: Portfolio) -> list[Any]:
    """The account's net positions (one per contract)."""
    q: dict[Any, float] = defaultdict(float)
    for p in pf.positions:
        q[p.contract] += p.quantity
    return [(c, x) for c, x in q.items() if x != 0.0]


def accounts_of(pf: Portfolio) -> list[Portfolio]:
    """The account (positions netted) followed by each net position as its own account."""
    from crossmargin.instruments.position import Position

    pos = net(pf)
    whole = Portfolio(
        pf.account, pf.base_currency, dict(pf.collateral), tuple(Position(c, x) for c, x in pos)
    )
    alone = [
        Portfolio(f"{pf.account}#{i}", pf.base_currency, {}, (Position(c, x),))
        for i, (c, x) in enumerate(pos)
    ]
    return [whole, *alone]


def _by_account(rows: Any, n: int, names: tuple[str, ...]) -> np.ndarray:
    out = np.zeros(n)
    for r in rows:
        if r.name in names:
            np.add.at(out, r.account, r.amount)
    return out


def margin_parts(
    book: Book, snap: MarketSnapshot, cfg: RiskConfig, model: str
) -> dict[str, np.ndarray]:
    rb = resolve(book, snap, cfg)
    b = get_model(model, cfg).compute(rb)
    n = rb.n_accounts
    total_addons = np.zeros(n)
    for r in b.addons:
        np.add.at(total_addons, r.account, r.amount)
    size = _by_account(b.addons, n, SIZE)
    coll = _by_account(b.addons, n, COLLATERAL)
    corr = _by_account(b.addons, n, ("correlation_breakdown",))
    out = {"im": b.im.copy(), "size": size, "collateral": coll, "corr": corr}
    if model in ("var", "es"):
        core = b.im - total_addons
        stand = np.zeros(n)
        np.add.at(stand, b.groups.account, b.groups.scan)
        benefit = np.maximum(stand - core, 0.0)
        out["corr_capped"] = np.minimum(corr, benefit)
    else:
        out["corr_capped"] = corr
    return out


def study(
    pfs: list[Portfolio], snap: MarketSnapshot, cfg: RiskConfig, models: tuple[str, ...] = MODELS
) -> list[dict[str, Any]]:
    """Per account and model: today's requirement, the positions alone, the rule."""
    groups = [accounts_of(pf) for pf in pfs]
    flat = [a for g in groups for a in g]
    book = Book.from_portfolios(flat)
    first = np.cumsum([0] + [len(g) for g in groups])
    res = {m: margin_parts(book, snap, cfg, m) for m in models}
    rows = []
    for k, pf in enumerate(pfs):
        i0, i1 = int(first[k]), int(first[k + 1])
        row: dict[str, Any] = {
            "account": pf.account,
            "positions": [f"{c.name} {x:g}" for c, x in net(pf)],
            "models": {},
        }
        for m in models:
            r = res[m]
            risk_today = r["im"][i0] - r["size"][i0] - r["collateral"][i0]
            alone_risk = float(np.sum(r["im"][i0 + 1 : i1] - r["size"][i0 + 1 : i1]))
            risk_rule = min(risk_today - r["corr"][i0] + r["corr_capped"][i0], alone_risk)
            iso = res["isolated"]["im"][i0] if "isolated" in res else np.nan
            row["models"][m] = {
                "im_today": float(r["im"][i0]),
                "risk_today": float(risk_today),
                "size_addons": float(r["size"][i0]),
                "collateral_addons": float(r["collateral"][i0]),
                "corr_addon": float(r["corr"][i0]),
                "corr_addon_capped": float(r["corr_capped"][i0]),
                "positions_alone_risk": alone_risk,
                "positions_alone_size": float(np.sum(r["size"][i0 + 1 : i1])),
                "violates_today": bool(risk_today > alone_risk * (1 + 1e-9) + 1e-6),
                "excess_today": float(max(risk_today - alone_risk, 0.0)),
                "im_rule": float(risk_rule + r["size"][i0] + r["collateral"][i0]),
                "freed_by_netting_today": float(alone_risk - risk_today),
                "freed_by_netting_rule": float(alone_risk - risk_rule),
                "freed_vs_isolated_today": float(iso - r["im"][i0]),
                "freed_vs_isolated_rule": float(
                    iso - (risk_rule + r["size"][i0] + r["collateral"][i0])
                ),
            }
        rows.append(row)
    return rows


POOL_STRIKES = (0.8, 0.9, 1.0, 1.1, 1.2)


def pool(snap: MarketSnapshot) -> dict[str, list[tuple[str, float, float]]]:
    """Contracts by underlying: (name, price of one unit of underlying exposure, multiplier)."""
    out: dict[str, list[tuple[str, float, float]]] = {}
    for u, step, exps, fut_mult, opt_mult in (
        ("BTC", 5000.0, ("27NOV26", "26DEC26", "26MAR27"), 1.0, 1.0),
        ("ETH", 100.0, ("26DEC26", "26MAR27"), 1.0, 1.0),
        ("SPX", 100.0, ("18DEC26",), 50.0, 100.0),
        ("NDX", 500.0, ("18DEC26",), 20.0, 100.0),
    ):
        s = snap.price(u)
        names: list[tuple[str, float, float]] = []
        if u in ("BTC", "ETH"):
            names.append((f"{u}-PERP", s, 1.0))
        for e in exps:
            fx = "" if fut_mult == 1.0 else f"-X{fut_mult:g}"
            names.append((f"{u}-{e}{fx}", s, fut_mult))
            for m in POOL_STRIKES:
                k = round(s * m / step) * step
                ox = "" if opt_mult == 1.0 else f"-X{opt_mult:g}"
                for r in ("C", "P"):
                    names.append((f"{u}-{e}-{k:g}-{r}{ox}", s, opt_mult))
        out[u] = names
    return out


def random_books(snap: MarketSnapshot, n: int, seed: int = 20260413) -> list[Portfolio]:
    rng = np.random.default_rng(seed)
    pl = pool(snap)
    mixes = [
        ("BTC", "ETH"),
        ("BTC",),
        ("ETH",),
        ("SPX", "NDX"),
        ("BTC", "SPX"),
        ("ETH", "NDX"),
        ("BTC", "ETH", "SPX", "NDX"),
    ]
    probs = np.asarray([0.35, 0.1, 0.1, 0.15, 0.1, 0.1, 0.1])
    accts = []
    for i in range(n):
        mix = mixes[int(rng.choice(len(mixes), p=probs))]
        k = int(rng.integers(2, 7))
        positions = []
        for _ in range(k):
            u = mix[int(rng.integers(len(mix)))]
            name, s, mult = pl[u][int(rng.integers(len(pl[u])))]
            notional = float(np.exp(rng.uniform(np.log(5e4), np.log(5e6))))
            sign = 1.0 if rng.random() < 0.5 else -1.0
            qty = sign * notional / (s * mult)
            positions.append({"instrument": name, "quantity": float(f"{qty:.6g}")})
        accts.append({"account": f"rand-{i:03d}", "positions": positions})
    pfs, _ = portfolios_from_obj({"accounts": accts})
    return pfs


def summarise(rows: list[dict[str, Any]], models: tuple[str, ...] = MODELS) -> dict[str, Any]:
    out = {}
    for m in models:
        v = [r["models"][m] for r in rows if m in r["models"]]
        viol = [x for x in v if x["violates_today"]]
        rel = [x["excess_today"] / max(x["positions_alone_risk"], 1e-9) for x in viol]
        neg_iso = [x for x in v if x["freed_vs_isolated_today"] < 0]
        out[m] = {
            "accounts": len(v),
            "violations_today": len(viol),
            "violation_share": len(viol) / len(v) if v else None,
            "excess_median_rel": float(np.median(rel)) if rel else None,
            "excess_max_rel": float(np.max(rel)) if rel else None,
            "corr_addon_accounts": sum(1 for x in v if x["corr_addon"] > 0),
            "corr_addon_capped_accounts": sum(
                1 for x in v if x["corr_addon_capped"] < x["corr_addon"] - 1e-6
            ),
            "rule_binds": sum(
                1
                for x in v
                if x["risk_today"] - x["corr_addon"] + x["corr_addon_capped"]
                > x["positions_alone_risk"] + 1e-6
            ),
            "mean_rule_saving_rel": float(
                np.mean(
                    [(x["im_today"] - x["im_rule"]) / x["im_today"] for x in v if x["im_today"] > 0]
                )
            ),
            "negative_freed_vs_isolated_today": len(neg_iso),
            "negative_freed_vs_isolated_rule": sum(1 for x in v if x["freed_vs_isolated_rule"] < 0),
            "negative_freed_by_netting_rule": sum(
                1 for x in v if x["freed_by_netting_rule"] < -1e-6
            ),
        }
    return out


def main() -> None:
    t0 = time.perf_counter()
    cfg = C.overlay_config()
    hist = study_history()
    crypto = load_market(EX / "market_crypto.json")
    venue = load_market(EX / "market_venue.json")
    audit, _ = portfolios_from_obj(
        {
            "accounts": [
                {
                    "account": "audit-1btc-20eth",
                    "positions": [
                        {"instrument": "BTC-PERP", "quantity": 1},
                        {"instrument": "ETH-PERP", "quantity": 20},
                    ],
                }
            ]
        }
    )
    demo, _ = load_portfolios(EX / "venue_accounts.json")
    out: dict[str, Any] = {
        "history_note": "var/es on the study history (ends 2026-03-27; the snapshots' as_of is "
        "2026-11-22: 240 days stale, opted in for this study); 'bundled' rows use the "
        "library's bundled 2014-2020 history as the issue's numbers did",
    }
    out["audit_bundled_history"] = study(audit, crypto, cfg)
    out["audit"] = study(audit, replace(crypto, history=hist), cfg)
    out["demo_bundled_history"] = study(demo, venue, cfg)
    demo_rows = study(demo, replace(venue, history=hist), cfg)
    out["demo"] = demo_rows
    out["demo_summary"] = summarise(demo_rows)
    rnd = random_books(venue, 400)
    rnd_rows = study(rnd, replace(venue, history=hist), cfg)
    out["random_summary"] = summarise(rnd_rows)
    out["random"] = rnd_rows
    out["seconds"] = time.perf_counter() - t0
    C.write_json("netting", out)
    for k in ("demo_summary", "random_summary"):
        print(k)
        for m, v in out[k].items():
            print(" ", m, {a: b for a, b in v.items()})


if __name__ == "__main__":
    main()
