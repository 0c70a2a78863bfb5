"""``compare``: isolated vs cross vs portfolio for the same book (issue 2 §7).

Collateral required: isolated Σ max(0, IM_i − uPnL_i); cross max(0, Σ IM_i − Σ uPnL);
portfolio max(0, IM_pm − Σ uPnL); capital freed = isolated − model.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from crossmargin import RiskConfig, compare, comparison_dict, load_market, load_portfolios
from crossmargin.config import default_config
from crossmargin.market.history import bundled_history

from .helpers import portfolio, simple_market

CENT = 0.005
THREE = ("isolated", "cross", "portfolio")


def test_collateral_required_formulas() -> None:
    pf = portfolio(
        ("BTC-PERP", 1.0, 55_000.0),  # winner: uPnL +10 020, IM 3 251
        ("BTC-26DEC26", -1.0, 60_000.0),  # loser: uPnL −5 300, IM 3 265
        ("BTC-26DEC26-70000-C", -2.0),
    )
    results = compare(pf, simple_market(), models=THREE)
    assert list(results) == list(THREE)
    d = comparison_dict(results, 0)
    iso, cross = results["isolated"].batch, results["cross"].batch
    assert iso.position_im is not None
    rb = results["cross"].book
    u = rb.positions.mtm
    im_i = iso.position_im
    iso_req = float(sum(max(0.0, a - b) for a, b in zip(im_i, u, strict=True)))
    cross_req = max(0.0, float(cross.im[0]) - float(u.sum()))
    pm_req = max(0.0, float(results["portfolio"].batch.im[0]) - float(u.sum()))
    m = d["models"]
    assert m["isolated"]["collateral_required"] == pytest.approx(iso_req, abs=CENT)
    assert m["cross"]["collateral_required"] == pytest.approx(cross_req, abs=CENT)
    assert m["portfolio"]["collateral_required"] == pytest.approx(pm_req, abs=CENT)
    for name in m:
        assert m[name]["capital_freed_vs_isolated"] == pytest.approx(
            iso_req - m[name]["collateral_required"], abs=CENT
        )
    assert m["isolated"]["capital_freed_vs_isolated"] == 0.0
    assert m["isolated"]["liquidation_scope"] == "position"
    assert m["cross"]["liquidation_scope"] == m["portfolio"]["liquidation_scope"] == "account"
    # the same collateral and mark-to-market under every model
    assert d["unrealized_pnl"] == pytest.approx(float(u.sum()), abs=CENT)
    assert d["collateral_value"] == 1_000_000.0


def test_compare_keys_and_hedged_example_frees_capital(examples: Path) -> None:
    pfs, prefixes = load_portfolios(examples / "hedged_book.json")
    results = compare(pfs, load_market(examples / "market_crypto.json"), prefixes=prefixes)
    assert set(results) >= set(THREE)  # the three models, whatever else is added
    d = comparison_dict(results, 0)
    assert set(d) >= {
        "account",
        "base_currency",
        "as_of",
        "collateral_value",
        "unrealized_pnl",
        "models",
    }
    for m in d["models"].values():
        assert set(m) >= {
            "initial_margin",
            "maintenance_margin",
            "collateral_required",
            "capital_freed_vs_isolated",
            "equity",
            "free_collateral",
            "margin_ratio",
            "status",
            "liquidation_scope",
        }
    m = d["models"]
    # cross pools P&L; portfolio also recognises the hedges
    assert m["isolated"]["collateral_required"] >= m["cross"]["collateral_required"]
    assert m["portfolio"]["initial_margin"] < m["cross"]["initial_margin"]
    assert m["portfolio"]["capital_freed_vs_isolated"] > 0.0


def test_compare_resolves_once_and_matches_each_model_alone() -> None:
    from .helpers import margin

    pf = portfolio(("BTC-PERP", 2.0), ("ETH-26DEC26-3600-C", -30.0), collateral={"USDC": 80_000})
    results = compare(pf, simple_market(), models=THREE)
    for name, r in results.items():
        alone = margin(pf, simple_market(), name)
        assert r.initial_margin[0] == alone.initial_margin[0]
        assert r.equity[0] == alone.equity[0]
        assert r.book is results["isolated"].book


def _stale_ok() -> RiskConfig:
    cfg = default_config()
    return cfg.model_copy(update={"var": cfg.var.model_copy(update={"allow_stale_history": True})})


def test_capital_freed_by_netting_is_like_for_like_and_never_negative(examples: Path) -> None:
    """Issue 13: each model against itself with every position alone; the flat rule explained."""
    pfs, prefixes = load_portfolios(examples / "venue_accounts.json")
    results = compare(
        pfs, load_market(examples / "market_venue.json"), prefixes=prefixes, config=_stale_ok()
    )
    assert set(results) == {"isolated", "cross", "portfolio", "var", "es"}
    negative_vs_isolated = 0
    for i in range(len(pfs)):
        d = comparison_dict(results, i)
        m = d["models"]
        for name, row in m.items():
            assert row["capital_freed_by_netting"] >= 0.0, (d["account"], name)
            alone = row["positions_alone"]
            assert alone["collateral_required"] >= 0.0
            if name == "isolated":  # isolated is its own positions-alone baseline
                assert row["capital_freed_by_netting"] == pytest.approx(0.0, abs=CENT)
                assert alone["collateral_required"] == pytest.approx(
                    row["collateral_required"], abs=CENT
                )
            if row["capital_freed_vs_isolated"] < -CENT:
                negative_vs_isolated += 1
                assert any(name in n and "flat" in n for n in d["notes"])
    # the pairs and linear books are cheaper under a flat 5 % isolated rule, and say so
    assert negative_vs_isolated >= 3


def test_isolated_is_its_own_positions_alone_baseline(examples: Path) -> None:
    pfs, prefixes = load_portfolios(examples / "crypto_book.json")
    res = compare(
        pfs, load_market(examples / "market_crypto.json"), prefixes=prefixes, models=THREE
    )
    m = comparison_dict(res, 0)["models"]
    assert m["isolated"]["capital_freed_by_netting"] == pytest.approx(0.0, abs=CENT)
    # cross pools the mark-to-market: what it frees against isolated is netting of P&L
    assert m["cross"]["capital_freed_by_netting"] == pytest.approx(
        m["cross"]["capital_freed_vs_isolated"], abs=CENT
    )


def test_pair_frees_capital_under_every_risk_model() -> None:
    """1 BTC-PERP against 20 ETH-PERP short: netting frees capital under portfolio, var, es."""
    pf = portfolio(("BTC-PERP", 1.0), ("ETH-PERP", -20.0))
    snap = replace(simple_market(), history=bundled_history())
    results = compare(pf, snap, config=_stale_ok())
    d = comparison_dict(results, 0)
    for name in ("portfolio", "var", "es"):
        row = d["models"][name]
        assert row["capital_freed_by_netting"] > 0.0
        assert (
            row["collateral_required"]
            <= row["positions_alone"]["collateral_required"] + (row["size_and_collateral_addons"])
        )
