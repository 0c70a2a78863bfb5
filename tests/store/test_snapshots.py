"""Snapshots: chunked round trip, integrity check, atomic visibility, pruning, recovery."""

from __future__ import annotations

import hashlib
import os

import pytest
import sqlalchemy as sa

from crossmargin.errors import InputError, StoreError
from crossmargin.store import Store, StoreConfig
from crossmargin.store.schema import snapshot_chunks, snapshots


def _journal(store: Store, n: int) -> None:
    store.append_many([store.record("market", {"i": i}) for i in range(n)])


def test_single_blob_round_trip_across_chunks(store: Store) -> None:
    _journal(store, 5)
    blob = os.urandom(10_500)  # 11 chunks of 1000 bytes (fixture config)
    info = store.write_snapshot(5, blob, format="application/x-test", meta={"feeds": {"pyth": 9}})
    assert (info.seq, info.format, info.size, info.parts) == (
        5,
        "application/x-test",
        10_500,
        (("state", 10_500),),
    )
    snap = store.latest_snapshot()
    assert snap is not None
    assert snap.data == blob
    assert snap.info == info
    assert snap.info.meta_data() == {"feeds": {"pyth": 9}}
    assert b"".join(store.iter_snapshot_part(info, "state")) == blob


def test_named_parts_keep_their_order_and_bytes(store: Store) -> None:
    _journal(store, 1)
    parts = {
        "positions": os.urandom(4321),
        "accounts": b"",
        "market": b"{}" * 1000,
        "x": bytearray(b"a"),
    }
    info = store.write_snapshot(1, parts)
    assert [name for name, _ in info.parts] == ["positions", "accounts", "market", "x"]
    snap = store.read_snapshot(info.id)
    assert snap.parts == {k: bytes(v) for k, v in parts.items()}
    with pytest.raises(InputError, match=r"use \.parts"):
        _ = snap.data


def test_latest_is_the_highest_seq_and_pruning_keeps_the_newest(store_url: str) -> None:
    with Store.open(
        store_url, config=StoreConfig(keep_snapshots=2, snapshot_chunk_bytes=64)
    ) as store:
        _journal(store, 10)
        ids = [store.write_snapshot(seq, bytes([seq]) * 100).id for seq in (2, 4, 6, 8)]
        assert [s.id for s in store.snapshots()] == ids[:1:-1]
        latest = store.latest_snapshot()
        assert latest is not None and latest.seq == 8 and latest.data == b"\x08" * 100
        store.write_snapshot(3, b"older state", prune=False)  # a lower seq never becomes latest
        assert store.latest_snapshot().seq == 8  # type: ignore[union-attr]
        assert store.prune_snapshots(keep=1) == 2
        assert [s.seq for s in store.snapshots()] == [8]
        assert store.prune_snapshots(keep=0) == 0


def test_a_snapshot_cannot_cover_unjournaled_inputs(store: Store) -> None:
    _journal(store, 3)
    with pytest.raises(InputError) as err:
        store.write_snapshot(4, b"state")
    assert err.value.path == "snapshot.seq"
    store.write_snapshot(0, b"empty state")  # the state before any input is fine
    for bad_seq in (-1, 1.0, True):
        with pytest.raises(InputError):
            store.write_snapshot(bad_seq, b"x")  # type: ignore[arg-type]


BAD_SNAPSHOTS = [
    ("text", {}, "snapshot.data"),
    ({}, {}, "snapshot.data"),
    ({"": b"x"}, {}, "snapshot.data['']"),
    ({"a": "str"}, {}, "snapshot.data['a']"),
    (b"x", {"format": ""}, "snapshot.format"),
    (b"x", {"meta": "[1]"}, "snapshot.meta"),
    (b"x", {"meta": {"nan": float("nan")}}, "snapshot.meta"),
]


def test_bad_snapshot_input_names_the_field(store: Store) -> None:
    for data, kwargs, path in BAD_SNAPSHOTS:
        with pytest.raises(InputError) as err:
            store.write_snapshot(0, data, **kwargs)  # type: ignore[arg-type]
        assert err.value.path == path, (data, kwargs)
    assert store.snapshots() == []


def test_a_corrupt_snapshot_is_an_error_not_a_state(store: Store) -> None:
    _journal(store, 1)
    info = store.write_snapshot(1, b"a" * 2500)
    with store._db.write_engine.begin() as conn:
        conn.execute(
            snapshot_chunks.update()
            .where(snapshot_chunks.c.snapshot_id == info.id, snapshot_chunks.c.idx == 1)
            .values(data=b"b" * 1000)
        )
    with pytest.raises(StoreError, match="SHA-256"):
        store.latest_snapshot()
    with store._db.write_engine.begin() as conn:
        conn.execute(
            snapshot_chunks.delete().where(
                snapshot_chunks.c.snapshot_id == info.id, snapshot_chunks.c.idx == 2
            )
        )
    with pytest.raises(StoreError, match="chunk 2 is missing"):
        store.read_snapshot(info.id)


def test_an_incomplete_snapshot_is_invisible_and_pruned(store_url: str) -> None:
    config = StoreConfig(incomplete_grace_s=0, snapshot_chunk_bytes=100)
    with Store.open(store_url, config=config) as store:
        _journal(store, 2)
        good = store.write_snapshot(1, b"good")
        writer = store._snapshots
        real = writer._discard
        writer._discard = lambda _id: None  # type: ignore[method-assign]  # as if the process died
        calls = {"n": 0}
        engine = store._db.write_engine

        @sa.event.listens_for(engine, "before_cursor_execute")
        def boom(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
            if statement.lstrip().upper().startswith("INSERT INTO SNAPSHOT_CHUNKS"):
                calls["n"] += 1
                if calls["n"] == 3:
                    raise RuntimeError("killed mid-snapshot")

        with pytest.raises(RuntimeError):
            store.write_snapshot(2, b"x" * 1000)
        sa.event.remove(engine, "before_cursor_execute", boom)
        writer._discard = real  # type: ignore[method-assign]
        with store._db.read_engine.connect() as conn:
            assert conn.scalar(sa.select(sa.func.count()).select_from(snapshots)) == 2
        latest = store.latest_snapshot()
        assert latest is not None and latest.info.id == good.id and latest.data == b"good"
        assert [s.id for s in store.snapshots()] == [good.id]
        assert store.prune_snapshots(keep=0) == 1  # the abandoned one
        with store._db.read_engine.connect() as conn:
            assert conn.scalar(sa.select(sa.func.count()).select_from(snapshots)) == 1
            assert (
                conn.scalar(
                    sa.select(sa.func.count())
                    .select_from(snapshot_chunks)
                    .where(snapshot_chunks.c.snapshot_id != good.id)
                )
                == 0
            )


def test_recovery_is_the_latest_snapshot_plus_the_journal_after_it(store: Store) -> None:
    empty = store.recover()
    assert empty.snapshot is None and empty.from_seq == 0 and list(empty.records) == []
    _journal(store, 10)
    rec = store.recover()
    assert rec.snapshot is None and [r.seq for r in rec.records] == list(range(1, 11))
    state = hashlib.sha256(b"state@6").digest()
    store.write_snapshot(6, state)
    _journal(store, 4)
    rec = store.recover()
    assert rec.snapshot is not None and rec.snapshot.data == state
    assert (rec.from_seq, rec.last_seq) == (6, 14)
    store.append("late", {})  # appended after recovery started: not in this replay
    assert [r.seq for r in rec.records] == list(range(7, 15))


def test_read_snapshot_of_unknown_id(store: Store) -> None:
    with pytest.raises(InputError, match="no complete snapshot"):
        store.read_snapshot(12345)
