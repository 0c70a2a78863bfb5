"""The durable store of the live engine: journal, snapshots, events and API keys.

A leaf layer (it imports nothing from crossmargin but :mod:`crossmargin.errors`): the live
engine and the HTTP service sit on top of it. It stores typed records as JSON payloads and engine
state as opaque snapshots; it does not interpret either.

SQLite (WAL, an embedded file) by default, PostgreSQL 15 (psycopg 3) by URL; schema migrated by
the alembic scripts shipped here, on open::

    from crossmargin.store import Store

    with Store.open("venue.db") as store:
        seq = store.append("trade", {"account": "a1", "contract": "BTC-PERP", "qty": 2},
                           account="a1", source="api")         # returns once durable
        store.write_snapshot(seq, arrow_ipc_bytes, format="application/vnd.apache.arrow.stream")
        rec = store.recover()           # newest snapshot + journal after it
        for r in rec.records: ...

Guarantees: an ``append`` (or ``submit`` future) that returned is committed and survives a
process kill — and, with ``synchronous="full"`` (the default), a power loss; the journal's and
the events' sequence numbers are gapless and follow commit order; a snapshot is visible only
when complete and is checksummed. See docs/architecture.md ("The store").
"""

from crossmargin.store.aio import AsyncStore
from crossmargin.store.config import StoreConfig
from crossmargin.store.migrate import HEAD_REVISION
from crossmargin.store.records import (
    ApiKey,
    Event,
    EventOptions,
    IssuedKey,
    JournalRecord,
    NewEvent,
    NewRecord,
    Receipt,
    RecordOptions,
    Role,
    SnapshotInfo,
)
from crossmargin.store.snapshots import Snapshot
from crossmargin.store.store import Recovery, Store, upgrade

__all__ = [
    "HEAD_REVISION",
    "ApiKey",
    "AsyncStore",
    "Event",
    "EventOptions",
    "IssuedKey",
    "JournalRecord",
    "NewEvent",
    "NewRecord",
    "Receipt",
    "RecordOptions",
    "Recovery",
    "Role",
    "Snapshot",
    "SnapshotInfo",
    "Store",
    "StoreConfig",
    "upgrade",
]
