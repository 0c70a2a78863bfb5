"""Hypothesis properties: the store behaves like a list (journal, events) and a dict (snapshots).

The state machine drives random appends (single, batched, with idempotency keys), events,
snapshots, pruning and filtered reads against a plain-Python model, on both backends.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from crossmargin.store import Store, StoreConfig

NAMES = st.sampled_from(["market", "trade", "deposit", "withdrawal", "account"])
ACCOUNTS = st.one_of(st.none(), st.sampled_from(["a1", "a2", "Zürich", "x" * 128]))
KEYS = st.one_of(st.none(), st.integers(0, 4))  # idempotency key number, fresh per example
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
OBJECTS = st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=5)


@st.composite
def payloads(draw: st.DrawFn) -> dict[str, Any] | str:
    """A mapping, or JSON text in one of several spellings (kept verbatim by the store)."""
    obj = draw(OBJECTS)
    style = draw(st.sampled_from(["mapping", "compact", "spaced", "indented", "ascii"]))
    if style == "mapping":
        return obj
    if style == "compact":
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    if style == "spaced":
        return json.dumps(obj, ensure_ascii=False)
    if style == "indented":
        return json.dumps(obj, indent=2, ensure_ascii=False)
    return json.dumps(obj)


def _text(payload: dict[str, Any] | str) -> str:
    if isinstance(payload, str):
        return payload
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def _machine(store: Store) -> type[RuleBasedStateMachine]:
    examples = iter(range(1_000_000))

    class StoreMachine(RuleBasedStateMachine):
        @initialize()
        def load(self) -> None:
            # The store outlives examples: the model starts from what it holds.
            self.journal = [
                (r.kind, r.account, r.idempotency_key, r.payload) for r in store.journal_after(0)
            ]
            self.keys = {k: i + 1 for i, (_, _, k, _) in enumerate(self.journal) if k is not None}
            self.events = [(e.type, e.account, e.body) for e in store.iter_events(0)]
            latest = store.latest_snapshot()
            self.latest = None if latest is None else (latest.seq, latest.info.id, latest.parts)
            self.example = next(examples)

        def key(self, k: int | None) -> str | None:
            return None if k is None else f"ex{self.example}-req{k}"

        def _model_append(
            self, kind: str, account: str | None, key: str | None, text: str
        ) -> tuple[int, bool]:
            if key is not None and key in self.keys:
                return self.keys[key], True
            self.journal.append((kind, account, key, text))
            seq = len(self.journal)
            if key is not None:
                self.keys[key] = seq
            return seq, False

        @rule(kind=NAMES, account=ACCOUNTS, k=KEYS, payload=payloads())
        def append(self, kind: str, account: str | None, k: int | None, payload: Any) -> None:
            key = self.key(k)
            got = store.append(kind, payload, account=account, idempotency_key=key)
            want, _ = self._model_append(kind, account, key, _text(payload))
            assert got == want

        @rule(items=st.lists(st.tuples(NAMES, ACCOUNTS, KEYS, payloads()), min_size=1, max_size=6))
        def append_many(self, items: list[tuple[str, str | None, int | None, Any]]) -> None:
            receipt = store.append_many(
                [store.record(k, p, account=a, idempotency_key=self.key(n)) for k, a, n, p in items]
            )
            want = [self._model_append(k, a, self.key(n), _text(p)) for k, a, n, p in items]
            assert list(receipt.journal_seqs) == [s for s, _ in want]
            assert list(receipt.duplicate) == [dup for _, dup in want]

        @rule(evs=st.lists(st.tuples(NAMES, ACCOUNTS, payloads()), min_size=1, max_size=4))
        def append_events(self, evs: list[tuple[str, str | None, Any]]) -> None:
            receipt = store.append_events([store.event(t, b, account=a) for t, a, b in evs])
            first = len(self.events) + 1
            self.events.extend((t, a, _text(b)) for t, a, b in evs)
            assert list(receipt.event_seqs) == list(range(first, len(self.events) + 1))

        @rule(data=st.data())
        def snapshot(self, data: st.DataObject) -> None:
            back = data.draw(st.integers(0, 8))  # fixed bounds: the store outlives examples
            seq = max(0, len(self.journal) - back)
            parts = data.draw(
                st.dictionaries(
                    st.sampled_from(["state", "a", "b"]),
                    st.binary(max_size=300),
                    min_size=1,
                    max_size=3,
                )
            )
            info = store.write_snapshot(seq, parts)
            if self.latest is None or seq >= self.latest[0]:
                self.latest = (seq, info.id, parts)

        @rule(
            after=st.integers(0, 200),
            limit=st.one_of(st.none(), st.integers(0, 20)),
            kinds=st.one_of(st.none(), st.sets(NAMES, max_size=2)),
            account=ACCOUNTS,
        )
        def read_journal(
            self, after: int, limit: int | None, kinds: set[str] | None, account: str | None
        ) -> None:
            got = [
                (r.seq, r.kind, r.account, r.idempotency_key, r.payload)
                for r in store.journal_after(after, limit=limit, kinds=kinds, account=account)
            ]
            want = [
                (i + 1, *row)
                for i, row in enumerate(self.journal)
                if i + 1 > after
                and (kinds is None or row[0] in kinds)
                and (account is None or row[1] == account)
            ]
            assert got == (want if limit is None else want[:limit])

        @rule(
            after=st.integers(0, 100),
            limit=st.one_of(st.none(), st.integers(1, 10)),
            account=ACCOUNTS,
            types=st.one_of(st.none(), st.sets(NAMES, max_size=2)),
        )
        def read_events(
            self, after: int, limit: int | None, account: str | None, types: set[str] | None
        ) -> None:
            got = [
                (e.seq, e.type, e.account, e.body)
                for e in store.events_after(after, account=account, types=types, limit=limit)
            ]
            want = [
                (i + 1, *row)
                for i, row in enumerate(self.events)
                if i + 1 > after
                and (account is None or row[1] == account)
                and (types is None or row[0] in types)
            ]
            assert got == want[: limit or store.config.page_size]

        @invariant()
        def tails_agree(self) -> None:
            assert store.last_seq() == len(self.journal)
            assert store.last_event_seq() == len(self.events)
            latest = store.latest_snapshot()
            if self.latest is None:
                assert latest is None
            else:
                assert latest is not None
                assert (latest.seq, latest.info.id, latest.parts) == self.latest

    return StoreMachine


def test_store_behaves_like_its_model(store_url: str) -> None:
    config = StoreConfig(snapshot_chunk_bytes=64, page_size=4, keep_snapshots=2)
    with Store.open(store_url, config=config) as store:
        run_state_machine_as_test(
            _machine(store),
            settings=settings(
                max_examples=10,
                stateful_step_count=15,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )


@pytest.fixture
def chunky_store(store_url: str):  # type: ignore[no-untyped-def]
    with Store.open(store_url, config=StoreConfig(snapshot_chunk_bytes=97, keep_snapshots=0)) as s:
        s.append("genesis", {})
        yield s


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    parts=st.dictionaries(
        st.text(min_size=1, max_size=20).filter(str.isprintable),
        st.one_of(st.binary(max_size=600), st.integers(0, 5).map(lambda k: bytes(97 * k))),
        min_size=1,
        max_size=4,
    ),
    meta=OBJECTS,
)
def test_snapshot_round_trip(
    chunky_store: Store, parts: dict[str, bytes], meta: dict[str, Any]
) -> None:
    info = chunky_store.write_snapshot(1, parts, meta=meta, format="application/x-prop")
    snap = chunky_store.read_snapshot(info.id)
    assert snap.parts == parts
    assert list(snap.parts) == list(parts)
    assert snap.info.meta_data() == meta
    assert snap.info.size == sum(len(b) for b in parts.values())
    for name, blob in parts.items():
        assert b"".join(chunky_store.iter_snapshot_part(info, name)) == blob
