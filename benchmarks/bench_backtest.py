"""Benchmark: a 10-year daily backtest of one book under the grid (portfolio) model.

Two 10-year books, each margined on every day and its 2-day P&L realised:

* ``spx_ndx_20y`` on the bundled SPX/NDX closes 2009-2018 (~2 500 exchange days; futures pair +
  short put, options re-priced daily with realised vol);
* a BTC/ETH options + perps book on 10 years of synthetic 7-day history (3 650 days; seeded
  correlated random walks, since the bundled crypto history covers 5 years).

For each: the replay preparation (cleaning, calendar, snapshots, rolls, realised P&L), the
stacked margin run of all days at once, the statistics, the total, days per second and peak
memory (RSS) — and, as the baseline in the same run, the per-day engine (one snapshot resolved
and margined per day) on the same book and days.

    .venv/bin/python benchmarks/bench_backtest.py
    .venv/bin/python benchmarks/bench_backtest.py --model portfolio --skip-baseline
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np
import pandas as pd

from crossmargin.backtest import book_from_obj, history_from_frame, load_book, load_history
from crossmargin.backtest.analysis import analyse
from crossmargin.backtest.replay import BookReplay, ReplayOptions, margin_model, prepare
from crossmargin.backtest.spec import BacktestBook
from crossmargin.config import default_config

CRYPTO = {
    "name": "crypto_10y_synthetic",
    "rebalance": "constant_delta",
    "legs": [
        {
            "kind": "option",
            "underlying": "BTC",
            "right": "put",
            "moneyness": 0.9,
            "tenor_days": 30,
            "notional": -1e6,
        },
        {
            "kind": "option",
            "underlying": "BTC",
            "right": "call",
            "moneyness": 1.1,
            "tenor_days": 30,
            "notional": -1e6,
        },
        {"kind": "option", "underlying": "ETH", "right": "call", "tenor_days": 30, "notional": 5e5},
        {"kind": "future", "underlying": "ETH", "tenor_days": 91, "notional": 5e5},
        {"kind": "perpetual", "underlying": "BTC", "hedge_delta_notional": 2e6},
        {"kind": "perpetual", "underlying": "ETH", "hedge_delta_notional": -2e6},
    ],
}


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0 if sys.platform != "darwin" else kb / 1024.0**2


def synthetic_crypto(days: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    c = np.linalg.cholesky(np.array([[1.0, 0.7], [0.7, 1.0]]))
    z = rng.standard_normal((days, 2)) @ c.T
    vol = 0.04 * np.exp(0.5 * np.sin(np.arange(days) / 200.0))[:, None]  # vol regimes
    px = np.array([500.0, 10.0]) * np.exp(np.cumsum(vol * z, axis=0))
    return pd.DataFrame(px, columns=["BTC", "ETH"], index=pd.date_range("2010-01-01", periods=days))


def run(
    label: str, book: BacktestBook, hist: object, opts: ReplayOptions, model: str, baseline: bool
) -> None:
    cfg = default_config()
    t0 = time.perf_counter()
    rep: BookReplay = prepare(book, hist, cfg, opts)  # type: ignore[arg-type]
    t1 = time.perf_counter()
    iso = margin_model(rep, "isolated", cfg, "stacked")
    t2 = time.perf_counter()
    mr = margin_model(rep, model, cfg, "stacked")
    t3 = time.perf_counter()
    res = analyse(
        rep, mr, isolated=iso, confidence=0.99, gaps="exclude", config=cfg, corr_window=30
    )
    t4 = time.perf_counter()
    n = rep.n_days
    years = (rep.dates[-1] - rep.dates[0]).astype(int) / 365.25
    print(
        f"\n{label}: {n:,} daily windows over {years:.1f} years "
        f"({rep.dates[0]} .. {rep.end_dates[-1]}), {len(book.legs)} legs, "
        f"{rep.resolved.n_accounts:,} stacked accounts (days + days x underlyings)"
    )
    print(f"  prepare (clean, align, snapshots, rolls, realised P&L) {t1 - t0:7.3f} s")
    print(f"  isolated baseline margins (stacked)                    {t2 - t1:7.3f} s")
    print(
        f"  {model} margins, all days at once (stacked)            {t3 - t2:7.3f} s "
        f"({n / (t3 - t2):,.0f} days/s)"
    )
    print(f"  statistics (coverage, ES, procyclicality, netting)     {t4 - t3:7.3f} s")
    print(
        f"  total                                                  {t4 - t0:7.3f} s  "
        f"[{res.exceedances} exceedances / {res.windows}, zone {res.zone}]"
    )
    print(f"  peak RSS so far {peak_rss_mb():,.0f} MB")
    if baseline:
        t5 = time.perf_counter()
        slow = margin_model(rep, model, cfg, "per-day")
        t6 = time.perf_counter()
        same = np.allclose(slow.im, mr.im, rtol=1e-9)
        print(
            f"  baseline: per-day engine (resolve + margin each day)   {t6 - t5:7.3f} s "
            f"({n / (t6 - t5):,.0f} days/s); stacked is {(t6 - t5) / (t3 - t2):.0f}x faster, "
            f"results equal: {same}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="portfolio")
    ap.add_argument("--mpor", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--skip-baseline", action="store_true")
    args = ap.parse_args()
    base = not args.skip_baseline
    t = time.perf_counter()
    hist = load_history()
    print(f"bundled history loaded in {time.perf_counter() - t:.3f} s")
    run(
        "spx_ndx_20y, 2009-2018 (bundled)",
        load_book("spx_ndx_20y"),
        hist,
        ReplayOptions(mpor=args.mpor, start="2009-01-01", end="2018-12-31"),
        args.model,
        base,
    )
    syn = history_from_frame(synthetic_crypto(3650 + 40, args.seed), source="synthetic")
    run(
        "BTC/ETH options + perps, 10 years synthetic 7-day history",
        book_from_obj(CRYPTO),
        syn,
        ReplayOptions(mpor=args.mpor),
        args.model,
        base,
    )


if __name__ == "__main__":
    main()
