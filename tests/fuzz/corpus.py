"""Seed inputs of the fuzzer: the bundled examples and test data, one per input schema.

Every seed is the bytes of a file as a user would give it, with its *kind* (which schema it
follows). The mutation corpus (:mod:`tests.fuzz.mutate`) starts from these.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from crossmargin.cli.cmd_info import examples_dir

DATA = Path(__file__).resolve().parent.parent / "presets" / "data"


@dataclass(frozen=True)
class Seed:
    """One seed file: its kind, a file name (with the extension that selects the format), bytes."""

    kind: str
    name: str
    data: bytes


def _read(path: Path) -> bytes:
    return path.read_bytes()


#: Portfolio files and the market each one is margined against.
BOOKS = (
    ("crypto_book.json", "market_crypto.json"),
    ("hedged_book.json", "market_crypto.json"),
    ("index_book.json", "market_index.json"),
    ("liquidation_book.json", "market_crypto.json"),
    ("venue_accounts.json", "market_venue.json"),
)


@cache
def portfolios() -> tuple[tuple[Seed, Seed], ...]:
    """(portfolio, market) seed pairs."""
    ex = examples_dir()
    return tuple(
        (Seed("portfolio", pf, _read(ex / pf)), Seed("market", mk, _read(ex / mk)))
        for pf, mk in BOOKS
    )


@cache
def config() -> Seed:
    """The shipped risk configuration (YAML)."""
    text = resources.files("crossmargin.config").joinpath("default_risk.yaml").read_bytes()
    return Seed("config", "risk.yaml", text)


@cache
def small_config() -> Seed:
    """A short user configuration overriding a few keys (what users write)."""
    text = (
        "market:\n  max_age_seconds: 600\n  min_confidence: 0.9\n"
        "liquidation:\n  policy: full\n  fee_rate: 0.01\n"
    )
    return Seed("config", "small.yaml", text.encode())


@cache
def tables() -> tuple[Seed, Seed]:
    """Positions and collateral tables (CSV)."""
    ex = examples_dir()
    return (
        Seed("positions", "positions.csv", _read(ex / "venue_positions.csv")),
        Seed("collateral", "collateral.csv", _read(ex / "venue_collateral.csv")),
    )


@cache
def shock() -> Seed:
    """The bundled four-step crash shock file."""
    return Seed("shock", "shock.json", _read(examples_dir() / "shock_crash.json"))


@cache
def history() -> Seed:
    """Half a year of the bundled daily closes (CSV), enough for a short backtest window."""
    from crossmargin.history import load_daily_closes

    df = load_daily_closes().loc["2019-01-01":"2019-07-31"]
    text = df.reset_index().rename(columns={df.index.name or "index": "date"}).to_csv(index=False)
    return Seed("history", "history.csv", text.encode())


@cache
def backtest_books() -> tuple[Seed, ...]:
    """Backtest book files (JSON)."""
    d = examples_dir() / "backtest"
    return tuple(
        Seed("backtest_book", p.name, _read(p))
        for p in sorted(d.glob("*.json"))
        if p.name in ("btc_static.json", "spx_ndx_book.json")
    )


@cache
def oracle_records() -> Seed:
    """Oracle records for the configured oracle assets, as ``crossmargin oracles`` reads them."""
    recs = {
        "WSTETH": {"value": 1.2031, "timestamp": "2026-11-22T07:50:00Z", "confidence": 0.99,
                   "source": "lido", "reference": 1.2029},
        "AUSDC": {"value": 1.0412, "timestamp": "2026-11-22T07:30:00Z", "confidence": 1.0,
                  "source": "aave-v3"},
        "YVUSDC": {"value": 1.1123, "timestamp": "2026-11-22T06:00:00Z", "confidence": 0.97,
                   "source": "yearn-v3"},
    }  # fmt: skip
    return Seed("oracles", "oracles.json", json.dumps(recs, indent=1).encode())


@cache
def venue_cases() -> tuple[Seed, ...]:
    """Derive portfolio cases and SPAN risk-parameter files shipped with the tests."""
    out = []
    for p in sorted(DATA.glob("derive_test_*.json")):
        out.append(Seed("derive_case", p.name, _read(p)))
    for p in sorted(DATA.glob("span_*.json")):
        out.append(Seed("span_file", p.name, _read(p)))
    return tuple(out)


#: Command-line strings (trades, shocks, instruments, venue specs) and their kind.
TRADES = ("BTC-PERP:1", "BTC-26DEC26-70000-C:-2@1500", "ETH-PERP:-10", "BTC-27NOV26:0.5@65100")
SHOCKS = ("BTC=-0.2,ETH=-0.25", "*=-0.3", "vol=0.5", "BTC=-0.1,vol.BTC=0.4", "history:crypto-2018",
          "hourly")  # fmt: skip
INSTRUMENTS = ("BTC-26DEC26-70000-C", "BTC-PERP", "ETH-26MAR27-3000-P", "BTC-27NOV26",
               "BTC-26DEC26-1d5-P", "BTC-PERP-INV", "ETH-SPOT")  # fmt: skip
VENUES = ("synthetic:30", "synthetic:25:7", "synthetic:40:3")
