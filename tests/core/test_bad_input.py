"""Issue 2 §8: every kind of bad input is one line ``error: <path>: <reason>``, exit code 2, no
traceback, nothing on stdout and no file written — for every command that reads the input.

Kinds: unknown fields, missing fields, NaN/inf, negative or zero prices, vols ≤ 0, unparseable
names, expired instruments, unknown assets, a held instrument with no market data (and a few
more: wrong types, duplicate keys, missing files, unwritable outputs).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .helpers import invoke, write_json

Edit = Callable[[dict[str, Any]], None]


def pos(i: int, **kw: Any) -> Edit:
    return lambda d: d["positions"][i].update(kw)


def drop(*keys: str | int) -> Edit:
    def f(d: dict[str, Any]) -> None:
        node: Any = d
        for k in keys[:-1]:
            node = node[k]
        del node[keys[-1]]

    return f


def setv(value: Any, *keys: str) -> Edit:
    def f(d: dict[str, Any]) -> None:
        node: Any = d
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value

    return f


NAN, INF = float("nan"), float("inf")
BTC = ("assets", "BTC")
DEC = ("assets", "BTC", "expiries", "26DEC26")

PORTFOLIO_CASES: list[tuple[str, Edit, str]] = [
    ("unknown position field", pos(3, size=1), "positions[3].size: unknown field"),
    ("unknown account field", setv(1, "leverage"), "leverage: unknown field"),
    (
        "missing quantity",
        drop("positions", 2, "quantity"),
        "positions[2].quantity: required field is missing",
    ),
    (
        "missing instrument",
        drop("positions", 0, "instrument"),
        "positions[0].instrument: required field is missing",
    ),
    ("missing account", drop("account"), "account: required field is missing"),
    ("NaN quantity", pos(3, quantity=NAN), "positions[3].quantity: must be finite, got NaN"),
    ("inf quantity", pos(3, quantity=INF), "positions[3].quantity: must be finite, got inf"),
    (
        "-inf collateral",
        setv(-INF, "collateral", "USDC"),
        "collateral.USDC: must be finite, got -inf",
    ),
    ("string quantity", pos(1, quantity="2"), "positions[1].quantity: must be a number"),
    ("bool quantity", pos(1, quantity=True), "positions[1].quantity: must be a number"),
    (
        "negative entry price",
        pos(0, entry_price=-64_000),
        "positions[0].entry_price: must be positive",
    ),
    ("zero entry price", pos(0, entry_price=0), "positions[0].entry_price: must be positive"),
    (
        "NaN entry price",
        pos(0, entry_price=NAN),
        "positions[0].entry_price: must be finite, got NaN",
    ),
    (
        "unparseable name",
        pos(4, instrument="BTC-27NOV26-75000-Q"),
        "positions[4].instrument: cannot parse instrument",
    ),
    (
        "bad month",
        pos(4, instrument="BTC-27NOB26"),
        "positions[4].instrument: cannot parse instrument",
    ),
    (
        "bad explicit object",
        pos(4, instrument={"kind": "option", "underlying": "BTC"}),
        "positions[4].instrument.expiry: required",
    ),
    (
        "expired instrument",
        pos(5, instrument="BTC-20NOV26-55000-P"),
        "positions[5].instrument: BTC-20NOV26-55000-P expired",
    ),
    (
        "unknown underlying",
        pos(6, instrument="DOGE-PERP"),
        "assets.DOGE: no market data for DOGE (needed by DOGE-PERP)",
    ),
    (
        "unknown collateral asset",
        setv(5.0, "collateral", "FOO"),
        "assets.FOO: no market data for FOO (needed by collateral FOO)",
    ),
    (
        "bad collateral symbol",
        setv(5.0, "collateral", "US D"),
        "collateral: collateral asset 'US D' is not a symbol",
    ),
    (
        "duplicate collateral",
        setv(5.0, "collateral", "usdc"),
        "collateral: collateral asset 'usdc' is listed twice",
    ),
    (
        "unknown base currency",
        setv("EUR", "base_currency"),
        "assets.EUR: no price for the account base currency EUR",
    ),
    ("positions not a list", setv({"instrument": "BTC-PERP"}, "positions"), "positions: "),
]

MARKET_CASES: list[tuple[str, Edit, str]] = [
    ("unknown asset field", setv(1, *BTC, "colour"), "assets.BTC.colour: unknown field"),
    ("unknown top field", setv(1, "source"), "source: unknown field"),
    ("missing as_of", drop("as_of"), "as_of: required field is missing"),
    ("missing price", drop(*BTC, "price"), "assets.BTC.price: required field is missing"),
    (
        "negative price",
        setv(-65_000.0, *BTC, "price"),
        "assets.BTC.price: must be positive, got -65000.0",
    ),
    ("zero price", setv(0, *BTC, "price"), "assets.BTC.price: must be positive, got 0.0"),
    ("NaN price", setv(NAN, *BTC, "price"), "assets.BTC.price: must be finite, got NaN"),
    (
        "inf forward",
        setv(INF, *DEC, "forward"),
        "assets.BTC.expiries.26DEC26.forward: must be finite, got inf",
    ),
    (
        "zero forward",
        setv(0.0, *DEC, "forward"),
        "assets.BTC.expiries.26DEC26.forward: must be positive",
    ),
    (
        "negative discount",
        setv(-1.0, *DEC, "discount"),
        "assets.BTC.expiries.26DEC26.discount: must be positive",
    ),
    ("zero asset vol", setv(0.0, *BTC, "vol"), "assets.BTC.vol: must be positive, got 0.0"),
    (
        "negative expiry vol",
        setv(-0.5, *DEC, "vol"),
        "assets.BTC.expiries.26DEC26.vol: must be positive",
    ),
    (
        "zero smile vol",
        setv([0.6, 0.0, 0.5, 0.5], *DEC, "smile", "vols"),
        "assets.BTC.expiries.26DEC26.smile.vols[1]: must be positive",
    ),
    (
        "NaN smile vol",
        setv([0.6, NAN, 0.5, 0.5], *DEC, "smile", "vols"),
        "assets.BTC.expiries.26DEC26.smile.vols[1]: must be finite",
    ),
    (
        "held underlying missing",
        drop("assets", "ETH"),
        "assets.ETH: no market data for ETH (needed by ETH-PERP)",
    ),
    (
        "collateral asset missing",
        drop("assets", "USDC"),
        "assets.USDC: no market data for USDC (needed by collateral USDC)",
    ),
    (
        "naive as_of",
        setv("2026-11-22T08:00:00", "as_of"),
        "as_of: '2026-11-22T08:00:00' has no time zone",
    ),
    (
        "low confidence",
        setv(0.5, *BTC, "confidence"),
        "assets.BTC.confidence: confidence 0.5 is below the minimum 0.9",
    ),
    (
        "stale price",
        setv("2026-11-21T08:00:00Z", *BTC, "timestamp"),
        "assets.BTC.timestamp: price is stale",
    ),
]


@pytest.fixture(scope="module")
def good(examples: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    pf = json.loads((examples / "crypto_book.json").read_text())
    mk = json.loads((examples / "market_crypto.json").read_text())
    return pf, mk


def assert_one_line_error(r: Any, expected: str) -> None:
    assert r.exit_code == 2, (r.exit_code, r.stdout, r.stderr)
    assert r.stdout == ""
    assert r.stderr.startswith(f"error: {expected}"), r.stderr
    assert r.stderr.endswith("\n") and r.stderr.count("\n") == 1
    assert "Traceback" not in r.stderr


COMMANDS = ["margin", "explain", "compare", "whatif"]


def run(cmd: str, pf: Path, mk: Path, tmp: Path) -> Any:
    if cmd == "margin":
        return invoke("margin", pf, "--market", mk, "--plot", tmp / "plot.png")
    if cmd == "whatif":
        return invoke("whatif", pf, "--market", mk, "--trade", "BTC-PERP:1", "--format", "json")
    return invoke(cmd, pf, "--market", mk)


@pytest.mark.parametrize("cmd", COMMANDS)
@pytest.mark.parametrize(
    ("label", "edit", "expected"), PORTFOLIO_CASES, ids=[c[0] for c in PORTFOLIO_CASES]
)
def test_bad_portfolio(
    good: tuple[dict[str, Any], dict[str, Any]],
    tmp_path: Path,
    cmd: str,
    label: str,
    edit: Edit,
    expected: str,
) -> None:
    pf, mk = copy.deepcopy(good[0]), good[1]
    edit(pf)
    r = run(cmd, write_json(tmp_path / "p.json", pf), write_json(tmp_path / "m.json", mk), tmp_path)
    assert_one_line_error(r, expected)
    assert not (tmp_path / "plot.png").exists()


@pytest.mark.parametrize("cmd", COMMANDS)
@pytest.mark.parametrize(
    ("label", "edit", "expected"), MARKET_CASES, ids=[c[0] for c in MARKET_CASES]
)
def test_bad_market(
    good: tuple[dict[str, Any], dict[str, Any]],
    tmp_path: Path,
    cmd: str,
    label: str,
    edit: Edit,
    expected: str,
) -> None:
    pf, mk = good[0], copy.deepcopy(good[1])
    edit(mk)
    r = run(cmd, write_json(tmp_path / "p.json", pf), write_json(tmp_path / "m.json", mk), tmp_path)
    assert_one_line_error(r, expected)
    assert not (tmp_path / "plot.png").exists()


@pytest.mark.parametrize(
    ("label", "edit", "expected"), MARKET_CASES, ids=[c[0] for c in MARKET_CASES]
)
def test_bad_market_in_price(
    good: tuple[dict[str, Any], dict[str, Any]],
    tmp_path: Path,
    label: str,
    edit: Edit,
    expected: str,
) -> None:
    mk = copy.deepcopy(good[1])
    edit(mk)
    r = invoke(
        "price",
        "BTC-26DEC26-70000-C",
        "ETH-PERP",
        "--market",
        write_json(tmp_path / "m.json", mk),
        "--format",
        "json",
    )
    if label == "collateral asset missing":  # price holds no collateral: not an error
        assert r.exit_code == 0
        return
    assert_one_line_error(r, expected)


def test_absurd_rate_fails_closed(
    good: tuple[dict[str, Any], dict[str, Any]], tmp_path: Path
) -> None:
    """An absurd rate (issue 9: ``rate: -50`` cut margin to 0.45x) is refused at the edge."""
    mk = copy.deepcopy(good[1])
    for rate in (1e4, -50.0, 1.5):
        mk["assets"]["ETH"]["rate"] = rate
        r = invoke("price", "ETH-25JUN27", "--market", write_json(tmp_path / "m.json", mk))
        assert_one_line_error(r, "assets.ETH.rate: must be between -1 and 1")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("price", "BTC-PURRP"), "instruments[0]: cannot parse instrument 'BTC-PURRP'"),
        (("price", "BTC-PERP", "BTC-20NOV26"), "instruments[1]: BTC-20NOV26 expired"),
        (("price", "SOL-PERP"), "assets.SOL: no market data for SOL (needed by SOL-PERP)"),
    ],
)
def test_bad_price_arguments(examples: Path, args: tuple[str, ...], expected: str) -> None:
    r = invoke(*args, "--market", examples / "market_crypto.json")
    assert_one_line_error(r, expected)


@pytest.mark.parametrize(
    ("trade", "expected"),
    [
        ("BTC-PERP", "--trade[0]: 'BTC-PERP' must be INSTRUMENT:QTY[@PRICE]"),
        ("BTC-PERP:x", "--trade[0].quantity: quantity 'x' is not a number"),
        ("BTC-PERP:nan", "--trade[0].quantity: quantity must be finite and non-zero"),
        ("BTC-PERP:1@0", "--trade[0].price: price must be positive"),
        ("BTC-PURRP:1", "--trade[0].instrument: cannot parse instrument"),
        ("BTC-20NOV26:1", "trade[0].instrument: BTC-20NOV26 expired"),
    ],
)
def test_bad_trades(examples: Path, trade: str, expected: str) -> None:
    r = invoke(
        "whatif",
        examples / "crypto_book.json",
        "--market",
        examples / "market_crypto.json",
        "--trade",
        trade,
    )
    assert_one_line_error(r, expected)


def test_files_that_cannot_be_read(examples: Path, tmp_path: Path) -> None:
    mk = examples / "market_crypto.json"
    assert_one_line_error(
        invoke("margin", tmp_path / "nope.json", "--market", mk),
        f"{tmp_path / 'nope.json'}: portfolio file not found",
    )
    broken = tmp_path / "broken.json"
    broken.write_text('{"account": "a",')
    assert_one_line_error(invoke("margin", broken, "--market", mk), f"{broken}: not valid JSON")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    assert_one_line_error(invoke("margin", binary, "--market", mk), f"{binary}: not UTF-8")
    dup = tmp_path / "dup.json"
    dup.write_text(
        '{"account": "a", "positions": [{"instrument": "BTC-PERP", "quantity": 1, "quantity": -1}]}'
    )
    assert_one_line_error(invoke("margin", dup, "--market", mk), f"{dup}: duplicate key 'quantity'")
    listed = tmp_path / "list.json"
    listed.write_text("[]")
    assert_one_line_error(
        invoke("margin", listed, "--market", mk),
        "portfolio: a portfolio file must be a JSON object",
    )


def test_bad_config_and_model(examples: Path, tmp_path: Path) -> None:
    args = ("margin", examples / "crypto_book.json", "--market", examples / "market_crypto.json")
    assert_one_line_error(invoke(*args, "--model", "nope"), "model: unknown model 'nope'")
    cfg = tmp_path / "risk.yaml"
    cfg.write_text("mm_factor: 2.0\n")
    r = invoke(*args, "--config", cfg)
    assert_one_line_error(r, "config.")
    cfg.write_text("mm_factor: [unclosed\n")
    assert_one_line_error(invoke(*args, "--config", cfg), f"{cfg}: not valid YAML")
    cfg.write_bytes(b"\xff\xfe")
    assert_one_line_error(invoke(*args, "--config", cfg), f"{cfg}: not UTF-8")


def test_unwritable_outputs_are_input_errors(examples: Path, tmp_path: Path) -> None:
    missing_dir = tmp_path / "no" / "such" / "dir"
    r = invoke(
        "margin", examples / "crypto_book.json", "--market", examples / "market_crypto.json",
        "--plot", missing_dir / "p.png",
    )  # fmt: skip
    assert_one_line_error(r, f"{missing_dir / 'p.png'}: cannot write file")
    r = invoke(
        "batch", examples / "venue_positions.csv", "--collateral", examples / "venue_collateral.csv",
        "--market", examples / "market_venue.json", "--out", missing_dir / "r.csv",
    )  # fmt: skip
    assert_one_line_error(r, f"{missing_dir / 'r.csv'}: cannot write file")


def test_multi_account_paths_name_the_account(examples: Path, tmp_path: Path) -> None:
    d = json.loads((examples / "venue_accounts.json").read_text())
    d["accounts"][2]["positions"][1]["quantity"] = NAN
    r = invoke(
        "margin", write_json(tmp_path / "v.json", d), "--market", examples / "market_venue.json"
    )
    assert_one_line_error(r, "accounts[2].positions[1].quantity: must be finite, got NaN")
    d = json.loads((examples / "venue_accounts.json").read_text())
    d["accounts"][3]["positions"][0]["instrument"] = "BTC-20NOV26-55000-P"
    r = invoke(
        "margin", write_json(tmp_path / "v.json", d), "--market", examples / "market_venue.json"
    )
    assert_one_line_error(r, "accounts[3].positions[0].instrument: BTC-20NOV26-55000-P expired")
    d = json.loads((examples / "venue_accounts.json").read_text())
    d["accounts"][4]["account"] = d["accounts"][0]["account"]
    r = invoke(
        "margin", write_json(tmp_path / "v.json", d), "--market", examples / "market_venue.json"
    )
    assert_one_line_error(r, "accounts[4].account: duplicate account")


@pytest.mark.parametrize("model", ["isolated", "cross", "portfolio"])
def test_overflowing_sizes_fail_closed_not_null(examples: Path, tmp_path: Path, model: str) -> None:
    """A finite but absurd quantity overflows the notional: refused, never a null margin."""
    pf = {
        "account": "a",
        "collateral": {"USD": 1.0},
        "positions": [{"instrument": "BTC-PERP", "quantity": 1e306}],
    }
    r = invoke(
        "margin", write_json(tmp_path / "p.json", pf), "--market", examples / "market_crypto.json",
        "--model", model, "--format", "json",
    )  # fmt: skip
    assert_one_line_error(
        r, f"positions: initial margin of account 'a' under '{model}' is not a finite number"
    )
