"""The cascade report as a PNG: price paths, liquidations per round, insurance fund, bad debt."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crossmargin.liquidation.cascade import CascadeResult

__all__ = ["plot_cascade"]

_COLORS = ("tab:red", "tab:blue", "tab:green", "tab:purple", "tab:orange", "tab:brown")


def plot_cascade(res: CascadeResult, path: Path) -> None:
    """Draw the side-by-side cascade report of every regime into a PNG file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = list(res.runs.values())
    symbols = runs[0].symbols if runs else ()
    n_panels = len(symbols) + 5
    n_rows = (n_panels + 1) // 2
    fig, axes = plt.subplots(n_rows, 2, figsize=(12, 3.1 * n_rows), squeeze=False)
    flat = list(axes.ravel())
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
        ax.set_title(f"{sym}: price vs. snapshot (%)", fontsize=9)
    ax_x, ax_l, ax_f, ax_b, ax_n = flat[len(symbols) : len(symbols) + 5]
    styles = ("-", "--", ":", "-.")
    width = 0.8 / max(len(runs), 1)
    for c, run in enumerate(runs):
        color = _COLORS[c % len(_COLORS)]
        extra = 1e4 * (run.prices / run.exogenous - 1.0) if run.prices.size else np.zeros((0, 0))
        for j, sym in enumerate(run.symbols):
            ax_x.plot(
                extra[:, j], color=color, ls=styles[j % len(styles)], label=f"{run.regime} {sym}"
            )
        liq = np.asarray([r.accounts_liquidated for r in run.rounds])
        ax_l.bar(np.arange(liq.size) + c * width, liq, width=width, color=color, label=run.regime)
        fund = np.asarray([run.fund_start, *(r.insurance_fund for r in run.rounds)])
        ax_f.step(np.arange(fund.size) - 1, fund, where="post", color=color, label=run.regime)
        bad = np.cumsum([r.bad_debt for r in run.rounds])
        unc = np.cumsum([r.uncovered + r.socialized for r in run.rounds])
        ax_b.plot(bad, color=color, label=f"{run.regime} bad debt")
        ax_b.plot(unc, color=color, ls=":", label=f"{run.regime} socialised + uncovered")
        notional = np.cumsum([r.notional_market + r.notional_adl for r in run.rounds])
        ax_n.plot(notional, color=color, label=run.regime)
    ax_x.set_title("extra move caused by liquidations (bp, price impact)", fontsize=9)
    ax_l.set_title("accounts liquidated per round", fontsize=9)
    ax_f.set_title("insurance fund (after each round)", fontsize=9)
    ax_b.set_title("cumulative bad debt (solid), socialised + uncovered (dotted)", fontsize=9)
    ax_n.set_title("cumulative notional liquidated (market + ADL)", fontsize=9)
    for ax in flat[: len(symbols) + 5]:
        ax.set_xlabel("round")
        ax.legend(fontsize=7)
    for ax in flat[len(symbols) + 5 :]:
        ax.axis("off")
    fig.suptitle(
        f"liquidation cascade — {res.venue.name}, {res.venue.book.n_accounts:,} accounts — "
        f"shock: {res.shock.name}",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100, format="png")
    plt.close(fig)
