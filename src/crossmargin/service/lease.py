"""One writer per database: an exclusive lease held for the life of the writer process.

The live engine is an in-memory state that only one process may advance; a second writer on
the same journal would fork history (the engine detects it on its next commit and stops, but
refusing to start is better). The lease is

* **SQLite**: an exclusive ``flock`` on ``<database>.writer.lock`` beside the database file;
* **PostgreSQL**: a session-level advisory lock held on a dedicated connection.

Both are released by the operating system / the server when the process dies, even by
``kill -9``, so a restarted writer gets the lease at once. Read replicas take no lease.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from crossmargin.errors import InputError, StoreError

__all__ = ["WriterLease"]

#: Advisory lock key of the writer lease on PostgreSQL ("cmwriter").
_PG_LEASE = 0x636D_7772_6974_6572 & 0x7FFF_FFFF_FFFF_FFFF

_BUSY = (
    "another crossmargin serve is the writer of this database (one writer per database; start "
    "more processes as read replicas with --read-only)"
)


class WriterLease:
    """Hold the writer lease of ``db`` (module docstring); :meth:`release` or process exit ends it.

    Raises
    ------
    StoreError
        Another process holds the lease, or the database cannot be reached.
    InputError
        Unusable database path or URL.
    """

    def __init__(self, db: str) -> None:
        self._fd: int | None = None
        self._conn: Any = None
        if "://" not in db or db.startswith("sqlite:"):
            self._sqlite(db)
        else:
            self._postgres(db)

    def _sqlite(self, db: str) -> None:
        path = Path(db.removeprefix("sqlite:///") if db.startswith("sqlite:") else db)
        path = path.expanduser().absolute()
        if not path.parent.is_dir():
            raise InputError(f"directory {path.parent} does not exist", path="db")
        lock = path.with_name(path.name + ".writer.lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreError(_BUSY, path="db") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def _postgres(self, db: str) -> None:
        url = sa.make_url(db).set(drivername="postgresql+psycopg")
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        try:
            conn = engine.connect()
            got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": _PG_LEASE})
            ok = bool(got.scalar())
            conn.commit()
        except sa.exc.SQLAlchemyError as exc:
            engine.dispose()
            raise StoreError(
                f"taking the writer lease failed: {exc.__class__.__name__}", path="db"
            ) from None
        if not ok:
            conn.close()
            engine.dispose()
            raise StoreError(_BUSY, path="db")
        self._conn = conn
        self._engine = engine

    def release(self) -> None:
        """Give the lease up. Idempotent."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
            self._fd = None
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
                self._engine.dispose()
            self._conn = None
