"""GET /api/v1/projects/<slug>/runs/<id>/results: every result of one run, as JSON."""

from __future__ import annotations

import pytest

from tests.dashboard.api.schema_check import documented_get
from tests.factories import ProjectFactory, ResultFactory, RunFactory

PATH = "/api/v1/projects/{slug}/runs/{run_id}/results"


@pytest.fixture
def document(client, db_session) -> dict:
    return client.get("/api/v1/openapi.json").get_json()


@pytest.fixture
def run(db_session):
    run = RunFactory(project=ProjectFactory(slug="web"))
    ResultFactory(run=run, case__name="test_ok", case__file="tests/a.py", duration_s=2.5)
    ResultFactory(run=run, case__name="test_broken", case__file="tests/a.py", failing=True)
    ResultFactory(run=run, case__name="test_retried", case__file="tests/b.py", flaky=True)
    db_session.commit()
    return run


def listed(client, document: dict, run_id: int, query: str = "", status: int = 200) -> dict:
    url = PATH.format(slug="web", run_id=run_id) + query
    return documented_get(client, document, PATH, url, status)


def test_lists_the_runs_results_problems_first(client, document, run):
    body = listed(client, document, run.id)

    assert (body["total"], body["page"], body["pages"], body["per_page"]) == (3, 1, 1, 50)
    assert [r["case"]["name"] for r in body["results"]] == [
        "test_broken",
        "test_retried",
        "test_ok",
    ]
    broken, retried, ok = body["results"]
    assert broken["outcome"] == "failed"
    assert broken["message"] == "assert 1 == 2"
    assert (retried["outcome"], retried["retry_flake"], retried["attempts"]) == ("passed", True, 2)
    assert ok["duration_s"] == 2.5
    assert ok["case"]["file"] == "tests/a.py"
    assert set(ok["case"]) == {"id", "file", "classname", "name"}


def test_status_search_sort_and_paging(client, document, run):
    def names(query: str) -> list[str]:
        return [r["case"]["name"] for r in listed(client, document, run.id, query)["results"]]

    assert names("?status=failing") == ["test_broken"]
    assert names("?status=retried") == ["test_retried"]
    assert names("?status=passed") == ["test_retried", "test_ok"]
    assert names("?q=B.PY") == ["test_retried"]
    assert names("?sort=-duration") == ["test_ok", "test_broken", "test_retried"]
    assert names("?sort=name") == ["test_broken", "test_ok", "test_retried"]
    past = listed(client, document, run.id, "?page=3&per_page=25")
    assert (past["results"], past["total"], past["page"]) == ([], 3, 3)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?status=green", "`status` must be one of failing, failed, error, retried"),
        ("?sort=speed", "`sort` must be one of status, -status, name"),
        ("?per_page=7", "`per_page` must be one of 25, 50, 100"),
        ("?page=0", "`page` must be a whole number of at least 1"),
    ],
)
def test_bad_parameters_are_400_with_the_reason(client, document, run, query, message):
    body = listed(client, document, run.id, query, status=400)
    assert message in body["error"]["message"]


def test_another_projects_run_and_unknown_ids_are_404(client, document, run, db_session):
    other = RunFactory()
    db_session.commit()
    for run_id in (other.id, 2**40):
        body = listed(client, document, run_id, status=404)
        assert f"project 'web' has no run {run_id}" in body["error"]["message"]
