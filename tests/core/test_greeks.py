"""Account Greeks (issue 13): per underlying and for the account, in margin/explain JSON and tables.

Oracles: the per-contract Greeks of the ``price`` command (Black-76, the same unit conventions)
summed with quantities and multipliers, and each model's own net delta per underlying.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from crossmargin import Book, compute_margin, explain_dict, load_market, load_portfolios, resolve
from crossmargin.account.report import account_dict
from crossmargin.config import default_config
from crossmargin.pricing import price_contracts
from crossmargin.risk.greeks import account_greeks

from .helpers import invoke, portfolio, simple_market

LEGS = (
    ("BTC-26DEC26-70000-C", -3.0),
    ("BTC-26MAR27-55000-P", 2.0),
    ("BTC-26DEC26", 1.5),
    ("BTC-PERP", -0.5),
    ("ETH-26DEC26-3600-C", 10.0),
    ("ETH-PERP", -4.0),
)


def test_greeks_are_the_sum_of_contract_greeks() -> None:
    pf = portfolio(*LEGS)
    snap = simple_market()
    rb = resolve(Book.from_portfolios([pf]), snap, default_config())
    g = account_greeks(rb, 0)
    rows = {r["instrument"]: r for r in price_contracts([p.contract for p in pf.positions], snap)}
    for k, und in enumerate(g.underlyings):
        exp = {"gamma": 0.0, "vega": 0.0, "theta": 0.0}
        for p in pf.positions:
            if p.contract.underlying != und:
                continue
            r = next(v for n, v in rows.items() if n == p.contract.name)
            for key in exp:
                exp[key] += p.quantity * p.contract.multiplier * r[key]
        assert g.gamma[k] == pytest.approx(exp["gamma"], rel=1e-12, abs=1e-15)
        assert g.vega[k] == pytest.approx(exp["vega"], rel=1e-12, abs=1e-12)
        assert g.theta[k] == pytest.approx(exp["theta"], rel=1e-12, abs=1e-12)
    # cash figures
    assert np.allclose(g.delta_cash, g.delta * g.spot)
    assert np.allclose(g.gamma_cash, g.gamma * g.spot**2 / 100)


def test_delta_matches_the_models_net_delta_on_every_example(examples: Path) -> None:
    for book, mkt in (
        ("crypto_book.json", "market_crypto.json"),
        ("hedged_book.json", "market_crypto.json"),
        ("index_book.json", "market_index.json"),
    ):
        pfs, prefixes = load_portfolios(examples / book)
        res = compute_margin(pfs, load_market(examples / mkt), prefixes=prefixes)
        d = account_dict(res, 0)
        by_und = {r["underlying"]: r for r in d["greeks"]["per_underlying"]}
        for row in d["breakdown"]:
            assert by_und[row["underlying"]]["delta"] == pytest.approx(row["net_delta"], rel=1e-12)
            assert by_und[row["underlying"]]["delta_cash"] == pytest.approx(
                row["delta_notional"], rel=1e-9
            )
        tot = d["greeks"]["account"]
        assert tot["vega"] == pytest.approx(sum(r["vega"] for r in by_und.values()))
        assert tot["theta"] == pytest.approx(sum(r["theta"] for r in by_und.values()))


def test_short_options_are_short_gamma_and_vega_long_theta() -> None:
    pf = portfolio(("BTC-26DEC26-70000-C", -5.0), ("BTC-26DEC26-60000-P", -5.0))
    res = compute_margin(pf, simple_market())
    g = explain_dict(res, 0)["greeks"]["per_underlying"][0]
    assert g["gamma"] < 0 and g["vega"] < 0 and g["theta"] > 0
    perp = compute_margin(portfolio(("BTC-PERP", 2.0)), simple_market())
    gp = account_dict(perp, 0)["greeks"]["per_underlying"][0]
    assert gp["delta"] == pytest.approx(2.0 * 65_020.0 / 65_000.0)
    assert gp["gamma"] == gp["vega"] == gp["theta"] == 0.0


def test_cli_shows_greeks(examples: Path) -> None:
    r = invoke("margin", examples / "crypto_book.json", "-m", examples / "market_crypto.json")
    assert r.exit_code == 0, r.stderr
    assert "Greeks (USD" in r.stdout and "gamma cash (1 %)" in r.stdout
    j = invoke("explain", examples / "crypto_book.json", "-m", examples / "market_crypto.json",
               "--format", "json")  # fmt: skip
    assert j.exit_code == 0, j.stderr
    greeks = json.loads(j.stdout)["greeks"]
    assert {r["underlying"] for r in greeks["per_underlying"]} == {"BTC", "ETH"}
    assert set(greeks["account"]) == {"delta_cash", "gamma_cash", "vega", "theta"}
