"""Market snapshot files: strict validation with paths, and fail-closed checks at resolve time."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from crossmargin import load_market, market_from_obj, parse_instrument, price_contracts
from crossmargin.errors import InputError, MarketDataError

from .helpers import DEC26, portfolio
from .helpers import margin as margin_of

GOOD: dict[str, Any] = {
    "as_of": "2026-11-22T08:00:00Z",
    "base_currency": "USD",
    "assets": {
        "USDC": {"price": 0.9998},
        "BTC": {
            "price": 65_000.0,
            "confidence": 1.0,
            "timestamp": "2026-11-22T07:59:58Z",
            "vol": 0.55,
            "perp": {"mark": 65_020.0},
            "expiries": {
                "2026-12-26T08:00:00Z": {
                    "forward": 65_300.0,
                    "discount": 0.9965,
                    "smile": {
                        "strikes": [50_000, 60_000, 70_000, 80_000],
                        "vols": [0.62, 0.57, 0.56, 0.58],
                    },
                }
            },
        },
    },
}


def edited(path: str, value: Any) -> dict[str, Any]:
    """GOOD with the dotted ``path`` set to ``value`` (``value is DELETE`` removes it)."""
    obj = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    node = obj
    for p in parents:
        node = node[p]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return obj


DELETE = object()
EXP = "assets.BTC.expiries.2026-12-26T08:00:00Z"


def test_issue_example_snapshot_parses() -> None:
    snap = market_from_obj(GOOD)
    btc = snap.asset("BTC")
    assert snap.as_of.isoformat() == "2026-11-22T08:00:00+00:00"
    assert btc.perp_mark == 65_020.0 and DEC26 in btc.expiries
    assert snap.price("USD") == 1.0  # the snapshot currency prices itself


@pytest.mark.parametrize(
    ("path", "value", "where", "why"),
    [
        ("assets.BTC.price", -1.0, "assets.BTC.price", "must be positive"),
        ("assets.BTC.price", 0.0, "assets.BTC.price", "must be positive"),
        ("assets.BTC.price", float("nan"), "assets.BTC.price", "must be finite, got NaN"),
        ("assets.BTC.price", float("inf"), "assets.BTC.price", "must be finite, got inf"),
        ("assets.BTC.price", "65000", "assets.BTC.price", "must be a number"),
        ("assets.BTC.price", DELETE, "assets.BTC.price", "required field is missing"),
        ("assets.BTC.vol", 0.0, "assets.BTC.vol", "must be positive"),
        ("assets.BTC.vol", -0.2, "assets.BTC.vol", "must be positive"),
        ("assets.BTC.confidence", 1.5, "assets.BTC.confidence", "between 0 and 1"),
        ("assets.BTC.timestamp", "yesterday", "assets.BTC.timestamp", "ISO-8601"),
        ("assets.BTC.perp.mark", 0.0, "assets.BTC.perp.mark", "must be positive"),
        ("assets.BTC.bogus", 1, "assets.BTC.bogus", "unknown field"),
        ("bogus", 1, "bogus", "unknown field"),
        ("as_of", DELETE, "as_of", "required field is missing"),
        ("as_of", "2026-11-22T08:00:00", "as_of", "no time zone"),
        ("as_of", "soon", "as_of", "ISO-8601"),
        (f"{EXP}.forward", 0.0, f"{EXP}.forward", "must be positive"),
        (f"{EXP}.forward", float("nan"), f"{EXP}.forward", "must be finite"),
        (f"{EXP}.discount", -0.5, f"{EXP}.discount", "must be positive"),
        (f"{EXP}.vol", 0.0, f"{EXP}.vol", "must be positive"),
        (f"{EXP}.smile.vols", [0.6, 0.0, 0.5, 0.5], f"{EXP}.smile.vols[1]", "must be positive"),
        (f"{EXP}.smile.vols", [0.6, 0.5], f"{EXP}.smile", "same length"),
        (
            f"{EXP}.smile.strikes",
            [50_000, 70_000, 60_000, 80_000],
            f"{EXP}.smile",
            "strictly increasing",
        ),
        (
            f"{EXP}.smile.strikes",
            [-1, 70_000, 75_000, 80_000],
            f"{EXP}.smile.strikes[0]",
            "must be positive",
        ),
        (
            f"{EXP}.svi",
            {"a": 0.01, "b": 0.1, "rho": 0.0, "m": 0.0, "sigma": 0.1},
            EXP,
            "either smile or svi",
        ),
        (f"{EXP}.smile", DELETE, None, None),  # sanity: a flat-less expiry falls back, still valid
    ],
)
def test_bad_snapshot_field_is_rejected_with_its_path(
    path: str, value: Any, where: str | None, why: str | None
) -> None:
    obj = edited(path, value)
    if where is None:
        market_from_obj(obj)
        return
    with pytest.raises(InputError) as e:
        market_from_obj(obj)
    assert e.value.path == where
    assert why is not None and why in e.value.reason


@pytest.mark.parametrize(
    ("svi", "why"),
    [
        ({"a": -1.0, "b": 0.1, "rho": 0.0, "m": 0.0, "sigma": 0.1}, "negative"),
        ({"a": 0.01, "b": -0.1, "rho": 0.0, "m": 0.0, "sigma": 0.1}, "non-negative"),
        ({"a": 0.01, "b": 0.1, "rho": 1.0, "m": 0.0, "sigma": 0.1}, "rho"),
        ({"a": 0.01, "b": 0.1, "rho": 0.0, "m": 0.0, "sigma": 0.0}, "positive"),
        ({"a": 0.01, "b": 0.1, "rho": 0.0, "m": 0.0}, "missing"),
    ],
)
def test_bad_svi_parameters(svi: dict[str, float], why: str) -> None:
    obj = edited(f"{EXP}.smile", DELETE)
    obj["assets"]["BTC"]["expiries"]["2026-12-26T08:00:00Z"]["svi"] = svi
    with pytest.raises(InputError) as e:
        market_from_obj(obj)
    assert e.value.path.startswith(f"{EXP}.svi")
    assert why in e.value.reason


def test_expiry_keys_accept_codes_and_reject_duplicates() -> None:
    obj = copy.deepcopy(GOOD)
    exps = obj["assets"]["BTC"]["expiries"]
    exps["26DEC26"] = {"forward": 65_300.0}  # the same instant as the ISO key
    with pytest.raises(InputError) as e:
        market_from_obj(obj)
    assert "duplicate expiry" in e.value.reason
    del exps["2026-12-26T08:00:00Z"]
    assert DEC26 in market_from_obj(obj).asset("BTC").expiries


def test_asset_symbols_are_case_insensitive_and_never_silently_merged() -> None:
    obj = copy.deepcopy(GOOD)
    obj["assets"]["eth"] = {"price": 3200.0}
    assert market_from_obj(obj).price("ETH") == 3200.0
    obj["assets"]["Eth"] = {"price": 1.0}
    with pytest.raises(InputError) as e:
        market_from_obj(obj)
    assert e.value.path in ("assets.Eth", "assets.eth") and "twice" in e.value.reason


def test_load_market_file_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="market file not found"):
        load_market(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"as_of": ', encoding="utf-8")
    with pytest.raises(InputError, match="not valid JSON"):
        load_market(bad)
    dup = tmp_path / "dup.json"
    dup.write_text('{"as_of": "2026-11-22T08:00:00Z", "as_of": "2026-11-23T08:00:00Z"}')
    with pytest.raises(InputError, match="duplicate key 'as_of'"):
        load_market(dup)
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([GOOD]))
    with pytest.raises(InputError, match="must be a JSON object"):
        load_market(listed)


# --- fail-closed checks at resolve time -------------------------------------------------------


def price_btc_perp(obj: dict[str, Any]) -> None:
    price_contracts([parse_instrument("BTC-PERP")], market_from_obj(obj))


def test_low_confidence_is_refused() -> None:
    with pytest.raises(MarketDataError) as e:
        price_btc_perp(edited("assets.BTC.confidence", 0.89))
    assert e.value.path == "assets.BTC.confidence" and "BTC-PERP" in e.value.reason
    price_btc_perp(edited("assets.BTC.confidence", 0.9))  # at the minimum: accepted


def test_stale_and_future_prices_are_refused() -> None:
    with pytest.raises(MarketDataError, match="stale") as e:
        price_btc_perp(edited("assets.BTC.timestamp", "2026-11-22T06:59:59Z"))
    assert e.value.path == "assets.BTC.timestamp"
    price_btc_perp(edited("assets.BTC.timestamp", "2026-11-22T07:00:00Z"))  # exactly 1 h: ok
    with pytest.raises(MarketDataError, match="after as_of"):
        price_btc_perp(edited("assets.BTC.timestamp", "2026-11-22T08:00:01Z"))


def test_checks_apply_to_collateral_assets_too() -> None:
    obj = edited("assets.USDC.confidence", 0.5)
    pf = portfolio(collateral={"USDC": 1000.0})
    with pytest.raises(MarketDataError) as e:
        margin_of(pf, market_from_obj(obj))
    assert e.value.path == "assets.USDC.confidence" and "collateral USDC" in e.value.reason


def test_unused_bad_asset_does_not_block_others() -> None:
    """Checks apply to what a book uses: a stale asset nobody holds is not an error."""
    obj = edited("assets.USDC.timestamp", "2020-01-01T00:00:00Z")
    price_btc_perp(obj)


def test_perp_mark_falls_back_to_spot() -> None:
    obj = edited("assets.BTC.perp", DELETE)
    assert (
        price_contracts([parse_instrument("BTC-PERP")], market_from_obj(obj))[0]["price"]
        == 65_000.0
    )


def test_the_snapshot_currency_prices_at_one() -> None:
    obj = copy.deepcopy(GOOD)
    obj["assets"]["USD"] = {"price": 1.0}
    assert market_from_obj(obj).price("USD") == 1.0
    obj["assets"]["USD"] = {"price": 0.5}  # would silently halve every USD balance
    with pytest.raises(InputError) as e:
        market_from_obj(obj)
    assert e.value.path == "assets.USD.price" and "must have price 1" in e.value.reason


def test_zero_total_variance_svi_fails_closed_at_resolve() -> None:
    """a = b = 0 passes the no-negative-variance check but prices every option at zero vol."""
    obj = edited(f"{EXP}.smile", DELETE)
    obj["assets"]["BTC"]["expiries"]["2026-12-26T08:00:00Z"]["svi"] = {
        "a": 0.0,
        "b": 0.0,
        "rho": 0.0,
        "m": 0.0,
        "sigma": 0.1,
    }
    snap = market_from_obj(obj)
    with pytest.raises(MarketDataError) as e:
        price_contracts([parse_instrument("BTC-26DEC26-70000-C")], snap)
    assert e.value.path == f"{EXP}.vol" and "must be positive" in e.value.reason
