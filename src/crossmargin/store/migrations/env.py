"""Alembic environment of the store: runs on the connection handed over by ``migrate.upgrade``.

The migrations always run inside the caller's transaction (``BEGIN IMMEDIATE`` on SQLite, an
advisory lock on PostgreSQL), so concurrent openers of one database queue instead of racing and a
failed migration leaves the schema as it was.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from crossmargin.store.migrate import VERSION_TABLE
from crossmargin.store.schema import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run the store's migrations through crossmargin.store.migrate.upgrade()")
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    compare_type=True,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
