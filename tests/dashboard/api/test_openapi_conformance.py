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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
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
    runs = result_history(flaky, "PRFPPFPR", start=now - timedelta(days=6), commit_sha="a" * 40)
    runs += result_history(failing, "PPPPFFFF", start=now - timedelta(days=6), job="lint")
    QuarantineFactory(case=quarantined, expires_at=now + timedelta(days=30))
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
    run_ids = sorted({r.run_id for r in runs} | {reply.get_json()["run_id"]})
    return ApiData(run_ids=run_ids, case_ids=[flaky.id, failing.id, quarantined.id])


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
