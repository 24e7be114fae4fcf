"""GET /api/v1/projects/<slug>/review: the review as JSON, its OpenAPI entry, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.models import Case, Project
from tests.dashboard.api.schema_check import assert_matches, resolve
from tests.factories import (
    ApiTokenFactory,
    CaseFactory,
    ProjectFactory,
    QuarantineFactory,
    coverage_run,
    run_with_results,
)

PATH = "/api/v1/projects/{slug}/review"
W09 = datetime(2026, 2, 23, tzinfo=UTC)
W10 = datetime(2026, 3, 2, tzinfo=UTC)


@pytest.fixture
def document(client, db_session) -> dict:
    return client.get("/api/v1/openapi.json").get_json()


def response_schema(document: dict) -> dict:
    operation = document["paths"][PATH]["get"]
    return operation["responses"]["200"]["content"]["application/json"]["schema"]


@pytest.fixture
def project(db_session) -> Project:
    return ProjectFactory(slug="web", name="Web", owners="tests/ @qa")


def background(project: Project) -> dict[Case, str]:
    cases = [CaseFactory(project=project, name=f"test_ok_{i}") for i in range(6)]
    return dict.fromkeys(cases, "P")


@pytest.fixture
def history(db_session, project):
    """Every section has something: flaky, failing, coverage moving, quarantine,
    a network failure, a serial suite; W09 comes before."""
    others = background(project)
    wobbly = CaseFactory(project=project, file="tests/test_app.py", name="test_wobbly")
    network = CaseFactory(project=project, file="tests/test_app.py", name="test_network")
    slow = CaseFactory(project=project, file="tests/test_slow.py", name="test_slow")
    run_with_results(project, W09 + timedelta(days=1), {**others, wobbly: "P", network: "P"})
    refused = {
        "failing": True,
        "message": "ConnectionRefusedError: [Errno 111] Connection refused (api.example.com)",
    }
    for hour, outcome in enumerate(["R", "P", "P"]):
        run_with_results(
            project,
            W10 + timedelta(days=1, hours=hour),
            {**others, wobbly: outcome, network: refused},
        )
    run_with_results(
        project, W10 + timedelta(days=2), {slow: {"duration_s": 400.0}}, job="e2e", wall_seconds=420
    )
    coverage_run(project, {"src/a.py": (10, 9, 10, 9)}, started_at=W09 + timedelta(days=2))
    coverage_run(project, {"src/a.py": (10, 5, 10, 5)}, started_at=W10 + timedelta(days=2))
    QuarantineFactory(case=wobbly, reason="flaky", created_at=W09, expires_at=W10)
    db_session.commit()
    return wobbly, network


def test_the_review_as_json_matches_its_schema(client, db_session, document, history):
    wobbly, network = history

    response = client.get(PATH.format(slug="web") + "?week=2026-W10")
    body = response.get_json()

    assert response.status_code == 200
    assert_matches(body, response_schema(document), document)
    assert body["project"] == {
        "slug": "web",
        "name": "Web",
        "timezone": "UTC",
        "default_branch": "main",
    }
    assert body["week"]["label"] == "2026-W10"
    assert body["week"]["start"] == "2026-03-02T00:00:00+00:00"
    assert (body["previous_week"], body["next_week"]) == ("2026-W09", "2026-W11")
    assert [t["case_id"] for t in body["new_flaky"]] == [wobbly.id]
    assert body["new_flaky"][0]["owners"] == ["@qa"]
    assert body["new_flaky"][0]["evidence"][0]["kind"] == "retry_flake"
    assert [t["case_id"] for t in body["new_failing"]] == [network.id]
    assert body["coverage_movers"]["drops"][0]["path"] == "src/a.py"
    assert [q["case_id"] for q in body["quarantine"]["expired"]] == [wobbly.id]
    assert [p["kind"] for p in body["anti_patterns"]] == [
        "live_external_calls",
        "serial_suite",
        "low_branch_coverage",
    ]
    serial = body["anti_patterns"][1]["suites"][0]
    assert serial["estimate"] == {"1": 400.0, "2": 400.0, "4": 400.0, "8": 400.0}


def test_an_empty_week_matches_the_schema_too(client, db_session, document, project):
    db_session.commit()

    body = client.get(PATH.format(slug="web") + "?week=2026-W10").get_json()

    assert_matches(body, response_schema(document), document)
    assert body["week"]["runs"] == 0
    assert body["headline"]["runs"] == {
        "label": "Runs",
        "value": 0,
        "previous": None,
        "change": None,
    }
    assert body["anti_patterns"] == []


def test_the_default_week_is_the_last_complete_one(client, db_session, project):
    db_session.commit()

    body = client.get(PATH.format(slug="web")).get_json()

    assert body["week"]["complete"] is True
    assert body["next_week"] is None


@pytest.mark.parametrize(
    ("week", "message"),
    [
        ("2026-47", "ISO week such as 2026-W47"),
        ("2026-W99", "2026 has no ISO week 99"),
        ("\x00", "ISO week such as 2026-W47"),
        ("9998-W52", "has not started yet"),
    ],
)
def test_a_bad_week_is_a_json_400(client, db_session, project, week, message):
    db_session.commit()

    response = client.get(PATH.format(slug="web"), query_string={"week": week})

    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "bad_request"
    assert message in error["message"]


def test_unknown_project_is_a_json_404(client, db_session):
    response = client.get(PATH.format(slug="nope"))

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_private_mode_lets_only_the_projects_own_token_read(
    app, client, db_session, project, monkeypatch
):
    ApiTokenFactory(project=project, secret="ss_mine")
    ApiTokenFactory(project=ProjectFactory(slug="other"), secret="ss_other")
    db_session.commit()
    monkeypatch.setitem(app.config, "SUITESCOPE_PRIVATE", True)
    url = PATH.format(slug="web")

    assert client.get(url).status_code == 401
    assert client.get(url, headers={"Authorization": "Bearer ss_other"}).status_code == 403
    assert client.get(url, headers={"Authorization": "Bearer ss_mine"}).status_code == 200


def test_openapi_describes_the_endpoint(document):
    operation = document["paths"][PATH]["get"]

    assert [p["name"] for p in operation["parameters"]] == ["slug", "week"]
    assert set(operation["responses"]) == {"200", "400", "401", "403", "404"}
    schema = resolve(response_schema(document), document)
    assert set(schema["required"]) >= {
        "week",
        "headline",
        "new_flaky",
        "recovered",
        "new_failing",
        "top_flaky",
        "regressions",
        "coverage_movers",
        "quarantine",
        "anti_patterns",
    }
