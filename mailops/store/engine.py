"""Opening the store: one engine per database URL, SQLite tuned for a single writer, and
every database failure translated once, here, into a `StoreError` naming the database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL, ExceptionContext
from sqlalchemy.exc import ArgumentError, DBAPIError

from mailops.errors import ConfigError, StoreError
from mailops.secrets import register_secret

SUPPORTED_DIALECTS = ("sqlite", "postgresql")
# The driver mailops installs for a URL that names none (SQLAlchemy would pick psycopg2).
DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg"}


def safe_url(url: str | URL) -> str:
    """The URL with any password masked, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unreadable database URL>"


def create_store_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get their folder, WAL and a busy timeout. Every
    driver failure on it (connecting, a statement, a commit) raises `StoreError`."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            "MAILOPS_DATABASE_URL is not a database URL such as sqlite:///data/mailops.db"
        ) from None
    if parsed.get_backend_name() not in SUPPORTED_DIALECTS:
        raise ConfigError(
            f"MAILOPS_DATABASE_URL uses {parsed.get_backend_name()!r}; "
            f"supported: {', '.join(SUPPORTED_DIALECTS)}"
        )
    if parsed.password:
        register_secret(str(parsed.password))
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(parsed)
    else:
        engine = _postgresql_engine(with_default_driver(parsed))
    _translate_errors(engine, safe_url(url))
    return engine


def _translate_errors(engine: Engine, display_url: str) -> None:
    """Turn every driver error on `engine` into one line, `StoreError`, naming the database
    as the user gave it (password masked): a corrupt, locked or unreachable database is an
    expected failure, not a traceback. Raising from `handle_error` replaces SQLAlchemy's
    exception; it fires at pool connect too. A pre-ping is left alone: SQLAlchemy answers a
    dead pooled connection there by connecting again."""

    @event.listens_for(engine, "handle_error")
    def _as_store_error(context: ExceptionContext) -> None:
        if context.is_pre_ping or not isinstance(context.sqlalchemy_exception, DBAPIError):
            return
        raise StoreError(
            f"cannot use the database {display_url}: {_reason(context.original_exception)}"
        )


def _reason(error: BaseException) -> str:
    """The first line of the driver's message (the rest is its statement and hints)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def with_default_driver(url: URL) -> URL:
    """`postgresql://` means psycopg 3, the driver mailops depends on; a named driver stays."""
    return url.set(drivername=DEFAULT_DRIVERS.get(url.drivername, url.drivername))


def _postgresql_engine(url: URL) -> Engine:
    # Sessions in UTC, so timestamps come back in UTC whatever the server's time zone is.
    libpq = url.get_driver_name() in ("psycopg", "psycopg2")
    connect_args = {"options": "-c timezone=UTC"} if libpq else {}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if not in_memory:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _tune(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine
