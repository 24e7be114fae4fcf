"""GET /api/v1/projects/<slug>/runs, /runs/<id> and /tests/<id>/history."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dashboard.models import Upload
from tests.dashboard.api.schema_check import assert_matches
from tests.factories import (
    BASE_TIME,
    CaseFactory,
    ProjectFactory,
    ResultFactory,
    RunFactory,
    coverage_run,
    recount,
    result_history,
)


@pytest.fixture
def document(client, db_session) -> dict:
    return client.get("/api/v1/openapi.json").get_json()


@pytest.fixture
def project(db_session):
    return ProjectFactory(slug="web")


def check(response, document: dict, path: str) -> dict:
    """The response's JSON, after checking it against the document's schema for its status."""
    responses = document["paths"][f"/api/v1{path}"]["get"]["responses"]
    assert str(response.status_code) in responses, response.status_code
    schema = responses[str(response.status_code)]["content"]["application/json"]["schema"]
    body = response.get_json()
    assert_matches(body, schema, document)
    return body


LIST = "/projects/{slug}/runs"
DETAIL = "/projects/{slug}/runs/{run_id}"
HISTORY = "/projects/{slug}/tests/{case_id}/history"


# --- runs list ------------------------------------------------------------------------


def test_list_runs_newest_first_with_paging(client, project, db_session, document):
    older = RunFactory(project=project, started_at=BASE_TIME)
    newer = RunFactory(project=project, started_at=BASE_TIME + timedelta(hours=1))
    RunFactory()  # another project's
    db_session.commit()

    body = check(client.get("/api/v1/projects/web/runs"), document, LIST)

    assert [run["id"] for run in body["runs"]] == [newer.id, older.id]
    assert (body["page"], body["pages"], body["total"], body["per_page"]) == (1, 1, 2, 50)
    assert body["runs"][0]["url"] == f"http://localhost/p/web/runs/{newer.id}"


def test_run_links_use_the_configured_base_url(app, client, project, db_session, monkeypatch):
    # Behind a proxy, links leave the app under its public address, as upload replies do.
    monkeypatch.setitem(app.config, "SUITESCOPE_BASE_URL", "https://ci.example.org/suitescope")
    run = RunFactory(project=project, branch="main", tests=1)
    db_session.commit()
    link = f"https://ci.example.org/suitescope/p/web/runs/{run.id}"

    assert client.get("/api/v1/projects/web/runs").get_json()["runs"][0]["url"] == link
    assert client.get(f"/api/v1/projects/web/runs/{run.id}").get_json()["url"] == link
    (listed,) = client.get("/api/v1/projects").get_json()["projects"]
    assert listed["latest_default_run"]["url"] == link


def test_list_runs_filters(client, project, db_session, document):
    broken = RunFactory(project=project, branch="main", job="unit")
    ResultFactory(run=broken, failing=True)
    ResultFactory.create_batch(4, run=broken)
    RunFactory(project=project, branch="main", job="lint")
    RunFactory(project=project, branch="dev", job="unit")
    recount(broken)
    db_session.commit()

    body = check(
        client.get("/api/v1/projects/web/runs?branch=main&job=unit&status=failed"), document, LIST
    )

    assert [run["id"] for run in body["runs"]] == [broken.id]
    assert body["runs"][0]["counts"]["failed"] == 1
    assert body["runs"][0]["status"] == "failed"


def test_list_runs_second_page_and_past_the_end(client, project, db_session, document):
    runs = [RunFactory(project=project) for _ in range(27)]
    db_session.commit()
    second = check(client.get("/api/v1/projects/web/runs?per_page=25&page=2"), document, LIST)
    assert [run["id"] for run in second["runs"]] == [runs[1].id, runs[0].id]
    past = check(client.get("/api/v1/projects/web/runs?page=99"), document, LIST)
    assert (past["runs"], past["total"], past["page"]) == ([], 27, 99)


@pytest.mark.parametrize(
    "query",
    ["page=-1", "page=0", "page=abc", "page=1.5", "page=%C2%B2", "per_page=7", "status=bogus"],
)
def test_list_runs_bad_parameters_are_400(client, project, db_session, document, query):
    db_session.commit()
    response = client.get(f"/api/v1/projects/web/runs?{query}")
    assert response.status_code == 400
    assert check(response, document, LIST)["error"]["code"] == "bad_request"


@pytest.mark.parametrize("query", ["branch=%00", "job=a%00b", f"page={10**30}", "branch="])
def test_list_runs_odd_but_valid_parameters_are_answered(
    client, project, db_session, document, query
):
    db_session.commit()
    response = client.get(f"/api/v1/projects/web/runs?{query}")
    assert response.status_code == 200
    check(response, document, LIST)


@pytest.mark.parametrize("slug", ["nope", "%00", "UPPER"])
def test_unknown_project_is_404(client, db_session, document, slug):
    response = client.get(f"/api/v1/projects/{slug}/runs")
    assert response.status_code == 404
    check(response, document, LIST)


# --- one run --------------------------------------------------------------------------


def test_run_detail(client, project, db_session, document):
    run = RunFactory(project=project, build_url="https://ci.example.com/9")
    for name in ("test_b", "test_a"):
        case = CaseFactory(project=project, name=name)
        ResultFactory(run=run, case=case, failing=True, fingerprint="fp-1")
    ResultFactory(run=run, flaky=True, attempts=3)
    ResultFactory(run=run, skipped=True)
    ResultFactory.create_batch(3, run=run)
    db_session.add(
        Upload(
            run=run,
            filename="junit.xml",
            kind="tests",
            format="junit",
            size_bytes=5,
            sha256="d" * 64,
            warnings=["duplicate case"],
        )
    )
    recount(run)
    db_session.commit()

    body = check(client.get(f"/api/v1/projects/web/runs/{run.id}"), document, DETAIL)

    assert body["id"] == run.id
    assert body["counts"] == {
        "tests": 7,
        "passed": 4,
        "failed": 2,
        "errors": 0,
        "skipped": 1,
        "retry_flakes": 1,
    }
    (group,) = body["failure_groups"]
    assert (group["fingerprint"], group["count"]) == ("fp-1", 2)
    assert [case["name"] for case in group["cases"]] == ["test_a", "test_b"]
    assert [flake["attempts"] for flake in body["retry_flakes"]] == [3]
    assert len(body["slowest"]) == 6  # the executed ones
    assert body["uploads"][0]["warnings"] == ["duplicate case"]
    assert body["coverage"] is None
    assert body["previous_run_id"] is None


def test_run_detail_coverage(client, project, db_session, document):
    run = coverage_run(project, {"a.py": (10, 5, None, None)})
    db_session.commit()
    body = check(client.get(f"/api/v1/projects/web/runs/{run.id}"), document, DETAIL)
    assert body["coverage"]["line_rate"] == 0.5
    assert body["coverage"]["branch_rate"] is None


@pytest.mark.parametrize("which", ["other project", "unknown", "huge"])
def test_run_detail_404(client, project, db_session, document, which):
    run_id = {"other project": RunFactory().id, "unknown": 999_999, "huge": 10**30}[which]
    db_session.commit()
    response = client.get(f"/api/v1/projects/web/runs/{run_id}")
    assert response.status_code == 404
    check(response, document, DETAIL)


def test_run_detail_non_numeric_id_is_a_json_404(client, project, db_session):
    db_session.commit()
    response = client.get("/api/v1/projects/web/runs/abc")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


# --- test history ---------------------------------------------------------------------


def test_history(client, project, db_session, document):
    case = CaseFactory(project=project, name="<script>alert(1)</script>")
    results = result_history(case, "PFR", branch="main", job="unit")
    db_session.commit()

    body = check(client.get(f"/api/v1/projects/web/tests/{case.id}/history"), document, HISTORY)

    assert body["case"]["name"] == "<script>alert(1)</script>"  # JSON carries it as data
    assert [e["run_id"] for e in body["executions"]] == [r.run_id for r in results]
    assert [e["outcome"] for e in body["executions"]] == ["passed", "failed", "passed"]
    assert body["executions"][2]["retry_flake"] is True
    assert body["failure_groups"][0]["last_run_id"] == results[1].run_id


@pytest.mark.parametrize("case_id", ["other", "999999", str(10**30)])
def test_history_404(client, project, db_session, document, case_id):
    if case_id == "other":
        case_id = str(CaseFactory().id)
    db_session.commit()
    response = client.get(f"/api/v1/projects/web/tests/{case_id}/history")
    assert response.status_code == 404
    check(response, document, HISTORY)


def test_openapi_describes_the_three_endpoints(document):
    paths = document["paths"]
    listing = paths["/api/v1/projects/{slug}/runs"]["get"]
    assert [p["name"] for p in listing["parameters"]] == [
        "slug",
        "branch",
        "job",
        "status",
        "page",
        "per_page",
    ]
    assert set(listing["responses"]) == {"200", "400", "401", "403", "404"}
    for path in ("/projects/{slug}/runs/{run_id}", "/projects/{slug}/tests/{case_id}/history"):
        assert set(paths[f"/api/v1{path}"]["get"]["responses"]) == {"200", "401", "403", "404"}
