"""Derive PMRM_2 rules one by one (derive-pmrm2.md §2–§7, §12 pitfalls) and its parameters."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.errors import MarketDataError
from crossmargin.margin.presets.derive.core import DeriveInputs, derive_margin
from crossmargin.margin.presets.derive.kernel import derive_prices, derive_svi_vols
from crossmargin.margin.presets.derive.params import (
    DeriveParams,
    mainnet_params,
    portfolio_case_params,
)

P = portfolio_case_params()
EXACT = 1e-12


def inputs(**kw: Any) -> DeriveInputs:
    """One account, one subaccount; options/collateral given as lists of dicts."""
    opts = kw.pop("options", [])
    exps = kw.pop("expiries", [])
    coll = kw.pop("collateral", [])
    base: dict[str, Any] = {
        "cash": [0.0],
        "stable_price": [1.0],
        "g_account": [0],
        "g_spot": [3000.0],
        "g_spot_conf": [1.0],
        "g_perp_qty": [0.0],
        "g_perp_price": [3000.0],
        "g_perp_conf": [1.0],
        "g_perp_value": [0.0],
    }
    base.update(kw)
    arr = {
        k: np.asarray(v, dtype=np.int64 if k == "g_account" else np.float64)
        for k, v in base.items()
    }
    f = lambda key, rows, dt=np.float64: np.asarray([r[key] for r in rows], dtype=dt)  # noqa: E731
    return DeriveInputs(
        **arr,
        e_seconds=f("T", exps),
        e_forward=f("F", exps),
        e_forward_fixed=f("fix", exps) if exps and "fix" in exps[0] else np.zeros(len(exps)),
        e_rate=f("r", exps) if exps else np.zeros(0),
        e_conf=np.asarray([e.get("conf", 1.0) for e in exps], dtype=np.float64),
        o_expiry=f("e", opts, np.int64),
        o_strike=f("K", opts),
        o_call=f("call", opts, np.bool_),
        o_vol=f("vol", opts),
        h_group=np.zeros(len(opts), np.int64),
        h_option=np.arange(len(opts), dtype=np.int64),
        h_amount=f("n", opts),
        h_vol_conf=np.asarray([o.get("conf", 1.0) for o in opts], dtype=np.float64),
        c_account=np.zeros(len(coll), np.int64),
        c_group=np.asarray([0 if c.get("rc") else -1 for c in coll], dtype=np.int64),
        c_value=f("v", coll),
        c_conf=np.asarray([c.get("conf", 1.0) for c in coll], dtype=np.float64),
        c_mm_haircut=np.asarray([c.get("mmh", 0.0) for c in coll], dtype=np.float64),
        c_im_haircut=np.asarray([c.get("imh", 0.0) for c in coll], dtype=np.float64),
    )


# -- Black-76 as implemented (§3): fast kernel vs a slow scalar twin of the spec's formulas --------
def _ncdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def derive_b76_scalar(F: float, K: float, t: float, s: float, D: float, call: bool) -> float:
    """§3 literally: standardised call, put from parity, caps; v = 0 -> intrinsic."""
    if K == 0:
        return F * D if call else 0.0
    v = s * math.sqrt(t)
    kappa = K / F
    if v == 0:
        c = max(1.0 - kappa, 0.0)
    elif v >= 24:
        c = 1.0
    else:
        d1 = (v * v / 2.0 - math.log(kappa)) / v
        c = max(_ncdf(d1) - kappa * _ncdf(d1 - v), 0.0)
    if call:
        return min(c * F * D, F * D)
    return min(max(c + kappa - 1.0, 0.0) * F * D, K * D)


@given(
    F=st.floats(100.0, 200_000.0),
    m=st.floats(0.2, 5.0),
    t=st.floats(0.0, 3.0),
    s=st.floats(0.0, 3.0),
    r=st.floats(0.0, 0.3),
    call=st.booleans(),
)
def test_black76_matches_scalar_twin(
    F: float, m: float, t: float, s: float, r: float, call: bool
) -> None:
    K = F * m
    D = math.exp(-r * t)
    fast = derive_prices(
        np.asarray([[F]]),
        np.asarray([K]),
        np.asarray([t]),
        np.asarray([[s]]),
        np.asarray([D]),
        np.asarray([call]),
    )[0, 0]
    slow = derive_b76_scalar(F, K, t, s, D, call)
    # parity puts lose absolute precision ~1e-16 x F; the kernel prices puts directly
    assert fast == pytest.approx(slow, rel=1e-9, abs=1e-11 * F)


def test_black76_edges() -> None:
    F, K, D = np.asarray([[100.0, 100.0]]), np.asarray([80.0]), np.asarray([0.9])
    sat = derive_prices(F, K, np.asarray([1.0]), np.asarray([[24.0, 30.0]]), D, np.asarray([True]))
    np.testing.assert_allclose(sat, [[90.0, 90.0]], rtol=0, atol=0)  # call = F·D
    sat_put = derive_prices(
        F, K, np.asarray([1.0]), np.asarray([[25.0, 40.0]]), D, np.asarray([False])
    )
    np.testing.assert_allclose(sat_put, [[72.0, 72.0]], rtol=0, atol=0)  # put = K·D
    k0 = derive_prices(
        np.asarray([[100.0]] * 2),
        np.asarray([0.0, 0.0]),
        np.ones(2),
        np.zeros((2, 1)),
        np.ones(2),
        np.asarray([True, False]),
    )
    np.testing.assert_array_equal(k0, [[100.0], [0.0]])
    atm0 = derive_prices(
        np.asarray([[100.0]]),
        np.asarray([100.0]),
        np.zeros(1),
        np.asarray([[0.5]]),
        np.ones(1),
        np.asarray([True]),
    )
    assert atm0[0, 0] == 0.0  # v = 0 at exactly F = K: value 0


def test_svi_clamps_moneyness_and_caps_variance() -> None:
    a, b, rho, m, sig = 0.04, 0.4, -0.3, 0.0, 0.1
    B = 4.0 * math.sqrt(a + b * sig)
    one = lambda x: np.asarray([x])  # noqa: E731
    v_far = derive_svi_vols(
        one(1e9), one(a), one(b), one(rho), one(m), one(sig), one(100.0), one(0.5)
    )
    v_edge = derive_svi_vols(
        one(100.0 * math.exp(B)), one(a), one(b), one(rho), one(m), one(sig), one(100.0), one(0.5)
    )
    assert v_far[0] == pytest.approx(v_edge[0], rel=1e-15)
    big = derive_svi_vols(
        one(1e9), one(500.0), one(0.0), one(0.0), one(0.0), one(0.1), one(100.0), one(1.0)
    )
    assert big[0] == pytest.approx(12.0, rel=1e-15)  # sqrt(144 / 1)
    assert (
        derive_svi_vols(one(0.0), one(a), one(b), one(rho), one(m), one(sig), one(100.0), one(0.5))[
            0
        ]
        == 0.0
    )
    with pytest.raises(MarketDataError, match="negative"):
        derive_svi_vols(
            one(100.0), one(-1.0), one(0.1), one(0.0), one(0.0), one(0.1), one(100.0), one(0.5)
        )


# -- §2: forward split near expiry, expired options, rate floor ------------------------------------
def test_near_expiry_only_variable_forward_moves() -> None:
    T = 900.0  # 15 minutes: half the forward is fixed by the settlement TWAP
    x = inputs(
        expiries=[{"T": T, "F": 3000.0, "fix": 1500.0, "r": 0.0}],
        options=[{"e": 0, "K": 2000.0, "call": True, "vol": 0.5, "n": 1.0}],
    )
    r = derive_margin(x, P)
    mtm = float(r.eg_mtm[0])
    # deep ITM, tiny t: value ~ intrinsic; spot x1.18 moves only the variable half
    up_value = (0.5 * 3000.0 * 1.18 + 1500.0 - 2000.0) * float(r.sd_pos[0])
    assert float(r.scenario_pnl[0, 0]) == pytest.approx(up_value - mtm, rel=1e-9)


def test_expired_options_at_intrinsic_with_static_discount_by_sign() -> None:
    x = inputs(
        expiries=[{"T": 0.0, "F": 3100.0, "fix": 3100.0, "r": 0.5}],
        options=[{"e": 0, "K": 3000.0, "call": True, "vol": 0.6, "n": 2.0}],
    )
    r = derive_margin(x, P)
    assert float(r.eg_mtm[0]) == pytest.approx(200.0, rel=EXACT)  # intrinsic, D = 1
    # positive value marked down by the long base discount in every scenario (§5 step 2),
    # times each scenario's dampening (tails)
    damp = np.asarray([sc.dampening for sc in P.scenarios])
    np.testing.assert_allclose(
        r.scenario_pnl[0], 200.0 * (P.margin.long_base_static_discount - 1.0) * damp, rtol=EXACT
    )
    short = derive_margin(inputs(**{**_short_expired()}), P)
    np.testing.assert_allclose(short.scenario_pnl[0], 0.0, atol=1e-9)  # sdNeg = min(1/D = 1, …)


def _short_expired() -> dict[str, Any]:
    return {
        "expiries": [{"T": 0.0, "F": 3100.0, "fix": 3100.0, "r": 0.0}],
        "options": [{"e": 0, "K": 3000.0, "call": True, "vol": 0.6, "n": -2.0}],
    }


def test_negative_rate_is_floored() -> None:
    a = derive_margin(
        inputs(
            expiries=[{"T": 86400.0 * 60, "F": 3000.0, "r": -0.2}],
            options=[{"e": 0, "K": 3000.0, "call": False, "vol": 0.6, "n": -1.0}],
        ),
        P,
    )
    b = derive_margin(
        inputs(
            expiries=[{"T": 86400.0 * 60, "F": 3000.0, "r": 0.0}],
            options=[{"e": 0, "K": 3000.0, "call": False, "vol": 0.6, "n": -1.0}],
        ),
        P,
    )
    assert float(a.mm[0]) == float(b.mm[0]) and float(a.im[0]) == float(b.im[0])


# -- §2.1 and §6: confidences, contingencies, naked shorts ----------------------------------------
def test_confidence_order_perp_enters_expiries_not_collateral() -> None:
    opt = {
        "expiries": [{"T": 86400.0 * 10, "F": 3000.0, "r": 0.0}],
        "options": [{"e": 0, "K": 3200.0, "call": True, "vol": 0.6, "n": 1.0}],
    }
    coll = [{"v": 1000.0, "conf": 0.9}]
    low_perp = derive_margin(inputs(g_perp_qty=[1.0], g_perp_conf=[0.3], collateral=coll, **opt), P)
    no_perp = derive_margin(inputs(g_perp_qty=[0.0], g_perp_conf=[0.3], collateral=coll, **opt), P)
    # with a perp held, its 0.3 confidence charges the perp notional and the expiry's gross
    assert float(low_perp.g_oracle[0]) == pytest.approx(0.7 * 1.0 * 3000.0 * 2, rel=EXACT)
    assert float(low_perp.eg_conf[0]) == 0.3
    assert float(low_perp.c_oracle[0]) == 0.0  # collateral confidence never includes the perp's
    assert float(no_perp.g_oracle[0]) == 0.0  # no perp: its confidence is ignored entirely


def test_naked_shorts_pool_calls_and_puts_at_a_strike() -> None:
    e = [{"T": 86400.0 * 10, "F": 3000.0, "r": 0.0}]
    covered = [
        {"e": 0, "K": 3000.0, "call": True, "vol": 0.6, "n": -2.0},
        {"e": 0, "K": 3000.0, "call": False, "vol": 0.6, "n": 2.0},
    ]
    spread = [
        {"e": 0, "K": 3000.0, "call": True, "vol": 0.6, "n": -2.0},
        {"e": 0, "K": 3500.0, "call": True, "vol": 0.6, "n": 2.0},
    ]
    assert float(derive_margin(inputs(expiries=e, options=covered), P).eg_naked[0]) == 0.0
    assert float(derive_margin(inputs(expiries=e, options=spread), P).eg_naked[0]) == 2.0
    r = derive_margin(inputs(expiries=e, options=spread), P)
    assert float(r.eg_gross[0]) == 4.0
    assert float(r.g_mm_option[0]) == pytest.approx(
        2.0 * 3000.0 * P.other.mm_option_percent, rel=EXACT
    )


def test_collateral_haircuts_risk_cancelling_and_layering() -> None:
    coll = [{"v": 10_000.0, "rc": True, "mmh": 0.1, "imh": 0.05}]
    r = derive_margin(inputs(collateral=coll), P)
    # risk-cancelling collateral moves with spot: worst regular scenario 0.82 -> -18 %
    assert float(r.g_min_span[0]) == pytest.approx(-1800.0, rel=EXACT)
    assert float(r.mm[0]) == pytest.approx(-1800.0 * 0.8 - 1000.0 + 10_000.0, rel=EXACT)
    # IM subtracts both the IM and the MM haircut (§6 layering)
    assert float(r.im[0]) == pytest.approx(-1800.0 - 500.0 - 1000.0 + 10_000.0, rel=EXACT)
    plain = derive_margin(inputs(collateral=[{"v": 10_000.0, "mmh": 0.1, "imh": 0.05}]), P)
    assert plain.scenario_pnl.size == 0 or float(plain.g_min_span[0]) == 0.0


def test_peg_loss_raises_only_the_im_factor() -> None:
    r = derive_margin(inputs(stable_price=[0.95], g_perp_qty=[1.0]), P)
    o = P.other
    assert float(r.factor_im[0]) == pytest.approx(
        1.0 + o.peg_loss_factor * (o.peg_loss_threshold - 0.95), rel=EXACT
    )
    assert float(r.factor_mm[0]) == P.margin.mm_factor
    r2 = derive_margin(inputs(stable_price=[1.0], g_perp_qty=[1.0]), P)
    assert float(r2.factor_im[0]) == P.margin.im_factor


def test_skew_scenarios_always_charge() -> None:
    e = [{"T": 86400.0 * 40, "F": 3000.0, "r": 0.05}]
    for n in (-3.0, 3.0):
        opts = [
            {"e": 0, "K": 2500.0, "call": False, "vol": 0.7, "n": n},
            {"e": 0, "K": 3600.0, "call": True, "vol": 0.6, "n": -n},
        ]
        r = derive_margin(inputs(expiries=e, options=opts), P)
        assert np.all(r.scenario_pnl[0, -2:] <= 0.0)


def test_basis_contingency_competes_not_added() -> None:
    e = [{"T": 86400.0 * 200, "F": 3000.0, "r": 0.0}]
    r = derive_margin(
        inputs(expiries=e, options=[{"e": 0, "K": 3000.0, "call": True, "vol": 0.6, "n": -1.0}]), P
    )
    assert float(r.g_min_span[0]) == min(float(r.g_basis[0]), float(r.scenario_pnl.min()))


# -- parameters ----------------------------------------------------------------------------------
def test_mainnet_defaults_equal_the_spec_table() -> None:
    p = mainnet_params()  # derive-pmrm2.md §8, scripts/config-mainnet.sol
    assert (p.vol_shock.vol_range_up, p.vol_shock.vol_range_down) == (0.5, 0.3)
    assert (p.vol_shock.short_term_power, p.vol_shock.long_term_power) == (0.3, 0.13)
    assert (p.vol_shock.dte_floor_days, p.vol_shock.min_vol_up_shock) == (1.0, 0.4)
    m = p.margin
    assert (m.im_factor, m.mm_factor) == (1.0, 0.8)
    assert (m.short_rate_mult_scale, m.long_rate_mult_scale) == (0.0, 0.0)
    assert (m.short_rate_add_scale, m.long_rate_add_scale) == (0.16, 0.16)
    assert (m.short_base_static_discount, m.long_base_static_discount) == (0.95, 1.05)
    b = p.basis
    assert (b.scenario_spot_up, b.scenario_spot_down, b.add_factor, b.mult_factor) == (
        1.045,
        0.955,
        0.5,
        2.0,
    )
    o = p.other
    assert (o.peg_loss_threshold, o.peg_loss_factor, o.conf_threshold, o.conf_margin) == (
        0.99,
        4.0,
        0.55,
        1.0,
    )
    assert (o.mm_perp_percent, o.im_perp_percent, o.mm_option_percent, o.im_option_percent) == (
        0.03,
        0.01,
        0.003,
        0.002,
    )
    s = p.skew
    assert (s.linear_base_cap, s.abs_base_cap, s.linear_c_base, s.abs_c_base) == (
        0.25,
        0.25,
        -0.1,
        -0.1,
    )
    assert (s.min_k_star, s.width_scale, s.vol_param_static, s.vol_param_scale) == (
        0.01,
        4.0,
        0.6,
        0.0,
    )
    sc = [(x.spot_shock, x.vol, x.dampening) for x in p.scenarios]
    assert len(sc) == 33  # getDefaultPM2Scenarios, §8.1
    assert sc[0] == (1.18, "up", 1.0) and sc[1:4] == [
        (1.135, "up", 1.0),
        (1.135, "none", 1.0),
        (1.135, "down", 1.0),
    ]
    assert sc[22] == (0.82, "up", 1.0)
    tails = [
        (0.34, 0.21),
        (0.67, 0.42),
        (1.5, 0.2772),
        (2.0, 0.1386),
        (3.0, 0.0693),
        (4.0, 0.0462),
        (5.0, 0.03465),
        (6.0, 0.02772),
    ]
    assert [(x, d) for x, _, d in sc[23:31]] == tails
    assert sc[31:] == [(1.0, "linear", 1.0), (1.0, "abs", 1.0)]
    for x, d in tails:  # tail dampening 0.1386 / |x - 1|
        assert d == pytest.approx(0.1386 / abs(x - 1.0), rel=1e-12)


def test_case_parameter_block_equals_spec_section_11() -> None:
    p = portfolio_case_params()
    assert (p.vol_shock.vol_range_down, p.vol_shock.min_vol_up_shock) == (0.275, 0.45)
    assert (p.margin.long_base_static_discount, p.margin.short_base_static_discount) == (0.95, 1.04)
    assert len(p.scenarios) == 31
    assert [s.vol for s in p.scenarios[1:4]] == ["down", "none", "up"]


def test_contract_rules_are_enforced_on_configured_parameters() -> None:
    d = mainnet_params().model_dump()
    d["scenarios"][31]["spot_shock"] = 1.1
    with pytest.raises(ValueError, match="skew scenario must have spot_shock 1"):
        DeriveParams.model_validate(d)
    DeriveParams.model_validate(d, context={"lenient": True})  # the venue-case adapter reads it
    d = mainnet_params().model_dump()
    d["margin"]["mm_factor"] = 0.05
    with pytest.raises(ValueError, match="outside the contract's bounds"):
        DeriveParams.model_validate(d)
