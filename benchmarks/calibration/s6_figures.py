"""Step 6: one figure per book — coverage against capital for every model, with trade-off curves.

    .venv/bin/python benchmarks/calibration/s6_figures.py             # ~1 min

Reads ``results/baseline.json`` (today's defaults), ``results/recommended.json`` (the
proposal), ``results/portfolio_search.json`` and ``results/var_search.json`` and writes
``results/figures/<book>.png`` and ``results/figures/summary.png``.

Axes: capital = average IM / average gross notional (x); coverage = share of counted 2-day
windows whose loss the IM covered (y). The dashed vertical line is the book's hindsight
constant (the flat rate that covered 99 % of windows with perfect hindsight), the shaded band
reaches 1.3 × it (the efficiency target); the horizontal line is 99 %. Hollow markers: today's
defaults; filled: the recommendation; lines: the grid's and var/es's trade-off curves over the
parameter varied (points of the searches, other parameters at the recommendation).
"""
# ruff: noqa: N812  (study modules imported under one-letter names)

from __future__ import annotations

import json
from typing import Any

import matplotlib

matplotlib.use("Agg")
import common as C
import matplotlib.pyplot as plt

COLORS = {
    "isolated": "#7f7f7f",
    "cross": "#bcbd22",
    "portfolio": "#1f77b4",
    "var": "#d62728",
    "es": "#9467bd",
    "var+capped": "#ff7f0e",
    "es+capped": "#2ca02c",
    "span": "#8c564b",
    "okx-pm": "#e377c2",
    "deribit-pm": "#17becf",
    "paradex-pm": "#aec7e8",
    "drift-v2": "#98df8a",
    "dydx-v4": "#ffbb78",
    "derive-pmrm2": "#c5b0d5",
    "derive-pmrm2 (USDC at par)": "#c49c94",
}


def _load(name: str) -> dict[str, Any] | None:
    p = C.RESULTS / f"{name}.json"
    return json.loads(p.read_text()) if p.exists() else None


def _xy(s: dict[str, Any]) -> tuple[float, float] | None:
    if "error" in s or not s.get("windows"):
        return None
    return s["avg_im_over_gross"], 1.0 - s["exceedances"] / s["windows"]


def curves(
    book: str, search: dict[str, Any] | None, choice: dict[str, Any] | None
) -> list[tuple[str, list[tuple[float, float]]]]:
    """Portfolio trade-off curves for ``book``: one parameter varied, the others at the choice."""
    if not search or not choice:
        return []
    out = []
    chosen = choice["params"]
    for stage, key in (
        ("crypto", "c_range"),
        ("crypto", "be_credit"),
        ("crypto", "eth_range"),
        ("equity", "e_down"),
        ("equity", "sn_credit"),
    ):
        pts = []
        for r in search.get(stage, []):
            p = r["params"]
            if book not in r["books"]:
                continue
            if any(p[k] != chosen.get(k) for k in p if k != key):
                continue
            s = C.expand(r["books"][book])
            if s.get("windows"):
                pts.append((p[key], s["avg_im_over_gross"], 1 - s["exceedances"] / s["windows"]))
        values = {v for v, _, _ in pts}
        if len(values) > 2:
            pts.sort(key=lambda t: (t[0] is None, t[0] or 0))
            out.append((f"portfolio, {key}", [(x, y) for _, x, y in pts]))
    return out


def volgrid_curve(
    book: str, vg: dict[str, Any] | None
) -> list[tuple[str, list[tuple[float, float]]]]:
    """The vol-scaled grid prototype over z (floors and credit at the chosen point)."""
    if not vg:
        return []
    best = vg["best"]
    pts = []
    for r in vg["grid"]:
        same = all(r[k] == best[k] for k in ("floor_crypto", "credit", "shrink"))
        if same and book in r["books"]:
            s = C.expand(r["books"][book])
            if s.get("windows"):
                pts.append((r["z"], s["avg_im_over_gross"], 1 - s["exceedances"] / s["windows"]))
    pts.sort()
    return [("vol-scaled grid, z varied", [(x, y) for _, x, y in pts])] if len(pts) > 2 else []


def var_curve(book: str, vs: dict[str, Any] | None) -> list[tuple[str, list[tuple[float, float]]]]:
    if not vs:
        return []
    pts = []
    for r in vs["stages"].get("stage1", []):
        s = r["books"].get(book, {}).get("es+capped")
        if s and s.get("windows"):
            pts.append((s["avg_im_over_gross"], 1 - s["exceedances"] / s["windows"]))
    pts.sort()
    return [("es+capped, stage-1 points", pts)] if len(pts) > 2 else []


def figure(
    book: str,
    base: dict[str, Any] | None,
    rec: dict[str, Any] | None,
    search: Any,
    choice: Any,
    vs: Any,
    vg: Any = None,
) -> None:
    fig, ax = plt.subplots(figsize=(7.5, 5.0))
    info = None
    if rec and book in rec["books"]:
        info = rec["books"][book]["mpor2"]["book"]
    elif base and book in base["books"]:
        info = base["books"][book]["book"]
    if info:
        c = info["hindsight_constant"]
        ax.axvspan(0, 1.3 * c, color="#2ca02c", alpha=0.07, lw=0)
        ax.axvline(c, color="k", ls="--", lw=0.8, label=f"hindsight constant {c:.1%}")
    ax.axhline(0.99, color="k", ls=":", lw=0.8)
    for label, pts in curves(book, search, choice) + var_curve(book, vs) + volgrid_curve(book, vg):
        xs, ys = zip(*pts, strict=True)
        ax.plot(xs, ys, "-", lw=0.8, alpha=0.6, marker=".", ms=3, label=label)
    if base and book in base["books"]:
        for m, s in base["books"][book]["models"].items():
            xy = _xy(s)
            if xy:
                ax.plot(*xy, "o", mfc="none", mec=COLORS.get(m, "k"), ms=7)
                ax.annotate(
                    m,
                    xy,
                    fontsize=6,
                    color=COLORS.get(m, "k"),
                    xytext=(3, -8),
                    textcoords="offset points",
                )
    if rec and book in rec["books"]:
        for m, s in rec["books"][book]["mpor2"]["models"].items():
            xy = _xy(s)
            if xy:
                ax.plot(*xy, "o", color=COLORS.get(m, "k"), ms=6, label=f"{m} (recommended)")
    ax.set_xlabel("capital: average IM / average gross notional")
    ax.set_ylabel("coverage: share of 2-day windows covered by IM")
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=1))
    lo = ax.get_ylim()[0]
    ax.set_ylim(max(lo, 0.85), 1.001)
    ax.set_xlim(left=0)
    ax.set_title(f"{book}: coverage vs capital (hollow: today's defaults)", fontsize=10)
    ax.legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    C.FIGURES.mkdir(parents=True, exist_ok=True)
    fig.savefig(C.FIGURES / f"{book}.png", dpi=110)
    plt.close(fig)


def summary(base: dict[str, Any] | None, rec: dict[str, Any] | None) -> None:
    """Every book: IM / hindsight constant against exceedances / expected, today vs proposal."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), sharey=True)
    for ax, (title, data, key) in zip(
        axes, (("today's defaults", base, None), ("recommended", rec, "mpor2")), strict=True
    ):
        if not data:
            continue
        for blk in data["books"].values():
            models = blk[key]["models"] if key else blk["models"]
            for m in ("portfolio", "var", "es", "var+capped", "es+capped"):
                s = models.get(m)
                if not s or "error" in s or not s.get("im_over_hindsight"):
                    continue
                ratio = s["exceedances"] / max(s["expected"], 1e-9)
                ax.plot(s["im_over_hindsight"], ratio, "o", color=COLORS[m], ms=4, alpha=0.8)
        ax.axvline(1.3, color="k", ls="--", lw=0.8)
        ax.axhline(1.0, color="k", ls=":", lw=0.8)
        ax.set_xscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("average IM / hindsight-constant margin")
    axes[0].set_ylabel("exceedances / expected (1 = calibrated)")
    for m in ("portfolio", "var", "es", "var+capped", "es+capped"):
        axes[1].plot([], [], "o", color=COLORS[m], label=m)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(C.FIGURES / "summary.png", dpi=110)
    plt.close(fig)


def main() -> None:
    base = _load("baseline")
    rec = _load("recommended")
    search = _load("portfolio_search")
    pc = _load("portfolio_choice")
    choice = pc["ranked"][0] if pc else None
    vs = _load("var_search")
    vg = _load("volgrid")
    for b in C.all_books():
        figure(b, base, rec, search, choice, vs, vg)
    summary(base, rec)


if __name__ == "__main__":
    main()
