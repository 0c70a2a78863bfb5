"""Events of the live engine: hysteresis, stale feeds, gaps, refusals, the pre-trade check.

One account long 10 BTC-PERP against USDC: its equity and IM are linear in the perp mark ``m``
(``equity = c + q (m − e)``, ``IM = r q m``), so the prices where it crosses IM, and IM with the
recovery buffer, are solved from the engine's own numbers at two marks.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from crossmargin.config import RiskConfig, default_config
from crossmargin.instruments.naming import parse_instrument
from crossmargin.instruments.position import Portfolio, Position
from crossmargin.live.engine import LiveEngine
from crossmargin.live.events import hysteresis
from crossmargin.live.records import Deposit, MarketUpdate, NewAccount, Trade, Withdrawal
from crossmargin.live.settings import LiveSettings

from .streams import market

Q, ENTRY = 10.0, 65_000.0


def _engine(**kw: object) -> LiveEngine:
    snap = market()
    pf = Portfolio(
        "a", "USD", {"USDC": 125_000.0}, (Position(parse_instrument("BTC-PERP"), Q, ENTRY),)
    )
    other = Portfolio("b", "USD", {"USDC": 1e6}, (Position(parse_instrument("ETH-PERP"), 5.0),))
    settings = LiveSettings(revalue_every=3600.0, **kw)  # type: ignore[arg-type]
    return LiveEngine.open(market=snap, accounts=[pf, other], settings=settings)


class Ticker:
    """Numbered BTC ticks (price and perp mark together), one second apart."""

    def __init__(self, engine: LiveEngine) -> None:
        self.engine = engine
        self.seq = 0
        self.t = engine.market.as_of

    def __call__(self, mark: float, *, asset: str = "BTC", feed: str = "deribit", skip: int = 0):  # type: ignore[no-untyped-def]
        self.seq += 1 + skip
        self.t += timedelta(seconds=1)
        u = MarketUpdate(
            feed=feed, seq=self.seq, time=self.t, asset=asset, price=mark, perp_mark=mark
        )
        return self.engine.apply(u)


def _levels(
    engine: LiveEngine, tick: Ticker, buffer: float, *, maintenance: bool = False
) -> tuple[float, float]:
    """Perp marks where account ``a``'s equity = IM and = IM × (1 + buffer) (or the same for
    maintenance equity and MM)."""
    pts = []
    for m in (66_000.0, 67_000.0):
        tick(m)
        v = engine.account("a", detail=False)
        if maintenance:
            pts.append((m, v.maintenance_equity, v.maintenance_margin))
        else:
            pts.append((m, v.equity, v.initial_margin))
    (m1, e1, i1), (m2, _, i2) = pts
    r = (i2 - i1) / (Q * (m2 - m1))
    c = e1 - Q * (m1 - ENTRY)
    cross = (Q * ENTRY - c) / (Q * (1 - r))
    buffered = (Q * ENTRY - c) / (Q * (1 - (1 + buffer) * r))
    return cross, buffered


def test_hysteresis_no_flapping_and_recovery_with_buffer() -> None:
    engine = _engine(recovery_buffer=0.02)
    tick = Ticker(engine)
    cross, buffered = _levels(engine, tick, 0.02)
    assert cross < buffered
    lo, mid, top = cross * 0.997, (cross + buffered) / 2, buffered * 1.003
    kinds = []
    for m in (lo, mid, lo, mid, lo, mid):  # oscillates across IM, never clears the buffer
        kinds += [e.type for e in tick(m).events]
    assert kinds == ["margin_call"]
    assert engine.account("a", detail=False).status == "healthy"  # raw: above IM at mid
    assert engine.account("a", detail=False).reported_status == "margin_call"
    ev = tick(top).events
    assert [e.type for e in ev] == ["recovered"]
    assert ev[0].status_before == "margin_call" and ev[0].status_after == "healthy"


def test_hysteresis_hold_time() -> None:
    ok = np.asarray([0, 0, 0])
    rep, pend = hysteresis(
        np.asarray([1, 1, 1]),
        np.asarray([-1, 5, 0]),
        ok,
        equity=np.asarray([200.0, 200.0, 200.0]),
        m_equity=np.asarray([200.0, 200.0, 200.0]),
        im=np.asarray([100.0, 100.0, 100.0]),
        mm=np.asarray([80.0, 80.0, 80.0]),
        now_ns=10,
        buffer=0.0,
        hold_ns=8,
    )
    # first sighting starts the clock; 5 ns ago is not enough; 10 ns ago is
    assert rep.tolist() == [1, 1, 0]
    assert pend.tolist() == [10, 5, -1]


def test_event_fields_and_cause() -> None:
    engine = _engine()
    tick = Ticker(engine)
    cross, _ = _levels(engine, tick, 0.02)
    ack = tick(cross * 0.99)
    (ev,) = ack.events
    obj = ev.to_obj()
    assert obj["type"] == "margin_call" and obj["account"] == "a"
    assert obj["seq"] == ev.seq and obj["time"].endswith("Z")
    assert obj["status_before"] == "healthy" and obj["status_after"] == "margin_call"
    assert obj["equity"] < obj["im"] and obj["mm"] < obj["im"]
    assert obj["margin_ratio"] == pytest.approx(engine.account("a", detail=False).margin_ratio)
    cause = obj["cause"]
    assert cause["update_seq"] == ack.seq and cause["kind"] == "market"
    assert cause["underlying"] == "BTC" and cause["feed"] == "deribit"
    w = cause["worst_scenario"]
    assert w["underlying"] == "BTC" and w["loss"] > 0 and w["spot_move"] < 0
    assert engine.events_after(ev.seq - 1) == [ev]


def test_liquidation_and_bankrupt_events() -> None:
    engine = _engine()
    tick = Ticker(engine)
    cross, _ = _levels(engine, tick, 0.02, maintenance=True)
    kinds = [e.type for e in tick(cross * 0.99).events]
    assert kinds == ["liquidation"]
    kinds = [e.type for e in tick(cross * 0.8).events]
    assert kinds == ["bankrupt"]
    assert engine.account("a", detail=False).maintenance_equity < 0


def test_auto_liquidation_restores_the_account_and_conserves_money() -> None:
    engine = _engine(auto_liquidate="partial")
    tick = Ticker(engine)
    cross, _ = _levels(engine, tick, 0.02, maintenance=True)
    fund0 = engine.insurance_fund
    ev = tick(cross * 0.99).events
    kinds = [e.type for e in ev]
    assert kinds[0] == "liquidation" and "liquidation_trade" in kinds
    trade = next(e for e in ev if e.type == "liquidation_trade")
    assert trade.cause["action"] == "close" and trade.cause["instrument"] == "BTC-PERP"
    assert trade.cause["quantity"] < 0  # a long is sold
    view = engine.account("a", detail=False)
    assert view.status in ("healthy", "margin_call")
    (round_,) = engine.liquidations
    assert abs(round_["conservation_error"]) < 0.005  # type: ignore[arg-type]
    assert engine.insurance_fund >= fund0  # the fee went to the fund


def test_stale_feed_freezes_and_fresh_tick_thaws() -> None:
    engine = _engine(heartbeat={"deribit": 10.0})
    tick = Ticker(engine)
    tick(65_500.0)
    before = engine.account("a", detail=False)
    t = engine.now
    events = engine.advance_clock(t + timedelta(seconds=11))
    (stale,) = [e for e in events if e.type == "market_data_stale"]
    assert stale.cause["asset"] == "BTC" and stale.cause["accounts_frozen"] == 1
    assert engine.account("a", detail=False).frozen
    assert not engine.account("b", detail=False).frozen
    # a frozen account keeps its last margin and takes no new risk
    ack = engine.apply(Trade("a", "BTC-PERP", 1.0, 65_500.0, engine.now))
    assert not ack.accepted and "frozen" in (ack.reason or "")
    assert engine.account("a", detail=False).equity == before.equity
    ack = engine.apply(Deposit("a", "USDC", 10.0, engine.now))
    assert ack.accepted
    assert engine.account("a", detail=False).equity == before.equity
    # the feed comes back
    ev = tick(65_600.0).events
    assert "market_data_fresh" in [e.type for e in ev]
    view = engine.account("a", detail=False)
    assert not view.frozen and view.equity != before.equity


def test_feed_gap_duplicate_and_reordered() -> None:
    engine = _engine()
    tick = Ticker(engine)
    tick(65_100.0)
    ack = tick(65_200.0, skip=3)
    gap = [e for e in ack.events if e.type == "feed_gap"]
    assert ack.accepted and gap and gap[0].cause["missing"] == 3
    seq = engine.seq
    dup = MarketUpdate(feed="deribit", seq=tick.seq, time=tick.t, asset="BTC", price=1.0)
    ack = engine.apply(dup)
    assert not ack.accepted and "resent" in (ack.reason or "")
    assert engine.seq == seq + 1  # journaled, refused, state unchanged
    assert engine.market.assets["BTC"].price == 65_200.0


def test_pre_trade_check_and_withdrawals() -> None:
    engine = _engine()
    t = engine.now
    v = engine.account("a", detail=False)
    free = v.equity - v.initial_margin
    assert free > 0
    # a trade whose post-trade IM exceeds equity is refused; the state is unchanged
    big = Trade("a", "BTC-PERP", 5.0, 65_000.0, t, id="big")
    check = engine.whatif("a", [big])
    assert not check.accepted
    ack = engine.apply(big)
    assert not ack.accepted and "pre-trade" in (ack.reason or "")
    assert [e.type for e in ack.events] == ["input_refused"]
    assert engine.account("a", detail=False).initial_margin == v.initial_margin
    # a trade that reduces IM is accepted even if the account were short of margin
    small = Trade("a", "BTC-PERP", -2.0, 65_000.0, t, id="cut")
    check = engine.whatif("a", [small])
    assert check.accepted and check.after["initial_margin"] < check.before["initial_margin"]
    ack = engine.apply(small)
    assert ack.accepted
    after = engine.account("a", detail=False)
    assert after.initial_margin == pytest.approx(check.after["initial_margin"], rel=1e-12)
    # the same id again: acknowledged as the first, not applied twice
    again = engine.apply(small)
    assert again.seq == ack.seq and "duplicate" in (again.reason or "")
    assert engine.account("a", detail=False).initial_margin == after.initial_margin
    # withdrawals: beyond the free collateral, beyond the balance; then a fitting one
    free = after.equity - after.initial_margin
    ack = engine.apply(Withdrawal("a", "USDC", free * 1.5, t))
    assert not ack.accepted and "below the initial margin" in (ack.reason or "")
    ack = engine.apply(Withdrawal("a", "USDC", 1e9, t))
    assert not ack.accepted and "exceeds the balance" in (ack.reason or "")
    ack = engine.apply(Withdrawal("a", "USDC", free * 0.5, t))
    assert ack.accepted
    haircut = engine.config.haircut("USDC", base_currency="USD")
    assert haircut is not None
    per_unit = engine.market.price("USDC") * (1.0 - haircut.im)
    assert engine.account("a", detail=False).equity == pytest.approx(
        after.equity - free * 0.5 * per_unit, rel=1e-9
    )


def test_unknown_accounts_new_accounts_and_malformed_inputs() -> None:
    engine = _engine()
    t = engine.now
    ack = engine.apply(Deposit("nobody", "USDC", 1.0, t))
    assert not ack.accepted and ack.seq is not None and "unknown account" in (ack.reason or "")
    pf = Portfolio("c", "USD", {"USDC": 9_000.0}, (Position(parse_instrument("BTC-PERP"), 1.0),))
    ack = engine.apply(NewAccount(pf, t))
    assert ack.accepted and engine.has_account("c")
    assert [e.type for e in ack.events] == ["margin_call"]  # opened short of margin: reported
    ack = engine.apply(NewAccount(pf, t))
    assert not ack.accepted and "already exists" in (ack.reason or "")
    ack = engine.apply("not an update")  # type: ignore[arg-type]
    assert not ack.accepted and ack.seq is None


def test_sweep_reports_a_corrupted_incremental_state() -> None:
    engine = _engine()
    assert engine.sweep().ok
    engine._core.R["im"][0] *= 1.5
    report = engine.sweep()
    assert report.mismatches == ("a",)
    (ev,) = [e for e in report.events if e.type == "sweep_mismatch"]
    assert ev.account == "a" and ev.cause["kind"] == "sweep"
    assert engine.sweep().ok  # the sweep's numbers were adopted


def test_time_step_moves_the_valuation_instant() -> None:
    snap = market()
    pf = Portfolio(
        "o",
        "USD",
        {"USDC": 1e6},
        (Position(parse_instrument("BTC-27NOV26-65000-C"), -10.0),),
    )
    obj = default_config().model_dump()
    obj["market"]["max_age_seconds"] = 7 * 86400.0  # the snapshot's own prices stay usable
    engine = LiveEngine.open(
        market=snap,
        accounts=[pf],
        config=RiskConfig.model_validate(obj),
        settings=LiveSettings(revalue_every=600.0),
    )
    im0 = engine.account("o", detail=False).initial_margin
    engine.advance_clock(snap.as_of + timedelta(seconds=300))
    assert engine.market.as_of == snap.as_of  # within a step: no time decay yet
    engine.advance_clock(snap.as_of + timedelta(hours=12))
    assert engine.market.as_of == snap.as_of + timedelta(hours=12)
    assert engine.account("o", detail=False).initial_margin != im0
