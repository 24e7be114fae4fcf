"""GET /api/v1/projects/<slug>/coverage: shape, nulls, deltas, filters, its OpenAPI entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.dashboard.api.schema_check import assert_matches
from tests.factories import ProjectFactory, coverage_run

PATH = "/api/v1/projects/{slug}/coverage"


def days_ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


@pytest.fixture
def document(client, db_session) -> dict:
    return client.get("/api/v1/openapi.json").get_json()


def response_schema(document: dict, status: str = "200") -> dict:
    operation = document["paths"][PATH]["get"]
    return operation["responses"][status]["content"]["application/json"]["schema"]


@pytest.fixture
def project(db_session):
    project = ProjectFactory(slug="web", default_branch="main")
    coverage_run(project, {"src/a.py": (10, 5, 4, 2)}, started_at=days_ago(9), commit_sha="m1")
    coverage_run(
        project,
        {"src/a.py": (10, 8, 4, 3), "cmd/main.go": (6, 3, None, None), "src/b.py": (2, 2, 0, 0)},
        started_at=days_ago(2),
        commit_sha="m2",
    )
    coverage_run(project, {"src/a.py": (10, 1, 4, 0)}, started_at=days_ago(1), branch="feature")
    db_session.commit()
    return project


def test_trend_and_files_of_the_default_branch(client, project, document):
    response = client.get("/api/v1/projects/web/coverage")
    assert response.status_code == 200
    body = response.get_json()
    assert_matches(body, response_schema(document), document)
    assert body["branch"] == "main"
    assert [p["commit"] for p in body["trend"]] == ["m1", "m2"]
    latest = body["trend"][1]
    assert latest["line_rate"] == pytest.approx(13 / 18)
    assert (latest["branches_valid"], latest["branches_covered"]) == (4, 3)
    assert latest["branch_rate"] == 0.75
    assert latest["started_at"].endswith("+00:00")
    files = {f["path"]: f for f in body["files"]}
    assert list(files) == ["cmd/main.go", "src/a.py", "src/b.py"]
    assert files["src/a.py"]["delta_branch_rate"] == pytest.approx(0.25)
    assert files["src/a.py"]["line_rate"] == 0.8


def test_rates_are_null_where_there_is_no_branch_data(client, project):
    files = {f["path"]: f for f in client.get("/api/v1/projects/web/coverage").get_json()["files"]}
    go = files["cmd/main.go"]
    assert (go["branches_valid"], go["branch_rate"], go["delta_branch_rate"]) == (None, None, None)
    assert go["line_rate"] == 0.5
    b = files["src/b.py"]  # branch data, but no branches
    assert (b["branches_valid"], b["branch_rate"]) == (0, None)


def test_branch_and_window_filters(client, project):
    feature = client.get("/api/v1/projects/web/coverage?branch=feature").get_json()
    assert feature["branch"] == "feature"
    assert len(feature["trend"]) == 1
    assert [f["path"] for f in feature["files"]] == ["src/a.py"]
    assert feature["files"][0]["delta_branch_rate"] is None  # no earlier feature run
    week = client.get("/api/v1/projects/web/coverage?window=7").get_json()
    assert [p["commit"] for p in week["trend"]] == ["m2"]


def test_an_unknown_branch_is_empty_not_an_error(client, project):
    body = client.get("/api/v1/projects/web/coverage?branch=nope").get_json()
    assert body == {"branch": "nope", "trend": [], "files": []}


@pytest.mark.parametrize(
    "query",
    [
        "window=abc",
        "window=-1",
        "window=99999999999999999999",
        "branch=a%00b",
        "job=%00",
        "branch=" + "x" * 5000,
        "window=7&window=x",
    ],
)
def test_bad_parameters_never_give_a_500(client, project, document, query):
    response = client.get(f"/api/v1/projects/web/coverage?{query}")
    assert response.status_code == 200
    assert_matches(response.get_json(), response_schema(document), document)


@pytest.mark.parametrize("slug", ["nope", "NOT%00A-SLUG", "%F0%9F%92%A9", "-x"])
def test_unknown_project_is_a_json_404(client, db_session, slug):
    response = client.get(f"/api/v1/projects/{slug}/coverage")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_openapi_describes_the_endpoint_with_nullable_fields(document):
    operation = document["paths"][PATH]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"slug", "branch", "window"} <= names
    assert {"200", "404"} <= set(operation["responses"])
    point = document["components"]["schemas"]["CoveragePoint"]["properties"]
    file = document["components"]["schemas"]["FileCoverage"]["properties"]
    assert point["branch_rate"]["nullable"] is True
    assert point["branches_valid"]["nullable"] is True
    assert file["delta_branch_rate"]["nullable"] is True
    assert "nullable" not in file["path"]
    assert "nullable" not in point["lines_valid"]


def test_the_validator_catches_a_wrong_shape(document):
    """The hand-written validator above must be able to fail."""
    with pytest.raises(AssertionError):
        assert_matches(
            {"branch": "main", "trend": [], "files": [{"path": None}]},
            response_schema(document),
            document,
        )
