"""A refused input names the field and the reason and leaves the engine's state unchanged.

Two kinds of refusal: a malformed record never reaches the engine (the record constructors and
the JSON decoder raise :class:`~crossmargin.errors.InputError` with the field's path; nothing is
journaled); a well-formed input that a rule refuses (pre-trade check, withdrawal check, unknown
account or asset, unusable market data, a resent feed message) is journaled — the refusal is
part of the history — and acknowledged with ``accepted=False``, a reason and the field, with
one ``input_refused`` event. In both cases the state digest (positions, balances, every
account's numbers and status, market, feeds, fund) is unchanged but for the journal and event
counters.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crossmargin._time import format_instant
from crossmargin.errors import InputError
from crossmargin.live.codec import update_from_obj
from crossmargin.live.engine import LiveEngine
from crossmargin.live.records import Deposit, MarketUpdate, Trade, Withdrawal
from crossmargin.live.settings import LiveSettings

from .test_engine_events import _engine

COUNTERS = ("seq", "event_seq")


def _state(engine: LiveEngine) -> dict[str, object]:
    d = engine.state_digest()
    return {k: v for k, v in d.items() if k not in COUNTERS}


def test_rule_refusals_name_the_field_and_change_nothing() -> None:
    engine = _engine()
    t = engine.now
    engine.apply(MarketUpdate(feed="deribit", seq=1, time=t, asset="BTC", price=65_000.0))
    cases = [
        (Trade("a", "BTC-PERP", 5.0, 65_000.0, t, id="big"), "quantity", "pre-trade check"),
        (Withdrawal("a", "USDC", 1e9, t), "amount", "exceeds the balance"),
        (Withdrawal("a", "USDC", 100_000.0, t), "amount", "below the initial margin"),
        (Deposit("nobody", "USDC", 1.0, t), "account", "unknown account"),
        (Trade("a", "DOGE-PERP", 1.0, 1.0, t), "assets.DOGE", "no market data for DOGE"),
        (
            MarketUpdate(feed="x", seq=1, time=t, asset="DOGE", perp_mark=1.0),
            "price",
            "first update needs a price",
        ),
        (
            MarketUpdate(feed="x", seq=2, time=t, asset="BTC", price=60_000.0, confidence=0.5),
            "confidence",
            "below the minimum",
        ),
        (
            MarketUpdate(feed="deribit", seq=1, time=t, asset="BTC", price=1.0),
            "seq",
            "resent",
        ),
    ]
    for u, path, reason in cases:
        before, seq = _state(engine), engine.seq
        ack = engine.apply(u)
        assert not ack.accepted, u
        assert ack.path == path and reason in (ack.reason or ""), (u, ack)
        assert ack.seq == seq + 1 and engine.seq == seq + 1  # journaled as refused
        assert _state(engine) == before, u
        if path != "seq":  # a resent feed message is refused without an event of its own
            (ev,) = ack.events
            assert ev.type == "input_refused" and ev.cause["path"] == path


@pytest.mark.parametrize(
    ("obj", "path"),
    [
        ({"type": "trade", "account": "a", "instrument": "BTC-PERP", "quantity": "5",
          "price": 65_000.0, "time": "2026-01-01T00:00:00Z"}, "t:3.quantity"),
        ({"type": "deposit", "account": "a", "asset": "USDC", "amount": -1.0,
          "time": "2026-01-01T00:00:00Z"}, "t:3.amount"),
        ({"type": "market", "feed": "f", "time": "2026-01-01T00:00:00", "asset": "BTC",
          "price": 1.0}, "t:3.time"),
        ({"type": "market", "feed": "f", "time": "2026-01-01T00:00:00Z", "asset": "BTC",
          "price": float("nan")}, "t:3.price"),
        ({"type": "withdrawal", "account": "a", "asset": "USDC", "amount": 1.0,
          "time": "2026-01-01T00:00:00Z", "memo": "x"}, "t:3.memo"),
    ],
)  # fmt: skip
def test_malformed_inputs_never_reach_the_engine(obj: dict[str, object], path: str) -> None:
    engine = _engine()
    before, seq = _state(engine), engine.seq
    with pytest.raises(InputError) as exc:
        engine.apply(update_from_obj(obj, path="t:3"))
    assert exc.value.path == path
    assert engine.seq == seq and _state(engine) == before


def test_a_record_built_in_code_is_checked_too() -> None:
    engine = _engine()
    with pytest.raises(InputError) as exc:
        Trade("a", "BTC-PERP", 0.0, 65_000.0, engine.now)
    assert exc.value.path == "quantity"
    with pytest.raises(InputError) as exc:
        MarketUpdate(feed="f", seq=1, time=engine.now + timedelta(0), asset="BTC", price=-1.0)
    assert exc.value.path == "price"


def test_a_future_stamped_tick_is_refused_and_the_clock_stays() -> None:
    """A tick stamped beyond ``max_clock_jump`` after the engine and wall clocks is refused at
    the edge (path ``time``, nothing journaled, state unchanged): accepting it would move the
    engine clock a day ahead and every feed would then look silent (accounts frozen)."""
    engine = _engine()
    t = engine.now
    engine.apply(MarketUpdate(feed="deribit", seq=1, time=t, asset="BTC", price=65_000.0))
    jump = engine._core.settings.max_clock_jump
    assert jump is not None and 0 < jump < 60
    ahead = max(t, datetime.now(UTC)) + timedelta(days=1)
    before, seq, now = _state(engine), engine.seq, engine.now
    ack = engine.apply(MarketUpdate(feed="deribit", seq=2, time=ahead, asset="BTC", price=1.0))
    assert not ack.accepted and ack.path == "time" and ack.seq is None
    assert format_instant(ahead) in (ack.reason or "") and "ahead" in (ack.reason or "")
    assert engine.seq == seq and engine.now == now and _state(engine) == before
    assert not engine.stale_assets
    # within the limit (the feed's next message, slightly ahead of the engine clock): accepted
    near = t + timedelta(seconds=jump / 2)
    ack = engine.apply(MarketUpdate(feed="deribit", seq=2, time=near, asset="BTC", price=65_100.0))
    assert ack.accepted and engine.now == near


def test_the_clock_jump_limit_is_configurable() -> None:
    for limit, accepted in ((None, True), (3 * 3600.0, True), (60.0, False)):
        engine = _engine(max_clock_jump=limit)
        far = max(engine.now, datetime.now(UTC)) + timedelta(hours=2)
        ack = engine.apply(MarketUpdate(feed="f", seq=1, time=far, asset="BTC", price=65_000.0))
        assert ack.accepted is accepted, (limit, ack)
    with pytest.raises(InputError) as exc:
        LiveSettings(max_clock_jump=-1.0)
    assert exc.value.path == "max_clock_jump"
    assert LiveSettings.from_obj(LiveSettings(max_clock_jump=9.0).to_obj()).max_clock_jump == 9.0
