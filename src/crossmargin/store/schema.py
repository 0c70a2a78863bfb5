"""The store's tables (SQLAlchemy Core). The alembic migrations build exactly this schema.

============== ============================================================================
table          holds
============== ============================================================================
journal        every accepted input, in order: ``seq`` (1, 2, 3 … with no gap), kind,
               source (feed id), account, optional idempotency key, JSON payload, receive time
journal_accounts the journal's account index ``(account, seq)``, filled in sorted batches
               behind the journal (see :mod:`crossmargin.store.writer`) instead of one random
               B-tree insert per appended row
store_marks    named sequence marks of the store: ``journal_accounts`` = the journal seq up to
               which ``journal_accounts`` is complete (the rows after it are read from
               ``journal`` itself)
snapshots      one row per engine-state snapshot: the journal ``seq`` it covers, format,
               JSON meta, ``complete`` flag (set by the snapshot's last transaction)
snapshot_parts named opaque parts of a snapshot: size, SHA-256, number of chunks
snapshot_chunks the bytes of each part, in chunks (bounded transactions and memory)
events         the engine's output events: ``seq`` (gapless), time, type, account, the
               journal seq of the input that caused it, JSON body
api_keys       service keys: public key id, role (admin / feed / account), account or feed,
               SHA-256 of the secret (never the secret), label, created / revoked times
============== ============================================================================

Times are integers, nanoseconds since the Unix epoch (UTC): exact, portable, sortable.
"""

from __future__ import annotations

import sqlalchemy as sa

from crossmargin.store._types import BigIntKey, JsonText, partial_index

__all__ = [
    "ACCOUNT_INDEX_MARK",
    "api_keys",
    "events",
    "journal",
    "journal_accounts",
    "metadata",
    "snapshot_chunks",
    "snapshot_parts",
    "snapshots",
    "store_marks",
]

NAME_LEN = 128
KIND_LEN = 64

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


journal = sa.Table(
    "journal",
    metadata,
    sa.Column("seq", BigIntKey(), primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(KIND_LEN), nullable=False),
    sa.Column("source", sa.String(NAME_LEN), nullable=False),
    sa.Column("account", sa.String(NAME_LEN), nullable=True),
    sa.Column("idempotency_key", sa.String(NAME_LEN), nullable=True),
    sa.Column("payload", JsonText(), nullable=False),
    sa.Column("received_ns", sa.BigInteger(), nullable=False),
    sa.Index(None, "kind", "seq"),
    # Partial index: most inputs (market ticks) have no idempotency key, and an index entry per
    # row would cost them insert time for nothing. The account index is ``journal_accounts``.
    sa.Index(None, "idempotency_key", unique=True, **partial_index("idempotency_key IS NOT NULL")),
)

#: The ``store_marks`` row of the journal seq up to which ``journal_accounts`` is complete.
ACCOUNT_INDEX_MARK = "journal_accounts"

journal_accounts = sa.Table(
    "journal_accounts",
    metadata,
    sa.Column("account", sa.String(NAME_LEN), primary_key=True),
    sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
    # SQLite: the key is the table (no rowid B-tree beside it)
    sqlite_with_rowid=False,
)

store_marks = sa.Table(
    "store_marks",
    metadata,
    sa.Column("name", sa.String(KIND_LEN), primary_key=True),
    sa.Column("seq", sa.BigInteger(), nullable=False),
)

snapshots = sa.Table(
    "snapshots",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("seq", sa.BigInteger(), nullable=False),
    sa.Column("created_ns", sa.BigInteger(), nullable=False),
    sa.Column("format", sa.String(KIND_LEN), nullable=False),
    sa.Column("meta", JsonText(), nullable=False),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("complete", sa.Boolean(), nullable=False),
    sa.Index(None, "complete", "seq"),
)


def _snapshot_key() -> sa.Column[int]:
    """``snapshot_id``: first key column of a snapshot's parts and chunks, deleted with it."""
    return sa.Column(
        "snapshot_id",
        sa.Integer(),
        sa.ForeignKey("snapshots.id", ondelete="CASCADE"),
        primary_key=True,
    )


snapshot_parts = sa.Table(
    "snapshot_parts",
    metadata,
    _snapshot_key(),
    sa.Column("name", sa.String(NAME_LEN), primary_key=True),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("chunks", sa.Integer(), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
)

snapshot_chunks = sa.Table(
    "snapshot_chunks",
    metadata,
    _snapshot_key(),
    sa.Column("part", sa.String(NAME_LEN), primary_key=True),
    sa.Column("idx", sa.Integer(), primary_key=True),
    sa.Column("data", sa.LargeBinary(), nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", BigIntKey(), primary_key=True, autoincrement=False),
    sa.Column("time_ns", sa.BigInteger(), nullable=False),
    sa.Column("type", sa.String(KIND_LEN), nullable=False),
    sa.Column("account", sa.String(NAME_LEN), nullable=True),
    sa.Column("cause_seq", sa.BigInteger(), nullable=True),
    sa.Column("body", JsonText(), nullable=False),
    sa.Index(None, "account", "seq", **partial_index("account IS NOT NULL")),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("account", sa.String(NAME_LEN), nullable=True),
    sa.Column("feed", sa.String(NAME_LEN), nullable=True),
    sa.Column("secret_sha256", sa.LargeBinary(32), nullable=False),
    sa.Column("label", sa.String(200), nullable=False),
    sa.Column("created_ns", sa.BigInteger(), nullable=False),
    sa.Column("revoked_ns", sa.BigInteger(), nullable=True),
    sa.CheckConstraint("role IN ('admin', 'feed', 'account')", name="role"),
    sa.CheckConstraint("(role = 'account') = (account IS NOT NULL)", name="account_scope"),
    sa.CheckConstraint("feed IS NULL OR role = 'feed'", name="feed_scope"),
    sa.Index(None, "account"),
)
