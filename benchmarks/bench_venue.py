"""Benchmark: portfolio margin of a seeded synthetic venue (issue 2 targets).

Prints, in one run on a 100k-account / 1M-position venue (≥ 60 % options, BTC/ETH/SPX):

* wall time from the Parquet files to the written result table (in a fresh process, stage by
  stage) and that process's peak memory (max RSS);
* portfolio-margin throughput in position-scenario revaluations per second;
* the same grid revalued by a bare NumPy Black-76 kernel per position (no risk arrays, whole
  arrays, no blocks) and by a QuantLib per-option loop on a sample, with the ratios.

Usage: ``python benchmarks/bench_venue.py [--accounts 100000] [--positions 1000000]``.
Targets on the 2-core reference machine: ≥ 30 M revaluations/s, ≤ 3 s Parquet → results,
≤ 1 GiB, ≥ 200× QuantLib.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from venue import write_venue

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
from crossmargin.account.report import summary_table
from crossmargin.config import default_config
from crossmargin.engine import margin_resolved
from crossmargin.io.market import load_market
from crossmargin.io.tables import book_from_frames, read_table, write_table
from crossmargin.resolve import resolve
from crossmargin.margin import model_info
model_info("portfolio")  # one-time import of the model's module (counted as import)
d = Path(sys.argv[1])
stages = {}
t = time.perf_counter(); stages["import"] = t - t0
def lap(name):
    global t
    now = time.perf_counter(); stages[name] = now - t; t = now
snap = load_market(d / "market.json"); cfg = default_config(); lap("market+config")
pos = read_table(d / "positions.parquet", what="positions")
col = read_table(d / "collateral.parquet", what="collateral"); lap("read parquet")
book = book_from_frames(pos, col); lap("validate+book")
rb = resolve(book, snap, cfg); lap("resolve")
res = margin_resolved(rb, model="portfolio"); lap("portfolio margin")
write_table(summary_table(res), d / "results.parquet"); lap("write results")
S = res.batch.scenarios.n_scenarios
print(json.dumps({"stages": stages, "n_positions": book.n_positions, "n_accounts": book.n_accounts,
                  "n_contracts": len(book.contracts), "n_net": rb.positions.n, "scenarios": S,
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def bare_numpy(d: Path) -> tuple[float, int]:
    """Per-position revaluation of every option position on the same grid, whole-array NumPy."""
    from scipy.special import ndtr

    from crossmargin.config import default_config
    from crossmargin.engine import margin_resolved
    from crossmargin.io.market import load_market
    from crossmargin.io.tables import book_from_frames, read_table
    from crossmargin.resolve import resolve
    from crossmargin.resolve.terms import KIND_OPTION
    from crossmargin.risk.pnl import scenario_set_for, shocked_vols

    cfg = default_config()
    book = book_from_frames(
        read_table(d / "positions.parquet", what="p"),
        read_table(d / "collateral.parquet", what="c"),
    )
    rb = resolve(book, load_market(d / "market.json"), cfg)
    del margin_resolved
    inst = rb.instruments
    scen = scenario_set_for(inst, cfg)
    i = book.pos_instrument[inst.kind[book.pos_instrument] == KIND_OPTION]
    grids = [cfg.risk_classes[c].grid for c in inst.classes]
    up, dn, _ = shocked_vols(inst.sigma[i], inst.dte[i], inst.cls[i], grids)
    m = scen.spot_move[inst.cls[i]]
    vs = scen.vol_state[inst.cls[i]]
    t0 = time.perf_counter()
    chunk = 200_000  # positions per chunk, only to stay within memory
    for a in range(0, i.size, chunk):
        sl = slice(a, a + chunk)
        F = inst.fwd[i[sl], None] * (1.0 + m[sl])
        s = np.where(
            vs[sl] > 0, up[sl, None], np.where(vs[sl] < 0, dn[sl, None], inst.sigma[i[sl], None])
        )
        K = inst.strike[i[sl], None]
        T = inst.t[i[sl], None]
        v = s * np.sqrt(T)
        d1 = (np.log(F / K) + 0.5 * v * v) / v
        d2 = d1 - v
        c = np.where(inst.is_call[i[sl], None], 1.0, -1.0)
        _ = inst.discount[i[sl], None] * c * (F * ndtr(c * d1) - K * ndtr(c * d2))
    return time.perf_counter() - t0, int(i.size * scen.n_scenarios)


def quantlib_loop(d: Path, sample: int = 1500) -> tuple[float, int]:
    """QuantLib ``blackFormula`` per option per scenario, in a Python loop, on a sample."""
    import QuantLib as ql

    from crossmargin.config import default_config
    from crossmargin.io.market import load_market
    from crossmargin.io.tables import book_from_frames, read_table
    from crossmargin.resolve import resolve
    from crossmargin.resolve.terms import KIND_OPTION
    from crossmargin.risk.pnl import scenario_set_for, shocked_vols

    cfg = default_config()
    book = book_from_frames(
        read_table(d / "positions.parquet", what="p"),
        read_table(d / "collateral.parquet", what="c"),
    )
    rb = resolve(book, load_market(d / "market.json"), cfg)
    inst = rb.instruments
    scen = scenario_set_for(inst, cfg)
    opt = book.pos_instrument[inst.kind[book.pos_instrument] == KIND_OPTION][:sample]
    grids = [cfg.risk_classes[c].grid for c in inst.classes]
    up, dn, _ = shocked_vols(inst.sigma[opt], inst.dte[opt], inst.cls[opt], grids)
    t0 = time.perf_counter()
    n = 0
    for k, j in enumerate(opt):
        typ = ql.Option.Call if inst.is_call[j] else ql.Option.Put
        c = int(inst.cls[j])
        for s in range(scen.n_scenarios):
            vs = scen.vol_state[c, s]
            sig = up[k] if vs > 0 else (dn[k] if vs < 0 else inst.sigma[j])
            f = inst.fwd[j] * (1.0 + scen.spot_move[c, s])
            ql.blackFormula(
                typ,
                float(inst.strike[j]),
                float(f),
                float(sig * np.sqrt(inst.t[j])),
                float(inst.discount[j]),
            )
            n += 1
    return time.perf_counter() - t0, n


def quantlib_engine_loop(d: Path, sample: int = 300) -> tuple[float, int]:
    """Typical QuantLib usage: one EuropeanOption + AnalyticEuropeanEngine per option, quotes
    bumped per scenario (spot and vol ``SimpleQuote``), ``NPV()`` per cell."""
    import QuantLib as ql

    from crossmargin.config import default_config
    from crossmargin.io.market import load_market
    from crossmargin.io.tables import book_from_frames, read_table
    from crossmargin.resolve import resolve
    from crossmargin.resolve.terms import KIND_OPTION
    from crossmargin.risk.pnl import scenario_set_for, shocked_vols

    cfg = default_config()
    book = book_from_frames(
        read_table(d / "positions.parquet", what="p"),
        read_table(d / "collateral.parquet", what="c"),
    )
    rb = resolve(book, load_market(d / "market.json"), cfg)
    inst = rb.instruments
    scen = scenario_set_for(inst, cfg)
    opt = book.pos_instrument[inst.kind[book.pos_instrument] == KIND_OPTION][:sample]
    grids = [cfg.risk_classes[c].grid for c in inst.classes]
    up, dn, _ = shocked_vols(inst.sigma[opt], inst.dte[opt], inst.cls[opt], grids)
    today = ql.Date(22, 11, 2026)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    t0 = time.perf_counter()
    n = 0
    for k, j in enumerate(opt):
        T = float(inst.t[j])
        r = -np.log(inst.discount[j]) / T
        q = r - np.log(inst.fwd[j] / inst.spot[j]) / T
        spot = ql.SimpleQuote(float(inst.spot[j]))
        vol = ql.SimpleQuote(float(inst.sigma[j]))
        mat = today + max(1, round(T * 365))
        proc = ql.BlackScholesMertonProcess(
            ql.QuoteHandle(spot),
            ql.YieldTermStructureHandle(ql.FlatForward(today, float(q), dc)),
            ql.YieldTermStructureHandle(ql.FlatForward(today, float(r), dc)),
            ql.BlackVolTermStructureHandle(
                ql.BlackConstantVol(today, ql.NullCalendar(), ql.QuoteHandle(vol), dc)
            ),
        )
        typ = ql.Option.Call if inst.is_call[j] else ql.Option.Put
        option = ql.EuropeanOption(
            ql.PlainVanillaPayoff(typ, float(inst.strike[j])), ql.EuropeanExercise(mat)
        )
        option.setPricingEngine(ql.AnalyticEuropeanEngine(proc))
        c = int(inst.cls[j])
        for s in range(scen.n_scenarios):
            vs = scen.vol_state[c, s]
            vol.setValue(float(up[k] if vs > 0 else (dn[k] if vs < 0 else inst.sigma[j])))
            spot.setValue(float(inst.spot[j] * (1.0 + scen.spot_move[c, s])))
            option.NPV()
            n += 1
    return time.perf_counter() - t0, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--positions", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", type=Path, default=None, help="directory to keep the venue files in")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="cm-venue-"))
    print(f"crossmargin venue benchmark — {os.cpu_count()} CPUs, numpy {np.__version__}")
    t = time.perf_counter()
    write_venue(work, args.accounts, args.positions, args.seed)
    print(
        f"synthetic venue: {args.accounts:,} accounts, {args.positions:,} positions (seed {args.seed}) "
        f"written in {time.perf_counter() - t:.1f} s to {work}"
    )
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(work)], capture_output=True, text=True, check=True
    )
    r = json.loads(out.stdout)
    st = r["stages"]
    pipeline = sum(v for k, v in st.items() if k != "import")
    print("\nParquet -> result table (fresh process):")
    for k, v in st.items():
        print(f"  {k:18s} {v:7.3f} s")
    print(f"  {'total (excl. import)':18s} {pipeline:7.3f} s    peak RSS {r['maxrss_mb']:.0f} MiB")
    S = r["scenarios"]
    cells = r["n_positions"] * S
    margin_t = st["portfolio margin"]
    ours = cells / margin_t
    ours_e2e = cells / pipeline
    print(
        f"\n{r['n_positions']:,} positions ({r['n_net']:,} net) in {r['n_contracts']:,} contracts x {S} scenarios "
        f"= {cells / 1e6:.1f} M position-scenario revaluations"
    )
    print(f"  portfolio margin stage : {ours / 1e6:8.1f} M revaluations/s")
    print(f"  whole pipeline         : {ours_e2e / 1e6:8.1f} M revaluations/s")
    bt, bn = bare_numpy(work)
    bare = bn / bt
    print(
        f"  bare NumPy per-position kernel (options only, {bn / 1e6:.1f} M cells): {bare / 1e6:8.1f} M revaluations/s "
        f"-> ours {ours / bare:.1f}x"
    )
    qt, qn = quantlib_loop(work)
    ql_rate = qn / qt
    print(
        f"  QuantLib blackFormula loop ({qn:,} revaluations): {ql_rate / 1e6:8.3f} M revaluations/s "
        f"-> ours {ours / ql_rate:.0f}x"
    )
    et, en = quantlib_engine_loop(work)
    ql_engine = en / et
    print(
        f"  QuantLib EuropeanOption+AnalyticEuropeanEngine loop ({en:,} revaluations): "
        f"{ql_engine / 1e6:8.3f} M revaluations/s -> ours {ours / ql_engine:.0f}x"
    )
    print("\ntargets: >= 30 M reval/s, <= 3 s Parquet->results, <= 1024 MiB, >= 200x QuantLib")
    checks = [
        ("throughput >= 30 M/s", ours >= 30e6),
        ("Parquet->results <= 3 s", pipeline <= 3.0),
        ("peak memory <= 1 GiB", r["maxrss_mb"] <= 1024),
        (">= 200x QuantLib per-option engine loop", ours / ql_engine >= 200),
        (">= 200x QuantLib blackFormula loop (cheapest QuantLib call)", ours / ql_rate >= 200),
    ]
    for name, ok in checks:
        print(f"  {'PASS' if ok else 'MISS'}  {name}")


if __name__ == "__main__":
    main()
