"""Column types and index options of the store that differ between SQLite and PostgreSQL.

Kept stable and small: the alembic migrations import them, so a change here is a schema change.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine, UserDefinedType

__all__ = ["BigIntKey", "JsonText", "PgJson", "partial_index"]


class PgJson(UserDefinedType[str]):
    """PostgreSQL ``json`` column bound and read as text, with no Python-side (de)serialisation.

    ``json`` (not ``jsonb``) on purpose: PostgreSQL validates the text but stores it verbatim, so
    a payload reads back byte for byte as it was appended — key order, whitespace and number
    spelling included — on both backends. ``jsonb`` normalises: keys are reordered and numbers
    become ``numeric`` (``1e300`` reads back as a 301-digit integer literal), which would make a
    journal replay backend-dependent.
    """

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        """DDL type name."""
        return "JSON"


class JsonText(TypeDecorator[str]):
    """A JSON document held as its text: ``TEXT`` on SQLite, ``json`` on PostgreSQL.

    The store serialises and validates payloads itself (at the edge, in the caller's thread); the
    database keeps the exact text. Reading returns the text; PostgreSQL connections register a
    text loader for ``json`` so psycopg does not parse it.
    """

    impl = sa.Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """``json`` on PostgreSQL, ``TEXT`` elsewhere."""
        if dialect.name == "postgresql":
            return dialect.type_descriptor(PgJson())
        return dialect.type_descriptor(sa.Text())


def BigIntKey() -> TypeEngine[int]:
    """64-bit integer key; ``INTEGER`` on SQLite so that it is the rowid (clustered) key."""
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def partial_index(condition: str) -> dict[str, Any]:
    """Keyword arguments of an index over the rows where ``condition`` holds (both backends)."""
    return {"sqlite_where": sa.text(condition), "postgresql_where": sa.text(condition)}
