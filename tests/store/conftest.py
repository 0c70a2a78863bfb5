"""Store fixtures: every store test runs on SQLite and on a real PostgreSQL 15.

``db_url`` is a brand-new empty database (schema tests, crash tests); ``store_url`` is a migrated
database with empty tables — on PostgreSQL one database per worker, truncated before each test,
because creating and migrating a PostgreSQL database per test costs ~0.5 s.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from crossmargin.store import Store, StoreConfig
from crossmargin.store.schema import metadata

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend under test."""
    return str(request.param)


def fresh_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    """A new, empty database of the given backend."""
    if backend == "sqlite":
        return str(tmp_path / "store.db")
    cluster = request.getfixturevalue("postgres_cluster")
    return str(cluster.create_database("store"))


@pytest.fixture
def db_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    """URL (or path) of a fresh, empty database."""
    return fresh_url(request, backend, tmp_path)


@pytest.fixture(scope="session")
def _pg_store_db(postgres_cluster) -> Iterator[tuple[str, sa.Engine]]:  # type: ignore[no-untyped-def]
    url = str(postgres_cluster.create_database("shared"))
    Store.open(url).close()
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    yield url, engine
    engine.dispose()


@pytest.fixture
def store_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    """A migrated database with empty tables."""
    if backend == "sqlite":
        return str(tmp_path / "store.db")
    url, engine = request.getfixturevalue("_pg_store_db")
    with engine.begin() as conn:  # DELETE: much cheaper than TRUNCATE on tiny tables
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    return str(url)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open store on empty tables (small snapshot chunks, to exercise chunking)."""
    with Store.open(store_url, config=StoreConfig(snapshot_chunk_bytes=1000)) as s:
        yield s
