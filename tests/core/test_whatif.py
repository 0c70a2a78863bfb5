"""``whatif``: before/after margin of hypothetical trades; premiums move money (issue 2 §7)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin import Portfolio, default_config, parse_trade, whatif
from crossmargin.errors import InputError
from crossmargin.whatif import apply_trades

from .helpers import margin, portfolio, simple_market

CENT = 0.005


def test_parse_trade() -> None:
    t = parse_trade("BTC-26DEC26-70000-C:-5@2600")
    assert t.contract.name == "BTC-26DEC26-70000-C" and t.quantity == -5.0 and t.price == 2600.0
    t = parse_trade("btc-perp:0.5")
    assert t.contract.name == "BTC-PERP" and t.quantity == 0.5 and t.price is None


@pytest.mark.parametrize(
    ("text", "path", "why"),
    [
        ("BTC-PERP", "trade", "INSTRUMENT:QTY"),
        ("BTC-PERP:abc", "trade.quantity", "not a number"),
        ("BTC-PERP:0", "trade.quantity", "non-zero"),
        ("BTC-PERP:nan", "trade.quantity", "finite"),
        ("BTC-PERP:1@-3", "trade.price", "positive"),
        ("BTC-PERP:1@x", "trade.price", "not a number"),
        ("BTC-PERPS:1", "trade.instrument", "cannot parse"),
    ],
)
def test_parse_trade_errors(text: str, path: str, why: str) -> None:
    with pytest.raises(InputError) as e:
        parse_trade(text)
    assert e.value.path == path and why in e.value.reason


def test_before_and_after_are_plain_margin_runs() -> None:
    pf = portfolio(("BTC-PERP", 1.0), collateral={"USD": 50_000.0})
    trades = [parse_trade("BTC-26DEC26-70000-C:-2"), parse_trade("ETH-PERP:10@3100")]
    d = whatif(pf, simple_market(), trades)
    before = margin(pf, simple_market())
    after = margin(apply_trades(pf, trades, simple_market(), default_config()), simple_market())
    assert d["before"]["initial_margin"] == before.initial_margin[0]
    assert d["after"]["initial_margin"] == after.initial_margin[0]
    assert d["after"]["equity"] == after.equity[0]
    assert d["change"]["initial_margin"] == pytest.approx(
        after.initial_margin[0] - before.initial_margin[0]
    )
    assert [t["instrument"] for t in d["trades"]] == ["BTC-26DEC26-70000-C", "ETH-PERP"]
    assert set(d["before"]) == {
        "equity",
        "initial_margin",
        "maintenance_margin",
        "free_collateral",
        "margin_ratio",
        "status",
    }


def test_allowed_when_post_trade_equity_covers_im() -> None:
    d = whatif(
        portfolio(collateral={"USD": 20_000.0}), simple_market(), [parse_trade("BTC-PERP:1")]
    )
    assert d["after"]["equity"] >= d["after"]["initial_margin"]
    assert d["allowed"] is True and d["reason"] == "post-trade equity covers post-trade IM"


def test_refused_when_not_covered_and_risk_increasing() -> None:
    d = whatif(portfolio(collateral={"USD": 5_000.0}), simple_market(), [parse_trade("BTC-PERP:1")])
    assert d["after"]["equity"] < d["after"]["initial_margin"]
    assert d["allowed"] is False and d["after"]["status"] != "healthy"


def test_risk_reducing_trade_is_never_blocked() -> None:
    pf = portfolio(("BTC-PERP", 2.0), collateral={"USD": 1_000.0})  # deep under water on IM
    d = whatif(pf, simple_market(), [parse_trade("BTC-PERP:-1")])
    assert d["after"]["equity"] < d["after"]["initial_margin"]
    assert d["after"]["initial_margin"] < d["before"]["initial_margin"]
    assert d["allowed"] is True and d["reason"] == "trade reduces IM"


def test_option_premium_is_paid_from_cash() -> None:
    mkt = simple_market()
    pf = portfolio(collateral={"USD": 100_000.0})
    after = apply_trades(pf, [parse_trade("BTC-26DEC26-70000-C:2@2500")], mkt, default_config())
    assert after.collateral["USD"] == pytest.approx(100_000.0 - 2 * 2_500.0, abs=CENT)
    # an inverse option's premium is paid in coin, at the model mark when no price is given
    inv = apply_trades(pf, [parse_trade("BTC-26DEC26-70000-C-INV:-3")], mkt, default_config())
    res = margin(portfolio(("BTC-26DEC26-70000-C-INV", 1.0)), mkt)
    coin_mark = float(res.book.instruments.quote_price[0])
    assert inv.collateral["BTC"] == pytest.approx(3 * coin_mark, rel=1e-15)


trade_specs = st.sampled_from(
    [
        "BTC-26DEC26-70000-C",
        "BTC-26MAR27-55000-P",
        "ETH-PERP",
        "BTC-26DEC26",
        "BTC-PERP-INV",
        "BTC-26DEC26-80000-C-INV",
    ]
)


@given(
    name=trade_specs,
    qty=st.floats(0.1, 50.0),
    px_factor=st.floats(0.5, 1.5),
    model=st.sampled_from(["cross", "portfolio"]),
)
def test_money_is_conserved_between_buyer_and_seller(
    name: str, qty: float, px_factor: float, model: str
) -> None:
    """A trade between two accounts at any price moves value, never creates it: the sum of their
    account values (collateral at market + mark-to-market) is unchanged to the cent."""
    mkt = simple_market()
    cfg = default_config()
    if name.endswith("INV") and "PERP" in name:
        qty *= 1_000.0  # USD face
    mark_res = margin(portfolio((name, 1.0)), mkt)
    mark = float(mark_res.book.instruments.quote_price[0])
    px = mark * px_factor
    buyer = portfolio(collateral={"USD": 1e6, "BTC": 10.0}, account="buyer")
    seller = portfolio(collateral={"USD": 1e6, "BTC": 10.0}, account="seller")
    before = margin([buyer, seller], mkt, model)
    b2 = apply_trades(buyer, [parse_trade(f"{name}:{qty!r}@{px!r}")], mkt, cfg)
    s2 = apply_trades(seller, [parse_trade(f"{name}:{-qty!r}@{px!r}")], mkt, cfg)
    after = margin([b2, s2], mkt, model)
    assert float(after.account_value.sum()) == pytest.approx(
        float(before.account_value.sum()), abs=0.01
    )


def test_trade_at_mark_leaves_equity_unchanged() -> None:
    mkt = simple_market()
    pf = portfolio(collateral={"USD": 100_000.0})
    d = whatif(pf, mkt, [parse_trade("BTC-26DEC26-70000-C:-3")], model="cross")
    assert d["change"]["equity"] == pytest.approx(0.0, abs=CENT)
    d = whatif(pf, mkt, [parse_trade("BTC-26DEC26:1")], model="cross")
    assert d["change"]["equity"] == pytest.approx(0.0, abs=CENT)


def test_a_futures_trade_away_from_mark_books_its_pnl() -> None:
    mkt = simple_market()
    d = whatif(
        portfolio(collateral={"USD": 100_000.0}),
        mkt,
        [parse_trade("BTC-26DEC26:2@65000")],
        model="cross",
    )
    assert d["change"]["equity"] == pytest.approx(2 * (65_300.0 - 65_000.0), abs=CENT)


def test_trade_in_an_instrument_without_market_data_fails_closed() -> None:
    from crossmargin.errors import MarketDataError

    with pytest.raises(MarketDataError) as e:
        whatif(Portfolio("a"), simple_market(), [parse_trade("DOGE-PERP:1")])
    assert e.value.path == "assets.DOGE"


def test_premium_includes_the_multiplier() -> None:
    pf = portfolio(collateral={"USD": 100_000.0})
    after = apply_trades(
        pf, [parse_trade("BTC-26DEC26-70000-C-X10:2@2500")], simple_market(), default_config()
    )
    assert after.collateral["USD"] == pytest.approx(100_000.0 - 2 * 10 * 2_500.0, abs=CENT)
    d = whatif(pf, simple_market(), [parse_trade("BTC-26DEC26-70000-C-X10:-3")], model="cross")
    assert d["change"]["equity"] == pytest.approx(0.0, abs=CENT)  # premium at mark, x10 both ways
