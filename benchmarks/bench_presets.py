"""Benchmark: every venue preset beside the ``portfolio`` model on the synthetic venue.

Uses the seeded venue of ``benchmarks/venue.py`` (100k accounts, 1M positions). Presets that list
fewer products get the matching subset: Derive and Paradex (perps + options, no dated futures),
dYdX and Drift (BTC/ETH perpetuals only); ``portfolio`` is re-run on each subset as the baseline.
Prints time, accounts/s, positions/s and peak traced memory (tracemalloc) per model.
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from crossmargin.config import default_config
from crossmargin.instruments.book import Book
from crossmargin.io.market import market_from_obj
from crossmargin.io.tables import book_from_frames
from crossmargin.margin.base import get_model
from crossmargin.resolve import resolve
from venue import market, positions


def run(name: str, book: Book) -> None:
    cfg = default_config()
    rb = resolve(book, market_from_obj(market()), cfg)
    model = get_model(name, cfg)
    model.compute(rb)  # warm-up
    best = min(_timed(lambda: model.compute(rb)) for _ in range(3))
    tracemalloc.start()
    model.compute(rb)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(
        f"{name:14s} {best:6.2f} s  {book.n_accounts / best:10,.0f} accounts/s  "
        f"{book.n_positions / best:12,.0f} positions/s  peak {peak / 2**20:7.1f} MiB  "
        f"({book.n_accounts:,} accounts, {book.n_positions:,} positions, {len(book.contracts):,} contracts)"
    )


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    pos, col = positions(100_000, 1_000_000)
    print("full venue (perps, futures, options on BTC/ETH/SPX)")
    full = book_from_frames(pos, col)
    for name in ("portfolio", "deribit-pm", "okx-pm", "span"):
        run(name, full)
    print("perps + options (no dated futures)")
    po = pos[~pos["instrument"].str.match(r"^[A-Z]+-\d+[A-Z]{3}\d{2}$")].reset_index(drop=True)
    sub = book_from_frames(po, col)
    for name in ("portfolio", "derive-pmrm2", "paradex-pm"):
        run(name, sub)
    print("BTC/ETH perpetuals only")
    pp = pos[pos["instrument"].str.endswith("-PERP") & ~pos["instrument"].str.startswith("SPX")]
    perps = book_from_frames(pp.reset_index(drop=True), col[col["asset"] == "USDC"])
    for name in ("portfolio", "dydx-v4", "drift-v2"):
        run(name, perps)


if __name__ == "__main__":
    main()
