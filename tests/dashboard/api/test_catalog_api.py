"""GET /api/v1/projects/<slug>/tests: find a test's id by name, class or file."""

from __future__ import annotations

import pytest

from tests.dashboard.api.schema_check import documented_get
from tests.factories import BASE_TIME, CaseFactory, ProjectFactory, result_history

PATH = "/api/v1/projects/{slug}/tests"


@pytest.fixture
def document(client, db_session) -> dict:
    return client.get("/api/v1/openapi.json").get_json()


def listed(client, document: dict, query: str = "", status: int = 200) -> dict:
    return documented_get(client, document, PATH, PATH.format(slug="web") + query, status)


def test_lists_matching_tests_with_their_latest_result_and_history_link(
    client, document, db_session
):
    project = ProjectFactory(slug="web")
    login = CaseFactory(project=project, name="test_login", file="tests/test_auth.py")
    latest = result_history(login, "FR", start=BASE_TIME)[-1]
    CaseFactory(project=project, name="test_unrun", file="tests/test_auth.py")
    CaseFactory(project=project, name="test_cart", file="tests/test_shop.py")
    db_session.commit()

    body = listed(client, document, "?q=AUTH")

    assert (body["total"], body["page"], body["pages"]) == (2, 1, 1)
    first, second = body["tests"]
    assert (first["case_id"], first["name"], first["file"]) == (
        login.id,
        "test_login",
        "tests/test_auth.py",
    )
    assert first["latest"] == {
        "run_id": latest.run_id,
        "started_at": latest.run.started_at.isoformat(),
        "outcome": "passed",
        "retry_flake": True,
    }
    assert first["history_url"].endswith(f"/api/v1/projects/web/tests/{login.id}/history")
    assert client.get(first["history_url"]).status_code == 200
    assert second["name"] == "test_unrun"
    assert second["latest"] is None


def test_pages_and_refuses_a_bad_page(client, document, db_session):
    project = ProjectFactory(slug="web")
    for index in range(26):
        CaseFactory(project=project, name=f"test_{index:02}")
    db_session.commit()
    second = listed(client, document, "?per_page=25&page=2")
    assert [t["name"] for t in second["tests"]] == ["test_25"]
    assert listed(client, document, "?page=5")["tests"] == []
    assert "page" in listed(client, document, "?page=0", status=400)["error"]["message"]
    assert listed(client, document, "?per_page=7", status=400)["error"]["code"]


def test_an_unknown_project_is_404(client, document, db_session):
    assert listed(client, document, status=404)["error"]["message"]
