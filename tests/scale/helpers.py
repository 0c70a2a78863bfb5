"""A small seeded venue for the scale-out tests, and comparisons of result tables.

Three shapes, so that every registered model and venue preset margins one of them:

* ``full`` — BTC/ETH/SPX linear options (five expiries, a strike ladder), perpetuals and dated
  futures, BTC inverse perpetual/future/options, BTC/ETH spot, contract multipliers; lots of
  the same contract at different entry prices (netting); USDC, BTC and ETH collateral, some
  USDC liabilities; accounts with collateral only. Margined by isolated, cross, portfolio,
  deribit-pm, okx-pm, span, var, es.
* ``perps_options`` — linear perpetuals and options only (no dated futures, no inverse, no
  spot): derive-pmrm2 and paradex-pm margin nothing else.
* ``perps`` — BTC/ETH perpetuals only (dydx-v4, drift-v2).

The market carries each perpetual's open interest and funding rate (dYdX's OI-scaled IMF with
ETH moved to an OI-capped tier by :func:`venue_config`; Paradex's funding provision) and two
documented fallbacks, so that every result also carries per-account warnings: ETH without an
observation time, an SPX expiry interpolated.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from typer.testing import CliRunner, Result

from crossmargin.cli.app import app
from crossmargin.config import RiskConfig, default_config
from crossmargin.history import load_daily_closes
from crossmargin.io.market import market_from_obj
from crossmargin.market.history import load_price_history
from crossmargin.market.snapshot import MarketSnapshot

AS_OF = "2026-11-22T08:00:00Z"
SPOT = {"BTC": 65000.0, "ETH": 3200.0, "SPX": 6600.0}
VOL = {"BTC": 0.55, "ETH": 0.68, "SPX": 0.17}
EXPIRIES = {
    "27NOV26": "2026-11-27T08:00:00Z",
    "26DEC26": "2026-12-26T08:00:00Z",
    "29JAN27": "2027-01-29T08:00:00Z",
    "26MAR27": "2027-03-26T08:00:00Z",
    "25JUN27": "2027-06-25T08:00:00Z",
}
STEP = {"BTC": 2500.0, "ETH": 200.0, "SPX": 100.0}
LOT = {"BTC": 0.5, "ETH": 8.0, "SPX": 20.0}

#: Models (every registered one) and the venue shape each is tested on.
MODEL_VENUES = {
    "isolated": "full",
    "cross": "full",
    "portfolio": "full",
    "deribit-pm": "full",
    "okx-pm": "full",
    "span": "full",
    "var": "full",
    "es": "full",
    "derive-pmrm2": "perps_options",
    "paradex-pm": "perps_options",
    "dydx-v4": "perps",
    "drift-v2": "perps",
}


def market_obj() -> dict[str, Any]:
    """The snapshot as a JSON document."""
    t0 = datetime.fromisoformat(AS_OF.replace("Z", "+00:00"))
    assets: dict[str, Any] = {"USDC": {"price": 0.9998}, "USD": {"price": 1.0}}
    for und, s in SPOT.items():
        exps = {}
        for iso in EXPIRIES.values():
            t = (datetime.fromisoformat(iso.replace("Z", "+00:00")) - t0).total_seconds() / (
                365 * 86400
            )
            ks = [s * m for m in (0.6, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5)]
            vols = [VOL[und] * v for v in (1.35, 1.15, 1.05, 1.0, 1.0, 1.05, 1.15)]
            exps[iso] = {
                "forward": round(float(s * np.exp(0.04 * t)), 4),
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
            "perp": {"mark": s * 1.0003, "open_interest": 30e6 / s, "funding_rate": 0.0001},
            "expiries": exps,
        }
    # documented fallbacks, carried to the accounts as warnings: ETH's price has no observation
    # time (market.require_timestamps: false in venue_config), SPX's January expiry is not
    # listed (forward, discount and vol interpolated)
    for a in ("BTC", "SPX", "USDC", "USD"):
        assets[a]["timestamp"] = "2026-11-22T07:59:00Z"
    del assets["SPX"]["expiries"][EXPIRIES["29JAN27"]]
    return {"as_of": AS_OF, "base_currency": "USD", "assets": assets}


def venue_market(with_history: bool = True) -> MarketSnapshot:
    """The snapshot, with the last 502 common BTC/ETH/SPX closes as its price history."""
    snap = market_from_obj(market_obj())
    if not with_history:
        return snap
    return replace(snap, history=history())


_HISTORY: list[Any] = []


def history() -> Any:
    """500 two-day windows of real BTC/ETH/SPX history (bundled closes)."""
    if not _HISTORY:
        import tempfile

        df = load_daily_closes()[["BTC", "ETH", "SPX"]].dropna().tail(502)
        with tempfile.TemporaryDirectory() as tmp:
            p = Path(tmp) / "history.csv"
            df.reset_index().to_csv(p, index=False)
            _HISTORY.append(load_price_history(p))
    return _HISTORY[0]


def venue_config() -> RiskConfig:
    """Defaults, var/es over exactly the 500 windows of :func:`history`; ETH OI-capped on dYdX."""
    base = default_config()
    return base.model_copy(
        update={
            "var": base.var.model_copy(
                # the test history ends before the venue's as_of: an explicit opt-in (the
                # freshness policy has its own tests)
                update={
                    "stress_weight": 0.0,
                    "depeg": {},
                    "anti_procyclicality": "none",
                    "allow_stale_history": True,
                }
            ),
            "presets": {"dydx-v4": {"market_tiers": {"ETH": "Mid-Cap"}}},
            "market": base.market.model_copy(update={"require_timestamps": False}),
        }
    )


def _names(rng: np.random.Generator, n: int, shape: str) -> np.ndarray:
    unds = np.array(["BTC", "ETH", "SPX"] if shape != "perps" else ["BTC", "ETH"])
    und = rng.choice(unds, size=n)
    spot = np.vectorize(SPOT.get)(und)
    step = np.vectorize(STEP.get)(und)
    codes = np.array(list(EXPIRIES))
    exp = rng.choice(codes, size=n)
    k = (np.round(spot * np.exp(rng.normal(0.0, 0.1, n)) / step) * step).astype(np.int64)
    right = rng.choice(np.array(["C", "P"]), size=n)
    opt = np.char.add(
        np.char.add(np.char.add(und.astype(str), "-"), exp.astype(str)),
        np.char.add(np.char.add(np.char.add("-", k.astype(str)), "-"), right.astype(str)),
    )
    perp = np.char.add(und.astype(str), "-PERP")
    fut = np.char.add(np.char.add(und.astype(str), "-"), exp.astype(str))
    if shape == "perps":
        return np.where(rng.random(n) < 0.2, np.char.add(perp, "-X10"), perp).astype(object)
    kind = rng.choice(np.arange(3), size=n, p=[0.6, 0.25, 0.15])
    if shape == "perps_options":
        out = np.where(kind == 0, opt, perp)
        return np.where(
            (und == "SPX") & (kind == 0) & (rng.random(n) < 0.5), np.char.add(out, "-X100"), out
        ).astype(object)
    out = np.where(kind == 0, opt, np.where(kind == 1, perp, fut))
    extra = rng.random(n)
    btc = und == "BTC"
    out = np.where(btc & (extra < 0.08), np.char.add(out, "-INV"), out)
    out = np.where((und != "SPX") & (extra > 0.95), np.char.add(und.astype(str), "-SPOT"), out)
    return out.astype(object)


def venue_tables(
    n_accounts: int = 240, n_positions: int = 2400, *, shape: str = "full", seed: int = 11
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Positions and collateral tables of a seeded venue of ``shape`` (module docstring)."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"acct-{i:05d}" for i in range(n_accounts)], dtype=object)
    holders = n_accounts - n_accounts // 20  # the last 5 % hold collateral only
    acc = np.concatenate([np.arange(holders), rng.integers(0, holders, n_positions - holders)])
    rng.shuffle(acc)
    names = _names(rng, n_positions, shape)
    # a few lots repeat an account's previous contract at another price (netting)
    again = np.flatnonzero(rng.random(n_positions) < 0.1)
    src = rng.integers(0, n_positions, again.size)
    acc[again], names[again] = acc[src], names[src]
    und = np.array([s.split("-")[0] for s in names])
    lot = np.vectorize(LOT.get)(und)
    qty = np.round(
        lot * rng.lognormal(0.0, 1.0, n_positions) * rng.choice([-1.0, 1.0], n_positions), 3
    )
    qty[qty == 0] = 0.001
    is_opt = np.char.count(names.astype(str), "-") >= 3
    spot = np.vectorize(SPOT.get)(und)
    entry = np.where(is_opt, np.nan, spot * np.exp(rng.normal(0, 0.03, n_positions)))
    entry[rng.random(n_positions) < 0.1] = np.nan
    pos = pd.DataFrame(
        {"account": ids[acc], "instrument": names, "quantity": qty, "entry_price": entry}
    )
    gross = np.bincount(acc, weights=np.abs(qty) * spot, minlength=n_accounts)
    usdc = np.round(gross / rng.lognormal(np.log(3.0), 0.6, n_accounts) + 1000.0, 2)
    usdc[rng.random(n_accounts) < 0.05] *= -0.2  # liabilities
    col_acc = [ids]
    col_asset = [np.full(n_accounts, "USDC", dtype=object)]
    col_amt = [usdc]
    if shape != "perps":
        for sym in ("BTC", "ETH"):
            has = rng.random(n_accounts) < 0.25
            col_acc.append(ids[has])
            col_asset.append(np.full(int(has.sum()), sym, dtype=object))
            col_amt.append(np.round(rng.lognormal(0, 1, int(has.sum())), 4))
    col = pd.DataFrame(
        {
            "account": np.concatenate(col_acc),
            "asset": np.concatenate(col_asset),
            "amount": np.concatenate(col_amt),
        }
    )
    return pos, col


def write_tables(directory: Path, pos: pd.DataFrame, col: pd.DataFrame) -> tuple[Path, Path]:
    """The two tables as Parquet files in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    p, c = directory / "positions.parquet", directory / "collateral.parquet"
    pos.to_parquet(p, index=False)
    col.to_parquet(c, index=False)
    return p, c


def read_results(out: Path) -> pd.DataFrame:
    """Every result file of a run (a directory of partition files, or one file)."""
    files = sorted(out.glob("*.parquet")) if out.is_dir() else [out]
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def assert_same_results(got: pd.DataFrame, ref: pd.DataFrame, *, rtol: float = 0.0) -> None:
    """The same accounts with equal numbers (bitwise, or within ``rtol`` relative plus a
    billionth of a currency unit where a sum runs in another order) and equal text columns."""
    assert sorted(got["account"]) == sorted(ref["account"])
    assert got["account"].is_unique
    g = got.set_index("account").loc[ref["account"]]
    r = ref.set_index("account")
    assert list(g.columns) == list(r.columns)
    for c in r.columns:
        a, b = r[c].to_numpy(), g[c].to_numpy()
        if a.dtype.kind == "f":
            with np.errstate(invalid="ignore"):
                close = np.abs(a - b) <= rtol * np.maximum(np.abs(a), np.abs(b)) + (
                    1e-9 if rtol else 0.0
                )
            same = (a == b) | (np.isnan(a) & np.isnan(b)) | close
            assert same.all(), (c, r.index[~same][:3].tolist(), a[~same][:3], b[~same][:3])
        else:
            assert (a == b).all(), c


def invoke(*args: str | Path) -> Result:
    """Run the CLI in-process (stdout and stderr kept apart)."""
    return CliRunner().invoke(app, [str(a) for a in args])
