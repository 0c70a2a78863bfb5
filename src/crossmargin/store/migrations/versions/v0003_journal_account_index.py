"""The journal's account index as its own table, filled in sorted batches.

The partial ``(account, seq)`` index of ``journal`` cost every appended account input (a trade,
a deposit) one insert at a random page of a B-tree over all accounts — on SQLite four times
the CPU of the rest of the row and one more dirty page per row in the WAL. ``journal_accounts``
holds the same pairs, written by the store's writer in batches sorted by account (each page
written once per batch) up to the seq kept in ``store_marks``; readers take the records after
that seq from ``journal`` itself.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crossmargin.store._types import partial_index

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_MARK = "journal_accounts"


def upgrade() -> None:
    """Create ``journal_accounts`` and ``store_marks``, fill them, drop the journal's index."""
    op.create_table(
        "journal_accounts",
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.PrimaryKeyConstraint("account", "seq", name="pk_journal_accounts"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "store_marks",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_store_marks"),
    )
    op.execute(
        "INSERT INTO journal_accounts (account, seq) SELECT account, seq FROM journal "
        "WHERE account IS NOT NULL ORDER BY account, seq"
    )
    op.execute(
        f"INSERT INTO store_marks (name, seq) SELECT '{_MARK}', COALESCE(MAX(seq), 0) FROM journal"
    )
    op.drop_index("ix_journal_account_seq", table_name="journal")


def downgrade() -> None:
    """Restore the journal's partial ``(account, seq)`` index and drop the tables."""
    op.create_index(
        "ix_journal_account_seq",
        "journal",
        ["account", "seq"],
        **partial_index("account IS NOT NULL"),
    )
    op.drop_table("store_marks")
    op.drop_table("journal_accounts")
