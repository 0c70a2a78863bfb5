"""Engine-state snapshots: opaque named parts, chunked, checksummed, committed atomically.

A snapshot is the engine's state after applying journal records ``1..seq``, as one or more named
opaque parts (``{"accounts": arrow_ipc, "market": json_gz, ...}`` or a single ``state`` blob).
Writing is bounded in lock time and memory: the header and the part list (sizes, SHA-256)
go in one transaction, then each chunk of ``snapshot_chunk_bytes`` in its own transaction, and
a last transaction flips ``complete``. Readers only ever see complete snapshots, so a crash
mid-write leaves an incomplete row that recovery ignores and pruning deletes. Reading
re-checks every part's size and SHA-256 (a corrupt snapshot is an error, never a wrong state).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from crossmargin.errors import InputError, StoreError
from crossmargin.store._db import Database, db_errors
from crossmargin.store.records import (
    KIND_MAX,
    SnapshotInfo,
    check_name,
    encode_json_object,
    now_ns,
)
from crossmargin.store.schema import journal, snapshot_chunks, snapshot_parts, snapshots

__all__ = ["DEFAULT_PART", "Snapshot", "SnapshotData", "SnapshotWriter"]

DEFAULT_PART = "state"
Buffer = bytes | bytearray | memoryview
SnapshotData = Buffer | Mapping[str, Buffer]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A snapshot with its bytes.

    Attributes
    ----------
    info
        Its description (seq, format, meta, part sizes).
    parts
        Part name → bytes, in the order written.
    """

    info: SnapshotInfo
    parts: dict[str, bytes]

    @property
    def seq(self) -> int:
        """Journal seq the snapshot covers."""
        return self.info.seq

    @property
    def data(self) -> bytes:
        """The single part's bytes (a snapshot written from one blob: part ``state``)."""
        if len(self.parts) != 1:
            raise InputError(
                f"snapshot {self.info.id} has parts {list(self.parts)}: use .parts[name]",
                path="snapshot",
            )
        return next(iter(self.parts.values()))


def _normalise_parts(data: SnapshotData) -> list[tuple[str, memoryview]]:
    if isinstance(data, bytes | bytearray | memoryview):
        items: list[tuple[object, object]] = [(DEFAULT_PART, data)]
    elif isinstance(data, Mapping):
        items = list(data.items())
    else:
        raise InputError(
            f"must be bytes or a mapping of part name to bytes, got {type(data).__name__}",
            path="snapshot.data",
        )
    if not items:
        raise InputError("a snapshot needs at least one part", path="snapshot.data")
    parts: list[tuple[str, memoryview]] = []
    for name, blob in items:
        path = f"snapshot.data[{name!r}]"
        check_name(name, path=path)
        if not isinstance(blob, bytes | bytearray | memoryview):
            raise InputError(f"must be bytes, got {type(blob).__name__}", path=path)
        view = memoryview(blob)
        if not view.contiguous:
            raise InputError("must be a contiguous buffer", path=path)
        parts.append((str(name), view.cast("B")))
    return parts


class SnapshotWriter:
    """Writes, reads and prunes snapshots of one database (used by :class:`Store`)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._in_progress: set[int] = set()

    # -- write ----------------------------------------------------------------------------
    def write(
        self, seq: int, data: SnapshotData, *, format: str, meta: Mapping[str, Any] | str
    ) -> SnapshotInfo:
        """Store a snapshot (see :meth:`Store.write_snapshot`)."""
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
            raise InputError("must be an integer >= 0", path="snapshot.seq")
        check_name(format, path="snapshot.format", max_len=KIND_MAX)
        meta_text = encode_json_object(meta, path="snapshot.meta")
        parts = _normalise_parts(data)
        chunk = self._db.config.snapshot_chunk_bytes
        described = [
            (name, view, hashlib.sha256(view).hexdigest(), -(-view.nbytes // chunk))
            for name, view in parts
        ]
        created = now_ns()
        with db_errors("writing a snapshot"), self._db.begin_write() as conn:
            last = int(conn.scalar(sa.select(sa.func.max(journal.c.seq))) or 0)
            if seq > last:
                raise InputError(
                    f"snapshot at seq {seq} but the journal ends at {last}: a snapshot can only "
                    "cover journaled inputs",
                    path="snapshot.seq",
                )
            inserted = conn.execute(
                snapshots.insert().values(
                    seq=seq,
                    created_ns=created,
                    format=format,
                    meta=meta_text,
                    size=sum(v.nbytes for _, v, _, _ in described),
                    complete=False,
                )
            ).inserted_primary_key
            if inserted is None:  # pragma: no cover - both backends return the key
                raise StoreError("the database returned no snapshot id", path="store")
            snap_id = int(inserted[0])
            conn.execute(
                snapshot_parts.insert(),
                [
                    {
                        "snapshot_id": snap_id,
                        "name": name,
                        "position": i,
                        "size": view.nbytes,
                        "chunks": n,
                        "sha256": digest,
                    }
                    for i, (name, view, digest, n) in enumerate(described)
                ],
            )
        self._in_progress.add(snap_id)
        try:
            for name, view, _, n in described:
                for idx in range(n):
                    piece = bytes(view[idx * chunk : (idx + 1) * chunk])
                    with (
                        db_errors("writing a snapshot chunk"),
                        self._db.begin_write() as conn,
                    ):
                        conn.execute(
                            snapshot_chunks.insert().values(
                                snapshot_id=snap_id, part=name, idx=idx, data=piece
                            )
                        )
            with db_errors("completing a snapshot"), self._db.begin_write() as conn:
                conn.execute(
                    snapshots.update().where(snapshots.c.id == snap_id).values(complete=True)
                )
        except BaseException:
            self._discard(snap_id)
            raise
        finally:
            self._in_progress.discard(snap_id)
        return SnapshotInfo(
            id=snap_id,
            seq=seq,
            format=format,
            meta=meta_text,
            parts=tuple((name, view.nbytes) for name, view, _, _ in described),
            created_ns=created,
        )

    def _discard(self, snap_id: int) -> None:
        try:
            with self._db.begin_write() as conn:
                _delete(conn, [snap_id])
        except sa.exc.SQLAlchemyError:
            pass  # pruning removes it later

    # -- read -----------------------------------------------------------------------------
    def infos(
        self, *, limit: int | None = None, snapshot_id: int | None = None
    ) -> list[SnapshotInfo]:
        """Complete snapshots, newest first (by seq, then id)."""
        query = (
            sa.select(snapshots)
            .where(snapshots.c.complete.is_(True))
            .order_by(snapshots.c.seq.desc(), snapshots.c.id.desc())
        )
        if snapshot_id is not None:
            query = query.where(snapshots.c.id == snapshot_id)
        if limit is not None:
            query = query.limit(limit)
        with db_errors("listing snapshots"), self._db.read_engine.begin() as conn:
            heads = conn.execute(query).all()
            if not heads:
                return []
            ids = [h.id for h in heads]
            rows = conn.execute(
                sa.select(
                    snapshot_parts.c.snapshot_id, snapshot_parts.c.name, snapshot_parts.c.size
                )
                .where(snapshot_parts.c.snapshot_id.in_(ids))
                .order_by(snapshot_parts.c.snapshot_id, snapshot_parts.c.position)
            ).all()
        parts: dict[int, list[tuple[str, int]]] = {i: [] for i in ids}
        for sid, name, size in rows:
            parts[sid].append((name, int(size)))
        return [
            SnapshotInfo(
                id=h.id,
                seq=int(h.seq),
                format=h.format,
                meta=h.meta,
                parts=tuple(parts[h.id]),
                created_ns=int(h.created_ns),
            )
            for h in heads
        ]

    def read(self, info: SnapshotInfo) -> Snapshot:
        """The bytes of a snapshot, every part checked against its size and SHA-256."""
        return Snapshot(
            info, {name: b"".join(self.iter_part(info, name)) for name, _ in info.parts}
        )

    def iter_part(self, info: SnapshotInfo, name: str) -> Iterator[bytes]:
        """Stream one part's chunks; raises :class:`StoreError` at the end if it is corrupt."""
        with db_errors("reading a snapshot"), self._db.read_engine.connect() as conn:
            meta = conn.execute(
                sa.select(
                    snapshot_parts.c.size, snapshot_parts.c.chunks, snapshot_parts.c.sha256
                ).where(snapshot_parts.c.snapshot_id == info.id, snapshot_parts.c.name == name)
            ).first()
        if meta is None:
            raise InputError(f"snapshot {info.id} has no part {name!r}", path="snapshot.part")
        size, n_chunks, digest = int(meta.size), int(meta.chunks), str(meta.sha256)
        sha = hashlib.sha256()
        got = 0
        for idx in range(n_chunks):
            with db_errors("reading a snapshot"):
                piece = self._db.read_blob(
                    sa.select(snapshot_chunks.c.data).where(
                        snapshot_chunks.c.snapshot_id == info.id,
                        snapshot_chunks.c.part == name,
                        snapshot_chunks.c.idx == idx,
                    )
                )
            if piece is None:
                raise StoreError(
                    f"snapshot {info.id} part {name!r}: chunk {idx} is missing", path="store"
                )
            sha.update(piece)
            got += len(piece)
            yield piece
        if got != size:
            raise StoreError(
                f"snapshot {info.id} part {name!r} is corrupt: {got} bytes read, {size} written",
                path="store",
            )
        if sha.hexdigest() != digest:
            raise StoreError(
                f"snapshot {info.id} part {name!r} is corrupt: SHA-256 mismatch", path="store"
            )

    # -- prune ----------------------------------------------------------------------------
    def prune(self, *, keep: int, grace_s: float) -> int:
        """Delete old complete snapshots and stale incomplete ones; return how many.

        Keeps the newest ``keep`` complete snapshots (``0``: keep all).
        """
        cutoff = now_ns() - int(grace_s * 1e9)
        with db_errors("pruning snapshots"), self._db.begin_write() as conn:
            complete = (
                conn.execute(
                    sa.select(snapshots.c.id)
                    .where(snapshots.c.complete.is_(True))
                    .order_by(snapshots.c.seq.desc(), snapshots.c.id.desc())
                )
                .scalars()
                .all()
            )
            stale = (
                conn.execute(
                    sa.select(snapshots.c.id).where(
                        snapshots.c.complete.is_(False), snapshots.c.created_ns < cutoff
                    )
                )
                .scalars()
                .all()
            )
            doomed = (list(complete[keep:]) if keep else []) + [
                i for i in stale if i not in self._in_progress
            ]
            if doomed:
                _delete(conn, doomed)
        return len(doomed)


def _delete(conn: sa.Connection, ids: list[int]) -> None:
    for table, col in (
        (snapshot_chunks, snapshot_chunks.c.snapshot_id),
        (snapshot_parts, snapshot_parts.c.snapshot_id),
        (snapshots, snapshots.c.id),
    ):
        conn.execute(table.delete().where(col.in_(ids)))
