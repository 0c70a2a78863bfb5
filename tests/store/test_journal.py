"""Journal: durable appends, gapless sequence, group commit, filters, idempotency, bad input."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from crossmargin.errors import InputError, StoreError
from crossmargin.store import AsyncStore, NewEvent, NewRecord, Receipt, Store


def test_append_returns_increasing_seqs_and_reads_back_verbatim(store: Store) -> None:
    assert store.last_seq() == 0
    assert store.append("market", {"asset": "BTC", "spot": 65000.5}, source="pyth") == 1
    text = '{"asset": "ETH",  "spot": 3000.10, "z": 1e-7, "a": [1, 2]}'
    assert store.append("market", text, source="pyth", received_ns=123) == 2
    assert store.append("trade", {"qty": -2}, account="acc-1", source="api") == 3
    recs = list(store.journal_after(0))
    assert [r.seq for r in recs] == [1, 2, 3]
    assert recs[0].payload == '{"asset":"BTC","spot":65000.5}'
    assert recs[1].payload == text  # exact text: spacing, key order, number spelling
    assert recs[1].received_ns == 123
    assert recs[1].received_at.year == 1970
    assert recs[2].data() == {"qty": -2}
    assert (recs[2].kind, recs[2].source, recs[2].account) == ("trade", "api", "acc-1")
    assert store.last_seq() == 3


def test_journal_after_pages_limits_and_filters(store_url: str) -> None:
    from crossmargin.store import StoreConfig

    with Store.open(store_url, config=StoreConfig(page_size=7)) as store:
        recs = [
            store.record(
                ["market", "trade", "deposit"][i % 3],
                {"i": i},
                account=None if i % 3 == 0 else f"a{i % 4}",
            )
            for i in range(100)
        ]
        receipt = store.append_many(recs)
        assert receipt.journal_seqs == tuple(range(1, 101))
        assert [r.seq for r in store.journal_after(0)] == list(range(1, 101))
        assert [r.seq for r in store.journal_after(95)] == [96, 97, 98, 99, 100]
        assert [r.seq for r in store.journal_after(10, limit=15)] == list(range(11, 26))
        assert list(store.journal_after(100)) == []
        assert list(store.journal_after(3, limit=0)) == []
        trades = [r.seq for r in store.journal_after(0, kinds=["trade"])]
        assert trades == [i + 1 for i in range(100) if i % 3 == 1]
        both = [r.seq for r in store.journal_after(50, kinds={"trade", "deposit"}, limit=10)]
        assert both == [i + 1 for i in range(50, 100) if i % 3 != 0][:10]
        a1 = [r.data()["i"] for r in store.journal_after(0, account="a1")]
        assert a1 == [i for i in range(100) if i % 3 and i % 4 == 1]
        assert [r.seq for r in store.journal_after(0, kinds=["trade"], account="a2")] == [
            i + 1 for i in range(100) if i % 3 == 1 and i % 4 == 2
        ]


def test_concurrent_appenders_are_group_committed_gapless_and_in_caller_order(
    store: Store,
) -> None:
    n_threads, per_thread = 16, 60
    acks: dict[int, list[int]] = {t: [] for t in range(n_threads)}
    start = threading.Barrier(n_threads)

    def producer(t: int) -> None:
        start.wait()
        for i in range(per_thread):
            acks[t].append(store.append("trade", {"t": t, "i": i}, account=f"a{t}"))

    threads = [threading.Thread(target=producer, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    total = n_threads * per_thread
    recs = list(store.journal_after(0))
    assert [r.seq for r in recs] == list(range(1, total + 1))
    by_seq = {r.seq: r.data() for r in recs}
    for t, seqs in acks.items():
        assert seqs == sorted(seqs)  # one caller's appends keep their order
        assert [by_seq[s] for s in seqs] == [{"t": t, "i": i} for i in range(per_thread)]
    stats = store.stats()
    assert stats["rows"] == total
    assert stats["batches"] < total  # several callers shared transactions


def test_pipelined_submits_from_one_thread_are_batched(store: Store) -> None:
    futures = [store.submit([store.record("market", {"i": i})]) for i in range(500)]
    seqs = [f.result(timeout=30).journal_seqs[0] for f in futures]
    assert seqs == list(range(1, 501))
    assert store.stats()["batches"] < 500


def test_a_call_is_atomic_and_never_split_across_transactions(store_url: str) -> None:
    from crossmargin.store import StoreConfig

    with Store.open(store_url, config=StoreConfig(max_batch=3)) as store:
        big = [store.record("market", {"i": i}) for i in range(10)]
        ev = [store.event("feed_gap", {"i": i}) for i in range(2)]
        receipt = store.submit(big, ev).result()
        assert receipt.journal_seqs == tuple(range(1, 11))
        assert receipt.event_seqs == (1, 2)
        assert store.stats()["batches"] == 1


def test_idempotency_key_makes_retries_safe(store: Store) -> None:
    first = store.append("trade", {"q": 1}, idempotency_key="req-1")
    again = store.append("trade", {"q": 1}, idempotency_key="req-1")
    assert first == again == 1
    receipt = store.append_many(
        [
            store.record("trade", {"q": 2}, idempotency_key="req-2"),
            store.record("trade", {"q": 1}, idempotency_key="req-1"),
            store.record("trade", {"q": 2}, idempotency_key="req-2"),
            store.record("trade", {"q": 3}),
        ]
    )
    assert receipt.journal_seqs == (2, 1, 2, 3)
    assert receipt.duplicate == (False, True, True, False)
    assert [r.idempotency_key for r in store.journal_after(0)] == ["req-1", "req-2", None]


def test_vouched_new_keys_are_written_unlooked_and_a_repeat_fails_whole(store: Store) -> None:
    store.append("trade", {"q": 0}, idempotency_key="k0")
    recs = [
        NewRecord.encoded(
            "trade", f'{{"q":{i}}}', source="s", account="a", idempotency_key=f"k{i}",
            received_ns=5,
        )
        for i in (1, 2)
    ]  # fmt: skip
    receipt = store.submit(recs, new_keys=True).result()
    assert receipt.journal_seqs == (2, 3) and receipt.duplicate == (False, False)
    # written with their keys: an ordinary retry finds them
    assert store.append("trade", {"q": 1}, idempotency_key="k1") == 2
    # a vouched call that repeats a key fails whole (the unique index) and writes nothing
    bad = [*recs[:1], store.record("trade", {"q": 9}, idempotency_key="k9")]
    with pytest.raises(StoreError):
        store.submit(bad[::-1], new_keys=True).result()
    assert [r.idempotency_key for r in store.journal_after(0)] == ["k0", "k1", "k2"]
    assert [r.payload for r in store.journal_after(1)] == ['{"q":1}', '{"q":2}']


def test_encoded_record_checks_names_time_and_size() -> None:
    ok = NewRecord.encoded(
        "t", '{"a":1}', source="s", account=None, idempotency_key=None, received_ns=1
    )
    assert ok == NewRecord("t", {"a": 1}, source="s", received_ns=1)
    for kw, path in (
        ({"source": ""}, "record.source"),
        ({"account": "x" * 200}, "record.account"),
        ({"received_ns": -1}, "record.received_ns"),
        ({"max_payload_bytes": 3}, "record.payload"),
    ):
        args: dict[str, object] = {
            "source": "s", "account": None, "idempotency_key": None, "received_ns": 1, **kw
        }  # fmt: skip
        with pytest.raises(InputError) as err:
            NewRecord.encoded("t", '{"a":1}', **args)  # type: ignore[arg-type]
        assert err.value.path == path


def test_async_appenders_share_transactions(store: Store) -> None:
    astore = AsyncStore(store)

    async def main() -> list[int]:
        return await asyncio.gather(
            *(astore.append("trade", {"i": i}, account="a") for i in range(300))
        )

    seqs = asyncio.run(main())
    assert sorted(seqs) == list(range(1, 301))
    assert store.stats()["batches"] < 300
    page = asyncio.run(astore.journal_after(0, limit=5))
    assert [r.seq for r in page] == [1, 2, 3, 4, 5]
    assert asyncio.run(astore.last_seq()) == 300


def test_a_failing_call_does_not_fail_its_batch_neighbours(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = store._writer
    real = writer._write
    gate = threading.Event()

    def flaky(batch):  # type: ignore[no-untyped-def]
        gate.wait(10)
        if any(r.kind == "poison" for p in batch for r in p.records):
            raise StoreError("disk on fire", path="store")
        return real(batch)

    monkeypatch.setattr(writer, "_write", flaky)
    with ThreadPoolExecutor(8) as pool:
        futs = [
            pool.submit(store.append, "poison" if i == 3 else "trade", {"i": i}) for i in range(8)
        ]
        gate.set()
        outcomes = []
        for f in futs:
            try:
                outcomes.append(f.result(timeout=30))
            except StoreError as exc:
                outcomes.append(exc)
    failed = [o for o in outcomes if isinstance(o, StoreError)]
    assert len(failed) == 1 and "disk on fire" in str(failed[0])
    assert isinstance(outcomes[3], StoreError)
    assert sorted(o for o in outcomes if isinstance(o, int)) == list(range(1, 8))
    assert sorted(r.data()["i"] for r in store.journal_after(0)) == [0, 1, 2, 4, 5, 6, 7]


def test_cancelled_submission_is_not_written(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    gate = threading.Event()
    real = store._writer._write

    def slow(batch):  # type: ignore[no-untyped-def]
        gate.wait(10)
        return real(batch)

    monkeypatch.setattr(store._writer, "_write", slow)
    first = store.submit([store.record("trade", {"i": 0})])  # taken by the writer, blocked
    second = store.submit([store.record("trade", {"i": 1})])
    assert second.cancel()
    gate.set()
    assert first.result(timeout=10).journal_seqs == (1,)
    assert [r.data() for r in store.journal_after(0)] == [{"i": 0}]


BAD_RECORDS = [
    ({"kind": "", "payload": {}}, "record.kind"),
    ({"kind": "x" * 65, "payload": {}}, "record.kind"),
    ({"kind": "bad\nkind", "payload": {}}, "record.kind"),
    ({"kind": "t", "payload": [1, 2]}, "record.payload"),
    ({"kind": "t", "payload": "[1, 2]"}, "record.payload"),
    ({"kind": "t", "payload": "{bad json"}, "record.payload"),
    ({"kind": "t", "payload": '{"x": NaN}'}, "record.payload"),
    ({"kind": "t", "payload": '{"x": 1e400}'}, "record.payload"),
    ({"kind": "t", "payload": {"x": float("nan")}}, "record.payload"),
    ({"kind": "t", "payload": {"x": object()}}, "record.payload"),
    ({"kind": "t", "payload": {"x": "\ud800"}}, "record.payload"),
    ({"kind": "t", "payload": b"\xff\xfe"}, "record.payload"),
    ({"kind": "t", "payload": {"x": "y" * 2_000_000}}, "record.payload"),
    ({"kind": "t", "payload": {}, "source": ""}, "record.source"),
    ({"kind": "t", "payload": {}, "account": 5}, "record.account"),
    ({"kind": "t", "payload": {}, "received_ns": -1}, "record.received_ns"),
    ({"kind": "t", "payload": {}, "received_ns": 1.5}, "record.received_ns"),
    ({"kind": "t", "payload": {}, "idempotency_key": "k" * 200}, "record.idempotency_key"),
]


def test_bad_records_are_refused_naming_the_field_and_nothing_is_written(store: Store) -> None:
    for kwargs, path in BAD_RECORDS:
        with pytest.raises(InputError) as err:
            store.append(**kwargs)  # type: ignore[arg-type]
        assert err.value.path == path, kwargs
    assert store.last_seq() == 0


def test_bad_read_arguments(store: Store) -> None:
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(InputError, match="after"):
            store.journal_after(bad)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        store.journal_after(0, limit=-1)
    with pytest.raises(InputError):
        store.journal_after(0, kinds="trade")
    with pytest.raises(InputError):
        store.submit(["not a record"])  # type: ignore[list-item]


def test_non_ascii_payload_text_round_trips(store: Store) -> None:
    payload = {"account": "Zürich-台北", "emoji": "\U0001f4c8", "nul": "a\x00b", "esc": '"\\'}
    seq = store.append("account", payload, account="Zürich-台北")
    (rec,) = store.journal_after(seq - 1)
    assert rec.data() == payload
    assert json.loads(rec.payload) == payload
    assert [r.seq for r in store.journal_after(0, account="Zürich-台北")] == [seq]


def test_closed_store_refuses_work(store_url: str) -> None:
    store = Store.open(store_url)
    store.append("x", {})
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        store.append("x", {})
    with pytest.raises(StoreError, match="closed"):
        store.last_seq()


def test_close_commits_what_was_queued(store_url: str) -> None:
    store = Store.open(store_url)
    futs = [store.submit([store.record("x", {"i": i})]) for i in range(200)]
    store.close()
    assert all(f.done() and not f.exception() for f in futs)
    with Store.open(store_url) as again:
        assert again.last_seq() == 200


def test_two_stores_on_one_database_keep_the_journal_gapless(store_url: str) -> None:
    with Store.open(store_url) as one, Store.open(store_url) as two:

        def run(s: Store, tag: str) -> list[int]:
            return [s.append("x", {"w": tag, "i": i}) for i in range(100)]

        with ThreadPoolExecutor(2) as pool:
            a, b = pool.map(run, (one, two), ("one", "two"))
        assert sorted(a + b) == list(range(1, 201))
        assert [r.seq for r in one.journal_after(0)] == list(range(1, 201))


def test_new_record_and_event_values(store: Store) -> None:
    rec = NewRecord("trade", '{"a":1}', account="x")
    assert rec.payload == '{"a":1}' and rec.source == "-"
    ev = NewEvent("margin_call", {"b": 2}, account="x", cause_seq=1)
    assert ev.body == '{"b":2}'
    with pytest.raises(InputError, match="cause_seq"):
        NewEvent("t", {}, cause_seq=0)


def test_async_appends_of_one_loop_iteration_are_coalesced_and_split_back(store: Store) -> None:
    astore = AsyncStore(store)

    async def one(i: int) -> Receipt:
        recs = [
            store.record("trade", {"i": i, "leg": leg}, idempotency_key=f"k{i % 7}-{leg}")
            for leg in range(2)
        ]
        evs = [store.event("margin_call", {"i": i})] if i % 3 == 0 else []
        return await astore.submit(recs, evs)

    async def main() -> list[Receipt]:
        return await asyncio.gather(*(one(i) for i in range(60)))

    receipts = asyncio.run(main())
    assert store.stats()["batches"] <= 3  # one coalesced call per loop iteration
    recs = {r.seq: r.data() for r in store.journal_after(0)}
    assert sorted(recs) == list(range(1, 15))  # 7 distinct keys x 2 legs
    evs = {e.seq: e.data() for e in store.iter_events(0)}
    for i, receipt in enumerate(receipts):
        assert len(receipt.journal_seqs) == 2 and len(receipt.duplicate) == 2
        assert [recs[s]["leg"] for s in receipt.journal_seqs] == [0, 1]
        assert receipt.duplicate == ((i >= 7),) * 2  # the first of each key wrote it
        assert [evs[s] for s in receipt.event_seqs] == ([{"i": i}] if i % 3 == 0 else [])


def test_async_failing_call_is_isolated_and_cancelled_call_not_written(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    astore = AsyncStore(store)
    real = store._writer._write

    def flaky(batch):  # type: ignore[no-untyped-def]
        if any(r.kind == "poison" for p in batch for r in p.records):
            raise StoreError("disk on fire", path="store")
        return real(batch)

    monkeypatch.setattr(store._writer, "_write", flaky)

    async def main() -> list[object]:
        tasks = [
            asyncio.ensure_future(astore.append("poison" if i == 4 else "trade", {"i": i}))
            for i in range(10)
        ]
        tasks[7].cancel()  # cancelled before the loop flushed: never written
        return await asyncio.gather(*tasks, return_exceptions=True)

    out = asyncio.run(main())
    assert isinstance(out[4], StoreError)
    assert isinstance(out[7], asyncio.CancelledError)
    assert sorted(o for o in out if isinstance(o, int)) == list(range(1, 9))
    assert sorted(r.data()["i"] for r in store.journal_after(0)) == [0, 1, 2, 3, 5, 6, 8, 9]


def test_a_store_cannot_be_used_across_fork(store: Store) -> None:
    import os

    store.append("x", {})
    pid = os.fork()
    if pid == 0:  # child: must refuse, not hang waiting for the parent's writer thread
        try:
            store.append("x", {})
        except StoreError as exc:
            os._exit(0 if "another process" in str(exc) else 1)
        os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert store.append("y", {}) == 2


def _mark(store: Store) -> int:
    from crossmargin.store.reading import account_index_mark

    with store._db.read_engine.connect() as conn:
        return int(conn.scalar(account_index_mark()) or 0)


def _indexed_pairs(store: Store) -> list[tuple[str, int]]:
    from crossmargin.store.schema import journal_accounts

    with store._db.read_engine.connect() as conn:
        rows = conn.execute(
            sa.select(journal_accounts.c.account, journal_accounts.c.seq).order_by(
                journal_accounts.c.seq
            )
        ).all()
    return [(str(a), int(s)) for a, s in rows]


@pytest.mark.parametrize("lag", [1, 7, 1000])
def test_reads_by_account_are_complete_whatever_the_index_lags(store_url: str, lag: int) -> None:
    """The account index is filled in batches behind the journal; reads by account see it all.

    Records up to the index's mark are found through ``journal_accounts``, the later ones in
    the journal itself: every (after, limit, kinds) read by account equals the same filter
    over the whole journal, before and after the writer catches up.
    """
    from crossmargin.store import StoreConfig

    config = StoreConfig(page_size=3, account_index_lag=lag, account_index_idle_s=60.0)
    with Store.open(store_url, config=config) as store:
        for chunk in range(6):  # several commits: the index catches up after each `lag`
            store.append_many(
                [
                    store.record(
                        ["market", "trade", "deposit"][i % 3],
                        {"i": i},
                        account=None if i % 3 == 0 else f"a{i % 4}",
                    )
                    for i in range(chunk * 9, chunk * 9 + 9)
                ]
            )
        mark = _mark(store)
        assert mark <= 54
        # the writer indexes after the commits' acknowledgements: the last one may be pending
        assert (mark >= 45) if lag <= 9 else mark == 0
        everything = list(store.journal_after(0))
        for account in ("a1", "a2", "a3", "nobody"):
            for kinds in (None, ["trade"]):
                for after, limit in ((0, None), (5, 4), (mark - 1, 3), (mark, None), (40, 2)):
                    after = max(after, 0)
                    want = [
                        r.seq
                        for r in everything
                        if r.account == account
                        and r.seq > after
                        and (kinds is None or r.kind in kinds)
                    ][:limit]
                    got = store.journal_after(after, limit=limit, kinds=kinds, account=account)
                    assert [r.seq for r in got] == want, (account, kinds, after, limit)
    with Store.open(store_url) as store:  # closing indexed the tail
        assert _mark(store) == 54
        assert _indexed_pairs(store) == [
            (r.account, r.seq) for r in store.journal_after(0) if r.account is not None
        ]


def test_an_idle_writer_indexes_the_tail(store_url: str) -> None:
    from crossmargin.store import StoreConfig

    config = StoreConfig(account_index_idle_s=0.05)
    with Store.open(store_url, config=config) as store:
        store.append("trade", {"q": 1}, account="a1")
        store.append("market", {"p": 2})
        deadline = time.monotonic() + 10
        while _mark(store) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _mark(store) == 2
        assert _indexed_pairs(store) == [("a1", 1)]
        assert [r.seq for r in store.journal_after(0, account="a1")] == [1]
