"""Backtest charts: warm-up days are shaded and named (not an unexplained gap), legends sit
outside the data, amounts in plain units. Checked on the figures' objects; the PNGs were looked
at when the layout changed (issue 14)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tests.backtest.helpers import book, synthetic_history

from crossmargin.backtest import charts, run_backtest
from crossmargin.backtest.charts import _runs
from crossmargin.backtest.run import BacktestResult


@pytest.fixture(scope="module")
def result() -> BacktestResult:
    b = book(
        [
            {"kind": "perpetual", "underlying": "BTC", "notional": 1e6},
            {"kind": "perpetual", "underlying": "ETH", "notional": -8e5},
        ]
    )
    # 400 days: var needs 250 observations, so its first ~250 days have no margin (warm-up)
    return run_backtest(b, synthetic_history(400), models="portfolio,var", strict=False)


@pytest.fixture()
def figures(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    import matplotlib.pyplot as plt

    got: list[Any] = []

    def keep(fig: Any) -> bytes:
        fig.tight_layout()
        fig.canvas.draw()
        got.append(fig)
        return b"png"

    monkeypatch.setattr(charts, "_png", keep)
    yield got
    for f in got:
        plt.close(f)


def _outside(ax: Any, of: Any = None) -> bool:
    """The legend of ``ax`` lies right of the plotting area of ``of`` (default ``ax``)."""
    leg = ax.get_legend()
    assert leg is not None
    return bool(leg.get_window_extent().x0 >= (of or ax).get_window_extent().x1 - 1)


def test_runs_of_a_mask() -> None:
    assert _runs(np.array([1, 1, 0, 0, 1, 0, 1, 1], bool)) == [(0, 2), (4, 5), (6, 8)]
    assert _runs(np.zeros(3, bool)) == []


def test_margin_chart_shades_the_warm_up_and_keeps_legends_off_the_data(
    result: BacktestResult, figures: list[Any]
) -> None:
    var = result.model("var")
    assert var.run is not None
    n_missing = int((~np.isfinite(var.run.im)).sum())
    assert 100 < n_missing < 400  # the history is too short for var at first
    assert charts.margin_chart(result) == b"png"
    (fig,) = figures
    axes = {ax.get_title().split(":")[0]: ax for ax in fig.get_axes()}
    ax = axes["var"]
    labels = ax.get_legend_handles_labels()[1]
    assert any("warm-up" in lb for lb in labels)
    assert f"{n_missing} days without margin" in ax.get_title()
    assert "warm-up" not in " ".join(axes["portfolio"].get_legend_handles_labels()[1])
    for a in fig.get_axes():
        assert _outside(a), a.get_title()
        assert a.yaxis.get_offset_text().get_text() == ""  # no "1e6"
        ticks = [t.get_text() for t in a.get_yticklabels() if t.get_text()]
        assert not any("e+" in t for t in ticks), ticks
    # a warm-up day is not drawn as a "gap (not counted)" marker
    assert "gap (not counted)" not in labels or not np.isnan(var.run.im).all()


def test_correlation_and_procyclicality_legends_are_outside(
    result: BacktestResult, figures: list[Any]
) -> None:
    assert charts.procyclicality_chart(result) == b"png"
    pro = figures[-1]
    twin = pro.get_axes()[-1]
    assert _outside(twin, pro.get_axes()[0])
    assert any("warm-up" in t.get_text() for t in twin.get_legend().get_texts())
    if charts.correlation_chart(result) is not None:
        for a in figures[-1].get_axes():
            assert _outside(a)
