"""Names never change meaning silently: venue names are refused in our format, with advice."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crossmargin import Future, Option, Perpetual, Spot, load_portfolios, parse_instrument
from crossmargin.errors import InputError

from .helpers import DATA, invoke


def test_a_deribit_name_in_our_portfolio_is_an_error_naming_the_position(tmp_path: Path) -> None:
    # the case: 650 000 of BTC-PERPETUAL (USD at Deribit) would have been 650 000 BTC
    f = tmp_path / "pf.json"
    f.write_text(json.dumps({"account": "a", "positions": [
        {"instrument": "BTC-PERP", "quantity": 1},
        {"instrument": "BTC-PERPETUAL", "quantity": -650000}]}))  # fmt: skip
    with pytest.raises(InputError) as e:
        load_portfolios(f)
    assert e.value.path == "positions[1].instrument"
    for words in ("Deribit", "USD", "--from deribit", "crossmargin import deribit", "BTC-PERP-INV"):
        assert words in e.value.reason
    r = invoke("margin", f, "-m", "examples/market_crypto.json")
    assert r.exit_code == 2
    assert r.stderr.startswith(
        "error: positions[1].instrument: cannot parse instrument 'BTC-PERPETUAL'"
    )
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("payload", "venue"),
    [
        ("deribit_positions.json", "deribit"),
        ("okx_positions.json", "okx"),
        ("bybit_positions_linear.json", "bybit"),
        ("binance_um_positions_docs.json", "binance"),
    ],
)
def test_a_venue_export_given_as_our_portfolio_says_what_to_do(payload: str, venue: str) -> None:
    r = invoke("margin", DATA / payload, "-m", "examples/market_crypto.json")
    assert r.exit_code == 2
    assert f"response of the {venue} API" in r.stderr and f"--from {venue}" in r.stderr


@pytest.mark.parametrize(
    ("name", "venue", "ours"),
    [
        ("BTC-PERPETUAL", "deribit", "BTC-PERP-INV"),
        ("eth-perpetual", "deribit", "ETH-PERP-INV"),
        ("BTC_USDC-PERPETUAL", "deribit", "BTC-PERP"),
        ("SOL_USDC-26JUN26-90-P", "deribit", "SOL-26JUN26-90-P"),
        ("BTC-USD-SWAP", "okx", "BTC-PERP-INV"),
        ("BTC-USDT-SWAP", "okx", "BTC-PERP"),
        ("BTC-USD-260327", "okx", "BTC-27MAR26-INV"),
        ("BTC-USD-260327-100000-C", "okx", "BTC-27MAR26-100000-C-INV"),
        ("BTCUSDT", "bybit", "BTC-PERP"),
        ("BTCUSD", "bybit", "BTC-PERP-INV"),
        ("BTC-13FEB25-89000-P-USDT", "bybit", "BTC-13FEB25-89000-P"),
        ("BTCUSD_PERP", "binance", "BTC-PERP-INV"),
        ("BTCUSDT_250328", "binance", "BTC-28MAR25"),
    ],
)
def test_venue_names_are_refused_with_the_convention_to_pick(
    name: str, venue: str, ours: str
) -> None:
    with pytest.raises(InputError) as e:
        parse_instrument(name, path="positions[0].instrument")
    assert f"--from {venue}" in e.value.reason and ours in e.value.reason
    # and our suggested name is one of ours
    parse_instrument(ours)


DEC26 = datetime(2026, 12, 26, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "contract"),
    [
        ("BTC-PERP", Perpetual("BTC")),
        ("BTC-PERP-INV", Perpetual("BTC", "inverse")),
        ("BTC-SPOT", Spot("BTC")),
        ("1000PEPE-PERP", Perpetual("1000PEPE")),
        ("EURUSD-26DEC26", Future("EURUSD", DEC26)),
        ("BTC-26DEC26-70000-C-INV", Option("BTC", DEC26, 70000.0, "call", "inverse")),
    ],
)
def test_our_names_keep_their_meaning(name: str, contract: object) -> None:
    assert parse_instrument(name) == contract
