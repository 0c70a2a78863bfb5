"""Scenario P&L heat maps (``margin --plot FILE.png``).

One panel per (account, underlying): rows are vol states, columns spot moves (tails included,
empty where a tail has no such vol state); the worst cell is boxed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crossmargin.account.health import AccountResults

__all__ = ["plot_scenarios"]

MAX_PANELS = 12


def plot_scenarios(res: AccountResults, path: Path) -> None:
    """Draw scenario heat maps of ``res`` (needs ``detail=True``) into a PNG file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    b = res.batch
    if b.scenario_pnl is None or b.scenarios is None or b.scenario_class is None:
        raise ValueError("scenario heat maps need a scenario-based model (e.g. --model portfolio)")
    gt = b.groups
    groups = list(range(min(gt.n, MAX_PANELS)))
    n = max(len(groups), 1)
    fig, axes = plt.subplots(n, 1, figsize=(11, 2.6 * n + 0.6), squeeze=False)
    states = ["up", "unchanged", "down"]
    for ax, g in zip(axes[:, 0], groups, strict=False):
        grid = b.scenarios.grids[int(b.scenario_class[g])]
        fx = float(res.book.fx[int(gt.account[g])])
        # cells without a spot x vol place (e.g. a preset's skew or contingency cell) are skipped
        real = [j for j in range(grid.size) if grid.kind[j] != "pad" and grid.vol_name(j) in states]
        moves = sorted({float(grid.spot_move[j]) for j in real})
        z = np.full((3, len(moves)), np.nan)
        pos = {}
        for j in real:
            r = states.index(grid.vol_name(j))
            c = moves.index(float(grid.spot_move[j]))
            z[r, c] = b.scenario_pnl[g, j] * fx
            pos[j] = (r, c)
        lim = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
        im = ax.imshow(z, cmap="RdYlGn", vmin=-lim or -1, vmax=lim or 1, aspect="auto")
        ax.set_yticks(range(3), [f"vol {s}" for s in states])
        ax.set_xticks(range(len(moves)), [f"{m * 100:+.0f}%" for m in moves], rotation=45)
        w = int(gt.worst[g])
        if w in pos:
            r, c = pos[w]
            ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor="black", lw=2.5))
        acc = res.accounts[int(gt.account[g])]
        und = gt.underlyings[int(gt.und[g])]
        ax.set_title(
            f"{acc} · {und}: scenario P&L ({res.book.book.base_currency[int(gt.account[g])]}), "
            f"worst boxed: {grid.label(w) if w >= 0 else '-'}",
            fontsize=9,
        )
        fig.colorbar(im, ax=ax, fraction=0.025)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
