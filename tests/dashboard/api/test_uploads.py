"""POST /api/v1/uploads: authentication, formats, merging, duplicates, refusals."""

from __future__ import annotations

import gzip
import io

import pytest
from sqlalchemy import func, select

from dashboard.models import ApiToken, Case, CoverageReport, Result, Run, Upload, utcnow
from tests.dashboard.api.schema_check import assert_matches
from tests.factories import ApiTokenFactory, ProjectFactory

JUNIT = b"""<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="3" failures="1" skipped="1" time="1.5"
  timestamp="2026-11-20T10:00:00">
  <testcase classname="tests.test_a" name="test_ok" file="tests/test_a.py" time="0.5"/>
  <testcase classname="tests.test_a" name="test_bad" file="tests/test_a.py" time="0.25">
    <failure message="assert 1 == 2" type="AssertionError">def test_bad():
&gt;       assert 1 == 2</failure></testcase>
  <testcase classname="tests.test_a" name="test_skip" file="tests/test_a.py" time="0">
    <skipped message="later"/></testcase>
</testsuite></testsuites>
"""

JUNIT_SHARD_2 = b"""<testsuite name="pytest">
  <testcase classname="tests.test_b" name="test_other" file="tests/test_b.py" time="0.1"/>
</testsuite>
"""

COBERTURA = b"""<?xml version="1.0" ?>
<!DOCTYPE coverage SYSTEM "http://cobertura.sourceforge.net/xml/coverage-04.dtd">
<coverage line-rate="0.75" branch-rate="0.5" lines-covered="3" lines-valid="4"
  branches-covered="1" branches-valid="2" version="7.6.1" timestamp="1">
 <sources><source>/home/ci/project</source></sources>
 <packages><package name="src" line-rate="0.75" branch-rate="0.5">
  <classes><class name="app.py" filename="src/app.py" line-rate="0.75" branch-rate="0.5">
   <lines>
    <line number="1" hits="1"/>
    <line number="2" hits="1" branch="true" condition-coverage="50% (1/2)"/>
    <line number="3" hits="1"/>
    <line number="4" hits="0"/>
   </lines>
  </class></classes>
 </package></packages>
</coverage>
"""

SECRET = "ss_upload-test-token"


@pytest.fixture
def token(db_session) -> ApiToken:
    token = ApiTokenFactory(project=ProjectFactory(slug="web"), secret=SECRET)
    db_session.commit()
    return token


def auth(secret: str = SECRET) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def post_files(client, *files: tuple[str, bytes], headers=None, **fields):
    data = {**fields, "file": [(io.BytesIO(content), name) for name, content in files]}
    return client.post(
        "/api/v1/uploads",
        data=data,
        headers=headers if headers is not None else auth(),
        content_type="multipart/form-data",
    )


def count(db_session, model) -> int:
    return db_session.scalar(select(func.count()).select_from(model))


def test_a_junit_and_coverage_upload_is_stored(client, db_session, token):
    response = post_files(
        client,
        ("junit.xml", JUNIT),
        ("coverage.xml", COBERTURA),
        commit="a" * 40,
        branch="main",
        build="42",
        job="py3.12",
        build_url="https://ci.example.org/builds/42",
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["duplicate"] is False
    assert body["counts"] == {
        "tests": 3,
        "passed": 1,
        "failed": 1,
        "errors": 0,
        "skipped": 1,
        "retry_flakes": 0,
    }
    assert body["coverage"] == {"line_rate": 0.75, "branch_rate": 0.5}
    assert body["run_url"] == f"http://localhost/p/web/runs/{body['run_id']}"
    assert [f["format"] for f in body["files"]] == ["junit", "cobertura"]
    assert body["files"][0]["cases"] == 3
    assert body["files"][1]["coverage_files"] == 1
    run = db_session.get(Run, body["run_id"])
    assert (run.build, run.job, run.branch, run.commit_sha) == ("42", "py3.12", "main", "a" * 40)
    assert run.started_at.isoformat() == "2026-11-20T10:00:00+00:00"
    assert count(db_session, Result) == 3
    assert db_session.get(ApiToken, token.id).last_used_at is not None


@pytest.mark.parametrize(
    "files",
    [
        [("junit.xml", JUNIT), ("coverage.xml", COBERTURA)],
        [("junit.xml", JUNIT)],  # coverage: null
        [("coverage.xml", COBERTURA)],  # no test counts
    ],
)
def test_replies_match_the_documented_schema(client, db_session, token, files):
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/api/v1/uploads"]["post"]["responses"]
    for status in (201, 200):  # stored, then the same files again: duplicates
        response = post_files(client, *files, build="schema")
        assert response.status_code == status, response.get_json()
        schema = operation[str(status)]["content"]["application/json"]["schema"]
        assert_matches(response.get_json(), schema, document)


def test_shards_of_one_build_and_job_merge_into_one_run(client, db_session, token):
    first = post_files(client, ("a.xml", JUNIT), build="7", job="unit").get_json()
    second = post_files(client, ("b.xml", JUNIT_SHARD_2), build="7", job="unit").get_json()
    other_job = post_files(client, ("b.xml", JUNIT_SHARD_2), build="7", job="lint").get_json()
    assert first["run_id"] == second["run_id"] != other_job["run_id"]
    assert second["counts"]["tests"] == 4
    assert count(db_session, Run) == 2


def test_sending_the_same_file_again_is_a_duplicate(client, db_session, token):
    first = post_files(client, ("junit.xml", JUNIT), build="9")
    again = post_files(client, ("renamed.xml", gzip.compress(JUNIT)), build="9")
    assert first.status_code == 201
    assert again.status_code == 200
    body = again.get_json()
    assert body["duplicate"] is True
    assert body["files"][0]["duplicate"] is True
    assert body["counts"]["tests"] == 3
    assert count(db_session, Upload) == 1
    assert count(db_session, Result) == 3


def test_uploads_without_a_build_are_separate_runs(client, db_session, token):
    post_files(client, ("junit.xml", JUNIT))
    post_files(client, ("junit.xml", JUNIT))
    assert count(db_session, Run) == 2
    assert count(db_session, Case) == 3


def test_a_raw_body_with_query_metadata(client, db_session, token):
    response = client.post(
        "/api/v1/uploads?branch=dev&build=5&name=report.xml.gz",
        data=gzip.compress(JUNIT),
        headers={**auth(), "Content-Type": "application/gzip"},
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["files"][0]["name"] == "report.xml.gz"
    assert db_session.get(Run, body["run_id"]).branch == "dev"


def test_a_raw_coverage_body(client, db_session, token):
    lcov = b"SF:src/a.py\nDA:1,1\nDA:2,0\nBRDA:2,0,0,1\nBRDA:2,0,1,0\nend_of_record\n"
    response = client.post(
        "/api/v1/uploads", data=lcov, headers={**auth(), "Content-Type": "text/plain"}
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["coverage"] == {"line_rate": 0.5, "branch_rate": 0.5}


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({}, 401, "Authorization: Bearer"),
        ({"Authorization": "Basic abc"}, 401, "Authorization: Bearer"),
        ({"Authorization": "Bearer ss_nope"}, 401, "unknown token"),
    ],
)
def test_missing_or_unknown_tokens_are_401(client, db_session, token, headers, status, message):
    response = post_files(client, ("junit.xml", JUNIT), headers=headers)
    assert response.status_code == status
    assert message in response.get_json()["error"]["message"]
    assert response.headers["WWW-Authenticate"].lower().startswith("bearer")
    assert count(db_session, Run) == 0


def test_a_revoked_token_is_403(client, db_session, token):
    db_session.get(ApiToken, token.id).revoked_at = utcnow()
    db_session.commit()
    response = post_files(client, ("junit.xml", JUNIT))
    assert response.status_code == 403
    assert "revoked" in response.get_json()["error"]["message"]


def test_one_bad_file_stores_nothing(client, db_session, token):
    response = post_files(client, ("good.xml", JUNIT), ("bad.xml", b"<testsuite><testcase"))
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["filename"] == "bad.xml"
    assert error["line"] == 1
    assert "bad.xml" in error["message"]
    assert count(db_session, Run) == count(db_session, Upload) == count(db_session, Case) == 0


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (
            b'<!DOCTYPE x [<!ENTITY a "b">]><testsuite><testcase name="&a;"/></testsuite>',
            400,
            "forbidden_xml",
        ),
        (b'<?xml version="1.0"?><test-run id="2"></test-run>', 415, "unsupported_format"),
        (b"<testsuite name='empty' tests='0'></testsuite>", 422, "empty_report"),
        (b"\x00\x01binary", 415, "unsupported_format"),
    ],
)
def test_refusals_have_their_status(client, db_session, token, content, status, code):
    response = post_files(client, ("report", content))
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
    assert count(db_session, Run) == 0


def test_unreadable_metadata_is_422(client, db_session, token):
    response = post_files(client, ("junit.xml", JUNIT), started_at="last tuesday")
    assert response.status_code == 422
    assert "ISO 8601" in response.get_json()["error"]["message"]


def test_a_javascript_build_url_is_refused(client, db_session, token):
    response = post_files(client, ("junit.xml", JUNIT), build_url="javascript:alert(1)")
    assert response.status_code == 422


def test_no_file_field_is_400(client, db_session, token):
    response = client.post(
        "/api/v1/uploads",
        data={"branch": "main"},
        headers=auth(),
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "file" in response.get_json()["error"]["message"]


def test_an_unknown_content_type_is_415(client, db_session, token):
    response = client.post(
        "/api/v1/uploads", data=b"x", headers={**auth(), "Content-Type": "image/png"}
    )
    assert response.status_code == 415


def test_more_than_the_upload_limit_is_413(app, client, db_session, token):
    limit = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 1024
    try:
        response = client.post(
            "/api/v1/uploads",
            data=JUNIT * 10,
            headers={**auth(), "Content-Type": "application/xml"},
        )
    finally:
        app.config["MAX_CONTENT_LENGTH"] = limit
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"


def test_a_gzip_bomb_is_413(app, client, db_session, token):
    limit = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    bomb = gzip.compress(b"<testsuite>" + b" " * (2 * 1024 * 1024) + b"</testsuite>")
    try:
        response = client.post(
            "/api/v1/uploads", data=bomb, headers={**auth(), "Content-Type": "application/gzip"}
        )
    finally:
        app.config["MAX_CONTENT_LENGTH"] = limit
    assert response.status_code == 413
    assert count(db_session, Run) == 0


def test_coverage_only_upload_has_no_test_counts(client, db_session, token):
    body = post_files(client, ("coverage.xml", COBERTURA), build="c1").get_json()
    assert body["counts"]["tests"] == 0
    assert db_session.scalars(select(CoverageReport)).one().branches_valid == 2
