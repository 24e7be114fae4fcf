"""Faults: a database outage, a process killed mid-ingest, a read-only or a full SQLite file.

Each must end in a clear answer (503 with ``Retry-After`` and the cause, never
a 500) and a database holding either a whole upload or nothing of it.
"""

from __future__ import annotations

import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from unittest import mock

import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from dashboard.extensions import db
from dashboard.models import Case, Project, Result, Run, Upload
from ingest.upload_client import upload
from tests.fixtures.database import postgres_database
from tests.fixtures.served import dispose, junit_report, project_with_token, serve

ROOT = Path(__file__).resolve().parents[2]
# `suitescope`, run from this checkout (the console script may belong to another one).
SUITESCOPE = [sys.executable, "-c", "from dashboard.cli import main; main()"]
REFUSED = OperationalError("connect", {}, ConnectionRefusedError("connection refused"))
# Large enough that storing it takes a noticeable moment, so the kill lands mid-way.
KILLED_CASES = 20_000


def stored(app, slug: str) -> dict[str, int]:
    """How many runs, uploads, results and cases project ``slug`` has."""
    with app.app_context():
        project_id = db.session.scalar(select(Project.id).where(Project.slug == slug))
        runs = select(Run.id).where(Run.project_id == project_id)
        counts = {
            "runs": db.session.scalar(select(func.count()).select_from(runs.subquery())),
            "uploads": db.session.scalar(
                select(func.count()).select_from(Upload).where(Upload.run_id.in_(runs))
            ),
            "results": db.session.scalar(
                select(func.count()).select_from(Result).where(Result.run_id.in_(runs))
            ),
            "cases": db.session.scalar(
                select(func.count()).select_from(Case).where(Case.project_id == project_id)
            ),
        }
        db.session.remove()
    return counts


def post_upload(client, token: str, build: str = "b1", cases: int = 20):
    return client.post(
        "/api/v1/uploads",
        headers={"Authorization": f"Bearer {token}"},
        data=junit_report(build, cases),
        query_string={"build": build},
        content_type="application/xml",
    )


def assert_unavailable(response, reason: str, words: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "5"
    error = response.get_json()["error"]
    assert (error["code"], error["reason"]) == ("database_unavailable", reason)
    assert words in error["message"]


# --- the database goes away -----------------------------------------------------------


def test_an_outage_gives_503_with_retry_after_on_pages_and_api(committed_database):
    app = committed_database.app()
    token = project_with_token(app, "outage")
    client = app.test_client()
    with app.app_context():
        engine = db.engine

    with mock.patch.object(engine, "connect", side_effect=REFUSED):
        for path in ["/", "/p/outage", "/p/outage/runs", "/api/v1/projects"]:
            response = client.get(path)
            assert response.status_code == 503, path
            assert response.headers["Retry-After"] == "5", path
            assert "connection refused" not in response.text
        assert_unavailable(post_upload(client, token), "unavailable", "unavailable")

    assert client.get("/api/v1/projects").status_code == 200
    assert stored(app, "outage") == {"runs": 0, "uploads": 0, "results": 0, "cases": 0}
    dispose(app)


def test_suitescope_upload_retries_through_an_outage_and_stores_the_upload_once(
    committed_database, tmp_path
):
    app = committed_database.app()
    token = project_with_token(app, "retried")
    report = tmp_path / "junit.xml"
    report.write_bytes(junit_report("retried", 30))
    with app.app_context():
        engine = db.engine
    real_connect = engine.connect
    attempts = itertools.count()

    def down_twice(*args, **kwargs):
        if next(attempts) < 2:
            raise REFUSED
        return real_connect(*args, **kwargs)

    waits: list[float] = []
    with serve(app) as url, mock.patch.object(engine, "connect", side_effect=down_twice):
        reply = upload(url, token, {"build": "b1"}, [report], sleep=waits.append)

    assert waits == [5.0, 5.0]  # the server's Retry-After, twice, then success
    assert reply["counts"]["tests"] == 30
    assert stored(app, "retried") == {"runs": 1, "uploads": 1, "results": 30, "cases": 30}
    dispose(app)


# --- a process killed in the middle of an ingest ----------------------------------------


def writing_began(database) -> bool:
    """Whether another connection holds an open write transaction on ``database``."""
    if database.dialect == "sqlite":
        other = sqlite3.connect(database.sqlite_path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            other.close()
    engine = create_engine(database.url)
    try:
        with engine.connect() as connection:
            # A transaction gets its id (backend_xid) when it first writes.
            writers = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
                )
            ).scalar()
    finally:
        engine.dispose()
    return writers > 0


def test_a_process_killed_mid_ingest_leaves_nothing_and_a_second_ingest_stores_it_whole(
    committed_database, tmp_path
):
    app = committed_database.app()
    project_with_token(app, "killed")
    report = tmp_path / "large.xml"
    report.write_bytes(junit_report("large", KILLED_CASES))
    command = [*SUITESCOPE, "ingest", "--project", "killed", "--build", "b1", str(report)]
    environment = {
        **os.environ,
        "SUITESCOPE_ENV": "production",
        "SECRET_KEY": "killed-ingest",
        "DATABASE_URL": committed_database.url,
        "SUITESCOPE_INSTANCE_DIR": str(tmp_path),
    }

    ingest = subprocess.Popen(command, cwd=ROOT, env=environment, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not writing_began(committed_database):
        assert ingest.poll() is None, "the ingest ended before it could be killed"
        assert time.monotonic() < deadline, "the ingest never began writing"
        time.sleep(0.005)
    time.sleep(0.1)  # well into its writes
    assert ingest.poll() is None, "the ingest ended before it could be killed"
    ingest.send_signal(signal.SIGKILL)
    ingest.communicate()
    assert ingest.returncode == -signal.SIGKILL

    assert stored(app, "killed") == {"runs": 0, "uploads": 0, "results": 0, "cases": 0}
    again = subprocess.run(
        command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0, again.stderr
    assert stored(app, "killed") == {
        "runs": 1,
        "uploads": 1,
        "results": KILLED_CASES,
        "cases": KILLED_CASES,
    }
    dispose(app)


# --- a read-only database, a full SQLite file --------------------------------------------


@pytest.fixture
def sqlite_database(committed_database):
    if committed_database.dialect != "sqlite":
        pytest.skip("read-only and size-limited files are SQLite's")
    return committed_database


def read_only_url(database) -> str:
    """The same database, read-only: SQLite's file opened ``mode=ro``; PostgreSQL as a
    hot standby or a server set to ``default_transaction_read_only`` looks."""
    if database.dialect == "sqlite":
        return f"sqlite:///file:{database.sqlite_path}?mode=ro&uri=true"
    url = make_url(database.url).update_query_dict(
        {"options": "-c default_transaction_read_only=on"}
    )
    return url.render_as_string(hide_password=False)


def test_a_read_only_database_refuses_uploads_with_503_and_still_serves_reads(
    committed_database,
):
    writable = committed_database.app()
    token = project_with_token(writable, "read-only")
    post_upload(writable.test_client(), token, build="before")
    before = stored(writable, "read-only")
    read_only = committed_database.app(url=read_only_url(committed_database))
    client = read_only.test_client()

    assert_unavailable(post_upload(client, token, build="refused"), "read_only", "read-only")

    projects = client.get("/api/v1/projects")
    assert projects.status_code == 200
    assert "read-only" in [p["slug"] for p in projects.get_json()["projects"]]
    assert client.get("/p/read-only/runs").status_code == 200
    assert stored(writable, "read-only") == before
    dispose(read_only)
    dispose(writable)


def test_a_full_sqlite_file_refuses_uploads_with_503_and_still_serves_reads(sqlite_database):
    writable = sqlite_database.app()
    token = project_with_token(writable, "full")
    before = stored(writable, "full")
    full = sqlite_database.app()
    with full.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def no_room_to_grow(dbapi_connection, _record) -> None:
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    client = full.test_client()
    assert_unavailable(post_upload(client, token, cases=2000), "full", "full")

    assert client.get("/api/v1/projects").status_code == 200
    assert client.get("/p/full").status_code == 200
    assert stored(writable, "full") == before
    dispose(full)
    dispose(writable)


# --- a database never migrated ------------------------------------------------------


def test_a_database_never_migrated_says_to_run_db_upgrade(committed_database, tmp_path):
    # Someone starts `suitescope run` on a new database and skips `db upgrade`.
    if committed_database.dialect == "sqlite":
        empty = nullcontext(make_url(f"sqlite:///{tmp_path / 'empty.db'}"))
    else:
        server = make_url(committed_database.url)
        empty = postgres_database(server, f"{server.database}_never_migrated")
    with empty as url:
        app = committed_database.app(url=url.render_as_string(hide_password=False))
        client = app.test_client()
        for response in (client.get("/"), client.get("/api/v1/projects")):
            assert response.status_code == 503
            assert "Retry-After" not in response.headers  # waiting will not help
            assert "run `suitescope db upgrade`" in response.text
        error = client.get("/api/v1/projects").get_json()["error"]
        assert error["reason"] == "not_migrated"
        dispose(app)
