"""Black-76 kernels: textbook values, QuantLib oracle, slow and numba twins, degenerate inputs.

Conventions under test (issue 2 §4): price per unit in the forward's currency; delta ∂V/∂S with the
forward proportional to spot; gamma ∂²V/∂S²; vega per vol point (σ + 0.01); theta per calendar
day at constant carry and rate.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import QuantLib as ql
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import ndtr

from crossmargin.kernels import _numba as nb
from crossmargin.kernels import black76_greeks, black76_price
from crossmargin.kernels.black76 import MIN_TOTAL_VOL
from crossmargin.kernels.blocks import BLOCK, for_blocks
from crossmargin.kernels.reference import black76_price_scalar, norm_cdf

#: Textbook values are printed to 4 decimals: agreement to half a unit in the last place.
TEXTBOOK_4DP = 5e-5
#: Hull prints his example to 2 decimals.
TEXTBOOK_2DP = 5e-3
#: Issue 2 §4: equal to an independent implementation to 1e-10 relative.
ORACLE_REL = 1e-10
#: Fast NumPy kernel vs the scalar ``math.erfc`` twin (same formula, different code path).
TWIN_REL = 1e-12
#: ...plus this much of the magnitude of the two terms ``F N(±d1)`` and ``K N(±d2)`` whose
#: difference is the price: in the far wings with a tiny σ√T the formula itself is
#: ill-conditioned (both terms agree to many digits and N's tail amplifies the rounding of d),
#: so no implementation is relatively exact there.
TWIN_TERMS = 1e-13


def gbsm(S: float, T: float, r: float, b: float) -> tuple[float, float]:
    """Forward and discount of the generalised Black-Scholes-Merton model (cost of carry b)."""
    return S * math.exp(b * T), math.exp(-r * T)


# --- reference values with cited sources ----------------------------------------------------


@pytest.mark.parametrize(
    ("source", "F", "K", "T", "r", "sigma", "call", "expected", "tol"),
    [
        # Haug, The Complete Guide to Option Pricing Formulas, 2nd ed. (2007), Black (1976)
        # futures option example: F = K = 19, T = 0.75, r = 10 %, σ = 28 % → c = p = 1.7011.
        ("Haug Black-76 call", 19.0, 19.0, 0.75, 0.10, 0.28, True, 1.7011, TEXTBOOK_4DP),
        ("Haug Black-76 put", 19.0, 19.0, 0.75, 0.10, 0.28, False, 1.7011, TEXTBOOK_4DP),
        # Hull, Options, Futures, and Other Derivatives, Black's model example: European put on
        # crude-oil futures, F = K = 20, r = 9 %, T = 4 months, σ = 25 % → 1.12.
        ("Hull Black put", 20.0, 20.0, 4.0 / 12.0, 0.09, 0.25, False, 1.12, TEXTBOOK_2DP),
    ],
)
def test_black76_textbook(
    source: str,
    F: float,
    K: float,
    T: float,
    r: float,
    sigma: float,
    call: bool,
    expected: float,
    tol: float,
) -> None:
    got = float(black76_price(F, K, T, sigma, math.exp(-r * T), call))
    assert got == pytest.approx(expected, abs=tol), source


@pytest.mark.parametrize(
    ("source", "S", "K", "T", "r", "b", "sigma", "call", "expected"),
    [
        # Haug (2007) ch. 1, Black-Scholes (1973) example: S = 60, K = 65, T = 0.25, r = 8 %,
        # σ = 30 % → c = 2.1334.
        ("Haug BS73 call", 60.0, 65.0, 0.25, 0.08, 0.08, 0.30, True, 2.1334),
        # Haug (2007) ch. 1, generalised BSM (Merton 1973 continuous yield) example:
        # S = 75, K = 70, T = 0.5, r = 10 %, b = 5 %, σ = 35 % → p = 4.0870.
        ("Haug Merton73 put", 75.0, 70.0, 0.5, 0.10, 0.05, 0.35, False, 4.0870),
    ],
)
def test_generalised_bsm_textbook_through_black76(
    source: str,
    S: float,
    K: float,
    T: float,
    r: float,
    b: float,
    sigma: float,
    call: bool,
    expected: float,
) -> None:
    """Black-76 on F = S e^{bT}, D = e^{-rT} reproduces generalised Black-Scholes-Merton."""
    F, D = gbsm(S, T, r, b)
    assert float(black76_price(F, K, T, sigma, D, call)) == pytest.approx(
        expected, abs=TEXTBOOK_4DP
    ), source


@pytest.mark.parametrize(
    ("source", "call", "expected"),
    [
        # Haug (2007) ch. 2, delta of a futures option: S = F = 105, K = 100, T = 0.5, r = 10 %,
        # b = 0, σ = 36 % → call delta 0.5946, put delta −0.3566.
        ("Haug futures-option call delta", True, 0.5946),
        ("Haug futures-option put delta", False, -0.3566),
    ],
)
def test_delta_textbook(source: str, call: bool, expected: float) -> None:
    g = black76_greeks(105.0, 105.0, 100.0, 0.5, 0.36, math.exp(-0.10 * 0.5), call)
    assert float(g.delta) == pytest.approx(expected, abs=TEXTBOOK_4DP), source


def test_gamma_textbook() -> None:
    # Haug (2007) ch. 2 gamma example: S = 55, K = 60, T = 0.75, r = b = 10 %, σ = 30 % → 0.0278.
    F, D = gbsm(55.0, 0.75, 0.10, 0.10)
    g = black76_greeks(55.0, F, 60.0, 0.75, 0.30, D, True)
    assert float(g.gamma) == pytest.approx(0.0278, abs=TEXTBOOK_4DP)


def test_theta_textbook_per_calendar_day() -> None:
    # Haug (2007) ch. 2 theta example: put, S = 430, K = 405, T = 0.0833, r = 7 %, b = 2 %,
    # σ = 20 % → Θ = −31.1924 per year; crossmargin reports per calendar day (÷ 365).
    F, D = gbsm(430.0, 0.0833, 0.07, 0.02)
    g = black76_greeks(430.0, F, 405.0, 0.0833, 0.20, D, False)
    assert float(g.theta) * 365.0 == pytest.approx(-31.1924, abs=TEXTBOOK_4DP)


# --- independent implementation: QuantLib 1.44 ----------------------------------------------


def ql_reference(
    S: float, F: float, K: float, T: float, sigma: float, D: float, call: bool
) -> dict[str, float]:
    """Price and Greeks from QuantLib's BlackCalculator, converted to crossmargin's units.

    ``BlackCalculator.delta(spot)``/``gamma(spot)`` differentiate with the forward proportional to
    spot (like ours); ``vega(T)`` is per unit of vol (ours per vol point, ×0.01);
    ``theta(spot, T)`` is per year at constant rate and carry (ours per calendar day, ÷365).
    """
    kind = ql.Option.Call if call else ql.Option.Put
    stdev = sigma * math.sqrt(T)
    bc = ql.BlackCalculator(ql.PlainVanillaPayoff(kind, K), F, stdev, D)
    return {
        "price": ql.blackFormula(kind, K, F, stdev, D),
        "delta": bc.delta(S),
        "gamma": bc.gamma(S),
        "vega": bc.vega(T) * 0.01,
        "theta": bc.theta(S, T) / 365.0,
    }


option_inputs = st.fixed_dictionaries(
    {
        "S": st.floats(1.0, 200_000.0),
        "b": st.floats(-0.10, 0.20),
        "r": st.floats(-0.02, 0.15),
        "T": st.floats(1.0 / 365.0, 3.0),
        "sigma": st.floats(0.05, 1.5),
        # log-moneyness within ±3 standard deviations: where QuantLib's own normal CDF keeps
        # ~1e-13 relative accuracy (deeper tails are checked against the erfc twin below)
        "z": st.floats(-3.0, 3.0),
        "call": st.booleans(),
    }
)


@given(option_inputs)
def test_price_and_greeks_equal_quantlib(p: dict[str, float]) -> None:
    S, T, sigma, call = p["S"], p["T"], p["sigma"], bool(p["call"])
    F, D = gbsm(S, T, p["r"], p["b"])
    K = F * math.exp(p["z"] * sigma * math.sqrt(T))
    g = black76_greeks(S, F, K, T, sigma, D, call)
    ref = ql_reference(S, F, K, T, sigma, D, call)
    for name, want in ref.items():
        got = float(getattr(g, name))
        assert got == pytest.approx(want, rel=ORACLE_REL, abs=1e-13 * F), name


def test_vectorised_price_equals_quantlib_on_a_grid() -> None:
    """One vectorised call over a grid of strikes, expiries and vols vs a QuantLib loop."""
    F, D = 65_300.0, 0.9965
    K = np.linspace(30_000.0, 120_000.0, 13)
    T = np.array([1 / 365, 7 / 365, 34 / 365, 0.5, 2.0])
    sig = np.array([0.1, 0.55, 1.2])
    KK, TT, SS, CC = np.meshgrid(K, T, sig, [True, False], indexing="ij")
    got = black76_price(F, KK, TT, SS, D, CC)
    want = np.vectorize(
        lambda k, t, s, c: ql.blackFormula(
            ql.Option.Call if c else ql.Option.Put, k, F, s * math.sqrt(t), D
        )
    )(KK, TT, SS, CC)
    np.testing.assert_allclose(got, want, rtol=ORACLE_REL, atol=1e-12 * F)


# --- fast vs slow twins -----------------------------------------------------------------------


def random_cells(n: int, seed: int) -> tuple[np.ndarray, ...]:
    """Random option inputs including deep wings (±8 sd), short expiries and tiny vols."""
    rng = np.random.default_rng(seed)
    F = rng.uniform(1.0, 1e5, n)
    T = np.exp(rng.uniform(np.log(1e-4), np.log(5.0), n))
    sig = np.exp(rng.uniform(np.log(1e-3), np.log(3.0), n))
    K = F * np.exp(rng.uniform(-8.0, 8.0, n) * sig * np.sqrt(T))
    D = rng.uniform(0.8, 1.02, n)
    call = rng.random(n) < 0.5
    return F, K, T, sig, D, call


def term_scale(
    F: np.ndarray, K: np.ndarray, T: np.ndarray, sig: np.ndarray, D: np.ndarray, call: np.ndarray
) -> np.ndarray:
    """``D (F N(±d1) + K N(±d2))``: the size of the terms the price is a difference of."""
    v = sig * np.sqrt(T)
    d1 = np.log(F / K) / v + 0.5 * v
    s = np.where(call, 1.0, -1.0)
    return np.asarray(D * (F * ndtr(s * d1) + K * ndtr(s * (d1 - v))))


def assert_twins(fast: np.ndarray, slow: np.ndarray, scale: np.ndarray) -> None:
    err = np.abs(fast - slow)
    bound = TWIN_REL * np.abs(slow) + TWIN_TERMS * scale
    worst = int(np.argmax(err / bound))
    assert err[worst] <= bound[worst], (worst, fast[worst], slow[worst])


def test_blocked_kernel_equals_scalar_twin() -> None:
    F, K, T, sig, D, call = random_cells(3_000, seed=1)
    fast = black76_price(F, K, T, sig, D, call)
    slow = np.array(
        [black76_price_scalar(*args) for args in zip(F, K, T, sig, D, call, strict=True)]
    )
    assert_twins(fast, slow, term_scale(F, K, T, sig, D, call))
    # away from the ill-conditioned corner (σ√T ≥ 0.05, |z| ≤ 5) plain relative agreement holds
    v = sig * np.sqrt(T)
    calm = (v >= 0.05) & (np.abs(np.log(F / K)) <= 5 * v)
    assert calm.sum() > 500
    np.testing.assert_allclose(fast[calm], slow[calm], rtol=TWIN_REL)


def test_numba_twin_is_compiled_and_equal_on_a_threaded_array() -> None:
    """Above 8 blocks the NumPy kernel runs on the thread pool; the numba loop must agree."""
    assert nb.available()
    n = 8 * BLOCK + 12_345
    F, K, T, sig, D, call = random_cells(n, seed=2)
    fast = black76_price(F, K, T, sig, D, call)
    compiled = nb.black76_price_numba(F, K, T, sig, D, call)
    assert_twins(fast, compiled, term_scale(F, K, T, sig, D, call))


def test_broadcasting_keeps_shape_and_values() -> None:
    K = np.array([[60_000.0], [70_000.0]])
    T = np.array([0.1, 0.5, 1.0])
    out = black76_price(65_000.0, K, T, 0.5, 1.0, True)
    assert out.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            assert out[i, j] == pytest.approx(
                black76_price_scalar(65_000.0, float(K[i, 0]), float(T[j]), 0.5, 1.0, True),
                rel=TWIN_REL,
            )


def test_for_blocks_covers_every_index_exactly_once() -> None:
    n = 8 * BLOCK + 7
    hits = np.zeros(n, dtype=np.int64)

    def mark(a: int, b: int) -> None:
        hits[a:b] += 1

    for_blocks(n, mark)
    assert np.all(hits == 1)


# --- degenerate cases -------------------------------------------------------------------------


@pytest.mark.parametrize("call", [True, False])
@pytest.mark.parametrize("T", [0.0, -0.5])
def test_expired_or_zero_time_is_discounted_intrinsic(T: float, call: bool) -> None:
    F = np.array([90.0, 100.0, 110.0])
    got = black76_price(F, 100.0, T, 0.4, 0.97, call)
    intrinsic = np.maximum(F - 100.0, 0.0) if call else np.maximum(100.0 - F, 0.0)
    np.testing.assert_array_equal(got, 0.97 * intrinsic)


@pytest.mark.parametrize("call", [True, False])
def test_zero_vol_is_discounted_intrinsic_and_limit_is_continuous(call: bool) -> None:
    F = np.array([90.0, 110.0])
    intrinsic = np.maximum(F - 100.0, 0.0) if call else np.maximum(100.0 - F, 0.0)
    np.testing.assert_array_equal(black76_price(F, 100.0, 1.0, 0.0, 0.97, call), 0.97 * intrinsic)
    # just above the zero-vol switch the formula converges to the same value
    near = black76_price(F, 100.0, 1.0, 1e-9, 0.97, call)
    np.testing.assert_allclose(near, 0.97 * intrinsic, rtol=0, atol=1e-12)
    assert MIN_TOTAL_VOL < 1e-9


@pytest.mark.parametrize("call", [True, False])
def test_zero_vol_greeks_are_explicit(call: bool) -> None:
    S = F = np.array([90.0, 100.0, 110.0])
    r, T = 0.05, 0.5
    D = math.exp(-r * T)
    g = black76_greeks(S, F, 100.0, T, 0.0, D, call)
    itm = (F > 100.0) if call else (F < 100.0)
    sgn = 1.0 if call else -1.0
    np.testing.assert_array_equal(g.delta, np.where(itm, sgn * D, 0.0))
    np.testing.assert_array_equal(g.gamma, 0.0)
    np.testing.assert_array_equal(g.vega, 0.0)
    # b = 0 (F = S): V = e^{-rT}·max(±(F − K), 0) rises as T shrinks (less discounting), so
    # theta = −∂V/∂T / 365 = r·V / 365 > 0 for an in-the-money option
    want_theta = np.where(itm, r * D * sgn * (F - 100.0) / 365.0, 0.0)
    np.testing.assert_allclose(g.theta, want_theta, rtol=1e-12, atol=1e-15)


def test_expired_greeks_are_zero_except_intrinsic_delta() -> None:
    g = black76_greeks(110.0, 110.0, 100.0, 0.0, 0.5, 1.0, True)
    assert float(g.price) == 10.0
    assert float(g.delta) == 1.0
    assert float(g.gamma) == float(g.vega) == float(g.theta) == 0.0


@pytest.mark.parametrize("z", [-12.0, -8.0, -6.0, 6.0, 8.0, 12.0])
def test_deep_wings_keep_relative_precision(z: float) -> None:
    """Deep OTM values are tiny but exact (puts use their own formula, not parity)."""
    F, T, sig, D = 100.0, 1.0, 0.5, 0.95
    K = F * math.exp(z * sig)
    otm_is_call = z > 0
    otm = float(black76_price(F, K, T, sig, D, otm_is_call))
    assert otm > 0.0
    assert otm == pytest.approx(black76_price_scalar(F, K, T, sig, D, otm_is_call), rel=TWIN_REL)
    # the OTM delta keeps its sign and relative precision too (no N(d1) − 1 cancellation)
    g = black76_greeks(F, F, K, T, sig, D, otm_is_call)
    d1 = (math.log(F / K) + 0.5 * sig * sig * T) / (sig * math.sqrt(T))
    want_delta = D * norm_cdf(d1) if otm_is_call else -D * norm_cdf(-d1)
    assert float(g.delta) == pytest.approx(want_delta, rel=1e-12)
    # deep ITM: intrinsic plus the (tiny) OTM value of the other side, by put-call parity
    itm = float(black76_price(F, K, T, sig, D, not otm_is_call))
    assert itm == pytest.approx(D * abs(F - K) + otm, rel=1e-14, abs=1e-12 * F)


@given(
    F=st.floats(1.0, 1e6),
    m=st.floats(-3.0, 3.0),
    T=st.floats(0.0, 10.0),
    sigma=st.floats(0.0, 5.0),
    D=st.floats(0.5, 1.05),
)
def test_put_call_parity_and_no_arbitrage_bounds(
    F: float, m: float, T: float, sigma: float, D: float
) -> None:
    K = F * math.exp(m)
    c = float(black76_price(F, K, T, sigma, D, True))
    p = float(black76_price(F, K, T, sigma, D, False))
    assert math.isfinite(c) and math.isfinite(p)
    scale = max(F, K)
    assert c - p == pytest.approx(D * (F - K), abs=1e-9 * scale)
    assert D * max(F - K, 0.0) - 1e-9 * scale <= c <= D * F + 1e-9 * scale
    assert D * max(K - F, 0.0) - 1e-9 * scale <= p <= D * K + 1e-9 * scale


@given(
    m=st.floats(-1.0, 1.0),
    T=st.floats(1e-3, 5.0),
    s1=st.floats(0.01, 2.0),
    s2=st.floats(0.01, 2.0),
    call=st.booleans(),
)
def test_price_increases_with_vol_and_greeks_have_their_signs(
    m: float, T: float, s1: float, s2: float, call: bool
) -> None:
    F, K = 100.0, 100.0 * math.exp(m)
    lo, hi = sorted((s1, s2))
    assert (
        float(black76_price(F, K, T, hi, 1.0, call))
        >= float(black76_price(F, K, T, lo, 1.0, call)) - 1e-12
    )
    g = black76_greeks(F, F, K, T, s1, 1.0, call)
    assert float(g.gamma) >= 0.0 and float(g.vega) >= 0.0
    assert (0.0 <= float(g.delta) <= 1.0) if call else (-1.0 <= float(g.delta) <= 0.0)
    # with zero rate and carry, time value only decays
    assert float(g.theta) <= 1e-15


def test_extreme_inputs_stay_finite() -> None:
    F = np.array([1e-6, 1e9, 1.0, 1.0])
    K = np.array([1e9, 1e-6, 1.0, 1.0])
    T = np.array([50.0, 50.0, 1e-12, 50.0])
    sig = np.array([10.0, 10.0, 10.0, 1e-14])
    for call in (True, False):
        g = black76_greeks(F, F, K, T, sig, 1.0, call)
        for arr in (g.price, g.delta, g.gamma, g.vega, g.theta):
            assert np.all(np.isfinite(arr))
        assert np.all(g.price >= 0.0)


@pytest.mark.parametrize("call", [True, False])
def test_time_to_expiry_limit_is_continuous(call: bool) -> None:
    """As T → 0 the price tends to the discounted intrinsic value (no jump at the switch)."""
    F = np.array([90.0, 99.999, 100.0, 100.001, 110.0])
    intrinsic = 0.99 * (np.maximum(F - 100.0, 0.0) if call else np.maximum(100.0 - F, 0.0))
    for T in (1e-6, 1e-10, 1e-14):
        got = black76_price(F, 100.0, T, 0.8, 0.99, call)
        # the time value of an at-the-money option is D·F·σ·sqrt(T/2π)
        assert np.all(got >= intrinsic - 1e-12)
        np.testing.assert_allclose(got, intrinsic, atol=0.99 * 100.0 * 0.8 * math.sqrt(T) + 1e-12)


def test_inverse_option_near_expiry_is_intrinsic_in_coin() -> None:
    """An inverse (coin-settled) call one second before expiry is worth D·max(F − K, 0)/S coins."""
    from datetime import timedelta

    from crossmargin import parse_instrument, price_contracts

    from .helpers import DEC26, asset, expiry, market

    mkt = market(
        DEC26 - timedelta(seconds=1),
        BTC=asset(65_000.0, expiries={DEC26: expiry(65_300.0, 0.9999, 0.6)}),
    )
    itm, otm = price_contracts(
        [parse_instrument("BTC-26DEC26-60000-C-INV"), parse_instrument("BTC-26DEC26-70000-C-INV")],
        mkt,
    )
    assert itm["price"] == pytest.approx(0.9999 * 5_300.0 / 65_000.0, rel=1e-9)
    assert otm["price"] == pytest.approx(0.0, abs=1e-12)
    assert itm["quote_currency"] == "BTC"
