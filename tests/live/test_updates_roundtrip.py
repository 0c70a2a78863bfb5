"""update_from_obj(update_to_obj(u)) == u for every valid update (the journal's contract)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from crossmargin.instruments.contracts import Future, Option, Perpetual, Spot
from crossmargin.instruments.position import Portfolio, Position
from crossmargin.live.updates import (
    Deposit,
    MarketUpdate,
    NewAccount,
    Trade,
    Update,
    Withdrawal,
    update_from_obj,
    update_to_obj,
)
from crossmargin.market.snapshot import OracleRecord
from crossmargin.market.vol import FlatVol, SmileVol, SVIVol

zones = st.builds(timezone, st.integers(-14 * 60, 14 * 60).map(lambda m: timedelta(minutes=m)))
times = st.datetimes(
    min_value=datetime(1901, 1, 1), max_value=datetime(2198, 12, 31), timezones=zones
)
utc_times = st.datetimes(
    min_value=datetime(1901, 1, 1), max_value=datetime(2198, 12, 31), timezones=st.just(UTC)
)
positive = st.floats(min_value=1e-9, max_value=1e15, allow_nan=False, allow_infinity=False)
unit = st.floats(min_value=0.0, max_value=1.0)
vol = st.floats(min_value=1e-4, max_value=10.0)
symbols = st.from_regex(r"[A-Z][A-Z0-9]{0,5}", fullmatch=True)
texts = st.text(
    st.characters(min_codepoint=33, max_codepoint=0x2FFF, categories=["L", "N", "P", "S"]),
    min_size=1,
    max_size=20,
)


@st.composite
def smiles(draw: Any) -> SmileVol:
    ks = sorted(set(draw(st.lists(positive, min_size=1, max_size=6))))
    vs = draw(st.lists(vol, min_size=len(ks), max_size=len(ks)))
    return SmileVol(tuple(ks), tuple(vs))


@st.composite
def svis(draw: Any) -> SVIVol:
    b = draw(st.floats(min_value=0.0, max_value=2.0))
    rho = draw(st.floats(min_value=-0.99, max_value=0.99))
    sigma = draw(st.floats(min_value=1e-3, max_value=2.0))
    floor = -b * sigma * (1.0 - rho * rho) ** 0.5
    a = draw(st.floats(min_value=0.0, max_value=1.0)) + floor * 0.999
    fwd = draw(st.none() | positive)
    t = draw(st.none() | st.floats(min_value=1e-4, max_value=30.0))
    return SVIVol(a, b, rho, draw(st.floats(min_value=-2, max_value=2)), sigma, fwd, t)


surfaces = st.one_of(vol.map(FlatVol), smiles(), svis())


@st.composite
def market_updates(draw: Any) -> MarketUpdate:
    price = draw(st.none() | positive)
    vols: dict[datetime | None, Any] = {}
    if draw(st.booleans()):
        vols[None] = FlatVol(draw(vol))
    for t in draw(st.lists(utc_times, max_size=3, unique=True)):
        vols[t] = draw(surfaces)
    oracle = draw(
        st.none() | st.builds(OracleRecord, positive, times, unit, texts, st.none() | positive)
    )
    perp = draw(st.none() | positive)
    forwards = draw(st.dictionaries(utc_times, positive, max_size=3))
    if price is None and perp is None and not forwards and not vols and oracle is None:
        price = 1.0
    return MarketUpdate(
        feed=draw(texts),
        seq=draw(st.none() | st.integers(0, 2**63 - 1)),
        time=draw(times),
        asset=draw(symbols),
        price=price,
        confidence=None if price is None else draw(st.none() | unit),
        perp_mark=perp,
        forwards=forwards,
        vols=vols,
        oracle=oracle,
    )


@st.composite
def contracts(draw: Any) -> Any:
    und = draw(symbols)
    settle = draw(st.sampled_from(["linear", "inverse"]))
    mult = draw(st.sampled_from([1.0, 10.0, 100.0, 0.001, 1e-5]))
    kind = draw(st.sampled_from(["spot", "perp", "future", "option"]))
    expiry = draw(
        utc_times.map(lambda t: t.replace(hour=8, minute=0, second=0, microsecond=0)) | utc_times
    )
    if kind == "spot":
        return Spot(und, settle, mult)
    if kind == "perp":
        return Perpetual(und, settle, mult)
    if kind == "future":
        return Future(und, expiry, settle, mult)
    strike = draw(st.sampled_from([1.0, 6000.0, 0.5, 1e-5, 123.456]) | positive)
    return Option(und, expiry, strike, draw(st.sampled_from(["call", "put"])), settle, mult)


finite = st.floats(min_value=-1e15, max_value=1e15)


@st.composite
def portfolios(draw: Any) -> Portfolio:
    positions = draw(
        st.lists(st.builds(Position, contracts(), finite, st.none() | positive), max_size=4)
    )
    collateral = draw(st.dictionaries(symbols, finite, max_size=3))
    return Portfolio(draw(texts), draw(symbols), collateral, tuple(positions))


names = st.sampled_from(
    ["BTC-PERP", "ETH-SPOT", "BTC-27MAR20", "BTC-27MAR20-6000-P", "SPX-20MAR20-2500.5-C-X100"]
)
nonzero = finite.filter(lambda x: x != 0.0)
ids = st.none() | texts
updates: st.SearchStrategy[Update] = st.one_of(
    market_updates(),
    st.builds(Trade, texts, names, nonzero, positive, times, ids),
    st.builds(Deposit, texts, symbols, positive, times, ids),
    st.builds(Withdrawal, texts, symbols, positive, times, ids),
    st.builds(NewAccount, portfolios(), times),
)


@given(updates)
def test_roundtrip_exact(u: Update) -> None:
    obj = update_to_obj(u)
    text = json.dumps(obj, allow_nan=False)  # strict JSON: no NaN/Infinity
    back = update_from_obj(json.loads(text))
    assert back == u
    assert update_to_obj(back) == obj  # and the canonical form is a fixed point


@given(utc_times)
def test_fast_iso_is_format_instant(t: datetime) -> None:
    from crossmargin._time import format_instant
    from crossmargin.live.records import iso

    assert iso(t) == format_instant(t)
