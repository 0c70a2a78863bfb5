"""Benchmark: VaR / ES throughput at 500 historical scenarios, beside the grid model, one run.

The seeded synthetic venue of ``benchmarks/venue.py`` (BTC, ETH, SPX options, perps and futures)
is margined under ``portfolio`` (33-cell grid per underlying: the baseline) and under ``var`` and
``es`` over exactly 500 filtered-historical joint scenarios: a history file of the last 502
common observations of the bundled BTC, ETH and SPX closes (2024..2026-03) is written and
passed the way ``--history FILE`` does (accepted explicitly although it ends before the venue
snapshot's as_of: the freshness policy is not what is measured), and the stress segment is
switched off so every set of underlyings gets the same 500 two-day windows. A last ``es`` row
without the netting-never-costs bound (``var_batch(cap=False)``) shows what the bound costs. Add-ons run with their defaults (basis,
liquidity, correlation breakdown per pair, wrong-way collateral); a second ``es`` run with all
add-ons off shows the core cost.

Printed per model: wall and CPU time of ``compute`` on an already-resolved book (CPU time over
all threads: the honest number on a shared machine), accounts/s and net position × scenario
cells/s (wall), the ratio of the wall time to the grid baseline's in the same run, and the peak
of traced allocations (``tracemalloc``) — measured in a second call of the same model, because
tracing every allocation slows the call it traces by about a quarter.

The acceptance target (issue 13): ``var`` and ``es`` with every default add-on (and the
netting-never-costs bound) at 100 000 accounts × 500 scenarios in ≤ 5 s — the default size.
The one-time import of ``scipy.signal`` (the EWMA filter, ~0.6-1 s, paid once per process by
the first var/es call) is done before the timed calls and printed apart, as is the machine load.

Usage: ``python benchmarks/bench_var.py [--accounts 100000] [--positions 1000000]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from venue import var_bench_config, var_history_file, write_venue

_GRID: list[float] = []  # wall time of the grid baseline of this run


def run(label: str, model: object, rb: object, n_acc: int, cells: int) -> None:
    t0, c0 = time.perf_counter(), time.process_time()
    batch = model.compute(rb)  # type: ignore[attr-defined]
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    # the peak in a second, traced call: tracing every allocation slows the call (~25 %)
    tracemalloc.start()
    model.compute(rb)  # type: ignore[attr-defined]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    im = np.asarray(batch.im)
    if not _GRID:
        _GRID.append(dt)
    print(
        f"{label:<36} {dt:7.2f} s {cpu:7.2f} s {dt / _GRID[0]:7.1f}x {n_acc / dt:10,.0f} acc/s"
        f" {cells / dt / 1e6:7.1f} M cells/s {peak / 2**20:6.0f} MiB  (IM sum {im.sum():,.0f})"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--positions", type=int, default=1_000_000)
    args = ap.parse_args()
    from crossmargin.io.market import load_market
    from crossmargin.io.tables import book_from_frames, read_table
    from crossmargin.margin.base import get_model
    from crossmargin.market.history import load_price_history
    from crossmargin.resolve import resolve

    c0 = time.process_time()
    import scipy.signal  # noqa: F401  (lazy in the EWMA filter: a once-per-process import)

    print(f"one-time import of scipy.signal: {time.process_time() - c0:.2f} s CPU")
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        p, c, m = write_venue(d, args.accounts, args.positions)
        hist = load_price_history(var_history_file(d))
        snap = replace(load_market(m), history=hist)
        cfg = var_bench_config()
        book = book_from_frames(read_table(p, what="p"), read_table(c, what="c"))
        t0 = time.perf_counter()
        rb = resolve(book, snap, cfg)
        print(
            f"venue: {book.n_accounts:,} accounts, {rb.positions.n:,} net positions, "
            f"{len(book.contracts):,} contracts; resolve {time.perf_counter() - t0:.2f} s"
        )
        off = cfg.model_copy(
            update={
                "margin_addons": cfg.margin_addons.model_copy(
                    update={
                        k: getattr(cfg.margin_addons, k).model_copy(update={"models": ()})
                        for k in ("correlation_breakdown", "liquidity", "wrong_way", "basis")
                    }
                )
            }
        )
        rb_off = replace(rb, config=off)
        grid = get_model("portfolio", cfg)
        s_grid = grid.compute(rb).scenarios
        n_grid = s_grid.n_scenarios if s_grid is not None else 0
        n = rb.positions.n
        print(f"scenarios: grid {n_grid} per underlying; historical 500 joint (FHS, 2-day MPOR)")
        print(
            f"{'model':<36} {'wall':>9} {'cpu':>9} {'/grid':>8} {'throughput':>16}"
            f" {'cells':>15} {'peak':>10}"
        )
        run("portfolio (grid, baseline)", grid, rb, book.n_accounts, n * n_grid)
        run("var 99% (500 scen., add-ons)", get_model("var", cfg), rb, book.n_accounts, n * 500)
        run("es 97.5% (500 scen., add-ons)", get_model("es", cfg), rb, book.n_accounts, n * 500)
        from crossmargin.margin.var import var_batch

        class _NoCap:
            def compute(self, rb: object) -> object:
                return var_batch("es", "es", rb, cap=False)  # type: ignore[arg-type]

        run("es 97.5% (add-ons, no netting bound)", _NoCap(), rb, book.n_accounts, n * 500)
        run(
            "es 97.5% (500 scen., no add-ons)",
            get_model("es", off),
            rb_off,
            book.n_accounts,
            n * 500,
        )
        print(f"load average after (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
