"""Schema: the migrations build exactly the models' tables, old databases upgrade, new are refused."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from crossmargin.errors import InputError, StoreError
from crossmargin.store import HEAD_REVISION, Store, migrate
from crossmargin.store._db import Database, normalize_url
from crossmargin.store.config import StoreConfig
from crossmargin.store.schema import metadata


def _database(url: str) -> Database:
    return Database(normalize_url(url), StoreConfig())


def _diff(db: Database) -> list[object]:
    with db.read_engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "version_table": migrate.VERSION_TABLE}
        )
        return list(compare_metadata(ctx, metadata))


def test_head_constant_matches_the_shipped_scripts() -> None:
    assert migrate.known_revisions()[-1] == HEAD_REVISION
    assert migrate.known_revisions() == ["0001", "0002", "0003"]


def test_migrated_schema_equals_the_models(db_url: str) -> None:
    Store.open(db_url).close()
    db = _database(db_url)
    try:
        assert migrate.current_revision(db) == HEAD_REVISION
        assert _diff(db) == []
        tables = set(sa.inspect(db.read_engine).get_table_names())
        assert set(metadata.tables) | {migrate.VERSION_TABLE} == tables
        assert _partial_indexes(db) == _model_partial_indexes(db.backend)
    finally:
        db.dispose()


def _norm(clause: object) -> str:
    return str(getattr(clause, "text", clause)).strip("()").lower()


def _partial_indexes(db: Database) -> dict[str, str]:
    """Index name -> WHERE condition, as reflected (alembic does not compare these)."""
    inspector = sa.inspect(db.read_engine)
    key = f"{db.backend}_where"
    return {
        ix["name"]: _norm(ix["dialect_options"][key])
        for table in metadata.tables
        for ix in inspector.get_indexes(table)
        if ix.get("dialect_options", {}).get(key) is not None
    }


def _model_partial_indexes(backend: str) -> dict[str, str]:
    found = {}
    for table in metadata.tables.values():
        for ix in table.indexes:
            where = ix.dialect_options[backend]._non_defaults.get("where")
            if where is not None:
                found[str(ix.name)] = _norm(where)
    assert len(found) == 2
    return found


def test_a_database_at_an_older_revision_upgrades_keeping_its_data(db_url: str) -> None:
    db = _database(db_url)
    try:
        assert migrate.upgrade(db, "0001") == "0001"
        with db.write_engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO journal (seq, kind, source, account, idempotency_key, payload, "
                    "received_ns) VALUES (1, 'trade', 'old', 'a1', NULL, '{\"q\": 1}', 5)"
                )
            )
        assert not sa.inspect(db.read_engine).has_table("events")
    finally:
        db.dispose()
    with Store.open(db_url) as store:  # upgrades on open
        assert [r.payload for r in store.journal_after(0)] == ['{"q": 1}']
        assert store.append("trade", {"q": 2}) == 2
        assert store.append_event("margin_call", {"a": 1}) == 1
    db = _database(db_url)
    try:
        assert migrate.current_revision(db) == HEAD_REVISION
        assert _diff(db) == []
    finally:
        db.dispose()


def test_downgrade_to_base_and_back(db_url: str) -> None:
    Store.open(db_url).close()
    db = _database(db_url)
    try:
        assert migrate.downgrade(db, "base") is None
        assert set(sa.inspect(db.read_engine).get_table_names()) <= {migrate.VERSION_TABLE}
        assert migrate.upgrade(db) == HEAD_REVISION
        assert _diff(db) == []
    finally:
        db.dispose()


def test_a_newer_schema_is_refused(db_url: str) -> None:
    Store.open(db_url).close()
    db = _database(db_url)
    try:
        with db.write_engine.begin() as conn:
            conn.execute(sa.text(f"UPDATE {migrate.VERSION_TABLE} SET version_num = '9999'"))
    finally:
        db.dispose()
    with pytest.raises(StoreError, match="newer than this crossmargin"):
        Store.open(db_url)


def test_without_upgrade_an_old_schema_is_refused(db_url: str) -> None:
    db = _database(db_url)
    try:
        migrate.upgrade(db, "0001")
    finally:
        db.dispose()
    with pytest.raises(StoreError, match="revision 0001"):
        Store.open(db_url, upgrade=False)


def test_sqlite_runs_in_wal_mode_with_the_configured_sync(tmp_path) -> None:
    for sync, level in (("full", 2), ("normal", 1)):
        path = tmp_path / f"{sync}.db"
        with Store.open(path, config=StoreConfig(synchronous=sync)) as store:
            store.append("x", {})
            db = store._db
            with db.write_engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == level


@pytest.mark.parametrize(
    "target",
    [
        "",
        "sqlite://",
        "sqlite:///:memory:",
        "mysql://u@h/db",
        "postgresql+asyncpg://h/db",
        "/nonexistent-dir/x.db",
    ],
)
def test_unusable_database_targets_are_input_errors(target: str) -> None:
    with pytest.raises(InputError) as err:
        Store.open(target)
    assert err.value.path == "db"


def test_postgres_urls_are_normalised_to_psycopg() -> None:
    for url in ("postgresql://u@h:5/d", "postgres://u@h:5/d", "postgresql+psycopg://u@h:5/d"):
        assert normalize_url(url).drivername == "postgresql+psycopg"


def test_unreachable_postgres_is_a_store_error_without_the_password() -> None:
    url = "postgresql://user:s3cret@127.0.0.1:1/nope?connect_timeout=2"
    with pytest.raises(StoreError) as err:
        Store.open(url)
    assert "s3cret" not in str(err.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("synchronous", "off"),
        ("max_batch", 0),
        ("max_batch", 1.5),
        ("page_size", -1),
        ("busy_timeout_s", float("nan")),
        ("keep_snapshots", -1),
        ("poll_interval_s", float("inf")),
    ],
)
def test_bad_config_names_the_field(field: str, value: object) -> None:
    with pytest.raises(InputError) as err:
        StoreConfig(**{field: value})  # type: ignore[arg-type]
    assert err.value.path == f"store.{field}"


def test_explicit_upgrade_function(db_url: str) -> None:
    from crossmargin.store import upgrade

    assert upgrade(db_url, revision="0001") == "0001"
    assert upgrade(db_url) == HEAD_REVISION
    assert upgrade(db_url) == HEAD_REVISION  # idempotent
    with pytest.raises(StoreError, match="9999"):
        upgrade(db_url, revision="9999")
