"""The cascade PNG: no empty panel, no ``1e7`` axis offsets, percentages on every move axis.

Checked on the figure's objects (what was drawn), and the PNG was looked at when the layout
changed (issue 14: an empty panel, "1e7" offsets, bp and % mixed).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crossmargin.config import RiskConfig
from crossmargin.liquidation.cascade import CascadeResult, CascadeSettings, run_cascade
from crossmargin.liquidation.plot import cascade_figure, plot_cascade
from crossmargin.liquidation.shocks import parse_shock
from crossmargin.liquidation.synthetic import synthetic_venue


@pytest.fixture(scope="module")
def result(examples: Path, config: RiskConfig) -> CascadeResult:
    from crossmargin.io.market import load_market

    snap = load_market(examples / "market_venue.json")
    venue = synthetic_venue(snap, config, 300, seed=3)
    symbols = sorted(s for s in snap.assets if s != snap.base_currency)
    sh = parse_shock("history:crypto-2018", symbols=symbols, config=config)
    return run_cascade(venue, snap, config, sh, settings=CascadeSettings(max_rounds=6))


def test_every_panel_has_content_and_plain_axis_labels(result: CascadeResult) -> None:
    import matplotlib.pyplot as plt

    fig = cascade_figure(result)
    try:
        fig.canvas.draw()
        axes = fig.get_axes()
        assert len(axes) == len(next(iter(result.runs.values())).symbols) + 6
        for ax in axes:
            drawn = ax.lines or ax.patches or ax.tables or ax.collections
            assert drawn, f"empty panel: {ax.get_title()!r}"
            # no scientific offset ("1e7") above any axis: money is written 1.5M, 20M
            assert ax.yaxis.get_offset_text().get_text() == "", ax.get_title()
        titles = {ax.get_title(): ax for ax in axes}
        assert not any("bp" in t for t in titles)  # one unit for moves: percent
        for title, ax in titles.items():
            labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
            if "price vs the snapshot" in title or "extra move" in title:
                assert labels and all(lb.endswith("%") for lb in labels), (title, labels)
            if "insurance fund" in title or "notional" in title or "bad debt" in title:
                assert not any("e+" in lb or "e-" in lb for lb in labels), (title, labels)
        summary = titles["summary"]
        cells = {c.get_text().get_text() for c in summary.tables[0].get_celld().values()}
        assert {"accounts liquidated", "bad debt", *result.runs} <= cells
    finally:
        plt.close(fig)


def test_png_is_written(result: CascadeResult, tmp_path: Path) -> None:
    p = tmp_path / "c.png"
    plot_cascade(result, p)
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 20_000
