"""Engine set-up shared by every environment."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

import psycopg
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from dashboard.extensions import db
from ingest.store import create_staging_tables
from ingest.transactions import WRITER_OPTION

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5000


def configure_engines(engines: Iterable[Engine]) -> None:
    for engine in engines:
        if engine.dialect.name == "sqlite":
            configure_sqlite(engine)
        elif engine.dialect.name == "postgresql":
            configure_postgresql(engine)


def configure_postgresql(engine: Engine) -> None:
    """Turn off PostgreSQL's JIT compilation for our connections.

    The planner compiles any query it estimates above ``jit_above_cost``, and the
    dashboard's are estimated high over millions of results while they read a
    few thousand rows: measured on the page benchmark, compiling cost 100 to
    300 ms on queries that run in 15, and 30 to 50 ms on the median of the
    heaviest pages. Ingest gains nothing from it either.
    """
    if getattr(engine, "_suitescope_configured", False):
        return
    engine._suitescope_configured = True

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("SET jit = off")
        cursor.close()
        # Committed first: the staging tables may be refused and rolled back.
        dbapi_connection.commit()
        create_staging_tables(dbapi_connection, engine.dialect, record.info)
        dbapi_connection.commit()


def configure_sqlite(engine: Engine) -> None:
    """Let SQLAlchemy, not Python's sqlite3 module, own transactions.

    The sqlite3 driver begins and commits on its own, which silently defeats
    SAVEPOINT rollback (the test harness relies on it) and transactional DDL.
    This is the recipe from SQLAlchemy's SQLite dialect documentation
    ("Serializable isolation / Savepoints / Transactional DDL").
    """
    if getattr(engine, "_suitescope_configured", False):
        return
    engine._suitescope_configured = True

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        # Ingest stages rows in a temporary table and builds large indexes:
        # keep temporary data in memory and give the page cache room (16 MB).
        cursor.execute("PRAGMA temp_store = MEMORY")
        cursor.execute("PRAGMA cache_size = -16384")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()
        create_staging_tables(dbapi_connection, engine.dialect, record.info)

    @event.listens_for(engine, "begin")
    def on_begin(connection) -> None:
        # Writers take the lock up front (see ingest.transactions).
        writer = connection.get_execution_options().get(WRITER_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")


def missing_table(driver_error: BaseException) -> bool:
    """A query met a table the schema lacks: the database was never migrated
    (a new file or database that ``suitescope db upgrade`` has not set up)."""
    if isinstance(driver_error, psycopg.errors.UndefinedTable):
        return True
    return isinstance(driver_error, sqlite3.OperationalError) and str(driver_error).startswith(
        "no such table"
    )


def database_status() -> tuple[bool, str]:
    """Whether the database answers with Suitescope's schema, and what is wrong if not.

    It reads the migration stamp: a database that answers but was never
    migrated cannot serve a page either ("not_migrated").
    """
    try:
        db.session.execute(text("SELECT version_num FROM alembic_version"))
        return True, "ok"
    except Exception as error:  # any driver error means "unreachable" to a probe
        db.session.rollback()
        if missing_table(getattr(error, "orig", error)):
            return False, "not_migrated"
        return False, type(error).__name__
