"""Journal and snapshots: the live engine's durable state.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crossmargin.store._types import BigIntKey, JsonText, partial_index

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``journal``, ``snapshots``, ``snapshot_parts`` and ``snapshot_chunks``."""
    op.create_table(
        "journal",
        sa.Column("seq", BigIntKey(), primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("account", sa.String(128), nullable=True),
        sa.Column("idempotency_key", sa.String(128), nullable=True),
        sa.Column("payload", JsonText(), nullable=False),
        sa.Column("received_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_journal"),
    )
    op.create_index("ix_journal_kind_seq", "journal", ["kind", "seq"])
    op.create_index(
        "ix_journal_account_seq",
        "journal",
        ["account", "seq"],
        **partial_index("account IS NOT NULL"),
    )
    op.create_index(
        "ix_journal_idempotency_key",
        "journal",
        ["idempotency_key"],
        unique=True,
        **partial_index("idempotency_key IS NOT NULL"),
    )

    op.create_table(
        "snapshots",
        sa.Column("id", sa.Integer(), autoincrement=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("format", sa.String(64), nullable=False),
        sa.Column("meta", JsonText(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_snapshots"),
    )
    op.create_index("ix_snapshots_complete_seq", "snapshots", ["complete", "seq"])
    op.create_table(
        "snapshot_parts",
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("snapshot_id", "name", name="pk_snapshot_parts"),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["snapshots.id"],
            name="fk_snapshot_parts_snapshot_id_snapshots",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "snapshot_chunks",
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("part", sa.String(128), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("snapshot_id", "part", "idx", name="pk_snapshot_chunks"),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["snapshots.id"],
            name="fk_snapshot_chunks_snapshot_id_snapshots",
            ondelete="CASCADE",
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Snapshot chunks are already compressed by the engine (Arrow IPC + zstd, gzip JSON):
        # store them out of line without TOAST's pglz attempt.
        op.execute("ALTER TABLE snapshot_chunks ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade() -> None:
    """Drop the tables of this revision."""
    op.drop_table("snapshot_chunks")
    op.drop_table("snapshot_parts")
    op.drop_index("ix_snapshots_complete_seq", table_name="snapshots")
    op.drop_table("snapshots")
    op.drop_index("ix_journal_idempotency_key", table_name="journal")
    op.drop_index("ix_journal_account_seq", table_name="journal")
    op.drop_index("ix_journal_kind_seq", table_name="journal")
    op.drop_table("journal")
