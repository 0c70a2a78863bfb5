"""``portfolio``: scenario grid, risk arrays, add-ons and inter-commodity credits (issue 2 §5).

Reference values are computed by hand from the shipped defaults (config/default_risk.yaml):
crypto grid ±14 % (ETH: its own class, ±32 %) in 4 steps × vol up/unchanged/down + tails
−66/−33/+50/+100/+200/+300 % (vol up) dampened by edge/|move| (Deribit PM standard and extended
tables; the ranges calibrated on 2013-2026 history, docs/calibration.md); equity −8 %/+10 %; basis
``max(0.01, 0.075 T)`` per expiry bucket; delta shock above USD 20 M; short option minimum 1 % of
the forward; BTC/ETH credit 30 %, SPX/NDX 60 % (CME SPAN inter-commodity spreads); MM = 0.8 IM.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from crossmargin import (
    Book,
    MarketSnapshot,
    account_dict,
    default_config,
    explain_dict,
    load_market,
    load_portfolios,
    resolve,
)
from crossmargin.kernels.reference import black76_price_scalar
from crossmargin.risk import grid_unit_pnl, scenario_set_for, shocked_vols
from crossmargin.scenarios import VOL_DOWN, VOL_UNCHANGED, VOL_UP, build_grid

from .helpers import (
    DEC26,
    MAR26,
    asset,
    expiry,
    margin,
    market,
    portfolio,
    simple_market,
    years,
)

CENT = 0.005
R_BTC, R_ETH = 0.14, 0.32  # crypto and crypto_eth scan ranges (both sides)
EQ_DOWN, EQ_UP = 0.08, 0.10  # equity_index scan range
C_BTC_ETH, C_SPX_NDX = 0.30, 0.60  # inter-commodity credit rates
F_PERP, F_DEC, F_MAR, F_NOV = 65_020.0, 65_300.0, 66_150.0, 65_045.0
ETH_PERP = 3_201.0


def pm(*positions: Any, mkt: MarketSnapshot | None = None) -> dict[str, Any]:
    return account_dict(margin(portfolio(*positions), mkt or simple_market()), 0)


def addon(d: dict[str, Any], name: str, und: str | None = None) -> float:
    return float(
        sum(
            a["amount"] for a in d["addons"] if a["name"] == name and und in (None, a["underlying"])
        )
    )


def group(d: dict[str, Any], und: str) -> dict[str, Any]:
    (g,) = [b for b in d["breakdown"] if b["underlying"] == und]
    return g  # type: ignore[no-any-return]


# --- the grid --------------------------------------------------------------------------------


def test_crypto_grid_is_deribit_standard_plus_dampened_tails() -> None:
    g = build_grid(default_config().risk_classes["crypto"].grid)
    assert g.size == 9 * 3 + 6
    std = [j for j in range(g.size) if g.kind[j] == "standard"]
    moves = sorted({round(float(g.spot_move[j]), 12) for j in std})
    assert moves == [round(R_BTC * i / 4, 12) for i in range(-4, 5)]
    for m in moves:
        states = sorted(int(g.vol_state[j]) for j in std if round(float(g.spot_move[j]), 12) == m)
        assert states == [VOL_DOWN, VOL_UNCHANGED, VOL_UP]
    tails = [j for j in range(g.size) if g.kind[j] == "tail"]
    assert [float(g.spot_move[j]) for j in tails] == [-0.66, -0.33, 0.5, 1.0, 2.0, 3.0]
    assert all(g.vol_state[j] == VOL_UP for j in tails)
    for j in tails:
        assert float(g.weight[j]) == pytest.approx(R_BTC / abs(float(g.spot_move[j])), rel=1e-15)
        assert abs(float(g.spot_move[j])) * float(g.weight[j]) == pytest.approx(R_BTC, rel=1e-15)


def test_equity_index_grid_is_asymmetric() -> None:
    g = build_grid(default_config().risk_classes["equity_index"].grid)
    std = g.spot_move[np.array([k == "standard" for k in g.kind])]
    assert float(std.min()) == pytest.approx(-EQ_DOWN) and float(std.max()) == pytest.approx(EQ_UP)
    tails = {
        float(g.spot_move[j]): float(g.weight[j]) for j in range(g.size) if g.kind[j] == "tail"
    }
    assert tails == pytest.approx(
        {-0.25: EQ_DOWN / 0.25, -0.15: EQ_DOWN / 0.15, 0.15: EQ_UP / 0.15, 0.25: EQ_UP / 0.25}
    )


@pytest.mark.parametrize(
    ("dte", "power"),
    [(0.25, 0.3), (1.0, 0.3), (5.0, 0.3), (29.9, 0.3), (30.0, 0.13), (34.0, 0.13), (365.0, 0.13)],
)
def test_vol_shock_scale(dte: float, power: float) -> None:
    """s = (30 / max(DTE, 1))^p; up = max(σ(1 + 0.5 s), 0.5), down = σ(1 − 0.25 s) (Deribit PM)."""
    grid = default_config().risk_classes["crypto"].grid
    sig = np.array([0.3, 0.8])
    up, down, s = shocked_vols(sig, np.full(2, dte), np.zeros(2, np.int64), [grid])
    want_s = (30.0 / max(dte, 1.0)) ** power
    np.testing.assert_allclose(s, want_s, rtol=1e-15)
    np.testing.assert_allclose(up, np.maximum(sig * (1 + 0.5 * want_s), 0.5), rtol=1e-15)
    np.testing.assert_allclose(down, sig * np.maximum(0.0, 1 - 0.25 * want_s), rtol=1e-15)


# --- risk arrays vs an independent per-scenario revaluation ----------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "BTC-27NOV26-60000-P",
        "BTC-26DEC26-70000-C",
        "BTC-26MAR27-55000-P",
        "BTC-26DEC26-80000-C-INV",
        "BTC-26DEC26-70000-C-X10",
        "BTC-PERP",
        "BTC-26MAR27",
        "BTC-PERP-INV",
        "BTC-26DEC26-INV",
    ],
)
def test_risk_array_equals_scalar_revaluation(name: str) -> None:
    """Fast (blocked kernel, vectorised over scenarios) vs slow (scalar twin, one cell at a time)."""
    cfg = default_config()
    rb = resolve(Book.from_portfolios([portfolio((name, 1.0))]), simple_market(), cfg)
    inst = rb.instruments
    scen = scenario_set_for(inst, cfg)
    fast = grid_unit_pnl(inst, scen, cfg)[0]
    c = inst.contracts[0]
    S, F, mult = float(inst.spot[0]), float(inst.fwd[0]), float(inst.mult[0])
    inverse = c.settlement == "inverse"
    slow = []
    for j in range(scen.n_scenarios):
        m, w, vs = float(scen.spot_move[0, j]), float(scen.weight[0, j]), int(scen.vol_state[0, j])
        if c.kind == "option":
            T, K, D, sig = float(inst.t[0]), c.strike, float(inst.discount[0]), float(inst.sigma[0])
            dte = T * 365.0
            p = 0.3 if dte < 30 else 0.13
            s = (30.0 / max(dte, 1.0)) ** p
            sig_j = {
                VOL_UP: max(sig * (1 + 0.5 * s), 0.5),
                VOL_UNCHANGED: sig,
                VOL_DOWN: sig * (1 - 0.25 * s),
            }[vs]
            call = c.right == "call"
            v0 = black76_price_scalar(F, K, T, sig, D, call)
            v1 = black76_price_scalar(F * (1 + m), K, T, sig_j, D, call)
            pnl = v1 - v0 * (1 + m) if inverse else v1 - v0  # inverse: coin P&L at scenario spot
        else:
            # inverse: coin P&L (1/F − 1/F′) per USD face valued at S′ = S(1 + m) → m·S/F
            pnl = m * S / F if inverse else F * m
        slow.append(mult * pnl * w)
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-9)


def test_settled_contracts_have_no_scenario_risk() -> None:
    from datetime import UTC, datetime

    nov20 = datetime(2026, 11, 20, 8, tzinfo=UTC)
    mkt = market(BTC=asset(65_000.0, settlements={nov20: 60_000.0}))
    d = pm(("BTC-20NOV26-50000-C", -3.0), ("BTC-20NOV26", 2.0), mkt=mkt)
    assert d["initial_margin"] == 0.0 and group(d, "BTC")["scan_risk"] == 0.0


# --- hand-computed requirements --------------------------------------------------------------


@pytest.mark.parametrize(("q", "worst_move"), [(1.0, -R_BTC), (-2.0, R_BTC)])
def test_outright_perp(q: float, worst_move: float) -> None:
    """Scan = 14 % of notional (tails dampened to exactly the edge) + 1 % basis floor at T = 0."""
    res = margin(portfolio(("BTC-PERP", q)), simple_market())
    d = account_dict(res, 0)
    n = abs(q) * F_PERP
    g = group(d, "BTC")
    assert g["scan_risk"] == pytest.approx(R_BTC * n, abs=CENT)
    assert addon(d, "basis") == pytest.approx(0.01 * n, abs=CENT)
    assert d["initial_margin"] == pytest.approx((R_BTC + 0.01) * n, abs=CENT)
    assert d["maintenance_margin"] == pytest.approx(0.8 * (R_BTC + 0.01) * n, abs=CENT)
    assert g["worst_scenario"]["spot_move"] == pytest.approx(worst_move)
    assert g["worst_scenario"]["kind"] == "standard"  # a tail that only ties is not reported
    cells = explain_dict(res, 0)["scenarios"][0]["cells"]
    tails = [
        c
        for c in cells
        if c["kind"] == "tail" and math.copysign(1, c["spot_move"]) == math.copysign(1, worst_move)
    ]
    assert tails and all(c["pnl"] == pytest.approx(-R_BTC * n, rel=1e-12) for c in tails)


def test_calendar_spread_basis() -> None:
    """Long Dec / short Mar: the scan sees only F_Mar − F_Dec; basis moves each bucket alone."""
    d = pm(("BTC-26DEC26", 1.0), ("BTC-26MAR27", -1.0))
    scan = R_BTC * (F_MAR - F_DEC)
    basis = max(0.01, 0.075 * years(DEC26)) * F_DEC + max(0.01, 0.075 * years(MAR26)) * F_MAR
    assert group(d, "BTC")["scan_risk"] == pytest.approx(scan, abs=CENT)
    assert addon(d, "basis") == pytest.approx(basis, abs=CENT)
    assert d["initial_margin"] == pytest.approx(scan + basis, abs=CENT)
    assert 0.075 * years(MAR26) > 0.01 > 0.075 * years(DEC26)  # both branches exercised


def test_delta_shock_above_threshold() -> None:
    q = 500.0  # 32.51 M notional
    d = pm(("BTC-PERP", q))
    n = q * F_PERP
    shock = min(0.10, 0.0005 * (n - 20e6) / 1e6)
    assert addon(d, "delta_shock") == pytest.approx(n * shock, abs=CENT)
    assert d["initial_margin"] == pytest.approx(R_BTC * n + 0.01 * n + n * shock, abs=CENT)
    # capped at 10 %
    big = pm(("BTC-PERP", 5_000.0))
    assert addon(big, "delta_shock") == pytest.approx(0.10 * 5_000.0 * F_PERP, abs=CENT)
    # nothing below the threshold
    assert addon(pm(("BTC-PERP", 300.0)), "delta_shock") == 0.0


def test_short_option_minimum() -> None:
    """A far-OTM short put loses little in every scenario: 1 % of the forward applies."""
    d = pm(("BTC-27NOV26-20000-P", -1.0))
    g = group(d, "BTC")
    assert d["initial_margin"] == pytest.approx(0.01 * F_NOV, abs=CENT)
    assert g["scan_risk"] + addon(d, "basis") < 0.01 * F_NOV
    assert addon(d, "short_option_minimum") == pytest.approx(
        0.01 * F_NOV - g["scan_risk"] - addon(d, "basis"), abs=CENT
    )
    # SOM = rate × max(short calls, short puts): a far short strangle is charged on one side only
    both = pm(("BTC-27NOV26-20000-P", -1.0), ("BTC-27NOV26-300000-C", -1.0))
    assert both["initial_margin"] == pytest.approx(0.01 * F_NOV, abs=CENT)
    # long options never trigger it
    assert addon(pm(("BTC-27NOV26-20000-P", 1.0)), "short_option_minimum") == 0.0


def pair_book(q_btc: float, q_eth: float) -> dict[str, Any]:
    return pm(("BTC-PERP", q_btc), ("ETH-PERP", q_eth))


def test_inter_commodity_credit_on_an_equal_notional_pair() -> None:
    """Long N BTC / short N ETH: price risk 0.14 N and 0.32 N (ETH's own class), spreads N,
    credit 0.3 × the leg's price risk per leg."""
    n = F_PERP
    d = pair_book(1.0, -n / ETH_PERP)
    credits = [a for a in d["addons"] if a["name"] == "inter_commodity_credit"]
    assert {a["underlying"] for a in credits} == {"BTC", "ETH"}
    assert all(a["pair"] == "BTC/ETH" for a in credits)
    assert group(d, "ETH")["risk_class"] == "crypto_eth"
    rng = {"BTC": R_BTC, "ETH": R_ETH}
    for a in credits:
        assert a["amount"] == pytest.approx(-C_BTC_ETH * rng[a["underlying"]] * n, abs=CENT)
    im = (R_BTC + R_ETH + 0.02 - C_BTC_ETH * (R_BTC + R_ETH)) * n
    assert d["initial_margin"] == pytest.approx(im, abs=CENT)


def test_inter_commodity_credit_uses_the_smaller_leg() -> None:
    n = F_PERP
    d = pair_book(1.0, -3 * n / ETH_PERP)  # ETH leg three times larger
    assert addon(d, "inter_commodity_credit", "BTC") == pytest.approx(
        -C_BTC_ETH * R_BTC * n, abs=CENT
    )
    assert addon(d, "inter_commodity_credit", "ETH") == pytest.approx(
        -C_BTC_ETH * R_ETH * n, abs=CENT
    )


def test_no_credit_for_same_direction_or_unpaired_underlyings() -> None:
    assert addon(pair_book(1.0, 20.0), "inter_commodity_credit") == 0.0
    mkt = market(
        BTC=asset(65_000.0, perp=65_020.0),
        SOL=asset(150.0, perp=150.0),
        ETH=asset(3_200.0, perp=3_201.0),
    )
    d = pm(("BTC-PERP", 1.0), ("SOL-PERP", -400.0), mkt=mkt)
    assert addon(d, "inter_commodity_credit") == 0.0
    assert d["initial_margin"] == pytest.approx((R_BTC + 0.01) * (F_PERP + 400 * 150.0), abs=CENT)


def test_spx_ndx_credit_rate() -> None:
    mkt = market(
        SPX=asset(6_500.0, expiries={DEC26: expiry(6_520.0, 0.996, 0.18)}),
        NDX=asset(24_000.0, expiries={DEC26: expiry(24_080.0, 0.996, 0.22)}),
    )
    n = 10 * 50 * 6_520.0
    d = pm(("SPX-26DEC26-X50", 10.0), ("NDX-26DEC26-X20", -n / (20 * 24_080.0)), mkt=mkt)
    # equity grid: −8 % / +10 %; the long SPX leg loses 8 %, the short NDX leg 10 %
    spx, ndx = -C_SPX_NDX * EQ_DOWN * n, -C_SPX_NDX * EQ_UP * n
    assert addon(d, "inter_commodity_credit", "SPX") == pytest.approx(spx, abs=CENT)
    assert addon(d, "inter_commodity_credit", "NDX") == pytest.approx(ndx, abs=CENT)


def test_credit_never_exceeds_price_risk() -> None:
    """Options-heavy legs: credits are bounded by each leg's own requirement before credit."""
    d = pm(("BTC-26DEC26-60000-C", 3.0), ("ETH-26DEC26-3000-P", 60.0), ("ETH-PERP", -10.0))
    for g in d["breakdown"]:
        credit = -addon(d, "inter_commodity_credit", g["underlying"])
        assert 0.0 <= credit <= g["scan_risk"] + 1e-9
        assert g["initial_margin"] >= 0.0


# --- explainability --------------------------------------------------------------------------


def reconcile(d: dict[str, Any]) -> None:
    """Each underlying's IM = scan + its add-ons and credits; Σ underlyings = account IM."""
    total = 0.0
    for g in d["breakdown"]:
        parts = g["scan_risk"] + sum(
            a["amount"] for a in d["addons"] if a["underlying"] == g["underlying"]
        )
        assert g["initial_margin"] == pytest.approx(parts, rel=1e-12, abs=1e-6)
        assert g["maintenance_margin"] == pytest.approx(0.8 * g["initial_margin"], rel=1e-12)
        total += g["initial_margin"]
    assert d["initial_margin"] == pytest.approx(total, rel=1e-12)
    assert d["maintenance_margin"] == pytest.approx(0.8 * d["initial_margin"], rel=1e-12)


@pytest.mark.parametrize(
    ("pf", "mk"),
    [
        ("crypto_book.json", "market_crypto.json"),
        ("hedged_book.json", "market_crypto.json"),
        ("index_book.json", "market_index.json"),
        ("venue_accounts.json", "market_venue.json"),
    ],
)
def test_every_example_number_reconciles(examples: Any, pf: str, mk: str) -> None:
    pfs, _ = load_portfolios(examples / pf)
    res = margin(pfs, load_market(examples / mk))
    for i in range(res.n):
        d = explain_dict(res, i)
        reconcile(d)
        for s in d["scenarios"]:
            worst = [c for c in s["cells"] if c["worst"]]
            assert len(worst) == 1
            g = group(d, s["underlying"])
            # the marked cell is the scan risk (or the base cell when nothing loses)
            assert (
                -worst[0]["pnl"] == pytest.approx(g["scan_risk"], rel=1e-12)
                or g["scan_risk"] == 0.0
            )
            assert g["scan_risk"] == pytest.approx(
                max(0.0, -min(c["pnl"] for c in s["cells"])), rel=1e-12
            )


def test_empty_book_needs_no_margin() -> None:
    d = pm()
    assert d["initial_margin"] == d["maintenance_margin"] == 0.0
    assert d["breakdown"] == [] and d["addons"] == [] and d["margin_ratio"] is None


def test_groups_of_different_risk_classes_are_independent() -> None:
    """Grids of different lengths (crypto 33 cells, equity index 31) are stacked with padding;
    an unpaired BTC + SPX book costs exactly the sum of its parts, under every model."""
    mkt = market(
        BTC=asset(65_000.0, perp=65_020.0, expiries={DEC26: expiry(65_300.0, 0.9965, 0.56)}),
        SPX=asset(6_500.0, expiries={DEC26: expiry(6_520.0, 0.996, 0.18)}),
    )
    btc = (("BTC-26DEC26-70000-C", -3.0), ("BTC-PERP", 1.0))
    spx = (("SPX-26DEC26-6200-P-X100", -5.0), ("SPX-26DEC26-X50", 2.0))
    for model in ("isolated", "cross", "portfolio"):
        both = margin(portfolio(*btc, *spx), mkt, model)
        parts = [margin(portfolio(*p), mkt, model) for p in (btc, spx)]
        assert both.initial_margin[0] == pytest.approx(
            sum(p.initial_margin[0] for p in parts), rel=1e-12
        )
        assert both.maintenance_margin[0] == pytest.approx(
            sum(p.maintenance_margin[0] for p in parts), rel=1e-12
        )
    d = account_dict(margin(portfolio(*btc, *spx), mkt), 0)
    assert {g["underlying"]: g["risk_class"] for g in d["breakdown"]} == {
        "BTC": "crypto",
        "SPX": "equity_index",
    }
    spx_worst = group(d, "SPX")["worst_scenario"]
    assert -0.25 <= spx_worst["spot_move"] <= 0.25 and spx_worst["kind"] != "pad"


@pytest.mark.parametrize(
    ("name", "q"),
    [
        ("BTC-PERP", 2.0),
        ("BTC-26MAR27", -3.0),
        ("BTC-26DEC26-X10", 0.5),
        ("BTC-PERP-INV", -200_000.0),
        ("BTC-26MAR27-INV", 50_000.0),
    ],
)
def test_reported_delta_is_the_slope_of_the_scenario_pnl(name: str, q: float) -> None:
    """Delta-one P&L is linear in the spot move, so the breakdown's net delta (which drives the
    basis, delta-shock and credit add-ons) must equal (P&L(+h) − P&L(−h)) / (2 h S), h the
    grid's first step (3.5 %)."""
    res = margin(portfolio((name, q)), simple_market())
    d = explain_dict(res, 0)
    h = R_BTC / 4
    cells = {
        (round(c["spot_move"], 12), c["vol_move"]): c["pnl"] for c in d["scenarios"][0]["cells"]
    }
    up, down = cells[(round(h, 12), "unchanged")], cells[(round(-h, 12), "unchanged")]
    slope = (up - down) / (2 * h * 65_000.0)
    g = group(d, "BTC")
    assert g["net_delta"] == pytest.approx(slope, rel=1e-12)
    assert g["delta_notional"] == pytest.approx(slope * 65_000.0, rel=1e-12)
    if name.endswith("INV"):  # USD face q of an inverse contract is q / F coins of delta
        F = {"BTC-PERP-INV": F_PERP, "BTC-26MAR27-INV": F_MAR}[name]
        assert g["net_delta"] == pytest.approx(q / F, rel=1e-12)
