"""``begin_writing``: on SQLite an upload's transaction holds the write lock from its start."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.fixtures.served import CommittedDatabase, dispose


@pytest.fixture
def sqlite_app(tmp_path):
    app = CommittedDatabase(f"sqlite:///{tmp_path / 'writer.db'}", tmp_path).app()
    yield app
    dispose(app)


def other_writer_can_start(path) -> bool:
    """Whether another connection could begin writing right now (no waiting)."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as error:
        if "locked" not in str(error):
            raise
        return False
    finally:
        other.close()


def test_a_writing_transaction_takes_the_sqlite_write_lock_before_its_first_statement(
    sqlite_app, tmp_path
):
    from dashboard.extensions import db
    from ingest.transactions import begin_writing

    with sqlite_app.app_context():
        db.session.execute(text("CREATE TABLE t (x INTEGER)"))
        db.session.commit()
        begin_writing(db.session)
        # Nothing written yet, and still no one else may start writing: a later
        # commit by another connection cannot make this transaction's first
        # write fail at once with "database is locked".
        assert not other_writer_can_start(tmp_path / "writer.db")
        db.session.rollback()
        assert other_writer_can_start(tmp_path / "writer.db")

        db.session.execute(text("SELECT count(*) FROM t"))  # a plain reader locks nothing
        assert other_writer_can_start(tmp_path / "writer.db")
        db.session.remove()


def test_begin_writing_inside_a_transaction_changes_nothing(sqlite_app):
    from dashboard.extensions import db
    from ingest.transactions import begin_writing

    with sqlite_app.app_context():
        db.session.execute(text("SELECT 1"))
        connection = db.session.connection()
        begin_writing(db.session)
        assert db.session.connection() is connection
        db.session.remove()


def test_begin_writing_accepts_a_plain_session(sqlite_app):
    from dashboard.extensions import db
    from ingest.transactions import begin_writing

    with sqlite_app.app_context(), Session(db.engine) as session:
        begin_writing(session)
        assert session.in_transaction()
