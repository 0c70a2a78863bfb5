"""Events and API keys: what the risk service reads and authenticates with.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crossmargin.store._types import BigIntKey, JsonText, partial_index

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``events`` and ``api_keys``."""
    op.create_table(
        "events",
        sa.Column("seq", BigIntKey(), primary_key=True, autoincrement=False),
        sa.Column("time_ns", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("account", sa.String(128), nullable=True),
        sa.Column("cause_seq", sa.BigInteger(), nullable=True),
        sa.Column("body", JsonText(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_events"),
    )
    op.create_index(
        "ix_events_account_seq",
        "events",
        ["account", "seq"],
        **partial_index("account IS NOT NULL"),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("account", sa.String(128), nullable=True),
        sa.Column("feed", sa.String(128), nullable=True),
        sa.Column("secret_sha256", sa.LargeBinary(32), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("revoked_ns", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name="pk_api_keys"),
        sa.CheckConstraint("role IN ('admin', 'feed', 'account')", name="ck_api_keys_role"),
        sa.CheckConstraint(
            "(role = 'account') = (account IS NOT NULL)", name="ck_api_keys_account_scope"
        ),
        sa.CheckConstraint("feed IS NULL OR role = 'feed'", name="ck_api_keys_feed_scope"),
    )
    op.create_index("ix_api_keys_account", "api_keys", ["account"])


def downgrade() -> None:
    """Drop the tables of this revision."""
    op.drop_index("ix_api_keys_account", table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_index("ix_events_account_seq", table_name="events")
    op.drop_table("events")
