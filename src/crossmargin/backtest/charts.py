"""Backtest charts (matplotlib, Agg backend), returned as PNG bytes.

* margin vs realised loss per model, exceedances marked, gap windows shaded;
* traffic-light summary: exceedances per model against the zone bounds;
* rolling realised correlation of each credited pair against the models' assumptions, with the
  flagged (credit not justified) days shaded;
* procyclicality: margin rate (margin / gross notional) per model against the book's realised vol.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from crossmargin.backtest.analysis import ModelResult
from crossmargin.backtest.run import BacktestResult

__all__ = [
    "all_charts",
    "correlation_chart",
    "margin_chart",
    "procyclicality_chart",
    "traffic_chart",
]

_ZONE_COLOURS = {"green": "#2e9d4d", "yellow": "#e0b000", "red": "#c8102e"}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    plt = _plt()
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def _dates(res: BacktestResult) -> np.ndarray:
    return res.replay.dates.astype("datetime64[D]").astype(object)


def _ran(res: BacktestResult) -> list[ModelResult]:
    """The models that produced margins."""
    return [m for m in res.models if m.run is not None]


def margin_chart(res: BacktestResult) -> bytes | None:
    """Margin vs realised loss, one panel per model that ran."""
    ok = _ran(res)
    if not ok:
        return None
    plt, rep, x = _plt(), res.replay, _dates(res)
    fig, axes = plt.subplots(
        len(ok), 1, figsize=(12, 2.6 * len(ok) + 0.4), sharex=True, squeeze=False
    )
    for ax, m in zip(axes[:, 0], ok, strict=True):
        assert m.run is not None
        ax.fill_between(x, 0, np.maximum(rep.loss, 0), color="#999999", lw=0, label="realised loss")
        ax.plot(x, m.run.im, color="#1f5aa6", lw=1.0, label="initial margin")
        hit = m.exceeded & m.used
        ax.scatter(x[hit], rep.loss[hit], color="#c8102e", s=14, zorder=3, label="exceedance")
        gap = ~m.used
        if gap.any():
            ax.scatter(
                x[gap], rep.loss[gap], marker="x", color="#777777", s=12, label="gap (not counted)"
            )
        ax.set_title(
            f"{m.model}: {m.exceedances} exceedances / {m.windows} windows "
            f"({m.zone or '-'} zone), MPOR {rep.mpor}",
            fontsize=9,
        )
        ax.set_ylabel("USD")
        ax.legend(fontsize=7, loc="upper left", ncol=4)
    return _png(fig)


def traffic_chart(res: BacktestResult) -> bytes | None:
    """Exceedances per model against the traffic-light bounds."""
    ok = [m for m in res.models if m.run is not None and m.traffic is not None]
    if not ok:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(ok) + 1.4))
    ys = np.arange(len(ok))
    counts = [m.exceedances for m in ok]
    ax.barh(ys, counts, color=[_ZONE_COLOURS[m.zone or "green"] for m in ok])
    # each model's own bounds (models may count different windows, e.g. VaR's warm-up)
    for i, m in enumerate(ok):
        t = m.traffic
        assert t is not None
        ax.vlines(t.n * t.p, i - 0.4, i + 0.4, color="black", ls=":", lw=2.0)
        ax.vlines(
            t.green_max + 0.5, i - 0.4, i + 0.4, color=_ZONE_COLOURS["green"], ls="--", lw=2.0
        )
        ax.vlines(t.yellow_max + 0.5, i - 0.4, i + 0.4, color=_ZONE_COLOURS["red"], ls="--", lw=2.0)
    ax.plot([], [], color="black", ls=":", label="expected")
    ax.plot([], [], color=_ZONE_COLOURS["green"], ls="--", label="green bound")
    ax.plot([], [], color=_ZONE_COLOURS["red"], ls="--", label="red above")
    t0 = ok[0].traffic
    assert t0 is not None
    ax.set_yticks(ys, [m.model for m in ok])
    ax.set_xlabel(
        f"exceedances (bounds per model: its counted windows, overlap {t0.overlap}, "
        f"variance inflation {t0.inflation:.2f})"
    )
    ax.legend(fontsize=7, loc="lower right")
    ax.invert_yaxis()
    return _png(fig)


def correlation_chart(res: BacktestResult) -> bytes | None:
    """Rolling realised correlation of each credited pair vs the assumed correlations."""
    pairs: dict[tuple[str, str], list[tuple[str, Any]]] = {}
    for m in res.models:
        if m.netting is None:
            continue
        for p in m.netting.pairs:
            if np.isfinite(p.assumed).any():
                pairs.setdefault(p.legs, []).append((m.model, p))
    if not pairs:
        return None
    plt = _plt()
    x = _dates(res)
    fig, axes = plt.subplots(len(pairs), 1, figsize=(12, 2.8 * len(pairs) + 0.4), squeeze=False)
    for ax, (legs, items) in zip(axes[:, 0], pairs.items(), strict=True):
        ax.plot(
            x,
            items[0][1].realised,
            color="black",
            lw=0.9,
            label=f"realised ({res.corr_window} steps)",
        )
        for k, (name, p) in enumerate(items):
            colour = f"C{k}"
            ax.plot(
                x, p.assumed, color=colour, ls="--", lw=1.0, label=f"{name} assumes ({p.source})"
            )
            if p.flagged.any():
                ax.fill_between(
                    x, -1, 1, where=p.flagged, color=colour, alpha=0.12, lw=0,
                    label=f"{name}: credit not justified ({int(p.flagged.sum())} days)",
                )  # fmt: skip
        ax.set_ylim(-1.05, 1.05)
        ax.set_title(f"{legs[0]}/{legs[1]}: realised correlation vs assumption", fontsize=9)
        ax.legend(fontsize=7, loc="lower left", ncol=2)
    return _png(fig)


def procyclicality_chart(res: BacktestResult) -> bytes | None:
    """Margin rate per model against the book's realised vol."""
    ok = _ran(res)
    if not ok:
        return None
    plt, rep, x = _plt(), res.replay, _dates(res)
    fig, ax = plt.subplots(figsize=(12, 3.6))
    with np.errstate(divide="ignore", invalid="ignore"):
        for k, m in enumerate(ok):
            assert m.run is not None
            ax.plot(x, m.run.im / rep.gross, lw=1.0, color=f"C{k}", label=m.model)
    ax.set_ylabel("margin / gross notional")
    ax2 = ax.twinx()
    ax2.plot(x, rep.book_vol, color="#999999", lw=0.8, ls=":", label="book realised vol")
    ax2.set_ylabel("realised vol (annualised)")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="upper left", ncol=4)
    ax.set_title("procyclicality: margin rate vs realised volatility", fontsize=9)
    return _png(fig)


def all_charts(res: BacktestResult) -> dict[str, bytes]:
    """Every chart that applies, by file stem."""
    out = {
        "margin_vs_loss": margin_chart(res),
        "traffic_light": traffic_chart(res),
        "correlation": correlation_chart(res),
        "procyclicality": procyclicality_chart(res),
    }
    return {k: v for k, v in out.items() if v is not None}
