"""docs/validation.md agrees with the stored backtest results of the bundled books (issue 13).

The backtests run with ``crossmargin backtest`` (minutes per book, see docs/validation.md "How
to reproduce"); ``benchmarks/calibration/validation_tables.py`` renders the page's tables from
their output and stores the figures in ``benchmarks/calibration/results/validation.json``.
These tests hold the page to that JSON and keep the coverage targets that hold today as
assertions, so a re-run that breaks one — or changes a documented number — fails CI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
STORED = json.loads(
    (ROOT / "benchmarks" / "calibration" / "results" / "validation.json").read_text()
)["books"]
DOC = (ROOT / "docs" / "validation.md").read_text(encoding="utf-8")
ROWS = [(b, m) for b, book in STORED.items() for m in book["models"]]
CRYPTO_CRISES = ("2020-03-12", "2021-05-19", "2022-05", "2022-11", "2023-03-11", "2024-08-05")
EQUITY_CRISES = ("2000-02", "2008-09", "2020-03 COVID (equity)")

#: (book, model) whose worst 250 windows are red today: the issue's first target is NOT met
#: there (listed in docs/validation.md). Every other row must stay out of the red — the
#: shipped `portfolio` (calibrated, issue 13) on every bundled book.
RED_250 = {
    ("crypto_options_perps", "deribit-pm"),
    ("btc_static", "isolated"),
    ("btc_static", "cross"),
    ("btc_static", "var"),
    ("btc_static", "es"),
}


def _row(book: str, model: str) -> dict[str, Any]:
    r: dict[str, Any] = STORED[book]["models"][model]
    return r


def _section(book: str) -> str:
    """The page's generated block of one book: its heading to the next heading."""
    return DOC.split(f"### `{book}`: ")[1].split("\n#")[0]


def test_every_bundled_book_is_stored() -> None:
    assert set(STORED) == {
        "crypto_options_perps", "spx_ndx_book", "mixed_crypto_equity", "spx_ndx_20y",
        "btc_static",
    }  # fmt: skip
    for book in STORED.values():
        assert {"isolated", "cross", "portfolio"} <= set(book["models"])


@pytest.mark.parametrize(("book", "model"), ROWS)
def test_documented_row_is_the_stored_one(book: str, model: str) -> None:
    r = _row(book, model)
    head = f"| {model} | {r['windows']} | {r['exceedances']} | {100 * r['rate']:.2f} % |"
    zone = f"| **{r['zone']}** | {r['worst_250']} {r['worst_250_zone']} |"
    section = _section(book)
    assert head in section and zone in section, (book, model)


@pytest.mark.parametrize(("book", "model"), ROWS)
def test_no_red_worst_250_where_it_holds_today(book: str, model: str) -> None:
    r = _row(book, model)
    assert (r["worst_250_zone"] == "red") == ((book, model) in RED_250), (book, model, r)


def test_the_exceedances_the_page_discusses() -> None:
    # the calibrated grid (issue 13): the credits that broke in the dot-com bust and in the
    # early ETH market are cut, so the grid is green in its worst year on every bundled book —
    # at the price of over-coverage (Kupiec rejects for too FEW exceedances) and capital
    for book, exc, w250, im_iso in (
        ("spx_ndx_20y", 3, 3, 0.45),
        ("spx_ndx_book", 1, 1, 0.39),
        ("crypto_options_perps", 3, 2, 1.26),
    ):
        pf = _row(book, "portfolio")
        assert (pf["exceedances"], pf["worst_250"]) == (exc, w250), book
        assert pf["worst_250_zone"] == "green" and pf["kupiec_p_nonoverlap"] < 0.05, book
        assert pf["rate"] < 0.01 and round(pf["im_over_isolated"], 2) == im_iso, book
    assert "shipped `portfolio` defaults are the calibrated ones" in DOC
    # a flat 5 % perp rate under-margins a static BTC book (inverse perp + long put)
    iso = _row("btc_static", "isolated")
    assert iso["exceedances"] == 386 and iso["zone"] == "red"


@pytest.mark.parametrize(
    ("book", "named"),
    [(b, CRYPTO_CRISES) for b in ("crypto_options_perps", "mixed_crypto_equity", "btc_static")]
    + [(b, EQUITY_CRISES) for b in ("spx_ndx_book", "spx_ndx_20y")],
)
def test_every_crisis_is_named_with_each_models_coverage(book: str, named: tuple[str, ...]) -> None:
    crises = STORED[book]["crises"]
    section = _section(book)
    for day in named:
        label = next(c for c in crises if c.startswith(day))
        assert set(crises[label]) == set(STORED[book]["models"])
        assert f"| {label} |" in section


@pytest.mark.parametrize("book", sorted(STORED))
def test_every_book_has_its_coverage_vs_capital_figure(book: str) -> None:
    # issue 13 item 7: a figure per book, coverage vs capital for every model, drawn from the
    # stored JSON by `benchmarks/calibration/s6_figures.py --docs` (small, committed)
    png = ROOT / "docs" / "figures" / f"validation_{book}.png"
    assert f"](figures/validation_{book}.png)" in DOC
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size < 80_000
