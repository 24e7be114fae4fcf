"""GET /api/v1/projects/<slug>/durations: shape, values, filters, its OpenAPI entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.models import Case, Project, Run
from tests.dashboard.api.schema_check import assert_matches
from tests.factories import CaseFactory, ProjectFactory, ResultFactory, RunFactory

PATH = "/api/v1/projects/{slug}/durations"


def days_ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def run_at(project: Project, at: datetime, timings: dict[Case, float], **fields) -> Run:
    run = RunFactory(project=project, started_at=at, **fields)
    for case, seconds in timings.items():
        ResultFactory(run=run, case=case, duration_s=seconds)
    return run


@pytest.fixture
def document(client, db_session) -> dict:
    return client.get("/api/v1/openapi.json").get_json()


def response_schema(document: dict) -> dict:
    operation = document["paths"][PATH]["get"]
    return operation["responses"]["200"]["content"]["application/json"]["schema"]


@pytest.fixture
def project(db_session) -> Project:
    return ProjectFactory(slug="web")


def test_shape_and_values(client, db_session, document, project):
    slow = CaseFactory(project=project, file="tests/test_a.py", classname="A", name="test_slow")
    fast = CaseFactory(project=project, file="tests/test_b.py", classname="B", name="test_fast")
    before = [run_at(project, days_ago(20 - i), {slow: 1.0, fast: 0.1}) for i in range(5)]
    after = [
        run_at(project, days_ago(5 - i), {slow: 2.0, fast: 0.1}, wall_seconds=30.0 + i)
        for i in range(5)
    ]
    db_session.commit()

    response = client.get("/api/v1/projects/web/durations")
    body = response.get_json()

    assert response.status_code == 200
    assert_matches(body, response_schema(document), document)
    assert body["slowest"] == [
        {
            "case_id": slow.id,
            "file": "tests/test_a.py",
            "classname": "A",
            "name": "test_slow",
            "median_s": 1.5,
            "p95_s": 2.0,
            "executions": 10,
        },
        {
            "case_id": fast.id,
            "file": "tests/test_b.py",
            "classname": "B",
            "name": "test_fast",
            "median_s": 0.1,
            "p95_s": 0.1,
            "executions": 10,
        },
    ]
    assert body["regressions"] == [
        {
            "case_id": slow.id,
            "file": "tests/test_a.py",
            "classname": "A",
            "name": "test_slow",
            "baseline_median_s": 1.0,
            "recent_median_s": 2.0,
            "change_pct": 100.0,
            "first_slow_run_id": after[0].id,
        }
    ]
    assert [p["run_id"] for p in body["wall_time"]] == [r.id for r in after]
    assert body["wall_time"][0] == {
        "run_id": after[0].id,
        "started_at": after[0].started_at.isoformat(),
        "job": "default",
        "seconds": 30.0,
    }
    assert body["parallelism"] == {"1": 2.1, "2": 2.0, "4": 2.0, "8": 2.0}
    assert body["parallelism_run_id"] == after[-1].id
    assert before[0].id not in [p["run_id"] for p in body["wall_time"]]  # no time reported


@pytest.mark.parametrize("rolled_up", [False, True], ids=["from results", "from rollups"])
def test_the_api_never_works_out_daily_medians(client, db_session, project, monkeypatch, rolled_up):
    """Only the page draws the daily trend; the API leaves it out, so pays nothing for it."""
    from dashboard.analytics import durations
    from ingest import store

    def not_wanted(*_args):
        raise AssertionError("daily medians worked out for the API")

    monkeypatch.setattr(durations, "_daily_medians", not_wanted)
    monkeypatch.setattr(durations._DailyMedians, "of", not_wanted)
    slow = CaseFactory(project=project)
    runs = [run_at(project, days_ago(3 - i), {slow: 1.0}) for i in range(3)]
    if rolled_up:
        for run in runs:
            store.refresh_run_totals(db_session, run)
        assert store.refresh_rollups(db_session, [run.id for run in runs]) == len(runs)
    db_session.commit()

    body = client.get("/api/v1/projects/web/durations").get_json()

    assert [test["case_id"] for test in body["slowest"]] == [slow.id]


def test_an_empty_project(client, db_session, document, project):
    db_session.commit()
    body = client.get("/api/v1/projects/web/durations").get_json()

    assert body == {
        "slowest": [],
        "regressions": [],
        "wall_time": [],
        "parallelism": {},
        "parallelism_run_id": None,
    }
    assert_matches(body, response_schema(document), document)


def test_window_branch_and_job_filters(client, db_session, project):
    case = CaseFactory(project=project)
    run_at(project, days_ago(20), {case: 5.0}, job="linux")
    linux = run_at(project, days_ago(1), {case: 1.0}, job="linux")
    run_at(project, days_ago(1), {case: 3.0}, job="windows", branch="feature")

    db_session.commit()

    def get(query: str) -> dict:
        return client.get(f"/api/v1/projects/web/durations?{query}").get_json()

    assert [t["median_s"] for t in get("")["slowest"]] == [3.0]
    assert [t["median_s"] for t in get("window=7")["slowest"]] == [2.0]
    assert [t["median_s"] for t in get("window=7&job=linux")["slowest"]] == [1.0]
    assert get("window=7&job=linux")["parallelism_run_id"] == linux.id
    assert get("branch=feature")["parallelism"] == {"1": 3.0, "2": 3.0, "4": 3.0, "8": 3.0}
    assert get("branch=nope")["slowest"] == []


def test_q_narrows_the_slowest_tests_and_leaves_the_rest(client, db_session, project):
    upload = CaseFactory(project=project, file="tests/api/test_upload.py", name="test_gzip")
    login = CaseFactory(project=project, file="tests/test_auth.py", classname="TestUploadLogin")
    other = CaseFactory(project=project, file="tests/test_pages.py", name="test_home")
    for i in range(5):
        run_at(project, days_ago(20 - i), {upload: 1.0, login: 0.5, other: 1.0})
    for i in range(5):
        run_at(project, days_ago(5 - i), {upload: 1.0, login: 0.5, other: 3.0}, wall_seconds=9.0)
    db_session.commit()

    everything = client.get(PATH.format(slug="web")).get_json()
    searched = client.get(PATH.format(slug="web") + "?q=UPLOAD").get_json()

    # In the file of one, the class of the other, whatever the case.
    assert [t["case_id"] for t in searched["slowest"]] == [upload.id, login.id]
    assert [t["case_id"] for t in everything["slowest"]] == [other.id, upload.id, login.id]
    for part in ("regressions", "wall_time", "parallelism", "parallelism_run_id"):
        assert searched[part] == everything[part]
    assert [r["case_id"] for r in searched["regressions"]] == [other.id]
    assert client.get(PATH.format(slug="web") + "?q=nothing").get_json()["slowest"] == []


def test_unknown_project_is_a_json_404(client, db_session):
    response = client.get("/api/v1/projects/nope/durations")

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "query", ["window=abc", "window=5", "branch=%00", "job=a%00b", "branch=" + "x" * 500]
)
def test_bad_parameters_never_fail(client, db_session, document, project, query):
    run_at(project, days_ago(1), {CaseFactory(project=project): 1.0})
    db_session.commit()

    response = client.get(f"/api/v1/projects/web/durations?{query}")

    assert response.status_code == 200
    assert_matches(response.get_json(), response_schema(document), document)


def test_openapi_describes_the_endpoint(document):
    operation = document["paths"][PATH]["get"]
    names = [p["name"] for p in operation["parameters"]]

    assert names == ["slug", "window", "branch", "job", "q"]
    assert set(operation["responses"]) == {"200", "401", "403", "404"}
    schema = document["components"]["schemas"]["Durations"]
    assert set(schema["required"]) == {
        "slowest",
        "regressions",
        "wall_time",
        "parallelism",
        "parallelism_run_id",
    }
