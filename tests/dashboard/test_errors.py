"""Error handlers: JSON under /api/, HTML elsewhere, never a stack trace."""

from __future__ import annotations

import pytest
from flask import abort
from sqlalchemy.exc import OperationalError

from dashboard import create_app
from ingest.errors import MalformedReport

# 405 comes from routing, not abort(): see test_wrong_method_* below.
STATUSES = [400, 401, 403, 404, 413, 415, 422, 500]


@pytest.fixture(scope="module")
def error_app():
    """An app with routes that fail on purpose (no database needed to render errors)."""
    app = create_app({"TESTING": False, "DEBUG": False, "SQLALCHEMY_DATABASE_URI": "sqlite://"})

    def fail(code: int):
        abort(code, f"planted {code}")

    def crash():
        raise RuntimeError("secret internals: password=hunter2")

    def refuse_report():
        raise MalformedReport("malformed XML: unclosed tag", filename="junit.xml", line=3, column=7)

    def lose_database():
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    for prefix in ("/api/v1/test", "/test"):
        app.add_url_rule(f"{prefix}/fail/<int:code>", f"{prefix}-fail", fail)
        app.add_url_rule(f"{prefix}/crash", f"{prefix}-crash", crash)
        app.add_url_rule(f"{prefix}/report", f"{prefix}-report", refuse_report)
        app.add_url_rule(f"{prefix}/db", f"{prefix}-db", lose_database)
    return app


@pytest.fixture
def error_client(error_app):
    return error_app.test_client()


@pytest.mark.parametrize("status", STATUSES)
def test_api_errors_are_json(error_client, status):
    response = error_client.get(f"/api/v1/test/fail/{status}")
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["message"] == f"planted {status}"
    assert error["code"]


@pytest.mark.parametrize("status", STATUSES)
def test_page_errors_are_html(error_client, status):
    response = error_client.get(f"/test/fail/{status}")
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert f"planted {status}" in response.text
    assert "<h1>" in response.text


@pytest.mark.parametrize("prefix", ["/api/v1/test", "/test"])
def test_a_crash_shows_no_stack_trace(error_client, prefix):
    response = error_client.get(f"{prefix}/crash")
    assert response.status_code == 500
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text


def test_unknown_api_route_is_json_404(error_client):
    response = error_client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_wrong_method_is_json_405_with_allow_header(error_client):
    response = error_client.post("/api/v1/projects")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_wrong_method_on_a_page_is_an_html_405(error_client):
    response = error_client.delete("/")
    assert response.status_code == 405
    assert response.mimetype == "text/html"
    assert "not allowed" in response.text


def test_ingest_errors_carry_file_line_and_column(error_client):
    response = error_client.get("/api/v1/test/report")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error == {
        "code": "malformed_report",
        "message": "junit.xml line 3, column 7: malformed XML: unclosed tag",
        "filename": "junit.xml",
        "line": 3,
        "column": 7,
    }


@pytest.mark.parametrize("prefix", ["/api/v1/test", "/test"])
def test_a_lost_database_answers_503_with_retry_after(error_client, prefix):
    response = error_client.get(f"{prefix}/db")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "connection refused" not in response.text


def test_debug_mode_lets_the_debugger_see_the_crash():
    app = create_app({"TESTING": False, "DEBUG": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    app.add_url_rule("/crash", "crash", lambda: 1 / 0)
    app.config["PROPAGATE_EXCEPTIONS"] = True
    with pytest.raises(ZeroDivisionError):
        app.test_client().get("/crash")


def test_responses_carry_security_headers(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
