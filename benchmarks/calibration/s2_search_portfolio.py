"""Step 2: parameter search for the ``portfolio`` grid (scan ranges, vol shocks, credits).

    .venv/bin/python benchmarks/calibration/s2_search_portfolio.py    # ~30 min cold, ~2 min cached

Every parameter point is a configuration overlay (:mod:`portfolio_params`) margined by the
library's stacked replay engine on every book (the engine was checked against per-day
resolution for this model in step 1). A book is only re-run for the parameters that can change
its margins. Stages:

1. **crypto**: scan range × ETH's own range × BTC/ETH credit × vol-up shock, on every crypto
   book;
2. **equity**: range down × range up × SPX/NDX credit × vol-up shock, on every equity book;
3. **mixed books** (crypto + equity) on the cross product of the best points of 1 and 2.

The choice uses the tuning books only (``common.BOOKS``); held-out books are computed for the
out-of-sample report. Rule (``common.choice_key``, docs/calibration.md): (1) safety — no red
worst-250 window and no Kupiec rejection for too many exceedances on a tuning book, (2) then
the most target checks met (Kupiec, efficiency), (3) then the lowest mean IM / hindsight. Writes
``results/portfolio_search.json`` (every point × book) and ``results/portfolio_choice.json``.
"""
# ruff: noqa: N812  (study modules imported under one-letter names)

from __future__ import annotations

import itertools
import json
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import common as C
import evaluate as E
import portfolio_params as PP

CRYPTO_BOOKS = [b for b in C.all_books() if set(C.book(b).underlyings) <= {"BTC", "ETH", "USDC"}]
EQUITY_BOOKS = [b for b in C.all_books() if set(C.book(b).underlyings) <= {"SPX", "NDX"}]
MIXED_BOOKS = [b for b in C.all_books() if b not in CRYPTO_BOOKS and b not in EQUITY_BOOKS]

GRID_CRYPTO = {
    "c_range": [0.10, 0.12, 0.14, 0.16, 0.18, 0.20, 0.22, 0.24, 0.26, 0.28, 0.30],
    "eth_range": [None, 0.20, 0.24, 0.28, 0.32],
    "be_credit": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5],
    "c_volup": [0.5, 1.0],
}
GRID_EQUITY = {
    "e_down": [0.05, 0.06, 0.07, 0.08, 0.10, 0.12, 0.14],
    "e_up": [0.04, 0.05, 0.06, 0.08, 0.10],
    "sn_credit": [0.3, 0.45, 0.6, 0.75, 0.85],
    "e_volup": [0.4, 0.6, 0.8],
}
KEEP = (
    "windows",
    "nonoverlap_windows",
    "exceedances",
    "kupiec_p_nonoverlap",
    "nonoverlap_exceedances",
    "worst_250",
    "worst_250_zone",
    "hindsight_constant",
    "avg_im_over_gross",
    "im_over_hindsight",
    "im_over_isolated",
    "peak_to_trough_rate",
    "max_5day_rise",
    "es_z2",
)

_SUMMARIES: dict[str, dict[str, Any]] = {}
_STORE = C.CACHE / "portfolio_summaries.jsonl"


def _load_store() -> None:
    if _STORE.exists():
        for line in _STORE.read_text().splitlines():
            k, v = json.loads(line)
            _SUMMARIES[k] = v


def summary(book: str, p: Mapping[str, Any], mpor: int = 2) -> dict[str, Any]:
    """Compact summary of the portfolio model on ``book`` at parameter point ``p`` (cached)."""
    rel = PP.relevant(book, p)
    ov = PP.overlay(rel)
    key = f"{book}|{mpor}|{C.overlay_key(ov)}"
    if key not in _SUMMARIES:
        cfg = C.overlay_config(E.mpor_overlay(ov, mpor))
        rep = C.replay(book, mpor, cfg)
        run = E.model_run(book, "portfolio", mpor=mpor, overlay=ov, engine="stacked")
        iso = E.model_run(book, "isolated", mpor=mpor)
        s = C.model_summary(rep, run, isolated=iso, config=cfg)
        row = {k: s[k] for k in KEEP}
        row["targets"] = s["targets"]
        _SUMMARIES[key] = row
        _STORE.parent.mkdir(parents=True, exist_ok=True)
        with _STORE.open("a") as f:
            f.write(json.dumps([key, C._clean(row)]) + "\n")
    return _SUMMARIES[key]


def points(grid: Mapping[str, Sequence[Any]]) -> Iterable[dict[str, Any]]:
    keys = list(grid)
    for vals in itertools.product(*(grid[k] for k in keys)):
        yield dict(zip(keys, vals, strict=True))


def score(rows: Mapping[str, Mapping[str, Any]], books: Sequence[str]) -> tuple[Any, ...]:
    """Sort key of the choice rule (:func:`common.choice_key`) over ``books``."""
    return C.choice_key([rows[b] for b in books])


def stage(
    grid: Mapping[str, Sequence[Any]], books: Sequence[str], label: str
) -> list[dict[str, Any]]:
    out = []
    t0 = time.perf_counter()
    pts = list(points(grid))
    for i, p in enumerate(pts):
        rows = {b: summary(b, p) for b in books}
        out.append({"params": p, "books": rows})
        if i % 50 == 0:
            print(f"{label}: {i}/{len(pts)} {time.perf_counter() - t0:6.0f} s", flush=True)
    return out


def ranked(results: list[dict[str, Any]], books: Sequence[str]) -> list[dict[str, Any]]:
    tuning = [b for b in books if C.BOOKS.get(b)]
    return sorted(results, key=lambda r: score(r["books"], tuning))


def main() -> None:
    t0 = time.perf_counter()
    _load_store()
    crypto = stage(GRID_CRYPTO, CRYPTO_BOOKS, "crypto")
    equity = stage(GRID_EQUITY, EQUITY_BOOKS, "equity")
    top_c = ranked(crypto, CRYPTO_BOOKS)[:6]
    top_e = ranked(equity, EQUITY_BOOKS)[:6]
    mixed = []
    for a, b in itertools.product(top_c, top_e):
        p = {**a["params"], **b["params"]}
        mixed.append({"params": p, "books": {m: summary(m, p) for m in MIXED_BOOKS}})
    # the joint choice over all tuning books
    joint = [
        {"params": m["params"], "books": {b: summary(b, m["params"]) for b in C.all_books()}}
        for m in mixed
    ]
    best = ranked(joint, C.all_books())
    default = {
        "params": dict(PP.DEFAULT),
        "books": {b: summary(b, PP.DEFAULT) for b in C.all_books()},
    }

    def pack(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {"params": r["params"], "books": {b: C.compact(s) for b, s in r["books"].items()}}
            for r in rows
        ]

    C.write_json(
        "portfolio_search",
        {
            "what": "portfolio grid: every parameter point x book (MPOR 2); book rows are "
            "lists of the fields below (common.COMPACT)",
            "fields": list(C.COMPACT),
            "grid_crypto": GRID_CRYPTO,
            "grid_equity": GRID_EQUITY,
            "crypto_books": CRYPTO_BOOKS,
            "equity_books": EQUITY_BOOKS,
            "mixed_books": MIXED_BOOKS,
            "crypto": pack(crypto),
            "equity": pack(equity),
            "mixed": pack(mixed),
            "seconds": time.perf_counter() - t0,
        },
    )
    C.write_json(
        "portfolio_choice",
        {
            "rule": "common.choice_key: safety (red worst-250, too many exceedances), then "
            "target checks met, then mean IM/hindsight; tuning books only",
            "default": default,
            "ranked": best[:10],
        },
    )
    print(json.dumps(best[0]["params"]), f"{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--quick":
        GRID_CRYPTO = {k: v[:2] for k, v in GRID_CRYPTO.items()}
        GRID_EQUITY = {k: v[:2] for k, v in GRID_EQUITY.items()}
    main()
