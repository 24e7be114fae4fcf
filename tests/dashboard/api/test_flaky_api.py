"""The flaky tests report and the quarantine list as JSON (and as lines for CI)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dashboard.models import ApiToken, Quarantine
from tests.factories import (
    ApiTokenFactory,
    CaseFactory,
    ProjectFactory,
    QuarantineFactory,
    result_history,
)

NOW = datetime.now(UTC)
LONG_AGO = NOW - timedelta(days=400)
SECRET = "ss_flaky-api-token"
OTHER_SECRET = "ss_other-project-token"
FLAKY = "/api/v1/projects/web/flaky"
QUARANTINE = "/api/v1/projects/web/quarantine"


@pytest.fixture
def project(db_session):
    project = ProjectFactory(slug="web")
    ApiTokenFactory(project=project, secret=SECRET, name="ci")
    ApiTokenFactory(project=ProjectFactory(slug="other"), secret=OTHER_SECRET)
    return project


def auth(secret: str = SECRET) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def make_case(project, name="test_retry", outcomes="PRF", start=None, **fields):
    fields.setdefault("first_seen_at", LONG_AGO)
    case = CaseFactory(project=project, name=name, **fields)
    result_history(case, outcomes, start=start or NOW - timedelta(days=2))
    return case


def active(db_session, case) -> list[Quarantine]:
    db_session.expire_all()
    query = select(Quarantine).where(Quarantine.case_id == case.id, Quarantine.lifted_at.is_(None))
    return list(db_session.scalars(query))


# --- a small OpenAPI response check (what schemathesis will hold us to) ----------------


def check_schema(value, schema: dict, document: dict, path: str = "$") -> None:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return check_schema(value, document["components"]["schemas"][name], document, path)
    if value is None:
        assert schema.get("nullable"), f"{path} is null"
        return None
    kinds = {
        "object": dict,
        "array": list,
        "string": str,
        "integer": int,
        "number": (int, float),
        "boolean": bool,
    }
    assert isinstance(value, kinds[schema["type"]]), f"{path}: {value!r} is not {schema['type']}"
    if schema["type"] in ("integer", "number"):
        assert not isinstance(value, bool), path
        assert value >= schema.get("minimum", value), path
        assert value <= schema.get("maximum", value), path
    if "enum" in schema:
        assert value in schema["enum"], f"{path}: {value!r} not in {schema['enum']}"
    if schema["type"] == "object":
        for name in schema.get("required", []):
            assert name in value, f"{path}.{name} is missing"
        for name, spec in schema.get("properties", {}).items():
            if name in value:
                check_schema(value[name], spec, document, f"{path}.{name}")
    if schema["type"] == "array":
        for index, item in enumerate(value):
            check_schema(item, schema["items"], document, f"{path}[{index}]")
    return None


def assert_documented(client, response, path: str, method: str = "get") -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"][f"/api/v1{path}"][method]
    described = operation["responses"][str(response.status_code)]
    content_type = response.mimetype
    assert content_type in described["content"], f"{content_type} not described"
    if content_type == "application/json":
        check_schema(response.get_json(), described["content"][content_type]["schema"], document)


# --- GET flaky ------------------------------------------------------------------------


def test_flaky_report_shape(client, db_session, project):
    case = make_case(project, classname="tests.test_api.TestX", file="tests/test_api.py")
    db_session.commit()
    response = client.get(FLAKY)
    assert response.status_code == 200
    body = response.get_json()
    assert body["window_days"] == 30
    [test] = body["tests"]
    assert test["case_id"] == case.id
    assert (test["file"], test["classname"], test["name"]) == (
        "tests/test_api.py",
        "tests.test_api.TestX",
        "test_retry",
    )
    assert test["status"] == "flaky"
    assert (test["executions"], test["failures"], test["flaky_executions"]) == (3, 1, 1)
    assert test["flake_rate"] == pytest.approx(1 / 3)
    assert 0 < test["flake_rate_low"] < test["flake_rate"] < test["flake_rate_high"] < 1
    assert test["flip_rate"] is None
    assert (test["retry_flakes"], test["same_commit_flakes"], test["runs_disrupted"]) == (1, 0, 1)
    assert test["why"] == "retried into a pass in 1 run"
    assert test["quarantined"] is False
    [evidence] = test["evidence"]
    assert evidence["kind"] == "retry_flake"
    assert evidence["run_ids"] == [test["last_flake_run_id"]]
    assert datetime.fromisoformat(evidence["started_at"]) < NOW
    assert_documented(client, response, "/projects/{slug}/flaky")


def test_flaky_report_filters(client, db_session, project):
    make_case(project, name="test_flaky")
    make_case(project, name="test_failing", outcomes="FFF")
    make_case(project, name="test_old", start=NOW - timedelta(days=20))
    QuarantineFactory(case=make_case(project, name="test_quarantined", outcomes="P"))
    db_session.commit()

    def names(query: str) -> list[str]:
        response = client.get(f"{FLAKY}?{query}")
        assert response.status_code == 200
        return sorted(t["name"] for t in response.get_json()["tests"])

    assert names("") == ["test_failing", "test_flaky", "test_old", "test_quarantined"]
    assert names("status=flaky") == ["test_flaky", "test_old"]
    assert names("status=failing") == ["test_failing"]
    assert names("status=quarantined") == ["test_quarantined"]
    assert names("window=7&status=flaky") == ["test_flaky"]
    assert names("branch=feature&status=flaky") == []
    assert names("job=default&status=flaky") == ["test_flaky", "test_old"]


@pytest.mark.parametrize("query", ["status=healthy", "window=5", "window=abc"])
def test_flaky_report_refuses_bad_parameters(client, db_session, project, query):
    db_session.commit()
    response = client.get(f"{FLAKY}?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"
    assert_documented(client, response, "/projects/{slug}/flaky")


def test_flaky_report_survives_a_nul_in_a_filter(client, db_session, project):
    db_session.commit()
    assert client.get(f"{FLAKY}?branch=%00&job=a%00b").status_code == 200


@pytest.mark.parametrize("slug", ["nope", "Not%20A%20Slug", "%00"])
def test_unknown_project_is_a_404(client, db_session, slug):
    response = client.get(f"/api/v1/projects/{slug}/flaky")
    assert response.status_code == 404
    assert client.get(f"/api/v1/projects/{slug}/quarantine").status_code == 404


# --- GET quarantine -------------------------------------------------------------------


@pytest.fixture
def quarantined(db_session, project):
    """Two active quarantines (pytest-style and function-level) and two inactive ones."""
    method = CaseFactory(
        project=project,
        file="tests/test_api.py",
        classname="tests.test_api.TestX",
        name="test_upload[gzip]",
    )
    function = CaseFactory(
        project=project, file="tests/test_ui.py", classname="tests.test_ui", name="test_page"
    )
    QuarantineFactory(case=method, reason="races", expires_at=NOW + timedelta(days=1))
    QuarantineFactory(case=function, reason="slow DNS")
    QuarantineFactory(case=CaseFactory(project=project), expires_at=NOW - timedelta(days=1))
    QuarantineFactory(case=CaseFactory(project=project), lifted_at=NOW - timedelta(days=1))
    QuarantineFactory(case=CaseFactory(project=ProjectFactory()))
    db_session.commit()
    return method, function


def test_quarantine_list_as_json(client, quarantined):
    method, _ = quarantined
    response = client.get(QUARANTINE)
    assert response.status_code == 200
    entries = response.get_json()["quarantined"]
    assert [e["node_id"] for e in entries] == [
        "tests/test_api.py::TestX::test_upload[gzip]",
        "tests/test_ui.py::test_page",
    ]
    first = entries[0]
    assert (first["case_id"], first["reason"], first["created_by"]) == (method.id, "races", "admin")
    assert datetime.fromisoformat(first["expires_at"]) > NOW
    assert first["lifted_at"] is None
    assert_documented(client, response, "/projects/{slug}/quarantine")


def test_quarantine_list_for_pytest(client, quarantined):
    response = client.get(QUARANTINE + "?format=pytest")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.text == (
        "tests/test_api.py::TestX::test_upload[gzip]\ntests/test_ui.py::test_page\n"
    )
    assert_documented(client, response, "/projects/{slug}/quarantine")


def test_quarantine_list_as_text(client, quarantined):
    response = client.get(QUARANTINE + "?format=text")
    assert response.text == "tests.test_api.TestX::test_upload[gzip]\ntests.test_ui::test_page\n"


def test_empty_quarantine_list_for_pytest_is_empty(client, db_session, project):
    db_session.commit()
    assert client.get(QUARANTINE + "?format=pytest").text == ""
    assert client.get(QUARANTINE).get_json() == {"quarantined": []}


def test_unknown_format_is_a_400(client, db_session, project):
    db_session.commit()
    response = client.get(QUARANTINE + "?format=xml")
    assert response.status_code == 400
    assert_documented(client, response, "/projects/{slug}/quarantine")


# --- POST and DELETE quarantine -------------------------------------------------------


def test_post_quarantines_by_case_id(client, db_session, project):
    case = make_case(project)
    db_session.commit()
    response = client.post(
        QUARANTINE,
        json={"case_id": case.id, "reason": "races", "expires_at": "2999-01-31"},
        headers=auth(),
    )
    assert response.status_code == 201
    body = response.get_json()
    assert (body["case_id"], body["reason"], body["created_by"]) == (case.id, "races", "token ci")
    assert body["expires_at"] == "2999-02-01T00:00:00+00:00"
    assert len(active(db_session, case)) == 1
    assert_documented(client, response, "/projects/{slug}/quarantine", "post")
    flaky = client.get(FLAKY).get_json()["tests"][0]
    assert (flaky["status"], flaky["quarantined"]) == ("quarantined", True)


def test_post_quarantines_by_identity(client, db_session, project):
    case = make_case(project, file="tests/test_a.py", classname="tests.test_a", name="test_x")
    db_session.commit()
    response = client.post(
        QUARANTINE,
        json={
            "file": "tests/test_a.py",
            "classname": "tests.test_a",
            "name": "test_x",
            "reason": "flaky on CI",
        },
        headers=auth(),
    )
    assert response.status_code == 201
    assert response.get_json()["node_id"] == "tests/test_a.py::test_x"
    assert len(active(db_session, case)) == 1


def test_delete_lifts_by_query_or_body(client, db_session, project):
    first = make_case(project, name="test_first")
    second = make_case(project, name="test_second", file="f.py", classname="")
    for case in (first, second):
        QuarantineFactory(case=case)
    db_session.commit()
    response = client.delete(f"{QUARANTINE}?case_id={first.id}", headers=auth())
    assert response.status_code == 200
    assert response.get_json()["lifted_at"] is not None
    assert_documented(client, response, "/projects/{slug}/quarantine", "delete")
    response = client.delete(
        QUARANTINE, json={"file": "f.py", "name": "test_second"}, headers=auth()
    )
    assert response.status_code == 200
    assert active(db_session, first) == active(db_session, second) == []
    again = client.delete(f"{QUARANTINE}?case_id={first.id}", headers=auth())
    assert again.status_code == 404
    assert "is not quarantined" in again.get_json()["error"]["message"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), (auth("ss_unknown"), 401), (auth(OTHER_SECRET), 403)],
)
def test_changes_need_this_projects_token(client, db_session, project, headers, status):
    case = make_case(project)
    QuarantineFactory(case=make_case(project, name="test_held"))
    db_session.commit()
    post = client.post(QUARANTINE, json={"case_id": case.id, "reason": "r"}, headers=headers)
    assert post.status_code == status
    assert_documented(client, post, "/projects/{slug}/quarantine", "post")
    held = client.delete(f"{QUARANTINE}?name=test_held", headers=headers)
    assert held.status_code == status
    assert active(db_session, case) == []


def test_revoked_token_is_refused(client, db_session, project):
    case = make_case(project)
    token = db_session.scalar(
        select(ApiToken).where(ApiToken.token_hash == ApiToken.hash_token(SECRET))
    )
    token.revoked_at = NOW
    db_session.commit()
    response = client.post(QUARANTINE, json={"case_id": case.id, "reason": "r"}, headers=auth())
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"case_id": 1, "reason": ""}, 422),  # a reason is required
        ({"reason": "r"}, 400),  # no case named
        ({"case_id": "one", "reason": "r"}, 400),
        ({"case_id": True, "reason": "r"}, 400),
        ({"case_id": 1, "reason": 5}, 400),
        ({"case_id": 1, "reason": "r", "expires_at": "2000-01-01"}, 422),  # in the past
        ({"case_id": 1, "reason": "r", "expires_at": "someday"}, 422),
        ({"case_id": 1, "reason": "r", "expires_at": "9999-12-31"}, 422),
        ({"case_id": 999999, "reason": "r"}, 404),
        ({"case_id": 2**63, "reason": "r"}, 404),
        ({"name": "test_nothing", "reason": "r"}, 404),
        ([1, 2], 400),
    ],
)
def test_post_refusals(client, db_session, project, body, status):
    case = make_case(project)
    db_session.commit()
    if isinstance(body, dict) and type(body.get("case_id")) is int and body["case_id"] == 1:
        body = {**body, "case_id": case.id}
    response = client.post(QUARANTINE, json=body, headers=auth())
    assert response.status_code == status, response.get_json()
    assert_documented(client, response, "/projects/{slug}/quarantine", "post")
    assert active(db_session, case) == []


def test_post_twice_is_a_conflict(client, db_session, project):
    case = make_case(project)
    db_session.commit()
    body = {"case_id": case.id, "reason": "r"}
    assert client.post(QUARANTINE, json=body, headers=auth()).status_code == 201
    response = client.post(QUARANTINE, json=body, headers=auth())
    assert response.status_code == 409
    assert_documented(client, response, "/projects/{slug}/quarantine", "post")


def test_post_needs_json(client, db_session, project):
    db_session.commit()
    response = client.post(QUARANTINE, data="reason=r", headers=auth())
    assert response.status_code == 400


def test_token_use_is_recorded(client, db_session, project):
    case = make_case(project)
    db_session.commit()
    client.post(QUARANTINE, json={"case_id": case.id, "reason": "r"}, headers=auth())
    db_session.expire_all()
    token = db_session.scalar(
        select(ApiToken).where(ApiToken.token_hash == ApiToken.hash_token(SECRET))
    )
    assert token.last_used_at is not None


def test_every_operation_is_described(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert set(paths["/api/v1/projects/{slug}/flaky"]) == {"get"}
    assert set(paths["/api/v1/projects/{slug}/quarantine"]) == {"get", "post", "delete"}
