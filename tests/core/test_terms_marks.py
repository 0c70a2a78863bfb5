"""Terms once, marks per snapshot: re-marking one underlying equals resolving from scratch.

The live engine re-marks only the contracts of the underlying that ticked and re-margins only
the groups holding it; these tests pin the library pieces it builds on (ResolvedBook.remark with
``underlyings``, the portfolio model's per-group results and their recombination) to the full
computation, exactly (same arithmetic, same order).
"""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from crossmargin.config import RiskConfig
from crossmargin.errors import MarketDataError
from crossmargin.instruments.book import Book
from crossmargin.io.market import load_market
from crossmargin.io.portfolio import load_portfolios
from crossmargin.margin.portfolio import PortfolioMargin
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.resolve import Marks, ResolvedBook, book_terms, mark, resolve


@pytest.fixture(scope="module")
def venue(examples: Path) -> tuple[Book, MarketSnapshot]:
    pfs, prefixes = load_portfolios(examples / "venue_accounts.json")
    return Book.from_portfolios(pfs, prefixes=prefixes), load_market(examples / "market_venue.json")


def _same(a: object, b: object, names: tuple[str, ...]) -> None:
    for n in names:
        np.testing.assert_array_equal(getattr(a, n), getattr(b, n), err_msg=n)


MARKS = tuple(f.name for f in fields(Marks))


def test_remark_one_underlying_equals_resolving_again(
    venue: tuple[Book, MarketSnapshot], config: RiskConfig
) -> None:
    book, snap = venue
    rb0 = resolve(book, snap, config)
    moved = snap.shifted(spot={"BTC": 0.9}, vol={"BTC": 1.3})
    inc = rb0.remark(moved, underlyings={"BTC"})
    full = resolve(book, moved, config)
    _same(inc.instruments, full.instruments, MARKS)
    _same(inc.positions, full.positions, ("mtm", "notional", "quantity", "account"))
    _same(inc.collateral, full.collateral, ("price", "value_im", "value_mm"))
    # the other underlyings' marks are the previous ones, untouched
    eth = inc.instruments.rows_of({"ETH", "SPX", "NDX"})
    assert eth.size and np.array_equal(inc.instruments.value[eth], rb0.instruments.value[eth])
    btc = inc.instruments.rows_of({"BTC"})
    assert not np.array_equal(inc.instruments.value[btc], rb0.instruments.value[btc])


def test_terms_bind_to_any_snapshot(venue: tuple[Book, MarketSnapshot], config: RiskConfig) -> None:
    book, snap = venue
    terms = book_terms(book, config)
    later = snap.shifted(spot={"ETH": 1.1, "SPX": 0.95})
    a, b = terms.bind(later), resolve(book, later, config)
    _same(a.instruments, b.instruments, MARKS)
    _same(a.positions, b.positions, ("mtm", "notional"))
    assert a.instruments.names == b.instruments.names


def test_remarking_a_subset_still_fails_closed(
    venue: tuple[Book, MarketSnapshot], config: RiskConfig
) -> None:
    book, snap = venue
    rb0 = resolve(book, snap, config)
    stale = replace(snap.assets["BTC"], timestamp=snap.as_of - timedelta(days=3))
    with pytest.raises(MarketDataError) as e:
        rb0.remark(snap.shifted(assets={"BTC": stale}), underlyings={"BTC"})
    assert e.value.path == "assets.BTC.timestamp"
    with pytest.raises(ValueError, match="previous marks"):
        mark(rb0.instruments, snap, config, underlyings={"BTC"})


def test_portfolio_groups_recombine_after_one_underlying_moves(
    venue: tuple[Book, MarketSnapshot], config: RiskConfig
) -> None:
    book, snap = venue
    model = PortfolioMargin(config)
    rb0 = resolve(book, snap, config)
    cached = model.group_risk(rb0)
    moved = snap.shifted(spot={"BTC": 0.85}, vol={"BTC": 1.5})
    rb1 = rb0.remark(moved, underlyings={"BTC"})
    fresh = model.group_risk(rb1, underlyings={"BTC"})
    assert fresh.n < cached.n and set(fresh.und) == {rb1.instruments.underlyings.index("BTC")}
    merged = cached.merge(fresh, len(rb1.instruments.underlyings))
    inc = model.combine(rb1, merged)
    full = model.compute(resolve(book, moved, config))
    np.testing.assert_array_equal(inc.im, full.im)
    np.testing.assert_array_equal(inc.mm, full.mm)
    _same(inc.groups, full.groups, ("account", "und", "im", "scan", "worst", "delta_notional"))
    assert [r.name for r in inc.addons] == [r.name for r in full.addons]
    for a, b in zip(inc.addons, full.addons, strict=True):
        np.testing.assert_array_equal(a.amount, b.amount)


def test_resolved_book_is_immutable_across_remarks(
    venue: tuple[Book, MarketSnapshot], config: RiskConfig
) -> None:
    book, snap = venue
    rb0: ResolvedBook = resolve(book, snap, config)
    before = rb0.instruments.value.copy()
    rb0.remark(snap.shifted(spot={"BTC": 0.5}), underlyings={"BTC"})
    np.testing.assert_array_equal(rb0.instruments.value, before)
