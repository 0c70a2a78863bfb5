"""Schema migrations, run programmatically (alembic; the scripts ship in ``migrations/``).

:func:`upgrade` runs inside one write transaction of the store (``BEGIN IMMEDIATE`` on SQLite, an
advisory lock on PostgreSQL), so concurrent openers of a database queue instead of racing, and a
database already at :data:`HEAD_REVISION` is recognised without importing alembic (fast open).
A database whose revision this version does not know (written by a newer crossmargin) is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crossmargin.errors import StoreError
from crossmargin.store._db import Database, db_errors

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["HEAD_REVISION", "MIGRATIONS_DIR", "VERSION_TABLE", "current_revision", "upgrade"]

#: The newest revision shipped with this version (a test checks it against the scripts).
HEAD_REVISION = "0003"
VERSION_TABLE = "crossmargin_store_version"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _alembic_config(conn: Connection) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = conn
    return cfg


def known_revisions() -> list[str]:
    """Every shipped revision, oldest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS_DIR))
    return [s.revision for s in reversed(list(script.walk_revisions()))]


def _revision(conn: Connection) -> str | None:
    if not sa.inspect(conn).has_table(VERSION_TABLE):
        return None
    rows = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(rows) > 1:
        raise StoreError(
            f"several schema heads {sorted(rows)}: not a crossmargin store", path="store"
        )
    return rows[0] if rows else None


def current_revision(db: Database) -> str | None:
    """The database's schema revision (``None``: no store schema yet)."""
    with db_errors("reading the schema revision"), db.read_engine.connect() as conn:
        return _revision(conn)


def upgrade(db: Database, revision: str = "head") -> str | None:
    """Bring the schema to ``revision`` (default: the newest) and return the revision reached.

    Raises
    ------
    StoreError
        The database is at a revision this version does not ship (a newer crossmargin wrote
        it), or the migration failed (nothing is changed then).
    """
    with (
        db_errors(f"migrating the store schema of {db.display_url}"),
        db.begin_write(sequenced=True) as conn,
    ):
        current = _revision(conn)
        if current == HEAD_REVISION and revision in ("head", HEAD_REVISION):
            return current
        _check_known(current)
        _run("upgrade", conn, revision)
        return _revision(conn)


def downgrade(db: Database, revision: str) -> str | None:
    """Revert the schema to ``revision`` (``"base"``: drop everything). For tests and rollbacks."""
    with (
        db_errors(f"downgrading the store schema of {db.display_url}"),
        db.begin_write(sequenced=True) as conn,
    ):
        _check_known(_revision(conn))
        _run("downgrade", conn, revision)
        return _revision(conn)


def _run(direction: str, conn: Connection, revision: str) -> None:
    from alembic import command
    from alembic.util import CommandError

    try:
        getattr(command, direction)(_alembic_config(conn), revision)
    except CommandError as exc:
        raise StoreError(f"schema {direction} to {revision!r}: {exc}", path="store") from None


def _check_known(current: str | None) -> None:
    if current is not None and current not in known_revisions():
        raise StoreError(
            f"database schema revision {current!r} is newer than this crossmargin knows "
            f"(newest: {HEAD_REVISION}); upgrade crossmargin",
            path="store",
        )
