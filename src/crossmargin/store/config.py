"""Tuning and durability options of the store (:class:`StoreConfig`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Literal

from crossmargin.errors import ConfigError

__all__ = ["StoreConfig"]


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreConfig:
    """Options of a :class:`~crossmargin.store.Store`; the defaults suit a venue's live engine.

    Parameters
    ----------
    synchronous
        SQLite ``PRAGMA synchronous`` in WAL mode. ``"full"`` (default) fsyncs the WAL at every
        commit, so an acknowledged record survives a power loss as well as a process kill.
        ``"normal"`` syncs only at checkpoints: every acknowledged record still survives a
        process crash (``kill -9`` — the commit is in the WAL file, in the OS page cache), but
        the last commits can be lost if the machine itself loses power. Ignored by PostgreSQL
        (which fsyncs its WAL at commit under the default ``synchronous_commit = on``).
    max_batch
        Most journal records plus events the group-commit writer puts in one transaction. A
        single call is never split, whatever its size.
    busy_timeout_s
        How long a SQLite connection waits for another writer's lock before failing.
    snapshot_chunk_bytes
        Snapshot parts are stored in chunks of this size, one transaction per chunk, so a large
        snapshot neither holds the SQLite write lock for long nor needs one huge statement.
    keep_snapshots
        Complete snapshots kept by the pruning that follows each snapshot write (the newest
        ones); ``0`` keeps all.
    incomplete_grace_s
        An incomplete snapshot (its writer died) older than this is deleted by pruning.
    max_payload_bytes
        Largest JSON payload (journal) or body (event), encoded, accepted by ``append``.
    page_size
        Rows fetched per query when streaming the journal or the events.
    poll_interval_s
        How often :meth:`~crossmargin.store.Store.wait_events` looks for events written by
        another process (events written through this store wake waiters at once).
    account_index_lag
        Journal records the account index (``journal_accounts``) may lag behind the journal:
        once that many records are unindexed, the writer indexes them in one transaction,
        sorted by account. Reads by account are complete at any lag (the unindexed tail is
        read from the journal itself); a larger lag costs such reads a longer scan.
    account_index_idle_s
        The writer also indexes the unindexed tail after this long without appends (and when
        the store closes).
    """

    synchronous: Literal["full", "normal"] = "full"
    max_batch: int = 4096
    busy_timeout_s: float = 30.0
    snapshot_chunk_bytes: int = 8 << 20
    keep_snapshots: int = 3
    incomplete_grace_s: float = 600.0
    max_payload_bytes: int = 1 << 20
    page_size: int = 5000
    poll_interval_s: float = 0.05
    account_index_lag: int = 20_000
    account_index_idle_s: float = 0.5

    def __post_init__(self) -> None:
        if self.synchronous not in ("full", "normal"):
            raise ConfigError("must be 'full' or 'normal'", path="store.synchronous")
        for f in fields(self):
            value = getattr(self, f.name)
            path = f"store.{f.name}"
            if f.name == "synchronous":
                continue
            if f.name in _INTS and (isinstance(value, bool) or not isinstance(value, int)):
                raise ConfigError("must be an integer", path=path)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError("must be a number", path=path)
            if not math.isfinite(value):
                raise ConfigError("must be finite", path=path)
            if f.name in _NON_NEGATIVE:
                if not value >= 0:
                    raise ConfigError("must be >= 0", path=path)
            elif not value > 0:
                raise ConfigError("must be > 0", path=path)


_INTS = frozenset(
    {
        "max_batch",
        "snapshot_chunk_bytes",
        "keep_snapshots",
        "max_payload_bytes",
        "page_size",
        "account_index_lag",
    }
)
_NON_NEGATIVE = frozenset({"keep_snapshots", "incomplete_grace_s"})
