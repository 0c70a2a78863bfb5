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
from crossmargin.errors import MarketDataError

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
                        "vol": 0.6,
                        "smile": {"strikes": list(STRIKES), "vols": list(VOLS)},
                    },
                    "2027-03-26T08:00:00Z": {
                        "vol": 0.7,
                        "svi": {"a": 0.04, "b": 0.1, "rho": -0.2, "m": 0.0, "sigma": 0.3},
                    },
                    "25JUN27": {"rate": 0.10, "vol": 0.8},
                },
            }
        },
    }


def vol_of(obj: dict[str, Any], name: str) -> float:
    v = price_contracts([parse_instrument(name)], market_from_obj(obj))[0]["vol"]
    assert isinstance(v, float)
    return v


def test_surface_precedence_smile_over_flat() -> None:
    assert vol_of(base_market(), "BTC-26DEC26-60000-C") == pytest.approx(0.57, rel=1e-14)


def test_surface_precedence_svi_over_flat() -> None:
    T = years(MAR26)
    k = math.log(60_000.0 / (65_000.0 * math.exp(0.04 * T)))
    w = 0.04 + 0.1 * (-0.2 * k + math.sqrt(k * k + 0.09))
    assert vol_of(base_market(), "BTC-26MAR27-60000-C") == pytest.approx(
        math.sqrt(w / T), rel=1e-12
    )


def test_expiry_flat_vol_then_asset_vol_fallback() -> None:
    obj = base_market()
    assert vol_of(obj, "BTC-25JUN27-60000-C") == 0.8
    assert vol_of(obj, "BTC-24SEP27-60000-C") == 0.55  # expiry not listed: asset vol


def test_no_vol_anywhere_is_a_market_data_error_naming_asset_and_field() -> None:
    obj = base_market()
    del obj["assets"]["BTC"]["vol"]
    with pytest.raises(MarketDataError) as e:
        vol_of(obj, "BTC-24SEP27-60000-C")
    assert e.value.path == "assets.BTC.vol"
    assert "BTC-24SEP27-60000-C" in e.value.reason


def test_forward_and_discount_fallbacks() -> None:
    """forward = spot·exp(rate·T), discount = exp(−rate·T); the expiry's rate beats the asset's."""
    snap = market_from_obj(base_market())
    jun = parse_instrument("BTC-25JUN27").expiry
    sep = parse_instrument("BTC-24SEP27").expiry
    assert jun is not None and sep is not None
    Tj, Ts = years(jun), years(sep)
    assert snap.forward("BTC", jun) == pytest.approx(65_000.0 * math.exp(0.10 * Tj), rel=1e-15)
    assert snap.discount("BTC", jun) == pytest.approx(math.exp(-0.10 * Tj), rel=1e-15)
    assert snap.forward("BTC", sep) == pytest.approx(65_000.0 * math.exp(0.04 * Ts), rel=1e-15)
    assert snap.discount("BTC", sep) == pytest.approx(math.exp(-0.04 * Ts), rel=1e-15)
    # explicit values win
    assert snap.forward("BTC", DEC26) == 65_300.0 and snap.discount("BTC", DEC26) == 0.9965


def test_absurd_rate_fails_closed_with_a_path_not_a_crash() -> None:
    obj = copy.deepcopy(base_market())
    obj["assets"]["BTC"]["rate"] = 1e4  # exp(rate·T) overflows a float
    with pytest.raises(MarketDataError) as e:
        price_contracts([parse_instrument("BTC-24SEP27")], market_from_obj(obj))
    assert e.value.path.startswith("assets.BTC.expiries.") and e.value.path.endswith(".forward")


def test_year_fraction_is_seconds_over_365_days() -> None:
    snap = market_from_obj(base_market())
    row = price_contracts([parse_instrument("BTC-26DEC26-60000-C")], snap)[0]
    assert row["time_to_expiry"] == 34 * 86_400 / (365 * 86_400)
    # an expiry at another hour counts its seconds
    snap_late = market_from_obj({**base_market(), "as_of": "2026-11-22T20:00:00Z"})
    assert snap_late.time_to(DEC26) == pytest.approx(33.5 / 365.0, rel=1e-15)
