"""Step 2b: prototype of a volatility-scaled grid with a floor, and a correlation-scaled credit.

    .venv/bin/python benchmarks/calibration/s2b_volgrid.py            # ~30 min cold, ~2 min cached

Step 2 shows that no *static* scan range meets the targets on 13 years of crypto (the range that
keeps 2013-2014 and 2017-2018 out of the red is far too wide for 2023-2026). CME sets SPAN
scanning ranges from recent volatility with floors; this step tests that design with the
library's own grid model, without changing it:

* per underlying and day, ``range_u(t) = clip(z · σ_u(t) · √h, floor, cap)`` with ``σ_u(t)`` the
  point-in-time EWMA (λ 0.97) daily vol of the underlying's own cleaned history and ``h`` the
  MPOR in steps; the equity grid keeps its up/down asymmetry (up = 0.75 × down);
* per BTC/ETH or SPX/NDX pair and day, a credit from the *lowest* 30-day realised correlation
  of the trailing year, ``c(t) = max(0, 1 − √((1 − ρ_min)/2)) × shrink`` — the equivalence the
  default credits were chosen with (``default_risk.yaml``), applied to a stressed, current ρ.

How, exactly and cheaply: a group's (account × underlying) grid requirement depends only on its
own scan range and credit rate (the SPAN credit uses the leg's own price risk and both legs'
deltas), so the stacked replay is margined once per value of a discrete range × credit grid and
each group's requirement is then read at its own day's range (rounded *up* to the grid) and
credit (rounded *down*). The result is what the grid model would give with those per-day
parameters. Writes ``results/volgrid.json``.
"""
# ruff: noqa: N812  (study modules imported under one-letter names)

from __future__ import annotations

import itertools
import time
from dataclasses import replace
from typing import Any

import common as C
import numpy as np

from crossmargin.backtest.replay import BookReplay, ModelRun
from crossmargin.backtest.vol import ewma_vol
from crossmargin.margin.portfolio import PortfolioMargin

R_CRYPTO = np.round(np.arange(0.04, 0.505, 0.01), 3)  # crypto range (down = up)
R_EQUITY = np.round(np.arange(0.02, 0.2505, 0.005), 4)  # equity down range (up = 0.75 x)
CREDITS = np.round(np.arange(0.0, 0.801, 0.1), 2)
CLASS = {
    "BTC": "crypto",
    "ETH": "crypto",
    "USDC": "stablecoin",
    "SPX": "equity_index",
    "NDX": "equity_index",
}
PAIRS = {("BTC", "ETH"), ("SPX", "NDX")}


def _overlay(i: int, credit: float) -> dict[str, Any]:
    rc, re_ = float(R_CRYPTO[min(i, R_CRYPTO.size - 1)]), float(R_EQUITY[min(i, R_EQUITY.size - 1)])
    return {
        "risk_classes": {
            "crypto": {"grid": {"price_range_down": rc, "price_range_up": rc}},
            "equity_index": {
                "grid": {"price_range_down": re_, "price_range_up": round(0.75 * re_, 5)}
            },
        },
        "inter_commodity": [
            {"legs": ["BTC", "ETH"], "ratio": [1.0, 1.0], "credit": credit},
            {"legs": ["SPX", "NDX"], "ratio": [1.0, 1.0], "credit": credit},
        ],
    }


def _groups(rep: BookReplay, ov: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Full-book and stand-alone group requirements ``(D, U)`` under ``ov`` (cached on disk)."""
    key = C.CACHE / "volgrid" / f"{rep.book.name}__h{rep.mpor}__{C.overlay_key(ov)}.npz"
    if key.exists():
        with np.load(key) as z:
            return z["full"], z["sub"]
    cfg = C.overlay_config(ov)
    rb = replace(rep.resolved, config=cfg)
    g = PortfolioMargin(cfg).compute(rb).groups
    D, U = rep.n_days, len(rep.underlyings)
    full = np.zeros((D, U))
    sub = np.zeros((D, U))
    f = g.account < D
    full[g.account[f], g.und[f]] = g.im[f]
    if U > 1:
        s = ~f
        sub[(g.account[s] - D) // U, g.und[s]] = g.im[s]
    else:
        sub = full.copy()
    key.parent.mkdir(parents=True, exist_ok=True)
    np.savez(key, full=full, sub=sub)
    return full, sub


def point_in_time_vol(rep: BookReplay, lam: float = 0.97) -> np.ndarray:
    """``(D, U)`` daily EWMA vol of each underlying's own history on each evaluation day."""
    hist = rep.market.history
    assert hist is not None
    pos = np.searchsorted(hist.dates, rep.dates)
    out = []
    for u in rep.underlyings:
        ann = ewma_vol(hist, u, lam, 30)
        col = hist.column(u)
        # last available estimate at or before the day (the underlying may not trade that day)
        idx = np.where(np.isfinite(ann), np.arange(ann.size), -1)
        idx = np.maximum.accumulate(idx)
        v = np.where(idx[pos] >= 0, ann[np.maximum(idx[pos], 0)], np.nan)
        seven = np.mean(((hist.dates[np.isfinite(col)].astype(np.int64) + 3) % 7) >= 5) >= 0.2
        out.append(v / np.sqrt(365.0 if seven else 252.0))
    return np.column_stack(out)


def trailing_min_corr(
    rep: BookReplay, a: str, b: str, window: int = 30, year: int = 365
) -> np.ndarray:
    """Lowest ``window``-return correlation of ``a``/``b`` daily returns over the trailing year."""
    hist = rep.market.history
    assert hist is not None
    va, vb = hist.column(a), hist.column(b)
    ok = np.isfinite(va) & np.isfinite(vb)
    d = hist.dates[ok]
    x = np.diff(np.log(np.column_stack([va[ok], vb[ok]])), axis=0)
    te = d[1:]
    from crossmargin.backtest.netting import rolling_correlation

    r = rolling_correlation(x[:, 0], x[:, 1], window)
    out = np.full(rep.n_days, np.nan)
    k = np.searchsorted(te, rep.dates, side="right") - 1
    lo = np.searchsorted(te, rep.dates - np.timedelta64(year, "D"), side="left")
    for i in range(rep.n_days):
        if k[i] >= window:
            seg = r[max(lo[i], 0) : k[i] + 1]
            if np.isfinite(seg).any():
                out[i] = float(np.nanmin(seg))
    return out


def run(
    book: str,
    *,
    z: float,
    floor_c: float,
    floor_e: float,
    cap_c: float = 0.5,
    cap_e: float = 0.25,
    credit: str | float = "corr",
    shrink: float = 1.0,
    mpor: int = 2,
) -> ModelRun:
    """The vol-scaled grid's margins on every day of ``book`` (module docstring)."""
    rep = C.replay(book, mpor)
    U = len(rep.underlyings)
    sd = point_in_time_vol(rep)
    target = z * sd * np.sqrt(mpor)
    idx = np.zeros_like(target, dtype=np.int64)
    for u, name in enumerate(rep.underlyings):
        cls = CLASS[name]
        if cls == "crypto":
            t = np.clip(target[:, u], floor_c, cap_c)
            idx[:, u] = np.searchsorted(R_CRYPTO, t - 1e-12)
        elif cls == "equity_index":
            t = np.clip(target[:, u], floor_e, cap_e)
            idx[:, u] = np.searchsorted(R_EQUITY, t - 1e-12)
        else:  # stablecoin: its own static grid
            idx[:, u] = 0
    pair = next((p for p in PAIRS if set(p) <= set(rep.underlyings)), None)
    if pair is None or credit == "none":
        cr = np.zeros(rep.n_days, np.int64)
        credit_values = [0.0]
    elif isinstance(credit, float):
        credit_values = [credit]
        cr = np.zeros(rep.n_days, np.int64)
    else:
        rho = trailing_min_corr(rep, *pair)
        c = np.where(
            np.isfinite(rho), np.maximum(0.0, 1.0 - np.sqrt((1.0 - rho) / 2.0)) * shrink, 0.0
        )
        credit_values = list(CREDITS)
        cr = np.clip(np.floor(c / 0.1 + 1e-9).astype(np.int64), 0, CREDITS.size - 1)
    im = np.zeros(rep.n_days)
    by = np.zeros((rep.n_days, U))
    need = {(int(i), int(c)) for i, c in zip(idx.ravel(), np.repeat(cr, U), strict=True)}
    cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    for i, c in sorted(need):
        cache[(i, c)] = _groups(
            rep,
            _overlay(i, float(credit_values[c]) if len(credit_values) > 1 else credit_values[0]),
        )
    for (i, c), (full, sub) in cache.items():
        for u in range(U):
            sel = (idx[:, u] == i) & (cr == c)
            im[sel] += full[sel, u]
            by[sel, u] = sub[sel, u]
    return ModelRun(
        "portfolio-volgrid",
        "stacked",
        f"z={z} floors {floor_c}/{floor_e}",
        im,
        0.8 * im,
        by,
        {},
        0.0,
    )


def main() -> None:
    t0 = time.perf_counter()
    cfg = C.overlay_config()
    out: dict[str, Any] = {"what": "vol-scaled grid prototype (s2b)", "grid": []}
    zs = (2.0, 2.15, 2.33, 2.6, 2.9, 3.2)
    floors = ((0.05, 0.025), (0.06, 0.03), (0.08, 0.04), (0.10, 0.05))
    credits: list[tuple[str | float, float]] = [("corr", 1.0), ("corr", 0.8), (0.0, 1.0)]
    for z, (fc, fe), (cm, shrink) in itertools.product(zs, floors, credits):
        rows = {}
        for b in C.all_books():
            run_ = run(b, z=z, floor_c=fc, floor_e=fe, credit=cm, shrink=shrink)
            rep = C.replay(b)
            iso = C.load_run(f"{b}__isolated__h2__{C.overlay_key({})}")
            s = C.model_summary(rep, run_, isolated=iso, config=cfg)
            s.pop("crises")
            rows[b] = s
        out["grid"].append(
            {
                "z": z,
                "floor_crypto": fc,
                "floor_equity": fe,
                "credit": cm,
                "shrink": shrink,
                "books": rows,
            }
        )
        print(z, fc, cm, shrink, f"{time.perf_counter() - t0:6.0f} s", flush=True)
    tuning = [b for b, t in C.BOOKS.items() if t]
    out["grid"].sort(key=lambda r: C.choice_key([r["books"][b] for b in tuning]))
    out["best"] = {k: v for k, v in out["grid"][0].items() if k != "books"}
    out["best_books"] = out["grid"][0]["books"]
    out["fields"] = list(C.COMPACT)
    for r in out["grid"]:
        r["books"] = {b: C.compact(s) for b, s in r["books"].items()}
    out["seconds"] = time.perf_counter() - t0
    C.write_json("volgrid", out)
    print(out["best"])


if __name__ == "__main__":
    main()
