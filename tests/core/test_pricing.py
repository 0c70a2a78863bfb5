"""``price_contracts`` (the ``price`` command): Greeks vs finite differences, units, inverse, settled.

Finite differences go through the public API only: the snapshot is rebuilt with spot and every
forward bumped proportionally (delta, gamma), the vol bumped by ±0.01 (vega per vol point) and
``as_of`` moved by ±1 day at constant carry and rate (theta per calendar day).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest
import QuantLib as ql
from hypothesis import given
from hypothesis import strategies as st

from crossmargin import ExpiryMarket, MarketSnapshot, SmileVol, parse_instrument, price_contracts
from crossmargin.errors import InputError

from .helpers import AS_OF, DEC26, MAR26, asset, expiry, market, simple_market, years

#: Central differences, truncation O(h²) (h = 1e-4 relative spot bump, 0.01 vol, 1 day); measured
#: worst cases 5e-8 (delta, gamma), 1.0e-4 (vega), 7.7e-5 (theta): tolerances keep a 5-20x margin.
FD_DELTA_REL = 1e-6
FD_GAMMA_REL = 1e-6
FD_VEGA_REL = 5e-4
FD_THETA_REL = 5e-4
ORACLE_REL = 1e-10

S0 = 65_000.0


def carry_market(
    S: float,
    sigma: float,
    b: float,
    r: float,
    as_of: datetime = AS_OF,
    *,
    smile: SmileVol | None = None,
) -> MarketSnapshot:
    """BTC with F = S e^{bT} and D = e^{-rT} for two expiries (constant carry b and rate r)."""
    exps = {}
    for e in (DEC26, MAR26):
        T = years(e, as_of)
        exps[e] = ExpiryMarket(
            forward=S * math.exp(b * T),
            discount=math.exp(-r * T),
            surface=smile,
        )
    return market(as_of, BTC=asset(S, vol=sigma, expiries=exps))


def row(name: str, mkt: MarketSnapshot) -> dict[str, float]:
    return price_contracts([parse_instrument(name)], mkt)[0]


OPTIONS = [
    "BTC-26DEC26-70000-C",
    "BTC-26DEC26-60000-P",
    "BTC-26MAR27-65000-C",
    "BTC-26MAR27-40000-P",
    "BTC-26DEC26-70000-C-INV",
    "BTC-26MAR27-55000-P-INV",
]


@pytest.mark.parametrize("name", OPTIONS)
def test_delta_gamma_equal_spot_finite_differences(name: str) -> None:
    b, r, sig = 0.06, 0.04, 0.6
    h = 1e-4
    up = row(name, carry_market(S0 * (1 + h), sig, b, r))["price"]
    mid = row(name, carry_market(S0, sig, b, r))
    dn = row(name, carry_market(S0 * (1 - h), sig, b, r))["price"]
    dS = h * S0
    assert mid["delta"] == pytest.approx((up - dn) / (2 * dS), rel=FD_DELTA_REL)
    assert mid["gamma"] == pytest.approx((up - 2 * mid["price"] + dn) / dS**2, rel=FD_GAMMA_REL)


@pytest.mark.parametrize("name", OPTIONS)
def test_vega_equals_vol_point_finite_difference(name: str) -> None:
    b, r, sig = 0.06, 0.04, 0.6
    up = row(name, carry_market(S0, sig + 0.01, b, r))["price"]
    dn = row(name, carry_market(S0, sig - 0.01, b, r))["price"]
    assert row(name, carry_market(S0, sig, b, r))["vega"] == pytest.approx(
        (up - dn) / 2, rel=FD_VEGA_REL
    )


@pytest.mark.parametrize("name", OPTIONS)
@pytest.mark.parametrize(("b", "r"), [(0.06, 0.04), (0.0, 0.05), (-0.02, 0.0)])
def test_theta_equals_one_day_finite_difference(name: str, b: float, r: float) -> None:
    sig = 0.6
    day = timedelta(days=1)
    later = row(name, carry_market(S0, sig, b, r, AS_OF + day))["price"]
    earlier = row(name, carry_market(S0, sig, b, r, AS_OF - day))["price"]
    assert row(name, carry_market(S0, sig, b, r))["theta"] == pytest.approx(
        (later - earlier) / 2, rel=FD_THETA_REL
    )


def test_smile_delta_is_sticky_strike() -> None:
    """A smile is interpolated in ln K (the forward cancels), so a spot bump keeps each strike's
    vol and the analytic delta still equals the bumped-snapshot finite difference."""
    smile = SmileVol((50_000.0, 60_000.0, 70_000.0, 80_000.0), (0.62, 0.57, 0.56, 0.58))
    name, h = "BTC-26DEC26-65000-C", 1e-4
    up = row(name, carry_market(S0 * (1 + h), 0.5, 0.05, 0.04, smile=smile))
    mid = row(name, carry_market(S0, 0.5, 0.05, 0.04, smile=smile))
    dn = row(name, carry_market(S0 * (1 - h), 0.5, 0.05, 0.04, smile=smile))
    assert up["vol"] == mid["vol"] == dn["vol"]
    assert mid["delta"] == pytest.approx(
        (up["price"] - dn["price"]) / (2 * h * S0), rel=FD_DELTA_REL
    )


@given(
    K=st.floats(20_000.0, 200_000.0),
    sigma=st.floats(0.1, 1.5),
    b=st.floats(-0.05, 0.15),
    r=st.floats(0.0, 0.1),
    call=st.booleans(),
)
def test_price_command_values_equal_quantlib(
    K: float, sigma: float, b: float, r: float, call: bool
) -> None:
    """End to end (snapshot → resolve → kernel → units) against QuantLib."""
    mkt = carry_market(S0, sigma, b, r)
    T = years(MAR26)
    F, D = S0 * math.exp(b * T), math.exp(-r * T)
    name = f"BTC-26MAR27-{K!r}-{'C' if call else 'P'}".replace(".", "D")
    got = row(name, mkt)
    kind = ql.Option.Call if call else ql.Option.Put
    bc = ql.BlackCalculator(ql.PlainVanillaPayoff(kind, K), F, sigma * math.sqrt(T), D)
    assert got["time_to_expiry"] == T
    assert got["price"] == pytest.approx(bc.value(), rel=ORACLE_REL, abs=1e-12 * F)
    assert got["delta"] == pytest.approx(bc.delta(S0), rel=ORACLE_REL, abs=1e-14)
    assert got["gamma"] == pytest.approx(bc.gamma(S0), rel=ORACLE_REL, abs=1e-18)
    assert got["vega"] == pytest.approx(bc.vega(T) * 0.01, rel=ORACLE_REL, abs=1e-12)
    assert got["theta"] == pytest.approx(bc.theta(S0, T) / 365.0, rel=ORACLE_REL, abs=1e-12)


def test_inverse_option_is_quoted_in_coin() -> None:
    mkt = simple_market()
    lin, inv = price_contracts(
        [parse_instrument("BTC-26DEC26-70000-C"), parse_instrument("BTC-26DEC26-70000-C-INV")], mkt
    )
    assert lin["quote_currency"] == "USD" and inv["quote_currency"] == "BTC"
    assert inv["price"] == pytest.approx(lin["price"] / S0, rel=1e-15)
    assert inv["vega"] == pytest.approx(lin["vega"] / S0, rel=1e-15)
    assert inv["theta"] == pytest.approx(lin["theta"] / S0, rel=1e-15)
    # d(V/S)/dS = V'/S − V/S²
    assert inv["delta"] == pytest.approx(lin["delta"] / S0 - lin["price"] / S0**2, rel=1e-12)


def test_delta_one_rows() -> None:
    """Perp and future: price = mark/forward, delta = F/S, no gamma or vega; theta of a future
    is the carry roll-down −b·F per day at constant carry."""
    mkt = simple_market()
    perp, fut = price_contracts(
        [parse_instrument("BTC-PERP"), parse_instrument("BTC-26MAR27")], mkt
    )
    assert perp["price"] == 65_020.0 and perp["delta"] == pytest.approx(65_020.0 / S0)
    assert perp["theta"] == 0.0 and perp["time_to_expiry"] == 0.0
    F, T = 66_150.0, years(MAR26)
    assert fut["price"] == F and fut["delta"] == pytest.approx(F / S0, rel=1e-15)
    assert fut["gamma"] == fut["vega"] == 0.0
    b = math.log(F / S0) / T
    assert fut["theta"] == pytest.approx(-b * F / 365.0, rel=1e-12)


def test_multiplier_is_reported_not_applied() -> None:
    mkt = simple_market()
    one, hundred = price_contracts(
        [parse_instrument("BTC-26DEC26-70000-C"), parse_instrument("BTC-26DEC26-70000-C-X100")], mkt
    )
    assert hundred["multiplier"] == 100.0
    for k in ("price", "delta", "gamma", "vega", "theta"):
        assert hundred[k] == one[k]


def settled_market() -> MarketSnapshot:
    nov20 = datetime(2026, 11, 20, 8, tzinfo=AS_OF.tzinfo)
    return market(
        BTC=asset(
            S0, expiries={DEC26: expiry(65_300.0, 0.9965, 0.56)}, settlements={nov20: 60_000.0}
        )
    )


def test_settled_instruments_pay_their_settlement_and_have_no_greeks() -> None:
    rows = price_contracts(
        [
            parse_instrument(n)
            for n in (
                "BTC-20NOV26-50000-C",
                "BTC-20NOV26-50000-P",
                "BTC-20NOV26",
                "BTC-20NOV26-50000-C-INV",
            )
        ],
        settled_market(),
    )
    call, put, fut, inv = rows
    assert call["price"] == 10_000.0 and put["price"] == 0.0 and fut["price"] == 60_000.0
    # Deribit inverse options settle max(S_T − K, 0) / S_T coins
    assert inv["price"] == pytest.approx(10_000.0 / 60_000.0, rel=1e-15)
    for r in rows:
        assert r["settled"] is True and r["vol"] is None
        assert r["delta"] == r["gamma"] == r["vega"] == r["theta"] == 0.0


def test_expired_without_settlement_is_an_input_error_naming_the_instrument() -> None:
    with pytest.raises(InputError) as e:
        price_contracts(
            [parse_instrument("BTC-20NOV26-50000-C")], simple_market(), paths=["instruments[0]"]
        )
    assert e.value.path == "instruments[0]"
    assert "expired" in e.value.reason and "settlement" in e.value.reason
