"""Opening the store by URL: `postgresql://` means psycopg 3, passwords stay secret, and
PostgreSQL sessions speak UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from mailops.errors import StoreError
from mailops.secrets import MASK, redact
from mailops.store import Store
from mailops.store.migrate import head_revision


@pytest.mark.parametrize("url", [
    "postgresql://mailops:s3cret-plain@db.internal/mailops",
    "postgresql+psycopg://mailops:s3cret-explicit@db.internal/mailops",
])
def test_a_postgresql_url_uses_psycopg_3_and_keeps_its_password_secret(url):
    # Given the documented URL form, with or without the driver named
    store = Store(url)
    # Then the engine uses psycopg 3 (the driver mailops installs), not psycopg2
    assert store.engine.dialect.driver == "psycopg"
    assert store.engine.url.drivername == "postgresql+psycopg"
    # And the password shows nowhere and is masked wherever it turns up
    password = store.engine.url.password
    assert password not in repr(store) and password not in store.display_url
    assert redact(f"connection to {password} failed") == f"connection to {MASK} failed"


def test_a_plain_postgresql_url_reaches_a_real_server(local_postgres, migrated_postgres):
    # Given the URL as a user writes it: no driver
    url = local_postgres.url(migrated_postgres).replace("postgresql+psycopg://", "postgresql://")
    # When the store is opened with it, then it reads the migrated schema
    with Store(url) as store:
        assert store.revision() == head_revision()


def test_postgresql_sessions_use_utc_whatever_the_server_zone(
    local_postgres, migrated_postgres
):
    # Given a database whose default time zone is not UTC
    url = local_postgres.create_database("berlin_zone", template=migrated_postgres)
    local_postgres.execute("ALTER DATABASE berlin_zone SET timezone TO 'Europe/Berlin'")
    try:
        # When the store connects, then its session is in UTC
        with Store(url) as store, store.engine.connect() as conn:
            assert conn.execute(text("SHOW timezone")).scalar() == "UTC"
    finally:
        local_postgres.drop_database("berlin_zone")


def test_a_moment_written_in_any_zone_reads_back_as_the_same_instant_in_utc(any_store):
    # Given moments in another zone (an --as-of with an offset) and a naive one (taken as UTC)
    berlin = datetime(2026, 10, 1, 2, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    any_store.ledger.claim("outbound-reset-daily", "2026-10-01", "run-1", now=berlin)
    any_store.ledger.claim("billing-freeze", "2026-09", "run-2", now=datetime(2026, 10, 1, 0, 5))
    # When they are read back, then each is the same instant, in UTC, on every database
    started = any_store.ledger.entry("outbound-reset-daily", "2026-10-01").started_at
    assert started == berlin and started.tzinfo == UTC
    assert started.isoformat() == "2026-10-01T00:30:00+00:00"
    frozen = any_store.ledger.entry("billing-freeze", "2026-09").started_at
    assert frozen.isoformat() == "2026-10-01T00:05:00+00:00"


def test_an_unreachable_server_is_one_line_naming_the_database_without_its_password():
    # Given a server address where nothing listens
    store = Store("postgresql://mailops:pw-unreachable@127.0.0.1:1/mailops")
    # When the store is used, then one line names the database as given, password masked
    with pytest.raises(StoreError) as raised:
        store.revision()
    message = str(raised.value)
    assert message.startswith(
        "cannot use the database postgresql://mailops:***@127.0.0.1:1/mailops: connection failed"
    )
    assert "pw-unreachable" not in message and "\n" not in message


def test_a_failing_statement_is_one_line_naming_the_database_without_its_password(
    local_postgres,
):
    # Given a database without mailops' tables, its URL carrying a password
    local_postgres.create_database("no_tables")
    url = local_postgres.url("no_tables").replace("://postgres@", "://postgres:pw-statement@")
    try:
        with Store(url) as store:
            # When a query of the store and a statement of anyone's on its engine fail
            with pytest.raises(StoreError) as from_the_store:
                store.alerts.of_day(datetime(2026, 10, 1).date())
            with pytest.raises(StoreError) as from_the_engine, store.engine.connect() as conn:
                conn.execute(text("SELECT * FROM nowhere"))
    finally:
        local_postgres.drop_database("no_tables")
    # Then each is one line naming the database, password masked, and the driver's reason
    shown = (f"cannot use the database postgresql+psycopg://postgres:***@127.0.0.1:"
             f"{local_postgres.port}")
    for raised, table in ((from_the_store, "alerts"), (from_the_engine, "nowhere")):
        message = str(raised.value)
        assert message == f'{shown}/no_tables: relation "{table}" does not exist'
        assert "pw-statement" not in message


def test_every_driver_error_on_the_engine_is_a_store_error_once(tmp_path):
    # Given an empty SQLite store
    url = f"sqlite:///{tmp_path / 'mailops.db'}"
    with Store(url) as store:
        # When a statement fails on its engine, then the engine itself names the database
        with pytest.raises(StoreError) as raised, store.engine.connect() as conn:
            conn.execute(text("SELECT * FROM nowhere"))
        assert str(raised.value) == f"cannot use the database {url}: no such table: nowhere"
        # And the error the driver raised stays attached for a debugger, not in the message
        assert type(raised.value.__cause__).__name__ == "OperationalError"
    # And a file that is not a database fails at connect, in the same words
    (tmp_path / "garbage.db").write_bytes(b"not a database, " * 512)
    garbage = f"sqlite:///{tmp_path / 'garbage.db'}"
    with Store(garbage) as store, pytest.raises(StoreError) as raised:
        store.revision()
    assert str(raised.value) == f"cannot use the database {garbage}: file is not a database"
