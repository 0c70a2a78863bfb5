"""The seeded synthetic venue: reproducible, documented distributions, healthy at the start."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crossmargin.config import RiskConfig
from crossmargin.errors import InputError
from crossmargin.io.market import load_market
from crossmargin.liquidation.synthetic import ARCHETYPES, synthetic_venue
from crossmargin.liquidation.units import isolated_allocation
from crossmargin.market import MarketSnapshot


@pytest.fixture(scope="module")
def market(examples: Path) -> MarketSnapshot:
    return load_market(examples / "market_venue.json")


def test_distributions_match_the_documentation(market: MarketSnapshot, config: RiskConfig) -> None:
    n = 20_000
    v = synthetic_venue(market, config, n, seed=123)
    info = v.info
    shares = {k: c / n for k, c in info["archetypes"].items()}
    expected = dict(zip(ARCHETYPES, (0.45, 0.15, 0.10, 0.10, 0.10, 0.10), strict=True))
    for k, p in expected.items():
        # binomial standard error at n = 20 000 is < 0.0036: 4 sigma
        assert shares[k] == pytest.approx(p, abs=0.015), k
    # gross notional: log-normal, median 25 000 (the netted book adds hedges/legs)
    med = info["gross_notional_quantiles"]["median"]
    assert 15_000 < med < 45_000
    assert info["gross_notional_quantiles"]["p99"] > 20 * med  # heavy tail
    # utilisation: 0.85 x Beta(2, 4) (mean 1/3) + 0.15 x U(0.7, 0.97) (mean 0.835)
    assert info["utilisation_mean"] == pytest.approx(0.85 / 3 + 0.15 * 0.835, abs=0.01)
    lev = info["leverage_by_regime"]["cross"]
    assert 1.0 < lev["median"] < 20.0
    assert info["underlyings"][:2] == ["BTC", "ETH"]  # most liquid first


def test_same_seed_same_venue_other_seed_other_venue(
    market: MarketSnapshot, config: RiskConfig
) -> None:
    a = synthetic_venue(market, config, 300, seed=1)
    b = synthetic_venue(market, config, 300, seed=1)
    c = synthetic_venue(market, config, 300, seed=2)
    np.testing.assert_array_equal(a.book.pos_quantity, b.book.pos_quantity)
    assert a.book.pos_quantity.shape != c.book.pos_quantity.shape or not np.array_equal(
        a.book.pos_quantity, c.book.pos_quantity
    )


def test_per_regime_collateral_targets_the_same_utilisation(
    market: MarketSnapshot, config: RiskConfig
) -> None:
    from crossmargin.engine import margin_resolved
    from crossmargin.resolve import resolve

    v = synthetic_venue(market, config, 500, seed=9)
    assert v.utilisation is not None
    for reg in ("cross", "portfolio"):
        r = margin_resolved(resolve(v.book_for(reg, "per-regime"), market, config), model=reg)
        used = r.initial_margin / r.equity
        # never above the target (collateral is floored at one unit of value) ...
        assert (used <= v.utilisation * (1 + 1e-9)).all()
        # ... and exactly on it for (nearly) every account
        on = np.isclose(used, v.utilisation, rtol=1e-9)
        assert on.mean() > 0.95, reg
    # isolated: every position on its IM-weighted share of the collateral is at or under the
    # target, the tightest one exactly on it
    rb = resolve(v.book_for("isolated", "per-regime"), market, config)
    r = margin_resolved(rb, model="isolated")
    iso = isolated_allocation(rb, r)
    assert iso is not None
    alloc, below = iso
    assert not below.any()
    pim = r.batch.position_im
    assert pim is not None
    live = pim > 0
    acc = rb.positions.account[live]
    cover = (alloc[live] + rb.positions.mtm[live]) / (pim[live] / v.utilisation[acc])
    assert (cover >= 1 - 1e-9).all()
    tight = np.full(rb.n_accounts, np.inf)
    np.minimum.at(tight, acc, cover)
    # the binding constraint is either the tightest position or the account as a whole
    on_pos = np.isclose(tight, 1.0, rtol=1e-9)
    on_acc = np.isclose(r.initial_margin / r.equity, v.utilisation, rtol=1e-9)
    assert (r.initial_margin / r.equity <= v.utilisation * (1 + 1e-9)).all()
    assert (on_pos | on_acc).mean() > 0.95


def test_bad_arguments(market: MarketSnapshot, config: RiskConfig) -> None:
    with pytest.raises(InputError):
        synthetic_venue(market, config, 0)
    with pytest.raises(Exception) as e:
        synthetic_venue(market, config, 10, underlyings=("DOGE",))
    assert "DOGE" in str(e.value)
