"""Paradex PM (paradex-pm.md; no published worked example): structure and parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossmargin.engine import compute_margin
from crossmargin.instruments import Portfolio, Position, parse_instrument
from crossmargin.io.market import load_market
from crossmargin.margin.presets.paradex import paradex_params


def test_linear_perp_scan_is_the_16_percent_edge(examples: Path) -> None:
    snap = load_market(examples / "market_crypto.json")
    pf = Portfolio("a", "USD", {"USDC": 100_000.0}, (Position(parse_instrument("BTC-PERP"), 1.0),))
    res = compute_margin(pf, snap, model="paradex-pm")
    mark = 65_020.0
    # tails are weighted so that weight x |move| <= 16 %: a linear book's worst is the -16 % cell
    assert float(res.batch.groups.scan[0]) == pytest.approx(0.16 * mark, rel=1e-12)
    funding = 1.0 * mark * 0.0001  # long pays 8h funding at +0.01 %
    assert float(res.initial_margin[0]) == pytest.approx(0.16 * mark + funding, rel=1e-12)
    assert float(res.maintenance_margin[0]) == pytest.approx(0.08 * mark + funding, rel=1e-12)


def test_minimum_delta_requirement_floors_a_hedged_book(examples: Path) -> None:
    snap = load_market(examples / "market_crypto.json")
    hedged = (
        Position(parse_instrument("BTC-PERP"), 1.0),
        Position(parse_instrument("BTC-26DEC26-65000-P"), 1.0),
    )
    res = compute_margin(Portfolio("a", "USD", {"USDC": 1e5}, hedged), snap, model="paradex-pm")
    g = res.batch.groups
    mdr = next(a for a in res.batch.addons if a.name == "minimum_delta")
    assert float(g.scan[0]) + float(mdr.amount[0]) >= 0.0
    net, gross = float(g.delta[0]), 1.0 + abs(float(res.book.instruments.delta[1]))
    want = (0.02 * abs(net) + 0.01 * (gross - abs(net))) * 65_000.0
    assert max(float(g.scan[0]), want) == pytest.approx(
        float(g.scan[0]) + float(mdr.amount[0]), rel=1e-12
    )


def test_parameters_equal_the_spec() -> None:
    p = paradex_params()
    assert p.spot_moves == (-0.16, -0.12, -0.08, -0.04, 0.04, 0.08, 0.12, 0.16)
    assert p.vol_shocks == (0.40, -0.22)
    assert [(t.move, t.weight) for t in p.tails] == [
        (-0.66, 0.24),
        (-0.33, 0.48),
        (0.5, 0.32),
        (1.0, 0.16),
        (2.0, 0.08),
        (3.0, 0.0533),
        (4.0, 0.04),
        (5.0, 0.032),
    ]
    assert (p.short_term_vega_power, p.long_term_vega_power, p.dte_floor_days) == (0.30, 0.13, 1.0)
    assert (p.min_delta_net_rate, p.min_delta_hedged_rate, p.mm_fraction) == (0.02, 0.01, 0.5)
    assert len(p.spot_moves) * len(p.vol_shocks) + len(p.tails) == 24
