"""The cascade report as a PNG: price paths, liquidations per round, insurance fund, bad debt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from crossmargin._format import fmt_short
from crossmargin.liquidation.cascade import CascadeResult
from crossmargin.liquidation.report import COMPARISON_LINES, comparison_rows

__all__ = ["cascade_figure", "plot_cascade"]

_COLORS = ("tab:red", "tab:blue", "tab:green", "tab:purple", "tab:orange", "tab:brown")


def plot_cascade(res: CascadeResult, path: Path) -> None:
    """Draw the side-by-side cascade report of every regime into a PNG file."""
    fig = cascade_figure(res)  # selects the Agg backend before pyplot is imported
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=100, format="png")
    plt.close(fig)


def cascade_figure(res: CascadeResult) -> Any:
    """The cascade report as a matplotlib figure (Agg backend; the caller closes it).

    Panels: each symbol's price path (% vs the snapshot), the extra move liquidations caused
    (% too, so both read on one scale), accounts liquidated per round, the insurance fund,
    cumulative bad debt and notional liquidated (money axes in plain units: 1.5M, not an
    ``1e7`` offset), and a summary table of the regimes (filling the grid, so no panel is empty).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    runs = list(res.runs.values())
    symbols = runs[0].symbols if runs else ()
    n_panels = len(symbols) + 6  # + extra move, liquidations, fund, bad debt, notional, summary
    n_rows = (n_panels + 1) // 2
    fig = plt.figure(figsize=(12, 3.2 * n_rows))
    grid = fig.add_gridspec(n_rows, 2)
    # the last panel (the summary) spans both columns when the count is odd
    cells = [grid[k // 2, k % 2] for k in range(n_panels - 1)]
    cells.append(grid[n_rows - 1, :] if n_panels % 2 else grid[n_rows - 1, 1])
    flat = [fig.add_subplot(c) for c in cells]
    money = FuncFormatter(lambda x, _pos: fmt_short(x))
    for j, sym in enumerate(symbols):
        ax = flat[j]
        for c, run in enumerate(runs):
            ref = float(run.initial_prices[j])
            if c == 0:
                ax.plot(
                    100 * (run.exogenous[:, j] / ref - 1), "k--", lw=1.2, label="exogenous shock"
                )
            ax.plot(
                100 * (run.prices[:, j] / ref - 1),
                color=_COLORS[c % len(_COLORS)],
                lw=1.4,
                label=run.regime,
            )
        ax.set_title(f"{sym}: price vs the snapshot", fontsize=9)
        _percent_axis(ax)
    ax_x, ax_l, ax_f, ax_b, ax_n, ax_t = flat[len(symbols) :]
    styles = ("-", "--", ":", "-.")
    width = 0.8 / max(len(runs), 1)
    for c, run in enumerate(runs):
        color = _COLORS[c % len(_COLORS)]
        extra = 100 * (run.prices / run.exogenous - 1.0) if run.prices.size else np.zeros((0, 0))
        for j, sym in enumerate(run.symbols):
            ax_x.plot(
                extra[:, j], color=color, ls=styles[j % len(styles)], label=f"{run.regime} {sym}"
            )
        liq = np.asarray([r.accounts_liquidated for r in run.rounds])
        shift = (c - (len(runs) - 1) / 2) * width  # the regimes' bars centred on the round
        ax_l.bar(np.arange(liq.size) + shift, liq, width=width, color=color, label=run.regime)
        fund = np.asarray([run.fund_start, *(r.insurance_fund for r in run.rounds)])
        ax_f.step(np.arange(fund.size) - 1, fund, where="post", color=color, label=run.regime)
        bad = np.cumsum([r.bad_debt for r in run.rounds])
        unc = np.cumsum([r.uncovered + r.socialized for r in run.rounds])
        ax_b.plot(bad, color=color, label=f"{run.regime} bad debt")
        ax_b.plot(unc, color=color, ls=":", label=f"{run.regime} socialised + uncovered")
        notional = np.cumsum([r.notional_market + r.notional_adl for r in run.rounds])
        ax_n.plot(notional, color=color, label=run.regime)
    ccy = res.venue.book.base_currency[0] if res.venue.book.n_accounts else ""
    ax_x.set_title("extra move caused by liquidations (price impact)", fontsize=9)
    _percent_axis(ax_x)
    ax_l.set_title("accounts liquidated per round", fontsize=9)
    ax_l.yaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:,.0f}"))
    ax_f.set_title(
        f"insurance fund after each round ({ccy}; round -1 = before the shock)", fontsize=9
    )
    ax_b.set_title(
        f"cumulative bad debt (solid), socialised + uncovered (dotted), {ccy}", fontsize=9
    )
    ax_n.set_title(f"cumulative notional liquidated (market + ADL), {ccy}", fontsize=9)
    for ax in (ax_f, ax_b, ax_n):
        ax.yaxis.set_major_formatter(money)
    for ax in flat[:-1]:
        ax.set_xlabel("round")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=7)
    _summary_table(ax_t, comparison_rows(res))
    fig.suptitle(
        f"liquidation cascade — {res.venue.name}, {res.venue.book.n_accounts:,} accounts — "
        f"shock: {res.shock.name}",
        fontsize=11,
    )
    fig.tight_layout()
    return fig


def _percent_axis(ax: Any) -> None:
    """Percent tick labels (values already in %) with as few decimals as the range needs."""
    from matplotlib.ticker import FuncFormatter

    lo, hi = ax.get_ylim()
    span = abs(hi - lo)
    d = 0 if span >= 5 else 1 if span >= 0.5 else 2 if span >= 0.05 else 3
    ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:.{d}f}%"))


def _summary_table(ax: Any, rows: list[dict[str, Any]]) -> None:
    """The regimes side by side, as the command prints them."""
    ax.axis("off")
    ax.set_title("summary", fontsize=9)
    if not rows:
        return
    fmt: dict[str, Any] = {
        "money": fmt_short, "count": lambda x: f"{x:,}", "share": lambda x: f"{x:.1%}", "int": str,
    }  # fmt: skip
    text = [[label, *(fmt[kind](r[key]) for r in rows)] for label, key, kind in COMPARISON_LINES]
    n = len(rows)
    t = ax.table(
        cellText=text,
        colLabels=["", *(r["regime"] for r in rows)],
        colWidths=[0.34, *([0.62 / n] * n)],
        loc="center",
        cellLoc="right",
        colLoc="right",
    )
    for (_row, col), cell in t.get_celld().items():
        if col == 0:
            cell.set_text_props(ha="left")
            cell._loc = "left"  # matplotlib aligns by the cell's own attribute
    t.auto_set_font_size(False)
    t.set_fontsize(8)
    t.scale(1.0, 1.15)
