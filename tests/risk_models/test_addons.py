"""Correlation breakdown, liquidity / concentration and basis add-ons (var, es, portfolio)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from crossmargin.config import default_config
from crossmargin.liquidity.impact import close_out_cost
from crossmargin.margin.addons.correlation import implied_correlation, rotate

from .helpers import addon, config, crypto_market, margin
from .helpers import portfolio as pf

REL = 1e-9
PAIR_HEDGE = (("BTC-PERP", 10.0), ("ETH-PERP", -200.0))  # long BTC, short ETH, ~equal notional


@pytest.fixture(scope="module")
def snap() -> object:
    return crypto_market()  # bundled history


@pytest.mark.parametrize("model", ["var", "es"])
def test_correlation_breakdown_zero_single_asset_positive_for_pair_hedge(
    snap: object, model: str
) -> None:
    cfg = config(addons=("correlation_breakdown",))
    single = margin(pf(("BTC-PERP", 10.0), ("BTC-26DEC26-70000-C", -5.0)), snap, model, cfg)
    assert addon(single, "correlation_breakdown") == 0.0
    hedge = margin(pf(*PAIR_HEDGE), snap, model, cfg)
    assert addon(hedge, "correlation_breakdown") > 0
    rows = [r for r in hedge.batch.addons if r.name == "correlation_breakdown"]
    assert {r.pair for r in rows} == {"BTC/ETH"}  # reported per offsetting pair
    base = margin(pf(*PAIR_HEDGE), snap, model, config(addons=()))
    assert hedge.initial_margin[0] == pytest.approx(
        base.initial_margin[0] + addon(hedge, "correlation_breakdown"), rel=REL
    )


def test_independent_legs_method(snap: object) -> None:
    d = default_config().margin_addons.correlation_breakdown.model_dump()
    cfg = config(addons=("correlation_breakdown",))
    cfg = cfg.model_copy(
        update={
            "margin_addons": cfg.margin_addons.model_copy(
                update={
                    "correlation_breakdown": cfg.margin_addons.correlation_breakdown.model_copy(
                        update={**d, "low_factor": 1.0, "high_factor": 1.0,
                                "worst_window": False, "independent": True}
                    )
                }
            )
        }
    )  # fmt: skip
    hedge = margin(pf(*PAIR_HEDGE), snap, "es", cfg)
    rows = [r for r in hedge.batch.addons if r.name == "correlation_breakdown"]
    assert rows and rows[0].description == "BTC/ETH legs shocked independently"
    assert addon(hedge, "correlation_breakdown") > 0


def test_rotation_hits_the_target_correlation() -> None:
    rng = np.random.default_rng(5)
    xu = rng.standard_normal(400)
    xv = 0.6 * xu + 0.8 * rng.standard_normal(400)
    w = rng.random(400)
    w /= w.sum()
    for target in (-0.5, 0.0, 0.3, 0.9):
        xv2 = rotate(xu, xv, w, target)
        mu, mv = (w * xu).sum(), (w * xv2).sum()
        c = (w * (xu - mu) * (xv2 - mv)).sum() / np.sqrt(
            (w * (xu - mu) ** 2).sum() * (w * (xv2 - mv) ** 2).sum()
        )
        assert c == pytest.approx(target, abs=1e-9)
        assert mv == pytest.approx((w * xv).sum(), abs=1e-12)  # moments of the leg kept


def test_portfolio_breakdown_only_when_configured(snap: object) -> None:
    hedge = pf(*PAIR_HEDGE)
    default = margin(hedge, snap, "portfolio")
    assert addon(default, "correlation_breakdown") == 0.0  # off by default: numbers unchanged
    on = margin(
        hedge, snap, "portfolio", config(addons=("correlation_breakdown",), models=("portfolio",))
    )
    credit = -addon(on, "inter_commodity_credit")
    extra = addon(on, "correlation_breakdown")
    assert 0 < extra < credit  # part of the credit is taken back, never more
    assert on.initial_margin[0] == pytest.approx(default.initial_margin[0] + extra, rel=REL)
    single = margin(pf(("BTC-PERP", 10.0)), snap, "portfolio",
                    config(addons=("correlation_breakdown",), models=("portfolio",)))  # fmt: skip
    assert addon(single, "correlation_breakdown") == 0.0


def test_implied_correlation_of_the_credit_rate() -> None:
    # c = 1 - sqrt((1 - rho)/2) (default_risk.yaml): BTC/ETH 0.50 <-> 0.5, SPX/NDX 0.75 <-> 0.875
    assert implied_correlation(0.5) == pytest.approx(0.5)
    assert implied_correlation(0.75) == pytest.approx(0.875)


def test_portfolio_numbers_unchanged_with_addons_off(snap: object) -> None:
    book = pf(*PAIR_HEDGE, ("BTC-26DEC26-70000-C", -5.0), collateral={"BTC": 3.0, "USDC": 1e5})
    shipped = margin(book, snap, "portfolio")
    off = margin(book, snap, "portfolio", config(addons=()))
    assert shipped.initial_margin[0] == off.initial_margin[0]
    names = {r.name for r in shipped.batch.addons}
    assert not names & {
        "liquidity",
        "concentration",
        "correlation_breakdown",
        "wrong_way_collateral",
    }


# -- liquidity --------------------------------------------------------------------------------
def test_close_out_cost_reference() -> None:
    # N = 1e9, half spread 0.0001, k 0.8, sigma_d 0.03, ADV 2e10:
    # 1e5 + 0.8 * 0.03 * 1e9 * sqrt(0.05) = 100 000 + 5 366 563.1
    c = close_out_cost(1e9, spread=0.0002, sigma_daily=0.03, adv=2e10, k=0.8)
    assert float(c) == pytest.approx(1e5 + 0.8 * 0.03 * 1e9 * math.sqrt(0.05), rel=1e-12)


@pytest.mark.parametrize("model", ["var", "es"])
def test_liquidity_addon_grows_super_linearly(snap: object, model: str) -> None:
    cfg = config(addons=("liquidity",))
    sizes = (100.0, 1_000.0, 10_000.0, 100_000.0)
    res = [margin(pf(("BTC-PERP", q)), snap, model, cfg) for q in sizes]
    adds = [addon(r, "liquidity") + addon(r, "concentration") for r in res]
    for a, b in itertools.pairwise(adds):
        assert b > 10 * a  # ten times the size costs more than ten times as much
    ims = [r.initial_margin[0] for r in res]
    assert ims[-1] / ims[0] > sizes[-1] / sizes[0]  # margin is no longer homogeneous


def test_concentration_above_share_of_adv(snap: object) -> None:
    cfg = config(addons=("liquidity",))
    adv = default_config().liquidity.underlyings["BTC"].adv
    share = default_config().liquidity.underlyings["BTC"].concentration_share
    q_small = 0.5 * share * adv / 65_000.0
    q_big = 4.0 * share * adv / 65_000.0
    small = margin(pf(("BTC-PERP", q_small)), snap, "es", cfg)
    big = margin(pf(("BTC-PERP", q_big)), snap, "es", cfg)
    assert addon(small, "concentration") == 0.0
    # 4x the concentration threshold: risk x (sqrt(4) - 1) = one extra standalone ES
    standalone = float(big.batch.groups.scan[0])
    assert addon(big, "concentration") == pytest.approx(standalone * (2.0 - 1.0), rel=1e-6)


def test_option_lines_pay_their_vega_spread(snap: object) -> None:
    cfg = config(addons=("liquidity",))
    straddle = pf(("BTC-26DEC26-65000-C", -10.0), ("BTC-26DEC26-65000-P", -10.0))
    r = margin(straddle, snap, "es", cfg)
    # delta-neutral-ish: the cost is the options' vega times the 1-vol-point close-out impact
    assert addon(r, "liquidity") > 0


def test_basis_addon_charges_a_calendar_spread(snap: object) -> None:
    spread = pf(("BTC-26DEC26", 10.0), ("BTC-26MAR27", -10.0))
    with_basis = margin(spread, snap, "es", config(addons=("basis",)))
    without = margin(spread, snap, "es", config(addons=()))
    assert addon(with_basis, "basis") > 10 * without.initial_margin[0]
