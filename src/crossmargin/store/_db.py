"""Database plumbing: URLs, engines, per-backend pragmas and locks, error translation.

SQLite (the default, an embedded file) runs in WAL mode: readers never block the writer and the
writer never blocks readers. pysqlite's own transaction handling is switched off; the store emits
``BEGIN IMMEDIATE`` for write transactions (the write lock is taken up front, so two writers
queue on ``busy_timeout`` instead of failing on lock upgrade) and ``BEGIN`` for reads.

PostgreSQL is reached through psycopg 3. Write transactions take a transaction-scoped advisory
lock, so that journal and event sequence numbers stay gapless even with several writer
processes on one database; ``json`` columns are read back as text (see ``_types.PgJson``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from crossmargin.errors import InputError, StoreError
from crossmargin.store.config import StoreConfig

__all__ = ["Database", "db_errors", "normalize_url"]

# Arbitrary constant: the advisory lock that serialises the store's writers on PostgreSQL.
_PG_WRITE_LOCK = 0x63_6D_73_74_6F_72_65  # "cmstore"


def normalize_url(target: str | Path) -> sa.URL:
    """Turn a path or URL into the SQLAlchemy URL the store uses.

    A plain path (or ``sqlite:///path``) is an SQLite file; ``postgresql://`` (or
    ``postgres://``, ``postgresql+psycopg://``) is PostgreSQL through psycopg 3.

    Raises
    ------
    InputError
        In-memory SQLite (not durable), another database or driver, or a missing directory.
    """
    text = str(target)
    if "://" not in text:
        if not text.strip():
            raise InputError("empty database path", path="db")
        return _sqlite_url(Path(text))
    try:
        url = sa.make_url(text)
    except sa.exc.ArgumentError as exc:
        raise InputError(f"not a database URL ({exc})", path="db") from None
    backend, _, driver = url.drivername.partition("+")
    if backend == "sqlite":
        if driver not in ("", "pysqlite") or url.query:
            raise InputError("SQLite URLs take no driver or options: sqlite:///PATH", path="db")
        if not url.database or url.database == ":memory:":
            raise InputError("an in-memory database is not durable: give a file path", path="db")
        return _sqlite_url(Path(url.database))
    if backend in ("postgresql", "postgres"):
        if driver not in ("", "psycopg"):
            raise InputError(
                f"PostgreSQL is reached through psycopg 3 (postgresql+psycopg://), not {driver}",
                path="db",
            )
        return url.set(drivername="postgresql+psycopg")
    raise InputError(
        f"unsupported database {backend!r}: use an SQLite path or postgresql://", path="db"
    )


def _sqlite_url(path: Path) -> sa.URL:
    path = path.expanduser().absolute()
    if not path.parent.is_dir():
        raise InputError(f"directory {path.parent} does not exist", path="db")
    if path.exists() and not path.is_file():
        raise InputError(f"{path} is not a file", path="db")
    return sa.URL.create("sqlite+pysqlite", database=str(path))


@contextlib.contextmanager
def db_errors(what: str) -> Iterator[None]:
    """Translate database and driver errors into :class:`StoreError` (``what`` failed: why)."""
    try:
        yield
    except sa.exc.SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None) or exc
        detail = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
        raise StoreError(f"{what} failed: {detail}", path="store") from exc
    except OSError as exc:
        raise StoreError(f"{what} failed: {exc}", path="store") from exc


class Database:
    """The engines of one store: a writer engine and a reader engine on the same database.

    Parameters
    ----------
    url
        A normalised URL (:func:`normalize_url`).
    config
        Durability and tuning options.
    """

    def __init__(self, url: sa.URL, config: StoreConfig) -> None:
        self.url = url
        self.config = config
        self.backend = url.get_backend_name()
        self._sqlite_write_lock = threading.Lock()
        self.write_engine = self._engine(write=True)
        self.read_engine = self._engine(write=False)

    @property
    def display_url(self) -> str:
        """The URL with any password hidden."""
        return self.url.render_as_string(hide_password=True)

    def _engine(self, *, write: bool) -> Engine:
        if self.backend == "sqlite":
            engine = sa.create_engine(
                self.url,
                connect_args={"timeout": self.config.busy_timeout_s, "check_same_thread": False},
                pool_size=2 if write else 8,
                max_overflow=4 if write else 16,
            )
            self._sqlite_hooks(engine, begin="BEGIN IMMEDIATE" if write else "BEGIN")
            return engine
        engine = sa.create_engine(
            self.url,
            pool_pre_ping=True,
            pool_size=2 if write else 8,
            max_overflow=4 if write else 16,
            connect_args={"application_name": "crossmargin-store"},
        )
        event.listen(engine, "connect", _pg_on_connect)
        return engine

    def _sqlite_hooks(self, engine: Engine, *, begin: str) -> None:
        sync = self.config.synchronous.upper()
        busy_ms = int(self.config.busy_timeout_s * 1000)

        def on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # the store emits BEGIN itself (below)
            cur = dbapi_conn.cursor()
            try:
                cur.execute(f"PRAGMA busy_timeout = {busy_ms}")
                mode = cur.execute("PRAGMA journal_mode = WAL").fetchone()
                if mode is None or str(mode[0]).lower() != "wal":
                    raise StoreError(
                        f"SQLite refused WAL mode (journal_mode={mode}); is it a network drive?",
                        path="store",
                    )
                cur.execute(f"PRAGMA synchronous = {sync}")
                cur.execute("PRAGMA foreign_keys = ON")
            finally:
                cur.close()

        def on_begin(conn: Connection) -> None:
            conn.exec_driver_sql(begin)

        event.listen(engine, "connect", on_connect)
        event.listen(engine, "begin", on_begin)

    @contextlib.contextmanager
    def begin_write(self, *, sequenced: bool = False) -> Iterator[Connection]:
        """A write transaction, committed on exit.

        SQLite has one writer at a time: threads of this process queue on a lock here (handed
        over at once) rather than on SQLite's busy handler, which sleeps in steps of up to
        100 ms; ``BEGIN IMMEDIATE`` then queues against other processes. On PostgreSQL,
        ``sequenced`` transactions (those that number journal and event rows) take an advisory
        lock so that ``max(seq) + 1`` is safe across processes.
        """
        lock = self._sqlite_write_lock if self.backend == "sqlite" else contextlib.nullcontext()
        with lock, self.write_engine.begin() as conn:
            if sequenced and self.backend == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_WRITE_LOCK})
            yield conn

    def read_blob(self, stmt: sa.Select[Any]) -> bytes | None:
        """The single binary value a query returns (``None`` if no row).

        On PostgreSQL the value is fetched in psycopg's binary format: ``bytea`` in the default
        text format travels hex-encoded and is decoded in Python — 3-4x slower on the snapshot
        read path of recovery.
        """
        with self.read_engine.connect() as conn:
            if self.backend != "postgresql":
                value = conn.scalar(stmt)
                return None if value is None else bytes(value)
            import psycopg

            compiled = stmt.compile(dialect=conn.dialect)
            raw = conn.connection.driver_connection
            if not isinstance(raw, psycopg.Connection):  # pragma: no cover - psycopg only
                raise StoreError("PostgreSQL is reached through psycopg 3", path="store")
            try:
                with raw.cursor(binary=True) as cur:
                    cur.execute(str(compiled), compiled.params)
                    row = cur.fetchone()
            except psycopg.Error as exc:
                conn.invalidate()
                raise StoreError(f"reading a snapshot failed: {exc}", path="store") from exc
            return None if row is None else bytes(row[0])

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.write_engine.dispose()
        self.read_engine.dispose()


def _pg_on_connect(dbapi_conn: Any, _record: Any) -> None:
    from psycopg.types.string import TextLoader

    # json/jsonb columns come back as their text: the store hands out the exact stored text.
    dbapi_conn.adapters.register_loader("json", TextLoader)
    dbapi_conn.adapters.register_loader("jsonb", TextLoader)
