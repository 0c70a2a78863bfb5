"""Benchmark: liquidation cascade of a synthetic venue, 100 000 accounts x 20 rounds per regime.

Prints, per regime, wall time, rounds/s, accounts re-margined per second and liquidations, the
generator's time, peak memory (RSS), and a baseline measured in the same run: the same 20
rounds of re-margining alone (resolve + margin of every account, no liquidation), i.e. what the
engine's liquidation, waterfall and impact steps add on top of the core batch margin.

    .venv/bin/python benchmarks/bench_cascade.py                 # 100 000 accounts, 20 rounds
    .venv/bin/python benchmarks/bench_cascade.py --accounts 20000 --policy full
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np

from crossmargin.cli.cmd_info import examples_dir
from crossmargin.config import default_config
from crossmargin.engine import margin_resolved
from crossmargin.io.market import load_market
from crossmargin.liquidation.cascade import CascadeSettings, run_regime
from crossmargin.liquidation.shocks import ShockPath
from crossmargin.liquidation.state import VenueState
from crossmargin.liquidation.synthetic import synthetic_venue
from crossmargin.resolve import resolve


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0 if sys.platform != "darwin" else kb / 1024.0**2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--policy", choices=["full", "partial"], default="partial")
    ap.add_argument("--regimes", default="isolated,cross,portfolio")
    ap.add_argument("--crash", type=float, default=0.35, help="total fall over the path")
    args = ap.parse_args()
    cfg = default_config()
    snap = load_market(examples_dir() / "market_venue.json")
    t = time.perf_counter()
    venue = synthetic_venue(snap, cfg, args.accounts, seed=args.seed)
    t_gen = time.perf_counter() - t
    n_pos = venue.book.n_positions
    print(
        f"venue: {args.accounts:,} accounts, {n_pos:,} positions, "
        f"{len(venue.book.contracts)} contracts; generated in {t_gen:.2f} s"
    )
    # a crash spread over the rounds: every round moves prices, so every round liquidates
    steps = args.rounds
    path = (1.0 - args.crash) ** (np.arange(1, steps + 1) / steps)
    shock = ShockPath(
        f"crash -{args.crash:.0%} over {steps} rounds",
        "geometric decline of every risky asset",
        tuple(f"t+{i + 1}" for i in range(steps)),
        {"*": path},
    )
    settings = CascadeSettings(policy=args.policy, max_rounds=steps)
    print(f"shock: {shock.name}; policy {args.policy}; python {sys.version.split()[0]}")
    print(
        f"{'regime':>10} {'time s':>8} {'rounds':>6} {'rounds/s':>9} {'accounts/s':>12} "
        f"{'liquidated':>11} {'events':>9} {'bad debt':>14} {'cons. err':>9}"
    )
    total = 0.0
    for reg in args.regimes.split(","):
        t = time.perf_counter()
        run = run_regime(venue, snap, cfg, shock, reg, settings=settings)
        dt = time.perf_counter() - t
        total += dt
        s = run.summary()
        n_r = len(run.rounds)
        print(
            f"{reg:>10} {dt:8.2f} {n_r:6d} {n_r / dt:9.2f} {args.accounts * n_r / dt:12,.0f} "
            f"{s['accounts_liquidated']:11,d} {s['liquidation_events']:9,d} "
            f"{s['bad_debt']:14,.0f} {s['conservation_error']:9.1e}"
        )
    print(f"all regimes: {total:.2f} s; peak RSS {peak_rss_mb():,.0f} MB")
    # baseline: the same rounds of re-margining only (no liquidation, no impact)
    print("baseline — re-margin every account each round, nothing liquidated:")
    for reg in args.regimes.split(","):
        state = VenueState.from_resolved(resolve(venue.book_for(reg, "per-regime"), snap, cfg))
        t = time.perf_counter()
        for r in range(steps):
            f = float(path[r])
            s_r = snap.shifted(spot={"BTC": f, "ETH": f})
            margin_resolved(resolve(state.to_book(), s_r, cfg), model=reg)
        dt = time.perf_counter() - t
        print(
            f"{reg:>10} {dt:8.2f} {steps:6d} {steps / dt:9.2f} {args.accounts * steps / dt:12,.0f}"
        )
    print(f"peak RSS {peak_rss_mb():,.0f} MB")


if __name__ == "__main__":
    main()
