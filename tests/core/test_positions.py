"""Netting within an account and mark-to-market (issue 2 §2 and §6)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin import (
    Book,
    Portfolio,
    Position,
    ResolvedBook,
    contract_from_fields,
    default_config,
    parse_instrument,
    resolve,
)

from .helpers import DEC26, asset, expiry, margin, market, portfolio, simple_market

CENT = 0.005  # money: agreement to the cent


def resolved(*pfs: Portfolio) -> ResolvedBook:
    return resolve(Book.from_portfolios(list(pfs)), simple_market(), default_config())


def net(rb: ResolvedBook) -> dict[tuple[str, str], tuple[float, float, float]]:
    """(account, instrument) → (quantity, mtm, notional)."""
    p, inst = rb.positions, rb.instruments
    return {
        (rb.book.accounts[int(p.account[k])], inst.names[int(p.instrument[k])]): (
            float(p.quantity[k]),
            float(p.mtm[k]),
            float(p.notional[k]),
        )
        for k in range(p.n)
    }


def test_linear_lots_net_and_realise_at_their_entries() -> None:
    rb = resolved(
        portfolio(("BTC-PERP", 2, 63_850), ("BTC-PERP", 1, 66_000), ("BTC-PERP", -0.5, 64_000))
    )
    q, mtm, notional = net(rb)[("acct", "BTC-PERP")]
    assert q == 2.5
    # Σ q_k (mark − e_k) with mark 65 020
    want = 2 * (65_020 - 63_850) + (65_020 - 66_000) - 0.5 * (65_020 - 64_000)
    assert mtm == pytest.approx(want, abs=CENT)
    assert notional == pytest.approx(2.5 * 65_020, abs=CENT)


def test_inverse_lots_are_coin_pnl_valued_at_spot() -> None:
    rb = resolved(portfolio(("BTC-PERP-INV", 10_000, 60_000), ("BTC-PERP-INV", -4_000, 64_000)))
    q, mtm, notional = net(rb)[("acct", "BTC-PERP-INV")]
    coins = 10_000 * (1 / 60_000 - 1 / 65_020) - 4_000 * (1 / 64_000 - 1 / 65_020)
    assert q == 6_000
    assert mtm == pytest.approx(coins * 65_000, abs=CENT)
    assert notional == 6_000  # USD face


def test_future_marks_against_entry_and_without_entry_is_flat() -> None:
    rb = resolved(portfolio(("BTC-26DEC26", -1, 66_100), ("BTC-26MAR27", 3)))
    n = net(rb)
    assert n[("acct", "BTC-26DEC26")][1] == pytest.approx(-1 * (65_300 - 66_100), abs=CENT)
    assert n[("acct", "BTC-26MAR27")][1] == 0.0


def test_options_are_marked_at_model_value_whatever_the_entry() -> None:
    rb = resolved(portfolio(("BTC-26DEC26-70000-C", -5, 9_999.0), ("BTC-26DEC26-60000-P", 3)))
    inst = rb.instruments
    v = {inst.names[i]: float(inst.value[i]) for i in range(inst.n)}
    n = net(rb)
    assert n[("acct", "BTC-26DEC26-70000-C")][1] == pytest.approx(
        -5 * v["BTC-26DEC26-70000-C"], rel=1e-15
    )
    assert n[("acct", "BTC-26DEC26-60000-P")][1] == pytest.approx(
        3 * v["BTC-26DEC26-60000-P"], rel=1e-15
    )
    assert n[("acct", "BTC-26DEC26-70000-C")][2] == pytest.approx(5 * 65_300, abs=CENT)


def test_multiplier_scales_mtm_and_notional() -> None:
    rb = resolved(portfolio(("BTC-26DEC26-X10", 2, 65_000), ("BTC-26DEC26-70000-C-X10", 1)))
    n = net(rb)
    assert n[("acct", "BTC-26DEC26-X10")][1] == pytest.approx(10 * 2 * 300, abs=CENT)
    assert n[("acct", "BTC-26DEC26-X10")][2] == pytest.approx(10 * 2 * 65_300, abs=CENT)
    base = net(resolved(portfolio(("BTC-26DEC26-70000-C", 1))))[("acct", "BTC-26DEC26-70000-C")][1]
    assert n[("acct", "BTC-26DEC26-70000-C-X10")][1] == pytest.approx(10 * base, rel=1e-15)


def test_equivalent_spellings_net_into_one_position() -> None:
    perp = contract_from_fields({"kind": "perpetual", "underlying": "btc"})
    pf = Portfolio(
        "acct",
        "USD",
        {"USD": 1e6},
        (
            Position(parse_instrument("BTC-PERP"), 1.0),
            Position(parse_instrument("btc-perp"), 2.0),
            Position(perp, -0.5),
        ),
    )
    rb = resolved(pf)
    assert rb.positions.n == 1 and rb.instruments.n == 1
    assert float(rb.positions.quantity[0]) == 2.5


def test_netting_is_per_account() -> None:
    a = portfolio(("BTC-PERP", 1, 64_000), account="a")
    b = portfolio(("BTC-PERP", -1, 66_000), account="b")
    rb = resolved(a, b)
    n = net(rb)
    assert rb.instruments.n == 1  # one contract, valued once
    assert n[("a", "BTC-PERP")][0] == 1.0 and n[("b", "BTC-PERP")][0] == -1.0
    assert n[("a", "BTC-PERP")][1] == pytest.approx(1_020.0)
    assert n[("b", "BTC-PERP")][1] == pytest.approx(-(65_020.0 - 66_000.0))


def test_settled_instruments_pay_at_settlement_price() -> None:
    nov20 = datetime(2026, 11, 20, 8, tzinfo=UTC)
    mkt = market(
        BTC=asset(
            65_000.0,
            expiries={DEC26: expiry(65_300.0, 0.9965, 0.56)},
            settlements={nov20: 60_000.0},
        )
    )
    pf = portfolio(
        ("BTC-20NOV26", 2, 58_000),
        ("BTC-20NOV26-50000-C", 3),
        ("BTC-20NOV26-50000-P", -3),
        ("BTC-20NOV26-INV", 60_000, 58_000),
        ("BTC-20NOV26-50000-C-INV", 1),
    )
    rb = resolve(Book.from_portfolios([pf]), mkt, default_config())
    n = net(rb)
    assert n[("acct", "BTC-20NOV26")][1] == pytest.approx(2 * 2_000, abs=CENT)
    assert n[("acct", "BTC-20NOV26-50000-C")][1] == pytest.approx(3 * 10_000, abs=CENT)
    assert n[("acct", "BTC-20NOV26-50000-P")][1] == 0.0
    inv_fut = 60_000 * (1 / 58_000 - 1 / 60_000) * 65_000
    assert n[("acct", "BTC-20NOV26-INV")][1] == pytest.approx(inv_fut, abs=CENT)
    # Deribit inverse option: (S_T − K)/S_T coins, valued at today's spot
    assert n[("acct", "BTC-20NOV26-50000-C-INV")][1] == pytest.approx(
        10_000 / 60_000 * 65_000, abs=CENT
    )
    # no scenario risk, no requirement left in any model
    for model in ("isolated", "cross", "portfolio"):
        res = margin(pf, mkt, model)
        assert res.initial_margin[0] == 0.0 and res.maintenance_margin[0] == 0.0
    assert np.all(rb.instruments.delta == 0.0)


lots = st.lists(
    st.tuples(st.floats(-50, 50).filter(lambda x: abs(x) > 1e-3), st.floats(30_000, 100_000)),
    min_size=1,
    max_size=6,
)


@given(lots, st.sampled_from(["BTC-PERP", "BTC-26MAR27", "BTC-PERP-INV"]))
def test_netting_lots_equals_one_position_at_the_average_entry(
    lots_: list[tuple[float, float]], name: str
) -> None:
    """Linear: one lot at the quantity-weighted entry; inverse: at the harmonic average entry."""
    scale = 1_000.0 if name.endswith("INV") else 1.0
    lots_ = [(q * scale, e) for q, e in lots_]
    q = sum(x for x, _ in lots_)
    if abs(q) < 1e-6 * scale:
        return
    if name.endswith("INV"):
        avg = q / sum(x / e for x, e in lots_)
    else:
        avg = sum(x * e for x, e in lots_) / q
    if not avg > 0:
        return  # a net position whose lots imply a negative price has no single-lot equivalent
    split = resolved(portfolio(*((name, x, e) for x, e in lots_)))
    one = resolved(portfolio((name, q, avg)))
    assert float(split.positions.mtm.sum()) == pytest.approx(
        float(one.positions.mtm.sum()), rel=1e-9, abs=1e-6 * scale
    )


@given(st.lists(st.floats(-20, 20).filter(lambda x: abs(x) > 1e-3), min_size=2, max_size=5))
def test_splitting_a_position_changes_no_requirement(parts: list[float]) -> None:
    names = ("BTC-26DEC26-70000-C", "BTC-PERP", "ETH-26MAR27")
    whole = portfolio(*((n, sum(parts)) for n in names))
    split = portfolio(*((n, x) for n in names for x in parts))
    for model in ("isolated", "cross", "portfolio"):
        a = margin(whole, simple_market(), model)
        b = margin(split, simple_market(), model)
        assert b.initial_margin[0] == pytest.approx(a.initial_margin[0], rel=1e-9, abs=1e-6)
        assert b.equity[0] == pytest.approx(a.equity[0], rel=1e-12, abs=1e-6)
