"""Events: gapless seqs, per-account reads, waiting for new events (threads and asyncio)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from crossmargin.errors import InputError
from crossmargin.store import AsyncStore, Store


def test_events_are_numbered_filtered_and_paged(store: Store) -> None:
    assert store.events_after(0) == [] and store.last_event_seq() == 0
    assert store.last_event_cause() == 0
    seqs = [
        store.append_event(
            "margin_call" if i % 2 else "liquidation",
            {"i": i, "equity": 100.25 - i},
            account=f"a{i % 3}",
            cause_seq=i + 1,
            time_ns=1_000 + i,
        )
        for i in range(30)
    ]
    assert seqs == list(range(1, 31))
    venue = store.append_event("market_data_stale", {"feed": "pyth"})
    assert venue == 31
    allev = store.events_after(0)
    assert [e.seq for e in allev] == list(range(1, 32))
    assert allev[4].data() == {"i": 4, "equity": 96.25}
    assert (allev[4].type, allev[4].account, allev[4].cause_seq, allev[4].time_ns) == (
        "liquidation",
        "a1",
        5,
        1004,
    )
    assert allev[-1].account is None and allev[-1].cause_seq is None
    assert [e.seq for e in store.events_after(25)] == list(range(26, 32))
    assert [e.seq for e in store.events_after(0, limit=3)] == [1, 2, 3]
    a2 = store.events_after(0, account="a2")
    assert [e.data()["i"] for e in a2] == [i for i in range(30) if i % 3 == 2]
    calls = store.events_after(10, account="a1", types=["margin_call"])
    assert [e.data()["i"] for e in calls] == [i for i in range(10, 30) if i % 3 == 1 and i % 2]
    assert [e.seq for e in store.iter_events(0)] == list(range(1, 32))
    assert store.last_event_seq() == 31
    assert store.last_event_cause() == 30  # the newest event that has a cause


def test_events_and_records_commit_together(store: Store) -> None:
    rec = store.record("trade", {"q": 1}, account="a")
    ev = store.event("margin_call", {"q": 1}, account="a", cause_seq=1)
    receipt = store.submit([rec], [ev]).result(timeout=10)
    assert (receipt.journal_seqs, receipt.event_seqs) == ((1,), (1,))
    assert store.append_events([store.event("x", {}), store.event("y", {})]).event_seqs == (2, 3)


def test_wait_events_wakes_on_an_append_from_another_thread(store: Store) -> None:
    assert store.wait_events(0, timeout=0.05) == []

    def later() -> None:
        time.sleep(0.2)
        store.append_event("liquidation", {"k": 1}, account="a")

    t = threading.Thread(target=later)
    t.start()
    got = store.wait_events(0, account="a", timeout=60)  # returns as soon as the event exists
    t.join()
    assert [e.type for e in got] == ["liquidation"]


def test_wait_events_sees_events_of_another_process_by_polling(store_url: str) -> None:
    with Store.open(store_url) as reader, Store.open(store_url) as writer:

        def later() -> None:
            time.sleep(0.2)
            writer.append_event("recovered", {}, account="b")

        t = threading.Thread(target=later)
        t.start()
        got = reader.wait_events(0, timeout=20)
        t.join()
        assert [e.type for e in got] == ["recovered"]


def test_async_wait_events_and_appends(store: Store) -> None:
    astore = AsyncStore(store)

    async def main() -> tuple[list[int], list[str]]:
        waiter = asyncio.create_task(astore.wait_events(0, account="x", timeout=20))
        await asyncio.sleep(0.1)
        assert not waiter.done()
        await astore.append_event("other", {}, account="y")
        seq = await astore.append_event("margin_call", {"e": 1}, account="x")
        got = await waiter
        page = await astore.events_after(0)
        return [seq], [e.type for e in got] + [e.type for e in page]

    seqs, types = asyncio.run(main())
    assert seqs == [2]
    assert types == ["margin_call", "other", "margin_call"]
    assert asyncio.run(astore.wait_events(5, timeout=0.05)) == []


BAD_EVENTS = [
    ({"type": "", "body": {}}, "event.type"),
    ({"type": "t", "body": "[]"}, "event.body"),
    ({"type": "t", "body": {}, "cause_seq": -3}, "event.cause_seq"),
    ({"type": "t", "body": {}, "time_ns": "now"}, "event.time_ns"),
    ({"type": "t", "body": {}, "account": ""}, "event.account"),
]


def test_bad_events_name_the_field(store: Store) -> None:
    for kwargs, path in BAD_EVENTS:
        with pytest.raises(InputError) as err:
            store.append_event(**kwargs)  # type: ignore[arg-type]
        assert err.value.path == path, kwargs
    assert store.last_event_seq() == 0
