"""Live inputs: records validated at construction, field by field; the JSON object form."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from crossmargin.errors import InputError, MarketDataError
from crossmargin.instruments.contracts import Option, Perpetual
from crossmargin.instruments.position import Portfolio, Position
from crossmargin.live.updates import (
    Deposit,
    MarketUpdate,
    NewAccount,
    Trade,
    Withdrawal,
    update_from_obj,
    update_to_obj,
)
from crossmargin.market.snapshot import OracleRecord
from crossmargin.market.vol import FlatVol, MarkedVol, SmileVol, SVIVol

T0 = datetime(2020, 3, 12, 10, 0, tzinfo=UTC)
EXP = datetime(2020, 3, 27, 8, 0, tzinfo=UTC)
BTC_ID = "e62df6c8b4a85fe1a67db44dc12de5db330f7ac66b72dc658afedf0f4a415b43"


def market(**kw: Any) -> MarketUpdate:
    base: dict[str, Any] = {"feed": "f", "seq": 1, "time": T0, "asset": "btc", "price": 5000.0}
    base.update(kw)
    return MarketUpdate(**base)


def roundtrip(u: Any) -> Any:
    text = json.dumps(update_to_obj(u), allow_nan=False)
    return update_from_obj(json.loads(text))


# -- construction --------------------------------------------------------------------------------
def test_market_update_normalises() -> None:
    u = market(time=datetime(2020, 3, 12, 12, 0, tzinfo=timezone(timedelta(hours=2))), price=5000)
    assert u.asset == "BTC"
    assert u.time == T0 and u.time.tzinfo == UTC
    assert isinstance(u.price, float)
    assert u.forwards == {} and u.vols == {}


def test_market_update_full() -> None:
    u = market(
        confidence=0.99,
        perp_mark=5010.0,
        forwards={EXP: 5020.0},
        vols={
            None: FlatVol(0.9),
            EXP: SmileVol((4000.0, 5000.0, 6000.0), (1.1, 0.95, 0.9)),
            EXP + timedelta(days=91): SVIVol(0.04, 0.1, -0.3, 0.0, 0.2),
        },
        oracle=OracleRecord(1.02, T0, 1.0, "lido"),
    )
    assert roundtrip(u) == u
    obj = update_to_obj(u)
    assert obj["vol"] == 0.9 and "2020-03-27T08:00:00Z" in obj["vols"]  # type: ignore[operator]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("feed", "", "must not be empty"),
        ("feed", 3, "must be a string"),
        ("feed", "x" * 300, "longer than"),
        ("feed", "a\nb", "control characters"),
        ("seq", -1, "between 0 and"),
        ("seq", 1.0, "must be an integer"),
        ("seq", True, "must be an integer"),
        ("seq", 2**64, "between 0 and"),
        ("time", datetime(2020, 3, 12), "time-zone aware"),
        ("time", "2020-03-12T00:00:00Z", "must be a datetime"),
        ("time", datetime(1850, 1, 1, tzinfo=UTC), "outside"),
        ("asset", "", "must not be empty"),
        ("asset", "BTC/USD", "not an asset symbol"),
        ("price", math.nan, "NaN"),
        ("price", math.inf, "finite"),
        ("price", -math.inf, "finite"),
        ("price", -5.0, "positive"),
        ("price", 0.0, "positive"),
        ("price", 1e300, "at most"),
        ("price", 10**400, "at most"),
        ("price", "5000", "must be a number"),
        ("price", True, "must be a number"),
        ("confidence", math.nan, "NaN"),
        ("confidence", 1.5, "between 0 and 1"),
        ("confidence", -0.1, "between 0 and 1"),
        ("perp_mark", -1.0, "positive"),
    ],
)
def test_market_update_refuses(field: str, value: Any, message: str) -> None:
    with pytest.raises(InputError, match=message) as e:
        market(**{field: value})
    assert e.value.path == field


def test_confidence_needs_a_price() -> None:
    with pytest.raises(InputError, match="give it with price") as e:
        market(price=None, perp_mark=5.0, confidence=0.9)
    assert e.value.path == "confidence"


def test_empty_market_update_refused() -> None:
    with pytest.raises(InputError, match="at least one of"):
        market(price=None)


@pytest.mark.parametrize(
    ("make", "path", "message"),
    [
        # the surfaces check themselves at construction (crossmargin.market.vol)
        (lambda: FlatVol(math.nan), "FlatVol.vol", "finite"),
        (lambda: FlatVol(-0.5), "FlatVol.vol", "positive"),
        (lambda: FlatVol(55.0), "FlatVol.vol", "<= 10"),
        (lambda: SmileVol((), ()), "SmileVol.strikes", "empty"),
        (lambda: SmileVol((1.0, 2.0), (0.5,)), "SmileVol", "same length"),
        (lambda: SmileVol((2.0, 1.0), (0.5, 0.5)), "SmileVol.strikes[1]", "increasing"),
        (lambda: SmileVol((1.0, 2.0), (0.5, math.inf)), "SmileVol.vols[1]", "finite"),
        (lambda: SVIVol(0.04, 0.1, 1.0, 0.0, 0.2), "SVIVol.rho", "-1, 1"),
        (lambda: SVIVol(0.04, -0.1, 0.0, 0.0, 0.2), "SVIVol.b", "non-neg"),
        (lambda: SVIVol(-1.0, 0.1, 0.0, 0.0, 0.2), "SVIVol", "negative"),
        (lambda: SVIVol(0.04, 0.1, 0.0, 0.0, 0.0), "SVIVol.sigma", "pos"),
    ],
)
def test_vol_surfaces_check_themselves(make: Any, path: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as e:
        market(vols={EXP: make()})
    assert e.value.path == path


@pytest.mark.parametrize(
    ("vols", "path", "message"),
    [
        ({EXP: MarkedVol((1.0,), (0.5,))}, "vols.2020-03-27T08:00:00Z", "flat vol, a smile"),
        ({None: SmileVol((1.0,), (0.5,))}, "vol", "one number"),
        ({datetime(2020, 3, 27): FlatVol(0.5)}, "vols.2020-03-27T00:00:00", "aware"),
    ],
)
def test_vol_surfaces_validated(vols: Any, path: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as e:
        market(vols=vols)
    assert e.value.path == path


def test_forwards_validated() -> None:
    with pytest.raises(InputError, match="positive") as e:
        market(forwards={EXP: -1.0})
    assert e.value.path == "forwards.2020-03-27T08:00:00Z"
    with pytest.raises(InputError, match="aware"):
        market(forwards={datetime(2020, 3, 27): 1.0})


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("value", math.nan, "finite"),
        ("value", 0.0, "positive"),
        ("confidence", math.nan, "finite"),
        ("confidence", 2.0, "<= 1"),
        ("source", "", "non-empty"),
        ("reference", -1.0, "positive"),
        ("timestamp", datetime(2020, 1, 1), "zone"),
    ],
)
def test_oracle_record_checks_itself(field: str, value: Any, message: str) -> None:
    """The record validates itself at construction (crossmargin.market.snapshot)."""
    rec = {"value": 1.02, "timestamp": T0, "confidence": 1.0, "source": "lido", "reference": None}
    rec[field] = value
    with pytest.raises(InputError, match=message) as e:
        market(price=None, oracle=OracleRecord(**rec))
    assert e.value.path == f"OracleRecord.{field}"


def trade(**kw: Any) -> Trade:
    base: dict[str, Any] = {
        "account": "a1",
        "instrument": "BTC-PERP",
        "quantity": 1.0,
        "price": 5000.0,
        "time": T0,
    }
    base.update(kw)
    return Trade(**base)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("account", "", "empty"),
        ("account", None, "must be a string"),
        ("instrument", "BTC-FOO-BAR", "cannot parse instrument"),
        ("instrument", "", "empty"),
        ("quantity", 0.0, "must not be zero"),
        ("quantity", math.nan, "NaN"),
        ("quantity", 1e20, "at most"),
        ("price", 0.0, "positive"),
        ("price", -1.0, "positive"),
        ("time", datetime(2020, 1, 1), "aware"),
        ("time", datetime(2201, 1, 1, tzinfo=UTC), "outside"),
        ("id", "", "empty"),
        ("id", 5, "must be a string"),
    ],
)
def test_trade_refuses(field: str, value: Any, message: str) -> None:
    with pytest.raises(InputError, match=message) as e:
        trade(**{field: value})
    assert e.value.path == field


def test_trade_contract() -> None:
    assert trade().contract == Perpetual("BTC")
    t = trade(instrument="BTC-27MAR20-6000-P", quantity=-2, id="x")
    assert isinstance(t.contract, Option) and t.contract.strike == 6000.0
    assert roundtrip(t) == t


@pytest.mark.parametrize("cls", [Deposit, Withdrawal])
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("amount", 0.0, "positive"),
        ("amount", -5.0, "positive"),
        ("amount", math.nan, "NaN"),
        ("amount", math.inf, "finite"),
        ("asset", "US DC", "not an asset symbol"),
        ("account", "", "empty"),
        ("time", datetime(2020, 1, 1), "aware"),
    ],
)
def test_transfers_refuse(cls: Any, field: str, value: Any, message: str) -> None:
    kw: dict[str, Any] = {"account": "a1", "asset": "usdc", "amount": 10.0, "time": T0}
    kw[field] = value
    with pytest.raises(InputError, match=message) as e:
        cls(**kw)
    assert e.value.path == field


@pytest.mark.parametrize("cls", [Deposit, Withdrawal])
def test_transfer_roundtrip(cls: Any) -> None:
    u = cls("a1", "usdc", 10, T0, id="d-1")
    assert u.asset == "USDC" and u.amount == 10.0
    assert roundtrip(u) == u
    assert update_to_obj(u)["type"] == cls.__name__.lower()


def test_new_account() -> None:
    p = Portfolio(
        "a1",
        "USD",
        {"USDC": 1000.0, "BTC": 0.5},
        (
            Position(Perpetual("BTC"), -1.0, 5000.0),
            # an expiry at 21:00 has no name: written as an explicit object
            Position(Option("SPX", datetime(2020, 3, 20, 21, tzinfo=UTC), 2500.5, "put"), 3.0),
        ),
    )
    u = NewAccount(p, T0)
    obj = update_to_obj(u)
    assert obj["type"] == "account" and obj["account"] == "a1"
    assert isinstance(obj["positions"][1]["instrument"], dict)  # type: ignore[index]
    assert roundtrip(u) == u
    with pytest.raises(InputError, match="finite") as e:  # the portfolio checks itself
        NewAccount(Portfolio("a1", "USD", {"USDC": math.nan}), T0)
    assert e.value.path == "Portfolio.collateral.USDC"
    with pytest.raises(InputError, match="must be a Portfolio"):
        NewAccount({"account": "a1"}, T0)  # type: ignore[arg-type]


# -- JSON object form --------------------------------------------------------------------------------
GOOD = {
    "type": "market",
    "feed": "f",
    "seq": 3,
    "time": "2020-03-12T10:00:00Z",
    "asset": "BTC",
    "price": 5000,
}


@pytest.mark.parametrize(
    ("patch", "path", "message"),
    [
        ({"type": "tick"}, "l1.type", "unknown update type"),
        ({"type": None}, "l1.type", "required field is missing"),
        ({"type": 3}, "l1.type", "unknown update type"),
        ({"extra": 1}, "l1.extra", "unknown field"),
        ({"price": "5000"}, "l1.price", "must be a number"),
        ({"price": float("nan")}, "l1.price", "NaN"),
        ({"price": float("inf")}, "l1.price", "finite"),
        ({"price": -1}, "l1.price", "positive"),
        ({"price": 1e300}, "l1.price", "at most"),
        ({"price": [1]}, "l1.price", "must be a number"),
        ({"seq": "3"}, "l1.seq", "integer"),
        ({"seq": 3.5}, "l1.seq", "integer"),
        ({"time": "2020-03-12T10:00:00"}, "l1.time", "no time zone"),
        ({"time": "2020-13-12T10:00:00Z"}, "l1.time", "ISO-8601"),
        ({"time": 1584007200}, "l1.time", "ISO-8601 instant string"),
        ({"time": "9999-01-01T00:00:00Z"}, "l1.time", "outside"),
        ({"time": "x" * 100}, "l1.time", "too long"),
        ({"asset": None}, "l1.asset", "must be a string"),
        ({"confidence": 1.01}, "l1.confidence", "between 0 and 1"),
        (
            {"forwards": {"27MAR20": 5100, "2020-03-27T08:00:00Z": 5100}},
            "l1.forwards.2020-03-27T08:00:00Z",
            "twice",
        ),
        ({"forwards": {"27MAR20": -5}}, "l1.forwards.2020-03-27T08:00:00Z", "positive"),
        ({"forwards": {"soon": 5}}, "l1.forwards.soon", "ISO-8601"),
        ({"forwards": [5]}, "l1.forwards", "JSON object"),
        ({"vol": "0.5"}, "l1.vol", "must be a number .flat vol.*got the string"),
        ({"vol": True}, "l1.vol", "must be a number .flat vol.*got a boolean"),
        ({"vols": {"27MAR20": {"flat": 0.5}}}, "l1.vols.2020-03-27T08:00:00Z", "smile"),
        (
            {"vols": {"27MAR20": {"smile": {"strikes": [1, "2"], "vols": [0.5, 0.5]}}}},
            "l1.vols.2020-03-27T08:00:00Z.smile.strikes[1]",
            "must be a number",
        ),
        (
            {"vols": {"27MAR20": {"smile": {"strikes": [1], "vols": [0.5], "k": 1}}}},
            "l1.vols.2020-03-27T08:00:00Z.smile.k",
            "unknown field",
        ),
        (
            {"vols": {"27MAR20": {"svi": {"a": 0.1, "b": 0.1, "rho": 0, "m": 0}}}},
            "l1.vols.2020-03-27T08:00:00Z.svi.sigma",
            "missing",
        ),
        (
            {"vols": {"27MAR20": {"svi": {"a": 0.1, "b": 0.1, "rho": 0, "m": 0, "sigma": None}}}},
            "l1.vols.2020-03-27T08:00:00Z.svi.sigma",
            "must be a number",
        ),
        ({"oracle": {"value": 1.0, "source": "x"}}, "l1.oracle.timestamp", "missing"),
        (
            {"oracle": {"value": 1.0, "source": "x", "timestamp": "2020-01-01T00:00:00Z", "q": 1}},
            "l1.oracle.q",
            "unknown field",
        ),
    ],
)
def test_market_object_refused(patch: dict[str, Any], path: str, message: str) -> None:
    obj = {**GOOD, **patch}
    with pytest.raises(InputError, match=message) as e:
        update_from_obj(obj, path="l1")
    assert e.value.path == path


@pytest.mark.parametrize("field", ["feed", "time", "asset"])
def test_market_object_missing_field(field: str) -> None:
    obj = {k: v for k, v in GOOD.items() if k != field}
    with pytest.raises(InputError, match="required field is missing") as e:
        update_from_obj(obj, path="l1")
    assert e.value.path == f"l1.{field}"


def test_not_an_object() -> None:
    for bad in ([1, 2], "market", 5, None):
        with pytest.raises(InputError, match="JSON object"):
            update_from_obj(bad, path="l9")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="missing"):
        update_from_obj({"feed": "f"}, path="l9")


def test_market_object_optional_seq() -> None:
    obj = {k: v for k, v in GOOD.items() if k != "seq"}
    u = update_from_obj(obj)
    assert isinstance(u, MarketUpdate) and u.seq is None


@pytest.mark.parametrize(
    ("obj", "path", "message"),
    [
        (
            {
                "type": "trade",
                "account": "a",
                "instrument": "BTC-PERP",
                "quantity": 0,
                "price": 1,
                "time": "2020-03-12T10:00:00Z",
            },
            "t.quantity",
            "zero",
        ),
        (
            {
                "type": "trade",
                "account": "a",
                "instrument": "BTC-PERP",
                "quantity": 1,
                "time": "2020-03-12T10:00:00Z",
            },
            "t.price",
            "missing",
        ),
        (
            {
                "type": "trade",
                "account": "a",
                "instrument": "BTC-XYZ-1",
                "quantity": 1,
                "price": 1,
                "time": "2020-03-12T10:00:00Z",
            },
            "t.instrument",
            "cannot parse",
        ),
        (
            {
                "type": "deposit",
                "account": "a",
                "asset": "USDC",
                "amount": -1,
                "time": "2020-03-12T10:00:00Z",
            },
            "t.amount",
            "positive",
        ),
        (
            {
                "type": "withdrawal",
                "account": "a",
                "asset": "USDC",
                "amount": "1",
                "time": "2020-03-12T10:00:00Z",
            },
            "t.amount",
            "must be a number",
        ),
        (
            {
                "type": "withdrawal",
                "account": "a",
                "asset": "USDC",
                "amount": 1,
                "time": "2020-03-12T10:00:00Z",
                "memo": "x",
            },
            "t.memo",
            "unknown field",
        ),
        (
            {
                "type": "account",
                "account": "a",
                "positions": [{"instrument": "BTC-PERP", "quantity": "1"}],
            },
            "t.time",
            "missing",
        ),
        (
            {
                "type": "account",
                "time": "2020-03-12T10:00:00Z",
                "account": "a",
                "positions": [{"instrument": "BTC-PERP", "quantity": "1"}],
            },
            "t.positions[0].quantity",
            "number",
        ),
        (
            {
                "type": "account",
                "time": "2020-03-12T10:00:00Z",
                "account": "a",
                "collateral": {"USDC": float("nan")},
            },
            "t.collateral.USDC",
            "finite",
        ),
        (
            {"type": "account", "time": "2020-03-12T10:00:00Z", "accounts": [{"account": "a"}]},
            "t.accounts",
            "unknown field",
        ),
    ],
)
def test_account_objects_refused(obj: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as e:
        update_from_obj(obj, path="t")
    assert e.value.path == path


def test_account_object() -> None:
    u = update_from_obj(
        {
            "type": "account",
            "time": "2020-03-12T10:00:00Z",
            "account": "a",
            "collateral": {"usdc": 1000},
            "positions": [{"instrument": "BTC-PERP", "quantity": 2, "entry_price": 5000}],
        }
    )
    assert isinstance(u, NewAccount)
    assert u.portfolio.collateral == {"USDC": 1000.0}
    assert u.portfolio.positions[0].contract == Perpetual("BTC")


def pyth(price: str = "500000000000", conf: str = "100000000", **kw: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "type": "pyth",
        "id": BTC_ID,
        "price": {"price": price, "conf": conf, "expo": -8, "publish_time": 1584007200},
    }
    rec.update(kw)
    return rec


def test_pyth_record() -> None:
    u = update_from_obj(pyth())
    assert isinstance(u, MarketUpdate)
    assert u.asset == "BTC" and u.feed == "pyth" and u.seq is None
    assert u.price == 5000.0 and u.confidence == pytest.approx(1 - 1.0 / 5000.0)
    assert u.time == datetime(2020, 3, 12, 10, 0, tzinfo=UTC)
    assert roundtrip(u) == u


def test_pyth_named_and_rate_feeds() -> None:
    other = "ab" * 32
    with pytest.raises(InputError, match="unknown pyth feed") as e:
        update_from_obj(pyth(id=other), path="p")
    assert e.value.path == "p.id"
    u = update_from_obj(pyth(id=other), pyth_ids={other: "ETH"})
    assert isinstance(u, MarketUpdate) and u.asset == "ETH"
    r = update_from_obj(pyth(id=other, asset="WSTETH/ETH@lido", price="120000000", conf="0"))
    assert isinstance(r, MarketUpdate) and r.price is None and r.oracle is not None
    assert r.asset == "WSTETH" and r.oracle.value == 1.2 and r.oracle.source == "lido"
    assert roundtrip(r) == r


def test_pyth_refused() -> None:
    with pytest.raises(MarketDataError, match="confidence interval"):
        update_from_obj(pyth(conf="50000000000"), path="p")
    with pytest.raises(InputError, match="positive") as e:
        update_from_obj(pyth(price="-1"), path="p")
    assert e.value.path == "p.price.price"
    bad = pyth()
    bad["price"]["publish_time"] = 1584007200000
    with pytest.raises(InputError, match="milliseconds"):
        update_from_obj(bad, path="p")
    bad["price"]["publish_time"] = 1.5
    with pytest.raises(InputError, match="float"):
        update_from_obj(bad, path="p")


def test_to_obj_refuses_non_updates() -> None:
    with pytest.raises(InputError, match="not an update"):
        update_to_obj("trade")  # type: ignore[arg-type]
