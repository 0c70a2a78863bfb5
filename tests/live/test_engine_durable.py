"""Durability of the live engine on SQLite and on a real PostgreSQL 15.

* a closed engine reopens where it stopped, and the rest of the stream gives the state and the
  events of an uninterrupted in-memory run;
* an engine that stops without closing (its last snapshot behind) is recovered from snapshot +
  journal to the same state, events not stored twice;
* every input acknowledged is in the journal, with the engine's numbering.

The kill -9 test (a real crash of a subprocess) is ``test_engine_crash.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crossmargin.live.engine import LiveEngine
from crossmargin.live.settings import LiveSettings
from crossmargin.store import Store

from .streams import feed, stream, venue

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database of each backend."""
    if request.param == "sqlite":
        return str(tmp_path / "live.db")
    cluster = request.getfixturevalue("postgres_cluster")
    return str(cluster.create_database("live"))


def _reference(items: list[object]) -> tuple[list[dict[str, object]], dict[str, object]]:
    v = venue(20, seed=4)
    engine = LiveEngine.open(
        market=v.market, accounts=v.book, settings=LiveSettings(auto_liquidate="partial")
    )
    events = [e.to_obj() for es in feed(engine, items) for e in es]  # type: ignore[arg-type]
    return events, engine.state_digest()


def _open(db: str, **kw: object) -> LiveEngine:
    v = venue(20, seed=4)
    settings = LiveSettings(auto_liquidate="partial", **kw)  # type: ignore[arg-type]
    return LiveEngine.open(market=v.market, accounts=v.book, store_url=db, settings=settings)


def _stored_events(db: str) -> list[dict[str, object]]:
    with Store.open(db) as store:
        return [e.data() for e in store.iter_events()]


def test_close_and_resume(db: str) -> None:
    v = venue(20, seed=4)
    items = stream(v, 160, seed=6, crash=0.4, vol=0.015)
    ref_events, ref_state = _reference(items)
    first = _open(db, snapshot_every=40)
    events = [e.to_obj() for es in feed(first, items[:90]) for e in es]
    first.close()
    second = _open(db, snapshot_every=40)
    assert second.seq == first.seq
    events += [e.to_obj() for es in feed(second, items[90:]) for e in es]
    state = second.state_digest()
    second.close()
    assert events == ref_events
    assert state == ref_state
    assert _stored_events(db) == ref_events


def test_recovery_after_an_unclean_stop(db: str) -> None:
    v = venue(20, seed=4)
    items = stream(v, 160, seed=6, crash=0.4, vol=0.015)
    ref_events, ref_state = _reference(items)
    engine = _open(db, snapshot_every=23)
    feed(engine, items[:131])
    before = engine.state_digest()
    engine._store.close()
    engine._closed = True
    recovered = _open(db, snapshot_every=23)
    assert recovered.state_digest() == before
    feed(recovered, items[131:])
    assert recovered.state_digest() == ref_state
    recovered.close()
    assert _stored_events(db) == ref_events  # none lost, none twice


def test_every_acknowledged_input_is_journaled(tmp_path: Path) -> None:
    db = str(tmp_path / "j.db")
    v = venue(10, seed=2)
    items = [it for it in stream(v, 60, seed=1) if not hasattr(it, "tzinfo")]
    engine = LiveEngine.open(market=v.market, accounts=v.book, store_url=db)
    acks = engine.apply_many(items)  # type: ignore[arg-type]
    engine.close()
    with Store.open(db) as store:
        journal = list(store.journal_after(0))
    assert [a.seq for a in acks] == [r.seq for r in journal] == list(range(1, len(items) + 1))
    assert [r.kind for r in journal] == [
        {"MarketUpdate": "market", "Trade": "trade", "Deposit": "deposit"}.get(
            type(u).__name__,
            {"Withdrawal": "withdrawal", "NewAccount": "account"}.get(type(u).__name__, "?"),
        )
        for u in items
    ]


def test_resume_refuses_another_model(tmp_path: Path) -> None:
    db = str(tmp_path / "m.db")
    v = venue(5, seed=2)
    LiveEngine.open(market=v.market, accounts=v.book, store_url=db).close()
    from crossmargin.errors import ConfigError

    with pytest.raises(ConfigError, match="portfolio"):
        LiveEngine.open(market=v.market, store_url=db, model="cross")
