"""Migrations: from empty to the newest schema, matching the code's tables."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from mailops.store import Store, metadata
from mailops.store.migrate import head_revision


def test_upgrade_from_empty_creates_every_table(store_url):
    with Store(store_url) as store:
        assert store.revision() is None
        assert store.upgrade() == head_revision()
        tables = set(inspect(store.engine).get_table_names())
    assert set(metadata.tables) | {"alembic_version"} == tables


def test_a_sqlite_store_creates_its_folder(tmp_path):
    with Store(f"sqlite:///{tmp_path / 'new' / 'mailops.db'}") as store:
        assert store.upgrade() == head_revision()
    assert (tmp_path / "new" / "mailops.db").is_file()


def test_migrated_schema_matches_the_code_tables(store_url):
    # Given an empty database migrated step by step (not a copy of a migrated one)
    with Store(store_url) as store:
        store.upgrade()
        # Then the database's tables, columns, types, keys and indexes are the code's
        with store.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []


def test_upgrading_twice_changes_nothing(any_store):
    assert any_store.upgrade() == head_revision()
    assert any_store.revision() == head_revision()


def test_a_sqlite_file_store_runs_in_wal_mode(fresh_store):
    with fresh_store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_the_repr_hides_a_database_password():
    store = Store("postgresql://mailops:hunter2-secret@db.internal/mailops")
    assert "hunter2-secret" not in repr(store)
    assert store.display_url == "postgresql://mailops:***@db.internal/mailops"
