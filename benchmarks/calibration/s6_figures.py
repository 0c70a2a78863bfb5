"""Step 6: one figure per book — coverage against capital for every model, with trade-off curves.

    .venv/bin/python benchmarks/calibration/s6_figures.py             # ~1 min

Reads ``results/baseline.json`` (today's defaults), ``results/recommended.json`` (the
proposal), ``results/portfolio_search.json``, ``results/var_search.json`` and
``results/validation.json`` (the CLI's backtests of the bundled books) and writes

* ``docs/figures/validation_<book>.png`` — every model on each bundled book (docs/validation.md);
* ``docs/figures/tradeoff_portfolio.png`` and ``docs/figures/tradeoff_var_es.png`` — the
  trade-off curves of the searches, pooled over the tuning books and the held-out books, with
  today's default and the chosen point (docs/calibration.md);
* ``results/figures/<book>.png`` and ``results/figures/summary.png`` (git-ignored working
  figures: every book of the study).

The committed figures are small (dpi 80) and depend only on the committed JSON, so
``s6_figures.py --docs`` regenerates them in seconds without any backtest.

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
import sys
from pathlib import Path
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


DOC_FIGURES = C.ROOT / "docs" / "figures"
DOC_DPI = 80


def _coverage(s: dict[str, Any]) -> float:
    return 1.0 - s["exceedances"] / s["windows"]


def validation_figure(book: str, val: dict[str, Any], base: dict[str, Any] | None) -> Path:
    """Coverage vs capital of every model on one bundled book (docs/validation.md).

    Filled markers: the CLI's backtest (``results/validation.json``); hollow: models the CLI
    did not re-run on this book, from the calibration study (``results/baseline.json``, its
    cleaning and its var/es replica without the netting rule).
    """
    fig, ax = plt.subplots(figsize=(7.6, 4.0))
    models = val["books"][book]["models"]
    info = base["books"][book]["book"] if base and book in base["books"] else None
    if info:
        c = info["hindsight_constant"]
        ax.axvspan(0, 1.3 * c, color="#2ca02c", alpha=0.08, lw=0, label="≤ 1.3 × hindsight")
        ax.axvline(c, color="k", ls="--", lw=0.8, label=f"hindsight constant {c:.1%}")
    ax.axhline(0.99, color="k", ls=":", lw=0.8, label="99 % coverage")
    pts: list[tuple[str, float, float, bool]] = []
    for m, s in models.items():
        if s.get("windows"):
            pts.append((m, s["im_over_gross"], _coverage(s), True))
    if base and book in base["books"]:
        for m, s in base["books"][book]["models"].items():
            if m in models or "error" in s or not s.get("windows") or m.startswith("derive"):
                continue
            pts.append((f"{m} (study)", s["avg_im_over_gross"], _coverage(s), False))
    for i, (m, x, y, cli) in enumerate(pts):
        col = COLORS.get(m.replace(" (study)", ""), "k")
        kw = {"color": col} if cli else {"mfc": "none", "mec": col, "mew": 1.4}
        ax.plot(x, y, "os^Dv<>p"[i % 8], ms=6, ls="none", label=m, **kw)
    ax.set_xlabel("capital: average IM / average gross notional")
    ax.set_ylabel("coverage: share of windows with loss ≤ IM")
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=1))
    ys = [y for *_, y, _ in pts]
    ax.set_ylim(min(0.975, min(ys) - 0.002), 1.0015)
    ax.set_xlim(left=0)
    ax.set_title(f"{book}: coverage vs capital, MPOR 2 (hollow: study)", fontsize=9)
    ax.legend(fontsize=6.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return save_doc(fig, f"validation_{book}.png")


def save_doc(fig: Any, name: str, title: str | None = None, size: float = 8) -> Path:
    """Save a committed figure under docs/figures (small: dpi :data:`DOC_DPI`)."""
    if title:
        fig.suptitle(title, fontsize=size)
    fig.tight_layout()
    DOC_FIGURES.mkdir(parents=True, exist_ok=True)
    out = DOC_FIGURES / name
    fig.savefig(out, dpi=DOC_DPI)
    plt.close(fig)
    return out


def pooled(rows: dict[str, Any], books: list[str], unpack: Any) -> tuple[float, float, int] | None:
    """(mean IM / hindsight, pooled coverage, red worst-250 count) over ``books``."""
    ss = [unpack(rows[b]) for b in books if b in rows]
    ss = [s for s in ss if s and s.get("windows") and s.get("im_over_hindsight")]
    if not ss:
        return None
    exc = sum(s["exceedances"] for s in ss)
    win = sum(s["windows"] for s in ss)
    eff = float(sum(s["im_over_hindsight"] for s in ss) / len(ss))
    return eff, 1.0 - exc / win, sum(s.get("worst_250_zone") == "red" for s in ss)


PORTFOLIO_PARAMS = (
    ("crypto", "c_range", "crypto scan range"),
    ("crypto", "be_credit", "BTC/ETH credit"),
    ("crypto", "eth_range", "ETH range (own class)"),
    ("equity", "e_down", "equity down range"),
    ("equity", "e_up", "equity up range"),
    ("equity", "sn_credit", "SPX/NDX credit"),
)


def _sets(stage_books: list[str]) -> tuple[list[str], list[str]]:
    tune = [b for b in stage_books if C.BOOKS.get(b) is True]
    held = [b for b in stage_books if C.BOOKS.get(b) is False]
    return tune, held


def _tradeoff_axes(ax: Any, title: str) -> None:
    ax.axvline(1.3, color="k", ls="--", lw=0.7)
    ax.axhline(0.99, color="k", ls=":", lw=0.7)
    ax.set_title(title, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=1))


def portfolio_tradeoff(search: dict[str, Any], choice: dict[str, Any], default: Any) -> Path:
    """One panel per grid parameter: the others at the chosen point, the parameter varied."""
    fig, axes = plt.subplots(2, 3, figsize=(10.5, 6.2))
    chosen = choice["params"]
    for ax, (stage, key, label) in zip(axes.ravel(), PORTFOLIO_PARAMS, strict=True):
        tune, held = _sets(search[f"{stage}_books"])
        rows = [
            r
            for r in search[stage]
            if all(r["params"][k] == chosen.get(k) for k in r["params"] if k != key)
        ]
        rows.sort(key=lambda r: (r["params"][key] is None, r["params"][key] or 0.0))
        for books, style, name in ((tune, "-o", "tuning books"), (held, "--s", "held out")):
            pts = [(r["params"][key], pooled(r["books"], books, C.expand)) for r in rows]
            pts = [(v, p) for v, p in pts if p]
            if not pts:
                continue
            xs = [p[0] for _, p in pts]
            ys = [p[1] for _, p in pts]
            ax.plot(xs, ys, style, ms=3, lw=0.9, label=name)
            for v, p in pts:
                txt = "class off" if v is None else f"{v:g}" + (f" ({p[2]} red)" if p[2] else "")
                ax.annotate(
                    txt, (p[0], p[1]), fontsize=5.5, xytext=(2, 2), textcoords="offset points"
                )
                if v == chosen.get(key):
                    ax.plot(p[0], p[1], "*", ms=11, color="#d62728", zorder=5)
        dflt = default["params"].get(key) if default else None
        _tradeoff_axes(ax, f"{label}: default {dflt}, chosen {chosen.get(key)}")
    axes[0, 0].legend(fontsize=6)
    for ax in axes[1]:
        ax.set_xlabel("mean average IM / hindsight constant", fontsize=7)
    for ax in axes[:, 0]:
        ax.set_ylabel("pooled coverage", fontsize=7)
    title = (
        "portfolio grid: coverage vs capital, one parameter varied (★ chosen; labels: value, "
        "books with a red worst-250 window)"
    )
    return save_doc(fig, "tradeoff_portfolio.png", title, 8)


def _short(ov: dict[str, Any]) -> str:
    v = ov.get("var", {})
    parts = [f"{v.get('method', 'fhs')} {v.get('lookback_days', '')}".strip()]
    if "ewma_lambda" in v:
        parts.append(f"λ {v['ewma_lambda']}")
    if v.get("anti_procyclicality"):
        parts.append(v["anti_procyclicality"])
    if "stress_weight" in v:
        parts.append(f"sw {v['stress_weight']}")
    cb = ov.get("margin_addons", {}).get("correlation_breakdown", {})
    if cb:
        parts.append(f"low {cb.get('low_factor')}")
    return ", ".join(parts) if ov else "today's default"


def held_all(data: dict[str, Any]) -> list[str]:
    return [b for b in data["books"] if C.BOOKS.get(b) is False and b not in C.NOT_POOLED]


def var_tradeoff(vs: dict[str, Any], vc: dict[str, Any] | None, rec: Any, cur: Any = None) -> Path:
    """var/es with the netting rule: every searched configuration, pooled over tuning books,
    and the curve over the APC buffer at the chosen configuration (``apc_curve.json``)."""
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.2), sharey=True)
    tune = vs["tuning_books"]
    chosen = vc["choice"]["overlay"] if vc else None
    for ax, kind in zip(axes, ("var+capped", "es+capped"), strict=True):
        for st, marker in (("stage1", "o"), ("stage2", "s"), ("stage3", "^")):
            for r in vs["stages"].get(st, []):
                p = pooled(r["books"], tune, lambda x, k=kind: x.get(k))
                if not p:
                    continue
                star = r["overlay"] == chosen
                ax.plot(p[0], p[1], "*" if star else marker, ms=12 if star else 5,
                        color="#d62728" if star else "#1f77b4")  # fmt: skip
                txt = _short(r["overlay"]) + (f" ({p[2]} red)" if p[2] else "")
                ax.annotate(
                    txt, (p[0], p[1]), fontsize=5.5, xytext=(3, 2), textcoords="offset points"
                )
        if rec:
            held = held_all(rec)
            p = pooled(
                {b: rec["books"][b]["mpor2"]["models"] for b in rec["books"]},
                held,
                lambda x, k=kind: x.get(k),
            )
            if p:
                ax.plot(p[0], p[1], "D", ms=6, color="#2ca02c")
                ax.annotate(f"chosen, held-out books ({p[2]} red)", (p[0], p[1]), fontsize=6,
                            xytext=(3, -9), textcoords="offset points", color="#2ca02c")  # fmt: skip
        if cur:
            for books, style, name in ((tune, "-", "tuning"), (held_all(cur), "--", "held out")):
                pts = []
                for buf in cur["buffers"]:
                    rows = {b: cur["books"][b][str(buf)] for b in books}
                    p = pooled(rows, books, lambda x, k=kind: x.get(k))
                    if p:
                        pts.append((buf, p))
                ax.plot([p[0] for _, p in pts], [p[1] for _, p in pts], style, lw=0.9,
                        color="#2ca02c", label=f"apc_buffer varied, {name} books")  # fmt: skip
                for buf, p in pts:
                    txt = f"b {buf:g}" + (f" ({p[2]} red)" if p[2] else "")
                    ax.annotate(txt, (p[0], p[1]), fontsize=5.5, color="#2ca02c",
                                xytext=(2, -7), textcoords="offset points")  # fmt: skip
            ax.legend(fontsize=6, loc="lower right")
        _tradeoff_axes(ax, f"{kind.replace('+capped', '')} (the library's netting rule applied)")
        ax.set_xlabel("mean average IM / hindsight constant", fontsize=7)
    axes[0].set_ylabel("pooled coverage", fontsize=7)
    title = (
        "var/es: coverage vs capital of the searched configurations on the 9 var/es tuning "
        "books (○ stage 1 method/lookback, □ stage 2 anti-procyclicality,\n△ stage 3 "
        "correlation stress; ★ chosen; ◆ chosen, held-out books); green: the chosen "
        "configuration with the APC buffer varied (held out: without btc_long_gamma)"
    )
    return save_doc(fig, "tradeoff_var_es.png", title, 7.5)


def doc_figures() -> list[Path]:
    """The committed figures of docs/validation.md and docs/calibration.md."""
    base = _load("baseline")
    val = _load("validation")
    search = _load("portfolio_search")
    pc = _load("portfolio_choice")
    vs = _load("var_search")
    vc = _load("var_choice")
    rec = _load("recommended")
    out = []
    if val:
        out += [validation_figure(b, val, base) for b in val["books"]]
    if search and pc:
        out.append(portfolio_tradeoff(search, pc["ranked"][0], pc.get("default")))
    if vs:
        out.append(var_tradeoff(vs, vc, rec, _load("apc_curve")))
    return out


def main() -> None:
    for p in doc_figures():
        print(f"{p.relative_to(C.ROOT)}  {p.stat().st_size // 1024} KiB")
    if "--docs" in sys.argv[1:]:
        return
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
