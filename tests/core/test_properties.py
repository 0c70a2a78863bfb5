"""Hypothesis properties of the margin models (issue 2 acceptance).

* offsetting positions → zero scenario risk and zero requirement;
* put–call parity: a synthetic forward against the future has zero scenario P&L in every cell;
* margin homogeneous of degree 1 in position size where no size add-on applies (single linear
  tier, delta-shock threshold out of reach);
* portfolio ≤ cross on hedged books within one underlying;
* requirements are ordered (0 ≤ MM ≤ IM) and do not depend on the order of the positions.

(Adding collateral never lowers equity: tests/core/test_collateral.py.)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from crossmargin import Portfolio, Position, account_dict, contract_from_fields, parse_instrument

from .helpers import DEC26, MAR26, NOV27, homogeneous_config, margin, portfolio, simple_market

MODELS = ("isolated", "cross", "portfolio")
NAMES = [
    "BTC-PERP",
    "BTC-26DEC26",
    "BTC-26MAR27",
    "BTC-27NOV26-60000-P",
    "BTC-26DEC26-70000-C",
    "BTC-26DEC26-60000-P",
    "BTC-26MAR27-55000-P",
    "BTC-26MAR27-80000-C",
    "BTC-PERP-INV",
    "BTC-26DEC26-80000-C-INV",
    "ETH-PERP",
    "ETH-26DEC26-3600-C",
    "ETH-26MAR27",
    "ETH-26MAR27-2800-P",
]
FORWARD = {
    ("BTC", "27NOV26"): 65_045.0,
    ("BTC", "26DEC26"): 65_300.0,
    ("BTC", "26MAR27"): 66_150.0,
    ("ETH", "26DEC26"): 3_214.0,
    ("ETH", "26MAR27"): 3_255.0,
}
DISCOUNT = {"27NOV26": 0.99945, "26DEC26": 0.9965, "26MAR27": 0.987}


def size(name: str, q: float) -> float:
    """Quantities in sensible units: USD face for inverse delta-one, coins otherwise."""
    return q * 1_000.0 if name.endswith("PERP-INV") else q


books = st.lists(
    st.tuples(st.sampled_from(NAMES), st.floats(-40.0, 40.0).filter(lambda x: abs(x) > 1e-3)),
    min_size=1,
    max_size=8,
).map(lambda xs: [(n, size(n, q)) for n, q in xs])


@given(books, st.randoms(use_true_random=False))
def test_offsetting_positions_have_zero_risk(book: list[tuple[str, float]], rnd: Any) -> None:
    """A book plus its exact opposite, shuffled, nets to nothing: no scan loss, no requirement."""
    legs = book + [(n, -q) for n, q in book]
    rnd.shuffle(legs)
    pf = portfolio(*legs)
    # summed in another order, q + (−q) may leave a rounding residue of ~1e-16 units
    dust = 1e-12 * sum(abs(q) for _, q in book) * 70_000.0
    for model in MODELS:
        res = margin(pf, simple_market(), model)
        assert 0.0 <= res.initial_margin[0] <= dust and 0.0 <= res.maintenance_margin[0] <= dust
        assert abs(res.unrealized_pnl[0]) <= dust
        if res.batch.scenario_pnl is not None:
            assert float(np.max(np.abs(res.batch.scenario_pnl))) <= dust
    # each lot followed by its opposite: every partial sum cancels exactly
    pairs = [leg for n, q in book for leg in ((n, q), (n, -q))]
    exact = margin(portfolio(*pairs), simple_market())
    assert exact.initial_margin[0] == 0.0 and np.all(exact.batch.groups.scan == 0.0)


def test_offset_written_two_ways_still_nets() -> None:
    explicit = contract_from_fields(
        {
            "kind": "option",
            "underlying": "BTC",
            "expiry": "2026-12-26T08:00:00Z",
            "strike": 70_000,
            "right": "call",
        }
    )
    pf = Portfolio(
        "a",
        "USD",
        {"USD": 1.0},
        (Position(parse_instrument("btc-26dec26-70000-c"), 4.0), Position(explicit, -4.0)),
    )
    res = margin(pf, simple_market())
    assert res.initial_margin[0] == 0.0 and res.batch.groups.scan[0] == 0.0


@given(
    und_exp=st.sampled_from(list(FORWARD)),
    moneyness=st.floats(-0.5, 0.5),
    q=st.floats(0.1, 30.0),
)
def test_synthetic_forward_against_the_future_has_zero_scenario_pnl(
    und_exp: tuple[str, str], moneyness: float, q: float
) -> None:
    """Long call − put = D (F − K) for every F and σ (parity holds at every vol), and a future's
    scenario P&L is F·m: long C, short P, short D futures is flat in every cell of the grid.
    Calls and puts are priced by separate formulas, so this checks the kernel, the vol shocks and
    the risk arrays together."""
    und, exp = und_exp
    F = FORWARD[und_exp]
    K = round(F * math.exp(moneyness))
    discount = DISCOUNT[exp]
    pf = portfolio(
        (f"{und}-{exp}-{K}-C", q), (f"{und}-{exp}-{K}-P", -q), (f"{und}-{exp}", -q * discount)
    )
    res = margin(pf, simple_market())
    pnl = res.batch.scenario_pnl
    assert pnl is not None
    notional = q * max(F, K)
    assert float(np.max(np.abs(pnl))) <= 1e-9 * notional
    assert float(res.batch.groups.scan[0]) <= 1e-9 * notional
    assert abs(float(res.batch.groups.delta[0])) <= 1e-9 * q


@given(books, st.floats(0.05, 20.0), st.sampled_from(MODELS))
def test_margin_is_homogeneous_of_degree_one(
    book: list[tuple[str, float]], lam: float, model: str
) -> None:
    cfg = homogeneous_config()
    a = margin(portfolio(*book), simple_market(), model, cfg)
    b = margin(portfolio(*((n, q * lam) for n, q in book)), simple_market(), model, cfg)
    for f in ("initial_margin", "maintenance_margin", "unrealized_pnl"):
        want = lam * float(getattr(a, f)[0])
        assert float(getattr(b, f)[0]) == pytest.approx(want, rel=1e-9, abs=1e-7 * (1 + lam)), f
    # and so is every line of the breakdown
    da, db = account_dict(a, 0), account_dict(b, 0)
    for ga, gb in zip(da["breakdown"], db["breakdown"], strict=True):
        assert gb["initial_margin"] == pytest.approx(
            lam * ga["initial_margin"], rel=1e-9, abs=1e-7 * (1 + lam)
        )


def test_size_add_ons_break_homogeneity_under_the_default_config() -> None:
    """The control: with progressive tiers and the delta shock, doubling a big book more than
    doubles its margin (so the homogeneity property above is not vacuous)."""
    a = margin(portfolio(("BTC-PERP", 400.0)), simple_market(), "portfolio")
    b = margin(portfolio(("BTC-PERP", 800.0)), simple_market(), "portfolio")
    assert b.initial_margin[0] > 2.0 * a.initial_margin[0] * 1.001
    a = margin(portfolio(("BTC-PERP", 20.0)), simple_market(), "cross")
    b = margin(portfolio(("BTC-PERP", 40.0)), simple_market(), "cross")
    assert b.initial_margin[0] > 2.0 * a.initial_margin[0] * 1.001


# --- portfolio ≤ cross on hedged books -------------------------------------------------------


@st.composite
def hedged_structure(draw: st.DrawFn, underlying: str | None = None) -> list[tuple[str, float]]:
    """One hedged structure in one underlying.

    Domain (documented limits, not tuning): cross charges linear legs 5 % while the portfolio grid
    scans ±14 % (BTC) and ±32 % (ETH, its own class since the issue-13 calibration), so a
    structure must actually be hedged for the property to hold — a covered call whose call is far
    out of the money is an outright long future in disguise. Covered calls use strikes up to 3 %
    above the forward, covered puts down to 3 % below, on BTC only: a covered call is hedged on
    one side, and on its other side ETH's ±32 % scan exceeds cross's 5 % + the short option's
    10-15 % (portfolio costs more than cross there by design, e.g. 20 ETH-PERP against 20 calls
    0.4 % out of the money: 18 907 vs 18 137); verticals are at most 8 % of the forward wide
    (their worst loss is bounded by the width while cross charges at least 10 % of the forward on
    the short leg); calendars are long the far expiry.
    """
    keys = [k for k in FORWARD if underlying is None or k[0] == underlying]
    und, exp = draw(st.sampled_from(keys))
    F = FORWARD[(und, exp)]
    exps = [e for (u, e) in FORWARD if u == und]
    q = draw(st.floats(0.1, 50.0)) * (1.0 if und == "BTC" else 20.0)
    kinds = ["vertical", "calendar", "futures"]
    kind = draw(st.sampled_from(kinds if und != "BTC" else ["covered_call", "covered_put", *kinds]))
    hedge = draw(st.sampled_from([f"{und}-PERP", f"{und}-{exp}"]))
    if kind == "covered_call":
        K = round(F * draw(st.floats(0.7, 1.03)))
        return [(hedge, q), (f"{und}-{exp}-{K}-C", -q)]
    if kind == "covered_put":
        K = round(F * draw(st.floats(0.97, 1.3)))
        return [(hedge, -q), (f"{und}-{exp}-{K}-P", -q)]
    if kind == "vertical":
        k1 = F * draw(st.floats(0.7, 1.3))
        k2 = k1 + F * draw(st.floats(0.005, 0.08)) * draw(st.sampled_from([-1.0, 1.0]))
        right, sign = draw(st.sampled_from(["C", "P"])), draw(st.sampled_from([-1.0, 1.0]))
        return [
            (f"{und}-{exp}-{round(k1)}-{right}", sign * q),
            (f"{und}-{exp}-{round(k2)}-{right}", -sign * q),
        ]
    if kind == "calendar":
        near, far = sorted(draw(st.permutations(exps))[:2], key=lambda e: FORWARD[(und, e)])
        assume(near != far)
        K = round(F * draw(st.floats(0.8, 1.2)))
        right = draw(st.sampled_from(["C", "P"]))
        return [(f"{und}-{near}-{K}-{right}", -q), (f"{und}-{far}-{K}-{right}", q)]
    legs = draw(st.permutations([f"{und}-PERP", *(f"{und}-{e}" for e in exps)]))
    return [(legs[0], q), (legs[1], -q)]


@given(hedged_structure())
def test_portfolio_margin_at_most_cross_on_hedged_books(legs: list[tuple[str, float]]) -> None:
    pf = portfolio(*legs)
    cross = margin(pf, simple_market(), "cross")
    pm = margin(pf, simple_market(), "portfolio")
    assert pm.initial_margin[0] <= cross.initial_margin[0] + 1e-9
    assert pm.maintenance_margin[0] <= pm.initial_margin[0]


@given(hedged_structure("BTC"), hedged_structure("ETH"))
def test_portfolio_at_most_cross_for_a_btc_and_an_eth_hedge_together(
    a: list[tuple[str, float]], b: list[tuple[str, float]]
) -> None:
    """Groups are margined separately and credits only lower the portfolio figure."""
    pf = portfolio(*a, *b)
    assert (
        margin(pf, simple_market(), "portfolio").initial_margin[0]
        <= margin(pf, simple_market(), "cross").initial_margin[0] + 1e-9
    )


def test_the_hedged_example_satisfies_it_and_pm_frees_capital(examples: Any) -> None:
    from crossmargin import load_market, load_portfolios

    pfs, _ = load_portfolios(examples / "hedged_book.json")
    mkt = load_market(examples / "market_crypto.json")
    pm = margin(pfs, mkt, "portfolio")
    cross = margin(pfs, mkt, "cross")
    assert pm.initial_margin[0] < cross.initial_margin[0]


# --- sanity properties ------------------------------------------------------------------------


@given(books, st.sampled_from(MODELS), st.randoms(use_true_random=False))
def test_requirements_are_ordered_and_order_free(
    book: list[tuple[str, float]], model: str, rnd: Any
) -> None:
    a = margin(portfolio(*book), simple_market(), model)
    assert 0.0 <= a.maintenance_margin[0] <= a.initial_margin[0] + 1e-9
    assert np.isfinite(a.equity[0]) and np.isfinite(a.initial_margin[0])
    shuffled = list(book)
    rnd.shuffle(shuffled)
    b = margin(portfolio(*shuffled), simple_market(), model)
    assert b.initial_margin[0] == pytest.approx(a.initial_margin[0], rel=1e-12, abs=1e-9)
    assert b.equity[0] == pytest.approx(a.equity[0], rel=1e-12, abs=1e-9)


def test_expiry_constants_match_the_market() -> None:
    """Guard for the builders above: the forwards used by the strategies are the snapshot's."""
    mkt = simple_market()
    for (und, code), F in FORWARD.items():
        c = parse_instrument(f"{und}-{code}")
        assert c.expiry in (NOV27, DEC26, MAR26)
        assert c.expiry is not None and mkt.forward(und, c.expiry) == F
        assert mkt.discount(und, c.expiry) == DISCOUNT[code]
