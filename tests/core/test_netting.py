"""Netting never costs (issue 13): account requirement ≤ Σ positions margined alone, every model.

The comparison excludes the add-ons that are super-additive on purpose (size-driven liquidity,
concentration and delta shock; wrong-way collateral) and reports them apart
(:mod:`crossmargin.margin.netting`). Hypothesis draws random BTC/ETH books (perpetuals, inverse
perpetuals, futures, options, long and short); the bundled venue book adds SPX/NDX and
crypto + equity accounts.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossmargin import Book, RiskConfig, default_config
from crossmargin.io.market import load_market
from crossmargin.io.portfolio import load_portfolios
from crossmargin.margin.base import get_model
from crossmargin.margin.netting import apart_by_account, standalone_sum
from crossmargin.margin.var import positions_alone_netted, var_batch
from crossmargin.market.history import bundled_history
from crossmargin.market.snapshot import MarketSnapshot
from crossmargin.resolve.book import ResolvedBook, resolve

from .helpers import portfolio, simple_market
from .test_properties import NAMES, size

MODELS = ("isolated", "cross", "portfolio", "var", "es")


def _config() -> RiskConfig:
    """Defaults, opting in to the bundled history (it ends before these snapshots' as_of)."""
    cfg = default_config()
    return cfg.model_copy(update={"var": cfg.var.model_copy(update={"allow_stale_history": True})})


books = st.lists(
    st.tuples(st.sampled_from(NAMES), st.floats(-30.0, 30.0).filter(lambda x: abs(x) > 1e-2)),
    min_size=2,
    max_size=6,
).map(lambda xs: [(n, size(n, q)) for n, q in xs])


def _market() -> MarketSnapshot:
    """The code-built snapshot with the bundled history attached (explicitly, as loaders do)."""
    return replace(simple_market(), history=bundled_history())


def _compute(model: str) -> Any:
    return lambda rb: get_model(model, rb.config).compute(rb)


def _check(rb: ResolvedBook, model: str) -> tuple[np.ndarray, np.ndarray]:
    """Netted requirement and positions-alone bound per account (both net of apart add-ons)."""
    b = _compute(model)(rb)
    total, apart = standalone_sum(rb, _compute(model))
    netted = b.im - apart_by_account(b, rb.n_accounts)
    bound = total - apart
    ok = np.isfinite(bound)
    assert np.all(netted[ok] <= bound[ok] * (1 + 1e-9) + 1e-6), (model, netted, bound)
    return netted, bound


@pytest.mark.parametrize("model", MODELS)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=books)
def test_netting_never_costs_on_random_books(model: str, book: list[tuple[str, float]]) -> None:
    rb = resolve(Book.from_portfolios([portfolio(*book)]), _market(), _config())
    _check(rb, model)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=books, kind=st.sampled_from(["var", "es"]))
def test_correlation_addon_capped_at_the_benefit_it_claws_back(
    book: list[tuple[str, float]], kind: str
) -> None:
    """Without the netting cap: correlation add-on ≤ Σ_u standalone_u − account measure."""
    rb = resolve(Book.from_portfolios([portfolio(*book)]), _market(), _config())
    b = var_batch(kind, kind, rb, cap=False)
    corr = sum(
        float(r.amount[r.account == 0].sum()) for r in b.addons if r.name == "correlation_breakdown"
    )
    core = float(b.im[0]) - sum(float(r.amount[r.account == 0].sum()) for r in b.addons)
    stand = float(np.maximum(b.groups.scan[b.groups.account == 0], 0.0).sum())
    assert corr <= max(stand - core, 0.0) * (1 + 1e-9) + 1e-6


def _shortcut_matches(rb: ResolvedBook, kind: str) -> None:
    """The bound by homogeneity (once per contract and direction) == margining positions alone."""
    total, apart = standalone_sum(rb, lambda r: var_batch(kind, kind, r, cap=False))
    fast = np.bincount(
        rb.positions.account, positions_alone_netted(kind, kind, rb), minlength=rb.n_accounts
    )
    np.testing.assert_allclose(fast, total - apart, rtol=1e-12, atol=1e-9)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=books, kind=st.sampled_from(["var", "es"]))
def test_positions_alone_by_homogeneity_on_random_books(
    book: list[tuple[str, float]], kind: str
) -> None:
    rb = resolve(Book.from_portfolios([portfolio(*book)]), _market(), _config())
    _shortcut_matches(rb, kind)


@pytest.mark.parametrize("apc", ["stress_weight", "buffer", "floor", "releasable_buffer"])
@pytest.mark.parametrize("kind", ["var", "es"])
def test_positions_alone_by_homogeneity_on_the_venue_book(
    kind: str, apc: str, examples: Any
) -> None:
    """Every anti-procyclicality option, every kind of contract of the venue book."""
    pfs, prefixes = load_portfolios(examples / "venue_accounts.json")
    snap = load_market(examples / "market_venue.json")
    cfg = _config()
    # the stress_weight option needs the 25 % stress weighting (off by default)
    upd: dict[str, Any] = {"anti_procyclicality": apc}
    if apc == "stress_weight":
        upd["stress_weight"] = 0.25
    cfg = cfg.model_copy(update={"var": cfg.var.model_copy(update=upd)})
    _shortcut_matches(resolve(Book.from_portfolios(pfs, prefixes=prefixes), snap, cfg), kind)


def test_audit_pair_es_is_at_most_its_legs() -> None:
    """The audit's account (1 BTC-PERP + 20 ETH-PERP): es ≤ es(BTC alone) + es(ETH alone)."""
    mkt, cfg = _market(), _config()

    def es(*legs: tuple[str, float]) -> float:
        rb = resolve(Book.from_portfolios([portfolio(*legs)]), mkt, cfg)
        return float(var_batch("es", "es", rb).im[0])

    pair = es(("BTC-PERP", 1.0), ("ETH-PERP", 20.0))
    assert pair <= es(("BTC-PERP", 1.0)) + es(("ETH-PERP", 20.0)) + 1e-6
    # and the cap is not a blanket: a hedged pair pays less than its legs alone
    hedge = es(("BTC-PERP", 1.0), ("ETH-PERP", -20.0))
    assert hedge < es(("BTC-PERP", 1.0)) + es(("ETH-PERP", -20.0))


@pytest.mark.parametrize("model", MODELS)
def test_netting_never_costs_on_the_venue_book(model: str, examples: Any) -> None:
    """Seven accounts: pairs, basis, vol sellers, index options, inverse, crypto + equity."""
    pfs, prefixes = load_portfolios(examples / "venue_accounts.json")
    snap = load_market(examples / "market_venue.json")
    rb = resolve(Book.from_portfolios(pfs, prefixes=prefixes), snap, _config())
    netted, bound = _check(rb, model)
    if model in ("portfolio", "var", "es"):  # and netting pays somewhere
        assert np.any(netted < 0.9 * bound)
