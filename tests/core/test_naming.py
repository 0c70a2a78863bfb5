"""Instrument names ⇄ contracts and explicit instrument objects (issue 2 §2)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin import Future, Option, Perpetual, Spot, contract_from_fields, parse_instrument
from crossmargin.errors import InputError

DEC26 = datetime(2026, 12, 26, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "contract"),
    [
        ("BTC-PERP", Perpetual("BTC")),
        ("ETH-SPOT", Spot("ETH")),
        ("BTC-26DEC26", Future("BTC", DEC26)),
        ("BTC-26DEC26-70000-C", Option("BTC", DEC26, 70_000.0, "call")),
        ("BTC-26DEC26-70000-P", Option("BTC", DEC26, 70_000.0, "put")),
        ("BTC-26DEC26-70000-CALL", Option("BTC", DEC26, 70_000.0, "call")),
        ("XRP-26DEC26-1D5-P", Option("XRP", DEC26, 1.5, "put")),  # Deribit decimal strike
        ("BTC-PERP-INV", Perpetual("BTC", "inverse")),
        ("BTC-26DEC26-INV", Future("BTC", DEC26, "inverse")),
        ("BTC-26DEC26-80000-C-INV", Option("BTC", DEC26, 80_000.0, "call", "inverse")),
        ("SPX-26DEC26-6000-P-X100", Option("SPX", DEC26, 6_000.0, "put", "linear", 100.0)),
        ("SPX-26DEC26-X50-INV", Future("SPX", DEC26, "inverse", 50.0)),
        ("SPX-26DEC26-INV-X50", Future("SPX", DEC26, "inverse", 50.0)),
        ("1000PEPE-PERP", Perpetual("1000PEPE")),
    ],
)
def test_parse_names(name: str, contract: Any) -> None:
    assert parse_instrument(name) == contract


def test_named_expiries_settle_at_0800_utc() -> None:
    c = parse_instrument("ETH-1MAR27")
    assert isinstance(c, Future)
    assert c.expiry == datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "non-empty"),
        ("   ", "non-empty"),
        ("BTC", "expected UND-PERP"),
        ("BTC-INV", "expected UND-PERP"),
        ("BTC-26DEC26-70000", "expected UND-PERP"),
        ("BTC-26DEC26-70000-C-EXTRA", "expected UND-PERP"),
        ("BTC-26XYZ26", "unknown month"),
        ("BTC-31FEB27", "not a calendar date"),
        ("BTC-2026-12-26", "not of the form"),
        ("BTC-DEC26", "not of the form"),
        ("BTC-26DEC26-0-C", "strike"),
        ("BTC-26DEC26--5-C", "expected UND-PERP"),
        ("BTC-26DEC26-NAN-C", "strike"),
        ("BTC-26DEC26-INF-C", "strike"),
        ("BTC-26DEC26-ABC-C", "strike"),
        ("BTC-26DEC26-70000-X", "right"),
        ("BTC-PERP-X0", "multiplier must be positive"),
        ("B$C-PERP", "underlying"),
        ("-PERP", "underlying"),
    ],
)
def test_unparseable_names_raise_input_error_with_the_path(name: str, why: str) -> None:
    with pytest.raises(InputError) as e:
        parse_instrument(name, path="positions[7].instrument")
    assert e.value.path == "positions[7].instrument"
    assert why in e.value.reason


def contracts() -> st.SearchStrategy[Any]:
    und = st.sampled_from(["BTC", "ETH", "SOL", "SPX", "X1"])
    settle = st.sampled_from(["linear", "inverse"])
    mult = st.sampled_from([1.0, 10.0, 100.0, 0.5])
    exp = st.dates(
        min_value=datetime(2026, 1, 1).date(), max_value=datetime(2099, 12, 31).date()
    ).map(lambda d: datetime(d.year, d.month, d.day, 8, tzinfo=UTC))
    strike = st.one_of(st.integers(1, 10**7).map(float), st.sampled_from([0.5, 1.5, 2.25, 1234.5]))
    return st.one_of(
        st.builds(Spot, und, settle, mult),
        st.builds(Perpetual, und, settle, mult),
        st.builds(Future, und, exp, settle, mult),
        st.builds(Option, und, exp, strike, st.sampled_from(["call", "put"]), settle, mult),
    )


@given(contracts())
def test_canonical_name_round_trips(c: Any) -> None:
    assert parse_instrument(c.name) == c
    assert parse_instrument(c.name.lower()) == c


@pytest.mark.parametrize(
    ("obj", "name"),
    [
        ({"kind": "perpetual", "underlying": "btc"}, "BTC-PERP"),
        ({"kind": "perp", "underlying": "BTC", "settlement": "inverse"}, "BTC-PERP-INV"),
        ({"kind": "spot", "underlying": "ETH"}, "ETH-SPOT"),
        ({"kind": "future", "underlying": "BTC", "expiry": "26DEC26"}, "BTC-26DEC26"),
        ({"kind": "future", "underlying": "BTC", "expiry": "2026-12-26T08:00:00Z"}, "BTC-26DEC26"),
        (
            {
                "kind": "option",
                "underlying": "BTC",
                "expiry": "2026-12-26T09:00:00+01:00",
                "strike": 70000,
                "right": "C",
            },
            "BTC-26DEC26-70000-C",
        ),
        (
            {
                "kind": "option",
                "underlying": "SPX",
                "expiry": "26DEC26",
                "strike": 6000,
                "right": "put",
                "multiplier": 100,
            },
            "SPX-26DEC26-6000-P-X100",
        ),
    ],
)
def test_explicit_objects_equal_their_names(obj: dict[str, Any], name: str) -> None:
    assert contract_from_fields(obj) == parse_instrument(name)


def test_explicit_object_with_another_hour_keeps_it() -> None:
    c = contract_from_fields(
        {"kind": "future", "underlying": "SPX", "expiry": "2026-12-18T14:30:00Z", "multiplier": 50}
    )
    assert isinstance(c, Future)
    assert c.expiry == datetime(2026, 12, 18, 14, 30, tzinfo=UTC)
    assert c.name == "SPX-2026-12-18T14:30:00Z-X50"  # not representable by a 08:00 code


@pytest.mark.parametrize(
    ("obj", "path", "why"),
    [
        ({"kind": "swap", "underlying": "BTC"}, "kind", "must be one of"),
        ({"underlying": "BTC"}, "kind", "must be one of"),
        ({"kind": "perp"}, "underlying", "asset symbol"),
        ({"kind": "perp", "underlying": "BTC", "colour": "red"}, "colour", "unknown field"),
        ({"kind": "future", "underlying": "BTC"}, "expiry", "required"),
        (
            {"kind": "future", "underlying": "BTC", "expiry": "2026-12-26T08:00:00"},
            "expiry",
            "time zone",
        ),
        ({"kind": "future", "underlying": "BTC", "expiry": 20261226}, "expiry", "ISO-8601"),
        ({"kind": "perp", "underlying": "BTC", "expiry": "26DEC26"}, "expiry", "not allowed"),
        (
            {"kind": "future", "underlying": "BTC", "expiry": "26DEC26", "strike": 5},
            "strike",
            "not allowed",
        ),
        (
            {"kind": "option", "underlying": "BTC", "expiry": "26DEC26", "right": "call"},
            "strike",
            "required",
        ),
        (
            {"kind": "option", "underlying": "BTC", "expiry": "26DEC26", "strike": 5},
            "right",
            "required",
        ),
        (
            {
                "kind": "option",
                "underlying": "BTC",
                "expiry": "26DEC26",
                "strike": 0,
                "right": "call",
            },
            "strike",
            "positive",
        ),
        (
            {
                "kind": "option",
                "underlying": "BTC",
                "expiry": "26DEC26",
                "strike": True,
                "right": "call",
            },
            "strike",
            "must be a number",
        ),
        (
            {
                "kind": "option",
                "underlying": "BTC",
                "expiry": "26DEC26",
                "strike": 5,
                "right": "straddle",
            },
            "right",
            "call",
        ),
        ({"kind": "perp", "underlying": "BTC", "settlement": "quanto"}, "settlement", "linear"),
        ({"kind": "perp", "underlying": "BTC", "multiplier": -1}, "multiplier", "positive"),
        (
            {"kind": "perp", "underlying": "BTC", "multiplier": float("nan")},
            "multiplier",
            "finite",
        ),
    ],
)
def test_bad_explicit_objects_name_the_field(obj: dict[str, Any], path: str, why: str) -> None:
    with pytest.raises(InputError) as e:
        contract_from_fields(obj, path="positions[2].instrument")
    assert e.value.path == f"positions[2].instrument.{path}"
    assert why in e.value.reason
