"""Vol surfaces and per-expiry market data: flat, smile (log-moneyness, flat wings), raw SVI;
forward/discount/vol fallbacks; ACT/365F year fractions (issue 2 §3)."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin import (
    FlatVol,
    SmileVol,
    SVIVol,
    market_from_obj,
    parse_instrument,
    price_contracts,
)
from crossmargin.errors import InputError, MarketDataError

from .helpers import DEC26, MAR26, years

STRIKES = (50_000.0, 60_000.0, 70_000.0, 80_000.0)
VOLS = (0.62, 0.57, 0.56, 0.58)


def test_flat_vol_is_constant() -> None:
    v = FlatVol(0.42).vols(np.array([1.0, 1e5, 1e9]), 65_000.0, 0.1)
    np.testing.assert_array_equal(v, 0.42)


def test_smile_reproduces_its_nodes() -> None:
    s = SmileVol(STRIKES, VOLS)
    np.testing.assert_allclose(s.vols(np.array(STRIKES), 65_300.0, 0.1), VOLS, rtol=1e-15)


def test_smile_interpolates_linearly_in_log_moneyness() -> None:
    s = SmileVol(STRIKES, VOLS)
    F, K = 65_300.0, 65_000.0
    k, k0, k1 = (math.log(x / F) for x in (K, 60_000.0, 70_000.0))
    want = 0.57 + (0.56 - 0.57) * (k - k0) / (k1 - k0)
    assert float(s.vols(np.array([K]), F, 0.1)[0]) == pytest.approx(want, rel=1e-14)
    # differs from linear-in-strike interpolation (a check that the axis really is ln K/F)
    lin_in_k = 0.57 + (0.56 - 0.57) * (K - 60_000.0) / 10_000.0
    assert abs(want - lin_in_k) > 1e-5


def test_smile_extrapolates_flat() -> None:
    s = SmileVol(STRIKES, VOLS)
    v = s.vols(np.array([1_000.0, 49_999.0, 80_001.0, 1e7]), 65_300.0, 0.1)
    np.testing.assert_array_equal(v, [0.62, 0.62, 0.58, 0.58])


@given(F=st.floats(1_000.0, 1e6), K=st.floats(10_000.0, 200_000.0))
def test_smile_value_does_not_depend_on_the_forward(F: float, K: float) -> None:
    """ln(K/F) − ln(K_i/F) = ln K − ln K_i: a strike smile is sticky-strike."""
    s = SmileVol(STRIKES, VOLS)
    a = float(s.vols(np.array([K]), F, 0.1)[0])
    b = float(s.vols(np.array([K]), 65_300.0, 0.1)[0])
    assert a == pytest.approx(b, rel=1e-12)


def test_raw_svi_matches_gatheral_formula() -> None:
    """Gatheral (2004) raw SVI: w(k) = a + b (ρ (k − m) + sqrt((k − m)² + σ²)), vol = sqrt(w/T)."""
    a, b, rho, m, sig = 0.02, 0.1, -0.3, 0.05, 0.2
    svi = SVIVol(a, b, rho, m, sig)
    F, T = 65_300.0, 0.25
    K = np.array([40_000.0, 65_300.0, 90_000.0])
    k = np.log(K / F)
    w = a + b * (rho * (k - m) + np.sqrt((k - m) ** 2 + sig**2))
    np.testing.assert_allclose(svi.vols(K, F, T), np.sqrt(w / T), rtol=1e-15)
    assert svi.min_total_variance() == pytest.approx(a + b * sig * math.sqrt(1 - rho**2))
    # the minimum over k is attained at k* = m − ρσ/sqrt(1 − ρ²)
    kstar = m - rho * sig / math.sqrt(1 - rho**2)
    assert float(svi.total_variance(np.array([kstar]))[0]) == pytest.approx(
        svi.min_total_variance(), rel=1e-12
    )


def base_market() -> dict[str, Any]:
    return {
        "as_of": "2026-11-22T08:00:00Z",
        "timestamp": "2026-11-22T08:00:00Z",
        "base_currency": "USD",
        "assets": {
            "BTC": {
                "price": 65_000.0,
                "vol": 0.55,
                "rate": 0.04,
                "expiries": {
                    "26DEC26": {
                        "forward": 65_300.0,
                        "discount": 0.9965,
                        "smile": {"strikes": list(STRIKES), "vols": list(VOLS)},
                    },
                    "2027-03-26T08:00:00Z": {
                        "svi": {"a": 0.04, "b": 0.1, "rho": -0.2, "m": 0.0, "sigma": 0.3},
                    },
                    "25JUN27": {"rate": 0.10, "vol": 0.8},
                },
            },
            "ETH": {"price": 3_200.0, "vol": 0.7, "rate": 0.03},
        },
    }


def vol_of(obj: dict[str, Any], name: str) -> float:
    v = price_contracts([parse_instrument(name)], market_from_obj(obj))[0]["vol"]
    assert isinstance(v, float)
    return v


def codes_of(obj: dict[str, Any], name: str) -> list[str]:
    return [
        w["code"]
        for w in price_contracts([parse_instrument(name)], market_from_obj(obj))[0]["warnings"]
    ]


def test_smile_is_used_at_its_expiry() -> None:
    assert vol_of(base_market(), "BTC-26DEC26-60000-C") == pytest.approx(0.57, rel=1e-14)
    assert codes_of(base_market(), "BTC-26DEC26-60000-C") == []


@pytest.mark.parametrize("other", ["vol", "svi"])
def test_one_surface_per_expiry(other: str) -> None:
    """Issue 9: a smile next to a flat vol was silently preferred; now the file is ambiguous."""
    obj = base_market()
    exp = obj["assets"]["BTC"]["expiries"]["26DEC26"]
    exp[other] = (
        0.6 if other == "vol" else {"a": 0.04, "b": 0.1, "rho": 0.0, "m": 0.0, "sigma": 0.3}
    )
    with pytest.raises(InputError, match="give one of smile, svi or vol") as e:
        market_from_obj(obj)
    assert e.value.path == "assets.BTC.expiries.26DEC26"


def test_svi_uses_the_forward_derived_from_the_listed_ones() -> None:
    """26MAR27 lists no forward: ln F interpolated between 26DEC26 (65 300) and 25JUN27 (own rate)."""
    obj = base_market()
    T, Td, Tj = years(MAR26), years(DEC26), years(parse_instrument("BTC-25JUN27").expiry)  # type: ignore[arg-type]
    lnf = math.log(65_300.0 / 65_000.0) + (0.10 * Tj - math.log(65_300.0 / 65_000.0)) * (T - Td) / (
        Tj - Td
    )
    k = math.log(60_000.0 / (65_000.0 * math.exp(lnf)))
    w = 0.04 + 0.1 * (-0.2 * k + math.sqrt(k * k + 0.09))
    assert vol_of(obj, "BTC-26MAR27-60000-C") == pytest.approx(math.sqrt(w / T), rel=1e-12)
    assert codes_of(obj, "BTC-26MAR27-60000-C") == ["forward_interpolated", "discount_interpolated"]


def test_unlisted_expiry_after_the_last_surface_extrapolates_its_vol_flat() -> None:
    obj = base_market()
    assert vol_of(obj, "BTC-25JUN27-60000-C") == 0.8
    assert vol_of(obj, "BTC-24SEP27-60000-C") == 0.8  # after 25JUN27: its vol, not the asset's 0.55
    assert "vol_extrapolated" in codes_of(obj, "BTC-24SEP27-60000-C")


def test_asset_vol_only_without_any_listed_surface() -> None:
    obj = base_market()
    assert vol_of(obj, "ETH-26DEC26-3000-C") == 0.7
    assert codes_of(obj, "ETH-26DEC26-3000-C") == [
        "forward_from_rate",
        "discount_from_rate",
        "asset_vol",
    ]


def test_no_vol_anywhere_is_a_market_data_error_naming_asset_and_field() -> None:
    obj = base_market()
    del obj["assets"]["ETH"]["vol"]
    with pytest.raises(MarketDataError) as e:
        vol_of(obj, "ETH-24SEP27-3000-C")
    assert e.value.path == "assets.ETH.vol"
    assert "ETH-24SEP27-3000-C" in e.value.reason


def test_forward_and_discount_derivation() -> None:
    """Listed data wins; the expiry's own rate is its data; after the last listed forward the
    asset rate carries it on; with none listed spot·exp(rate·T) (issue 9 §6)."""
    snap = market_from_obj(base_market())
    jun = parse_instrument("BTC-25JUN27").expiry
    sep = parse_instrument("BTC-24SEP27").expiry
    assert jun is not None and sep is not None
    Tj, Ts = years(jun), years(sep)
    assert snap.forward("BTC", jun) == pytest.approx(65_000.0 * math.exp(0.10 * Tj), rel=1e-15)
    assert snap.discount("BTC", jun) == pytest.approx(math.exp(-0.10 * Tj), rel=1e-15)
    f_sep, w = snap.forward_term("BTC", sep)
    assert f_sep == pytest.approx(65_000.0 * math.exp(0.10 * Tj + 0.04 * (Ts - Tj)), rel=1e-14)
    assert w is not None and w.code == "forward_extrapolated"
    d_sep, w = snap.discount_term("BTC", sep)
    assert d_sep == pytest.approx(math.exp(-0.10 * Tj - 0.04 * (Ts - Tj)), rel=1e-14)
    assert w is not None and w.code == "discount_extrapolated"
    # explicit values win
    assert snap.forward("BTC", DEC26) == 65_300.0 and snap.discount("BTC", DEC26) == 0.9965
    assert snap.forward_term("BTC", DEC26)[1] is None
    f_eth, w = snap.forward_term("ETH", DEC26)
    assert f_eth == pytest.approx(3_200.0 * math.exp(0.03 * years(DEC26)), rel=1e-15)
    assert w is not None and w.code == "forward_from_rate"


def test_absurd_rate_is_refused_at_the_edge() -> None:
    obj = copy.deepcopy(base_market())
    obj["assets"]["BTC"]["rate"] = 1e4  # exp(rate·T) would overflow a float
    with pytest.raises(InputError) as e:
        market_from_obj(obj)
    assert e.value.path == "assets.BTC.rate"


def test_year_fraction_is_seconds_over_365_days() -> None:
    snap = market_from_obj(base_market())
    row = price_contracts([parse_instrument("BTC-26DEC26-60000-C")], snap)[0]
    assert row["time_to_expiry"] == 34 * 86_400 / (365 * 86_400)
    # an expiry at another hour counts its seconds
    snap_late = market_from_obj({**base_market(), "as_of": "2026-11-22T20:00:00Z"})
    assert snap_late.time_to(DEC26) == pytest.approx(33.5 / 365.0, rel=1e-15)
