"""/healthz: JSON with the database status; 503 when it cannot be reached or was never migrated."""

from __future__ import annotations

from dashboard import create_app


def test_healthy(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_unreachable_database_gives_503(tmp_path):
    # Port 9 on loopback (discard) has no PostgreSQL: the connection is refused at once.
    url = "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["database"] == "OperationalError"


def test_a_database_never_migrated_is_not_healthy(tmp_path):
    # It answers queries, but every page would fail: a load balancer must not route to it.
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'new.db'}"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": "not_migrated"}
