"""Seeded synthetic venue for benchmarks: many accounts holding listed BTC/ETH/SPX contracts.

Accounts hold 1–30 positions (mean 10); about 65 % of positions are options spread over five
expiries and a strike ladder around spot, the rest perpetuals and dated futures. Sizes are
log-normal; collateral is USDC (and some BTC) sized to a log-normal leverage.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

AS_OF = "2026-11-22T08:00:00Z"
SPOT = {"BTC": 65000.0, "ETH": 3200.0, "SPX": 6600.0}
VOL = {"BTC": 0.55, "ETH": 0.68, "SPX": 0.17}
EXPIRIES = ["27NOV26", "26DEC26", "29JAN27", "26MAR27", "25JUN27"]
EXPIRY_ISO = {
    "27NOV26": "2026-11-27T08:00:00Z",
    "26DEC26": "2026-12-26T08:00:00Z",
    "29JAN27": "2027-01-29T08:00:00Z",
    "26MAR27": "2027-03-26T08:00:00Z",
    "25JUN27": "2027-06-25T08:00:00Z",
}
STRIKE_STEP = {"BTC": 1000.0, "ETH": 50.0, "SPX": 25.0}
UND_WEIGHTS = {"BTC": 0.5, "ETH": 0.3, "SPX": 0.2}
LOT = {"BTC": 0.5, "ETH": 8.0, "SPX": 20.0}


def market() -> dict[str, object]:
    """Snapshot with a skewed smile per expiry for every underlying."""
    from datetime import datetime

    t0 = datetime.fromisoformat(AS_OF.replace("Z", "+00:00"))
    assets: dict[str, object] = {"USDC": {"price": 0.9998}, "USD": {"price": 1.0}}
    for und, s in SPOT.items():
        exps = {}
        for code in EXPIRIES:
            t = (
                datetime.fromisoformat(EXPIRY_ISO[code].replace("Z", "+00:00")) - t0
            ).total_seconds() / (365 * 86400)
            f = s * np.exp(0.04 * t)
            ks = [s * m for m in (0.6, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5)]
            base = VOL[und]
            vols = [base * v for v in (1.35, 1.15, 1.05, 1.0, 1.0, 1.05, 1.15)]
            exps[EXPIRY_ISO[code]] = {
                "forward": round(float(f), 4),
                "discount": round(float(np.exp(-0.04 * t)), 8),
                "smile": {
                    "strikes": [round(k, 2) for k in ks],
                    "vols": [round(v, 4) for v in vols],
                },
            }
        assets[und] = {
            "price": s,
            "vol": VOL[und],
            "rate": 0.04,
            "perp": {"mark": s * 1.0003},
            "expiries": exps,
        }
    return {"as_of": AS_OF, "timestamp": AS_OF, "base_currency": "USD", "assets": assets}


def positions(
    n_accounts: int, n_positions: int, seed: int = 7, *, first_account: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Positions and collateral tables of a synthetic venue.

    Accounts are numbered from ``first_account`` (a large venue is generated in chunks).
    """
    rng = np.random.default_rng(seed)
    acc_ids = np.array(
        [f"acct-{i:06d}" for i in range(first_account, first_account + n_accounts)], dtype=object
    )
    # every account gets at least one position; the rest are spread with a skew
    extra = rng.choice(n_accounts, size=n_positions - n_accounts, p=_skew(n_accounts, rng))
    acc = np.concatenate([np.arange(n_accounts), extra])
    rng.shuffle(acc)
    unds = np.array(list(UND_WEIGHTS))
    und = rng.choice(unds, size=n_positions, p=list(UND_WEIGHTS.values()))
    kind = rng.choice(np.array(["option", "perp", "future"]), size=n_positions, p=[0.65, 0.2, 0.15])
    exp = rng.choice(np.array(EXPIRIES), size=n_positions, p=[0.3, 0.3, 0.15, 0.15, 0.1])
    spot = np.vectorize(SPOT.get)(und)
    step = np.vectorize(STRIKE_STEP.get)(und)
    k = np.round(spot * np.exp(rng.normal(0.0, 0.12, n_positions)) / step) * step
    right = rng.choice(np.array(["C", "P"]), size=n_positions)
    names = np.where(
        kind == "perp",
        np.char.add(und.astype(str), "-PERP"),
        np.where(
            kind == "future",
            np.char.add(np.char.add(und.astype(str), "-"), exp.astype(str)),
            np.char.add(
                np.char.add(np.char.add(np.char.add(und.astype(str), "-"), exp.astype(str)), "-"),
                np.char.add(np.char.add(k.astype(np.int64).astype(str), "-"), right.astype(str)),
            ),
        ),
    )
    lot = np.vectorize(LOT.get)(und)
    qty = np.round(
        lot * rng.lognormal(0.0, 1.0, n_positions) * rng.choice([-1.0, 1.0], n_positions), 3
    )
    qty[qty == 0] = 0.001
    entry = np.where(kind == "option", np.nan, spot * np.exp(rng.normal(0, 0.03, n_positions)))
    pos = pd.DataFrame(
        {
            "account": acc_ids[acc],
            "instrument": names.astype(object),
            "quantity": qty,
            "entry_price": entry,
        }
    )
    gross = np.bincount(acc, weights=np.abs(qty) * spot, minlength=n_accounts)
    lev = rng.lognormal(np.log(3.0), 0.6, n_accounts)
    usdc = np.round(gross / lev, 2)
    has_btc = rng.random(n_accounts) < 0.3
    col_acc = np.concatenate([acc_ids, acc_ids[has_btc]])
    col_asset = np.concatenate(
        [
            np.full(n_accounts, "USDC", dtype=object),
            np.full(int(has_btc.sum()), "BTC", dtype=object),
        ]
    )
    col_amt = np.concatenate([usdc, np.round(rng.lognormal(0, 1, int(has_btc.sum())), 4)])
    col = pd.DataFrame({"account": col_acc, "asset": col_asset, "amount": col_amt})
    return pos, col


def _skew(n: int, rng: np.random.Generator) -> np.ndarray:
    w = rng.pareto(2.5, n) + 1.0
    return w / w.sum()


def write_venue(
    directory: Path, n_accounts: int, n_positions: int, seed: int = 7
) -> tuple[Path, Path, Path]:
    """Write positions.parquet, collateral.parquet and market.json into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    pos, col = positions(n_accounts, n_positions, seed)
    p, c, m = (
        directory / "positions.parquet",
        directory / "collateral.parquet",
        directory / "market.json",
    )
    pos.to_parquet(p, index=False)
    col.to_parquet(c, index=False)
    m.write_text(json.dumps(market()))
    return p, c, m


def var_history_file(directory: Path, n_rows: int = 502) -> Path:
    """The last ``n_rows`` common BTC/ETH/SPX closes of the bundled history, as CSV: 500 2-day
    windows for the var/es benchmarks."""
    from crossmargin.history import load_daily_closes

    df = load_daily_closes()[["BTC", "ETH", "SPX"]].dropna().tail(n_rows)
    p = directory / "history.csv"
    df.reset_index().to_csv(p, index=False)
    return p


def var_bench_config() -> Any:
    """The default risk configuration with the var/es settings the benchmarks measure under.

    The stress segment, depeg scenarios and anti-procyclicality are off, so every set of
    underlyings gets the same 500 windows; the history ends before the venue's ``as_of`` and is
    accepted explicitly (the freshness policy is not what is measured).
    """
    from crossmargin.config import default_config

    base = default_config()
    return base.model_copy(
        update={
            "var": base.var.model_copy(
                update={
                    "stress_weight": 0.0,
                    "depeg": {},
                    "anti_procyclicality": "none",
                    "allow_stale_history": True,
                }
            )
        }
    )
