"""Collateral valuation: per-asset IM/MM haircuts, liabilities, base currencies (issue 2 §6)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin import MarketSnapshot, Portfolio, account_dict, default_config
from crossmargin.errors import ConfigError, MarketDataError

from .helpers import asset, config_with, margin, market, portfolio, simple_market

CENT = 0.005


def one_row(res_dict: dict[str, object], asset_: str) -> dict[str, float]:
    rows = [r for r in res_dict["collateral"] if r["asset"] == asset_]  # type: ignore[attr-defined]
    assert len(rows) == 1
    return rows[0]  # type: ignore[no-any-return]


def test_haircut_values_of_the_crypto_example(crypto_market: MarketSnapshot) -> None:
    """USDC 250 000 at 0.9998 (1 % / 0.5 %), BTC 1.5 at 65 000 (15 % / 10 %), default config."""
    res = margin(portfolio(collateral={"USDC": 250_000, "BTC": 1.5}), crypto_market, "cross")
    d = account_dict(res, 0)
    usdc, btc = one_row(d, "USDC"), one_row(d, "BTC")
    assert usdc["market_value"] == pytest.approx(249_950.0, abs=CENT)
    assert usdc["value"] == pytest.approx(249_950.0 * 0.99, abs=CENT)
    assert usdc["value_mm"] == pytest.approx(249_950.0 * 0.995, abs=CENT)
    assert btc["value"] == pytest.approx(97_500.0 * 0.85, abs=CENT)
    assert btc["value_mm"] == pytest.approx(97_500.0 * 0.90, abs=CENT)
    assert d["collateral_value"] == pytest.approx(247_450.5 + 82_875.0, abs=CENT)
    assert res.collateral_market_value[0] == pytest.approx(249_950.0 + 97_500.0, abs=CENT)
    assert res.maintenance_equity[0] == pytest.approx(248_700.25 + 87_750.0, abs=CENT)


def test_negative_balance_is_a_liability_charged_more() -> None:
    res = margin(portfolio(collateral={"BTC": 2.0, "USDC": -50_000.0}), simple_market(), "cross")
    usdc = one_row(account_dict(res, 0), "USDC")
    assert usdc["market_value"] == pytest.approx(-49_990.0, abs=CENT)
    assert usdc["value"] == pytest.approx(-49_990.0 * 1.01, abs=CENT)
    assert usdc["value_mm"] == pytest.approx(-49_990.0 * 1.005, abs=CENT)
    assert res.equity[0] == pytest.approx(130_000 * 0.85 - 49_990.0 * 1.01, abs=CENT)


def test_snapshot_currency_needs_no_market_entry_and_has_no_haircut() -> None:
    t0 = datetime(2026, 11, 22, 8, tzinfo=UTC)
    mkt = MarketSnapshot(t0, "USD", {"BTC": asset(65_000.0)}, timestamp=t0)
    res = margin(portfolio(collateral={"USD": 1234.56}), mkt, "cross")
    assert res.equity[0] == 1234.56 and res.collateral_value[0] == 1234.56


def test_class_haircut_fallback_and_explicit_table() -> None:
    """SOL is not in the collateral table: its risk class (crypto) haircut 20 % / 10 % applies."""
    mkt = market(SOL=asset(150.0))
    res = margin(portfolio(collateral={"SOL": 100.0}), mkt, "cross")
    sol = one_row(account_dict(res, 0), "SOL")
    assert (sol["haircut_im"], sol["haircut_mm"]) == (0.20, 0.10)
    assert res.equity[0] == pytest.approx(15_000 * 0.8, abs=CENT)


def test_asset_without_haircut_or_class_is_a_config_error() -> None:
    cfg = config_with(default_risk_class=None)
    with pytest.raises(ConfigError) as e:
        margin(portfolio(collateral={"FOO": 1.0}), market(FOO=asset(10.0)), "cross", cfg)
    assert e.value.path == "config.collateral" and "FOO" in e.value.reason


def test_collateral_without_a_price_is_refused_not_ignored() -> None:
    with pytest.raises(MarketDataError) as e:
        margin(portfolio(collateral={"USD": 1e6, "DOGE": 1e6}), simple_market(), "cross")
    assert e.value.path == "assets.DOGE" and "collateral DOGE" in e.value.reason


def test_collateral_symbols_are_case_insensitive_and_never_merged_silently() -> None:
    from crossmargin import portfolios_from_obj
    from crossmargin.errors import InputError

    pfs, _ = portfolios_from_obj({"account": "a", "collateral": {"usdc": 5.0}})
    assert dict(pfs[0].collateral) == {"USDC": 5.0}
    with pytest.raises(InputError) as e:
        portfolios_from_obj({"account": "a", "collateral": {"USDC": 1e6, "usdc": -9e5}})
    assert e.value.path == "collateral" and "twice" in e.value.reason


def test_account_base_currency_converts_every_amount_once() -> None:
    """An account reporting in USDC sees every snapshot-USD amount divided by USDC's price."""
    pf_usd = portfolio(("BTC-PERP", 1, 60_000), collateral={"USDC": 20_000})
    pf_usdc = Portfolio(pf_usd.account, "USDC", pf_usd.collateral, pf_usd.positions)
    a = margin(pf_usd, simple_market())
    b = margin(pf_usdc, simple_market())
    for f in (
        "equity",
        "initial_margin",
        "maintenance_margin",
        "unrealized_pnl",
        "free_collateral",
    ):
        assert getattr(b, f)[0] == pytest.approx(getattr(a, f)[0] / 0.9998, rel=1e-14), f
    assert b.status(0) == a.status(0)
    assert b.margin_ratio[0] == pytest.approx(a.margin_ratio[0], rel=1e-14)


balances = st.dictionaries(
    st.sampled_from(["USD", "USDC", "BTC", "ETH"]),
    st.floats(-1e6, 1e6, allow_nan=False),
    max_size=4,
)


@given(
    balances,
    st.sampled_from(["USD", "USDC", "BTC", "ETH"]),
    st.floats(0.0, 1e6),
    st.sampled_from(["isolated", "cross", "portfolio"]),
)
def test_adding_collateral_never_lowers_equity(
    start: dict[str, float], add_to: str, amount: float, model: str
) -> None:
    """Issue 2 acceptance property; also: the status never gets worse and no requirement moves."""
    pos = (("BTC-26DEC26-70000-C", -3.0), ("ETH-PERP", 20.0, 3_300.0))
    before = margin(portfolio(*pos, collateral=start), simple_market(), model)
    more = dict(start)
    more[add_to] = more.get(add_to, 0.0) + amount
    after = margin(portfolio(*pos, collateral=more), simple_market(), model)
    tol = 1e-9 * (1.0 + sum(abs(v) for v in more.values()) * 70_000)
    assert after.equity[0] >= before.equity[0] - tol
    assert after.maintenance_equity[0] >= before.maintenance_equity[0] - tol
    assert after.initial_margin[0] == before.initial_margin[0]
    assert (
        after.status_code[0] <= before.status_code[0]
        or abs(after.equity[0] - before.equity[0]) <= tol
    )


def test_default_config_lists_a_haircut_for_every_bundled_collateral_asset() -> None:
    cfg = default_config()
    for a in ("USD", "USDC", "USDT", "BTC", "ETH"):
        h = cfg.haircut(a, base_currency="USD")
        assert h is not None and 0.0 <= h.mm <= h.im < 1.0
