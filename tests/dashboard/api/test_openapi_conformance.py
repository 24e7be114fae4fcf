"""Schemathesis against ``/api/v1/openapi.json``: no 5xx, and every response as documented.

The schema comes from the app itself (WSGI, no network) through a fixture, so
every operation runs inside the test's rolled-back transaction, against data
made here: a project with runs (one through the upload API, with its files),
a flaky test, a failing one, coverage, a quarantine and a token. Path
parameters mostly name that data (a slug, run and case ids), sometimes
anything else, so both the answers and the 404s are exercised. Every request
carries the project's token, so the writes (quarantine, uploads) get past
authentication; the reads accept it too.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import (
    ApiTokenFactory,
    CaseFactory,
    ProjectFactory,
    QuarantineFactory,
    coverage_run,
    result_history,
    run_with_results,
)

SECRET = "ss_conformance-token"
SLUG = "web"
DOCUMENT = "/api/v1/openapi.json"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 25

JUNIT = b"""<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="3" failures="1" skipped="1" time="1.5">
  <testcase classname="tests.test_a" name="test_ok" file="tests/test_a.py" time="0.5"/>
  <testcase classname="tests.test_a" name="test_bad" file="tests/test_a.py" time="0.25">
    <failure message="assert 1 == 2" type="AssertionError">assert 1 == 2</failure></testcase>
  <testcase classname="tests.test_a" name="test_skip" file="tests/test_a.py" time="0">
    <skipped message="later"/></testcase>
</testsuite></testsuites>
"""
COBERTURA = b"""<?xml version="1.0" ?>
<coverage line-rate="0.75" branch-rate="0.5" lines-covered="3" lines-valid="4"
  branches-covered="1" branches-valid="2" version="7.6.1" timestamp="1">
 <packages><package name="src"><classes>
  <class name="app.py" filename="src/app.py" line-rate="0.75" branch-rate="0.5"><lines>
   <line number="1" hits="1"/>
   <line number="2" hits="1" branch="true" condition-coverage="50% (1/2)"/>
   <line number="3" hits="1"/>
   <line number="4" hits="0"/>
  </lines></class>
 </classes></package></packages>
</coverage>
"""


@dataclass(frozen=True)
class ApiData:
    run_ids: list[int]
    case_ids: list[int]


@pytest.fixture
def api_data(app, db_session) -> ApiData:
    """A project whose every endpoint has something to say; committed (to the savepoint)
    so the requests, each with its own session, see it."""
    now = datetime.now(UTC)
    project = ProjectFactory(slug=SLUG)
    ApiTokenFactory(project=project, secret=SECRET, name="ci")
    ApiTokenFactory(project=ProjectFactory(slug="other"))
    long_ago = now - timedelta(days=60)
    flaky = CaseFactory(project=project, name="test_retry", first_seen_at=long_ago)
    failing = CaseFactory(project=project, name="test_broken", first_seen_at=long_ago)
    quarantined = CaseFactory(project=project, name="test_quarantined")
    slow = CaseFactory(project=project, name="test_slowing_down", first_seen_at=long_ago)
    # A daily history over the last two complete weeks (the review's default week and
    # the one before), and a test that became slow in the last week (a regression).
    daily = {"start": now - timedelta(days=15), "step": timedelta(days=1)}
    results = result_history(flaky, "PRFPPFPRPFPRPP", commit_sha="a" * 40, **daily)
    results += result_history(failing, "PPPPPPPPPPFFFF", job="lint", **daily)
    runs = [result.run for result in results]
    for day in (*range(20, 9, -2), *range(6, 0, -1)):
        duration = 0.2 if day > 7 else 3.5
        runs.append(
            run_with_results(project, now - timedelta(days=day), {slow: {"duration_s": duration}})
        )
    QuarantineFactory(
        case=quarantined, created_at=now - timedelta(days=20), expires_at=now + timedelta(days=30)
    )
    for days in (5, 2):
        coverage_run(
            project,
            {"src/app.py": (10, 8, 4, 2), "src/lines_only.py": (5, 5, None, None)},
            started_at=now - timedelta(days=days),
        )
    db_session.commit()

    client = app.test_client()
    reply = client.post(
        "/api/v1/uploads",
        headers={"Authorization": f"Bearer {SECRET}"},
        data={
            "file": [(_bytes(JUNIT), "junit.xml"), (_bytes(COBERTURA), "coverage.xml")],
            "branch": "main",
            "build": "upload-1",
            "started_at": (now - timedelta(days=1)).isoformat(),
        },
    )
    assert reply.status_code == 201, reply.get_json()
    run_ids = sorted({run.id for run in runs} | {reply.get_json()["run_id"]})
    return ApiData(run_ids=run_ids, case_ids=[flaky.id, failing.id, slow.id, quarantined.id])


def _bytes(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)


# Path parameter values that stand for the fixture's rows: the schema is loaded when
# the module is collected, before any row (or its id) exists, so the dictionaries
# hold placeholders and ``aim_at`` swaps in the real ids. Random ids rarely hit these.
ID_PLACEHOLDER_BASE = 1_900_000_000
PLACEHOLDERS = list(range(ID_PLACEHOLDER_BASE, ID_PLACEHOLDER_BASE + 12))

CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
        "phases": {"stateful": {"enabled": False}},
        "headers": {"Authorization": f"Bearer {SECRET}"},
        "dictionaries": {"slugs": {"values": [SLUG]}, "ids": {"values": PLACEHOLDERS}},
        "parameters": {
            "path.slug": {"dictionary": "slugs", "probability": 0.8},
            "path.run_id": {"dictionary": "ids", "probability": 0.8},
            "path.case_id": {"dictionary": "ids", "probability": 0.8},
            "query.case_id": {"dictionary": "ids", "probability": 0.8},
            "body.case_id": {"dictionary": "ids", "probability": 0.8},
        },
    }
)


# Raw gzip bodies go out as the generated bytes (which the server must refuse cleanly).
schemathesis.serializer.alias("application/gzip", "application/octet-stream")


def document_app():
    """An app only to read the document from: it needs no database."""
    from dashboard import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "TESTING": True})


schema = schemathesis.openapi.from_wsgi(DOCUMENT, document_app(), config=CONFIG)


def aim_at(case, data: ApiData) -> None:
    """Replace placeholder ids with the fixture's ids (a placeholder past the end: unknown)."""
    for container, name, ids in (
        (case.path_parameters, "run_id", data.run_ids),
        (case.path_parameters, "case_id", data.case_ids),
        (case.query, "case_id", data.case_ids),
        (case.body if isinstance(case.body, dict) else None, "case_id", data.case_ids),
    ):
        value = (container or {}).get(name)
        if isinstance(value, int) and value - ID_PLACEHOLDER_BASE in range(len(ids)):
            container[name] = ids[value - ID_PLACEHOLDER_BASE]


# The fixtures are per operation, not per example: the examples of one operation share its
# data (and its writes), all inside the one transaction that is rolled back afterwards.
EXAMPLES = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@schema.parametrize()
@EXAMPLES
def test_every_operation_conforms(case, app, api_data):
    aim_at(case, api_data)
    case.call_and_validate(app=app, checks=CHECKS)


@schema.parametrize()
@EXAMPLES
def test_every_operation_conforms_in_private_mode(case, app, api_data, monkeypatch):
    """Reads need the token, which reads only its own project (another slug: 403)."""
    monkeypatch.setitem(app.config, "SUITESCOPE_PRIVATE", True)
    aim_at(case, api_data)
    case.call_and_validate(app=app, checks=CHECKS)


# --- the checks can fail --------------------------------------------------------------


def lying_document(document: dict) -> dict:
    """The real document, except that a project's ``is_demo`` is said to be a string
    and ``GET /projects`` is said to answer only 201."""
    document = json.loads(json.dumps(document))
    project = document["components"]["schemas"]["Project"]
    project["properties"]["is_demo"] = {"type": "string"}
    responses = document["paths"]["/api/v1/projects"]["get"]["responses"]
    responses["201"] = responses.pop("200")
    return document


def test_the_checks_catch_a_document_that_lies(app, client, api_data):
    """The same checks, fed a document that disagrees with the app, must fail: proof that
    the conformance test above would notice a drift, not pass whatever happens."""
    document = lying_document(client.get(DOCUMENT).get_json())
    lying = schemathesis.openapi.from_dict(document)
    case = lying["/api/v1/projects"]["GET"].Case()
    response = case.call(app=app)
    assert response.status_code == 200

    with pytest.raises(FailureGroup) as failed:
        case.validate_response(response, checks=CHECKS)
    kinds = {type(failure).__name__ for failure in failed.value.exceptions}
    assert kinds == {"UndefinedStatusCode"}

    # With the status put right, the body's wrong type is what fails.
    document["paths"]["/api/v1/projects"]["get"]["responses"]["200"] = document["paths"][
        "/api/v1/projects"
    ]["get"]["responses"].pop("201")
    case = schemathesis.openapi.from_dict(document)["/api/v1/projects"]["GET"].Case()
    with pytest.raises(FailureGroup) as failed:
        case.validate_response(case.call(app=app), checks=CHECKS)
    kinds = {type(failure).__name__ for failure in failed.value.exceptions}
    assert kinds == {"JsonSchemaError"}


def test_the_checks_catch_a_server_error(app, client):
    """A 500 (here from a view made to raise) fails ``not_a_server_error``."""
    case = schema["/api/v1/projects"]["GET"].Case()
    with mock.patch("dashboard.access.readable_projects", side_effect=RuntimeError("boom")):
        response = case.call(app=app)
    assert response.status_code == 500
    with pytest.raises(FailureGroup) as failed:
        case.validate_response(response, checks=[not_a_server_error])
    assert {type(f).__name__ for f in failed.value.exceptions} == {"ServerError"}


def test_the_data_fills_the_lists_the_schema_describes(client, api_data):
    """Empty lists match any item schema: the data must put something in each."""
    base = f"/api/v1/projects/{SLUG}"
    expected = {
        f"{base}/durations": ("slowest", "regressions", "wall_time"),
        f"{base}/flaky": ("tests",),
        f"{base}/coverage": ("trend", "files"),
        f"{base}/quarantine": ("quarantined",),
        f"{base}/tests": ("tests",),
        f"{base}/review": ("top_flaky",),
        f"{base}/runs/{api_data.run_ids[-1]}": ("uploads", "failure_groups", "coverage"),
    }
    empty = [
        f"{path} {name}"
        for path, names in expected.items()
        for name in names
        if not client.get(path).get_json()[name]
    ]
    assert empty == []
    assert client.get(f"{base}/review").get_json()["quarantine"]["active"]
