"""The upload client: CI metadata, file expansion, gzip, and the HTTP retry loop.

No test reaches the network: a fake session answers with prepared responses,
except the last one, which runs real ``requests`` against a tiny server on
127.0.0.1 to prove the retries work over a socket.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from ingest import upload_client
from ingest.upload_client import (
    MAX_RETRY_AFTER,
    UploadFailed,
    UploadInputError,
    ci_metadata,
    expand_paths,
    gzip_file,
    human_size,
    resolve_metadata,
    upload,
)

REPLY = {
    "run_id": 42,
    "run_url": "https://suitescope.test/projects/web/runs/42",
    "duplicate": False,
    "counts": {"tests": 3, "passed": 2, "failed": 1, "errors": 0, "skipped": 0, "retry_flakes": 0},
    "coverage": None,
    "files": [{"name": "junit.xml", "format": "junit", "cases": 3, "warnings": []}],
}


# --- fakes ---------------------------------------------------------------------------


def make_response(
    status: int,
    *,
    body: dict | None = None,
    text: str = "",
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """A real ``requests.Response`` holding prepared bytes, as the transport would build it."""
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode() if body is not None else text.encode()
    response.encoding = "utf-8"
    response.headers.update(headers or {})
    if body is not None:
        response.headers["Content-Type"] = "application/json"
    return response


class FakeSession:
    """Answers each ``post`` with the next prepared response (or raises it) and records it."""

    def __init__(self, *answers: requests.Response | Exception) -> None:
        self.answers = list(answers)
        self.calls: list[dict] = []
        self.closed = False

    def __enter__(self) -> FakeSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.closed = True

    def post(self, url: str, **kwargs) -> requests.Response:
        self.calls.append({"url": url, **kwargs})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class Recorder:
    """Collects progress lines and sleeps, so backoff is checked without waiting."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.sleeps: list[float] = []

    def progress(self, line: str) -> None:
        self.lines.append(line)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture
def report(tmp_path: Path) -> Path:
    path = tmp_path / "junit.xml"
    path.write_text('<testsuite tests="1"><testcase name="t"/></testsuite>')
    return path


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def send(session: FakeSession, paths: list[Path], recorder: Recorder, **metadata: str) -> dict:
    return upload(
        "https://suitescope.test/",
        "ss_secret",
        metadata,
        paths,
        session=session,
        progress=recorder.progress,
        sleep=recorder.sleep,
    )


# --- CI metadata -----------------------------------------------------------------------

GITHUB = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_SHA": "a" * 40,
    "GITHUB_REF_NAME": "main",
    "GITHUB_RUN_ID": "9001",
    "GITHUB_RUN_ATTEMPT": "2",
    "GITHUB_JOB": "tests",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "acme/web",
}


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        pytest.param(
            GITHUB,
            {
                "commit": "a" * 40,
                "branch": "main",
                "build": "9001-2",
                "job": "tests",
                "build_url": "https://github.com/acme/web/actions/runs/9001",
            },
            id="github-push",
        ),
        pytest.param(
            {**GITHUB, "GITHUB_REF_NAME": "17/merge", "GITHUB_HEAD_REF": "feature/login"},
            {
                "commit": "a" * 40,
                "branch": "feature/login",
                "build": "9001-2",
                "job": "tests",
                "build_url": "https://github.com/acme/web/actions/runs/9001",
            },
            id="github-pull-request",
        ),
        pytest.param(
            {
                "GITLAB_CI": "true",
                "CI_COMMIT_SHA": "b" * 40,
                "CI_COMMIT_REF_NAME": "main",
                "CI_PIPELINE_ID": "555",
                "CI_JOB_NAME": "rspec",
                "CI_JOB_URL": "https://gitlab.example.com/acme/web/-/jobs/77",
                "CI_PIPELINE_URL": "https://gitlab.example.com/acme/web/-/pipelines/555",
            },
            {
                "commit": "b" * 40,
                "branch": "main",
                "build": "555",
                "job": "rspec",
                "build_url": "https://gitlab.example.com/acme/web/-/jobs/77",
            },
            id="gitlab",
        ),
        pytest.param(
            {
                "GITLAB_CI": "true",
                "CI_COMMIT_REF_NAME": "feature/login",
                "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature/login-mr",
                "CI_PIPELINE_ID": "556",
                "CI_JOB_NAME": "rspec 2/4",
                "CI_NODE_INDEX": "2",
                "CI_NODE_TOTAL": "4",
                "CI_PIPELINE_URL": "https://gitlab.example.com/acme/web/-/pipelines/556",
            },
            {
                "branch": "feature/login-mr",
                "build": "556",
                "job": "rspec",
                "build_url": "https://gitlab.example.com/acme/web/-/pipelines/556",
            },
            id="gitlab-parallel-shard-of-a-merge-request",
        ),
        pytest.param(
            {
                "CIRCLECI": "true",
                "CIRCLE_SHA1": "c" * 40,
                "CIRCLE_BRANCH": "main",
                "CIRCLE_WORKFLOW_ID": "6c1f-workflow",
                "CIRCLE_BUILD_NUM": "314",
                "CIRCLE_JOB": "test",
                "CIRCLE_BUILD_URL": "https://circleci.com/gh/acme/web/314",
            },
            {
                "commit": "c" * 40,
                "branch": "main",
                "build": "6c1f-workflow",
                "job": "test",
                "build_url": "https://circleci.com/gh/acme/web/314",
            },
            id="circleci",
        ),
        pytest.param(
            {"CIRCLECI": "true", "CIRCLE_BUILD_NUM": "314", "CIRCLE_JOB": "test"},
            {"build": "314", "job": "test"},
            id="circleci-without-workflow",
        ),
        pytest.param(
            {
                "BUILDKITE": "true",
                "BUILDKITE_COMMIT": "d" * 40,
                "BUILDKITE_BRANCH": "main",
                "BUILDKITE_BUILD_ID": "9e08ef3c-d6e6-4a86-91dd-577ce5205b8e",
                "BUILDKITE_LABEL": ":pytest: Tests",
                "BUILDKITE_STEP_KEY": "tests",
                "BUILDKITE_BUILD_URL": "https://buildkite.com/acme/web/builds/1514",
            },
            {
                "commit": "d" * 40,
                "branch": "main",
                "build": "9e08ef3c-d6e6-4a86-91dd-577ce5205b8e",
                "job": ":pytest: Tests",
                "build_url": "https://buildkite.com/acme/web/builds/1514",
            },
            id="buildkite",
        ),
        pytest.param(
            {
                "BUILDKITE": "true",
                "BUILDKITE_COMMIT": "HEAD",
                "BUILDKITE_BUILD_ID": "uuid",
                "BUILDKITE_STEP_KEY": "tests",
            },
            {"build": "uuid", "job": "tests"},
            id="buildkite-manual-build-on-HEAD",
        ),
        pytest.param(
            {
                "JENKINS_URL": "https://jenkins.example.com/",
                "GIT_COMMIT": "e" * 40,
                "GIT_BRANCH": "origin/main",
                "BUILD_TAG": "jenkins-web-153",
                "BUILD_NUMBER": "153",
                "JOB_NAME": "web",
                "BUILD_URL": "https://jenkins.example.com/job/web/153/",
            },
            {
                "commit": "e" * 40,
                "branch": "main",
                "build": "jenkins-web-153",
                "job": "web",
                "build_url": "https://jenkins.example.com/job/web/153/",
            },
            id="jenkins-freestyle",
        ),
        pytest.param(
            {
                "JENKINS_HOME": "/var/jenkins_home",
                "BRANCH_NAME": "PR-24",
                "CHANGE_BRANCH": "feature/login",
                "BUILD_NUMBER": "7",
                "JOB_NAME": "web/PR-24",
                "STAGE_NAME": "Unit tests",
            },
            {"branch": "feature/login", "build": "7", "job": "Unit tests"},
            id="jenkins-multibranch-pull-request",
        ),
    ],
)
def test_ci_metadata_reads_each_ci(environ: dict[str, str], expected: dict[str, str]) -> None:
    assert ci_metadata(environ) == expected


def test_github_first_attempt_and_runs_without_attempt_number() -> None:
    assert ci_metadata({**GITHUB, "GITHUB_RUN_ATTEMPT": "1"})["build"] == "9001-1"
    without_attempt = {k: v for k, v in GITHUB.items() if k != "GITHUB_RUN_ATTEMPT"}
    assert ci_metadata(without_attempt)["build"] == "9001"


def test_outside_ci_there_is_no_metadata() -> None:
    assert ci_metadata({"HOME": "/home/me", "GITHUB_SHA": "stray"}) == {}


def test_empty_variables_are_left_out() -> None:
    assert ci_metadata({"CIRCLECI": "true", "CIRCLE_BRANCH": "", "CIRCLE_JOB": " "}) == {}


def test_flags_override_the_environment_and_unset_flags_do_not() -> None:
    flags = {"commit": "f" * 40, "job": "tests-py3.12", "branch": None, "build": ""}
    assert resolve_metadata(flags, GITHUB) == {
        "commit": "f" * 40,
        "branch": "main",
        "build": "9001-2",
        "job": "tests-py3.12",
        "build_url": "https://github.com/acme/web/actions/runs/9001",
    }


# --- files -----------------------------------------------------------------------------


def test_expand_paths_globs_recursively_sorted_and_once_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("b/junit.xml", "a/deep/er/junit.xml", "a/coverage.xml", "a/notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("<x/>")
    monkeypatch.chdir(tmp_path)

    found = expand_paths(["**/*.xml", "a/coverage.xml", "./b/junit.xml"])

    assert found == [Path("a/coverage.xml"), Path("a/deep/er/junit.xml"), Path("b/junit.xml")]


def test_an_existing_file_with_glob_characters_is_taken_literally(tmp_path: Path) -> None:
    literal = tmp_path / "junit[py3.12].xml"
    literal.write_text("<testsuite/>")
    assert expand_paths([str(literal)]) == [literal]


def test_a_pattern_matching_nothing_is_an_error_naming_it(report: Path) -> None:
    with pytest.raises(UploadInputError, match=r"no file matches 'reports/\*\*/\*\.xml'"):
        expand_paths([str(report), "reports/**/*.xml"])


def test_a_directory_is_not_a_report(tmp_path: Path) -> None:
    with pytest.raises(UploadInputError, match="no file matches"):
        expand_paths([str(tmp_path)])


def test_gzip_file_compresses_deterministically(report: Path) -> None:
    data = gzip_file(report)
    assert data[:2] == b"\x1f\x8b"
    assert gzip.decompress(data) == report.read_bytes()
    assert gzip_file(report) == data, "same report, same bytes: the server dedupes by hash"


def test_gzip_file_leaves_gzip_alone(tmp_path: Path) -> None:
    already = tmp_path / "junit.xml.gz"
    already.write_bytes(gzip.compress(b"<testsuite/>"))
    assert gzip_file(already) == already.read_bytes()


def test_an_unreadable_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(UploadInputError, match="cannot read"):
        gzip_file(tmp_path / "gone.xml")


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (999, "999 B"), (1_234, "1.2 KB"), (1_200_000, "1.2 MB"), (3 * 10**9, "3.0 GB")],
)
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


# --- HTTP ------------------------------------------------------------------------------


def test_upload_posts_gzipped_files_metadata_and_token(
    report: Path, tmp_path: Path, recorder: Recorder
) -> None:
    second = tmp_path / "coverage.xml"
    second.write_text("<coverage/>")
    session = FakeSession(make_response(201, body=REPLY))

    reply = send(session, [report, second], recorder, commit="abc", job="tests", branch="")

    assert reply == REPLY
    (call,) = session.calls
    assert call["url"] == "https://suitescope.test/api/v1/uploads"
    assert call["headers"]["Authorization"] == "Bearer ss_secret"
    assert call["data"] == {"commit": "abc", "job": "tests"}
    posted = {name: data for field, (name, data, _type) in call["files"] if field == "file"}
    assert set(posted) == {str(report), str(second)}
    for path, data in ((report, posted[str(report)]), (second, posted[str(second)])):
        assert data[:2] == b"\x1f\x8b"
        assert gzip.decompress(data) == path.read_bytes()
    assert call["timeout"], "every request has a timeout"
    assert call["allow_redirects"] is False
    assert recorder.lines == [
        f"uploading 2 files ({human_size(sum(map(len, posted.values())))} gzipped) "
        "to https://suitescope.test/api/v1/uploads"
    ]


def test_retries_a_503_then_succeeds(report: Path, recorder: Recorder) -> None:
    session = FakeSession(make_response(503, text="busy"), make_response(201, body=REPLY))

    assert send(session, [report], recorder) == REPLY

    assert len(session.calls) == 2
    assert session.calls[0]["files"] == session.calls[1]["files"], "the same bytes, resent"
    assert recorder.sleeps == [2.0]
    assert recorder.lines[-1] == "retrying in 2s after 503 (1/3)"


@pytest.mark.parametrize(
    "error",
    [requests.ConnectionError("connection refused"), requests.ReadTimeout("read timed out")],
    ids=["connection-error", "timeout"],
)
def test_retries_a_connection_failure(report: Path, recorder: Recorder, error: Exception) -> None:
    session = FakeSession(error, make_response(201, body=REPLY))

    assert send(session, [report], recorder) == REPLY

    assert recorder.sleeps == [2.0]
    assert recorder.lines[-1] == "retrying in 2s after a connection error (1/3)"


def test_never_retries_a_422_and_surfaces_the_servers_message(
    report: Path, recorder: Recorder
) -> None:
    body = {
        "error": {
            "code": "empty_report",
            "message": "junit.xml: the report has no test cases",
            "filename": "junit.xml",
        }
    }
    session = FakeSession(make_response(422, body=body))

    with pytest.raises(UploadFailed) as raised:
        send(session, [report], recorder)

    assert raised.value.status == 422
    assert raised.value.message == "junit.xml: the report has no test cases"
    assert len(session.calls) == 1
    assert recorder.sleeps == []


def test_the_filename_is_added_when_the_message_lacks_it(report: Path, recorder: Recorder) -> None:
    body = {"error": {"code": "malformed_report", "message": "bad XML", "filename": "a.xml"}}
    with pytest.raises(UploadFailed, match=r"^a\.xml: bad XML$"):
        send(FakeSession(make_response(400, body=body)), [report], recorder)


def test_a_non_json_error_surfaces_its_text(report: Path, recorder: Recorder) -> None:
    session = FakeSession(make_response(401, text="Unauthorized\n"))
    with pytest.raises(UploadFailed, match=r"^Unauthorized$") as raised:
        send(session, [report], recorder)
    assert raised.value.status == 401


def test_gives_up_after_three_retries_with_exponential_backoff(
    report: Path, recorder: Recorder
) -> None:
    body = {"error": {"code": "unavailable", "message": "database is down"}}
    session = FakeSession(*(make_response(503, body=body) for _ in range(4)))

    with pytest.raises(UploadFailed) as raised:
        send(session, [report], recorder)

    assert len(session.calls) == 4
    assert recorder.sleeps == [2.0, 4.0, 8.0]
    assert raised.value.status == 503
    assert raised.value.message == "database is down (gave up after 3 retries)"


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [("7", 7.0), ("0", 0.0), ("3600", MAX_RETRY_AFTER), ("soon", 2.0)],
    ids=["seconds", "zero", "capped", "unparseable-falls-back-to-backoff"],
)
def test_retry_after_is_honoured(
    report: Path, recorder: Recorder, retry_after: str, expected: float
) -> None:
    session = FakeSession(
        make_response(503, text="busy", headers={"Retry-After": retry_after}),
        make_response(201, body=REPLY),
    )
    send(session, [report], recorder)
    assert recorder.sleeps == [expected]


def test_retry_after_as_an_http_date() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    wait = upload_client.retry_after(make_response(503, headers={"Retry-After": when}))
    assert wait is not None
    assert 25 <= wait <= 30


RATE_LIMITED = {
    "error": {
        "code": "rate_limited",
        "message": "too many uploads with this token: at most 600 per 1 minute "
        "(SUITESCOPE_RATELIMIT_UPLOADS); retry in 37 seconds",
    }
}


def test_a_429_is_retried_after_the_wait_the_server_asks(report: Path, recorder: Recorder) -> None:
    session = FakeSession(
        make_response(429, body=RATE_LIMITED, headers={"Retry-After": "37"}),
        make_response(201, body=REPLY),
    )

    assert send(session, [report], recorder) == REPLY

    assert len(session.calls) == 2
    assert recorder.sleeps == [37.0]
    assert recorder.lines[-1] == "retrying in 37s after 429 (1/3)"


def test_a_429_without_retry_after_backs_off(report: Path, recorder: Recorder) -> None:
    session = FakeSession(
        make_response(429, text="Too Many Requests"), make_response(201, body=REPLY)
    )
    assert send(session, [report], recorder) == REPLY
    assert recorder.sleeps == [2.0]


def test_a_429_that_persists_gives_up_with_the_servers_message(
    report: Path, recorder: Recorder
) -> None:
    limited = make_response(429, body=RATE_LIMITED, headers={"Retry-After": "3600"})
    session = FakeSession(*(limited for _ in range(4)))

    with pytest.raises(UploadFailed) as raised:
        send(session, [report], recorder)

    assert len(session.calls) == 4, "three retries, then no more"
    assert recorder.sleeps == [MAX_RETRY_AFTER] * 3, "an hour's wait is capped"
    assert raised.value.status == 429
    assert raised.value.message == (f"{RATE_LIMITED['error']['message']} (gave up after 3 retries)")


def test_a_redirect_is_reported_not_followed(report: Path, recorder: Recorder) -> None:
    moved = make_response(308, headers={"Location": "https://suitescope.test/api/v1/uploads"})
    with pytest.raises(UploadFailed, match=r"redirected to https://suitescope\.test") as raised:
        send(FakeSession(moved), [report], recorder)
    assert raised.value.status == 308


def test_a_success_without_json_is_a_failure(report: Path, recorder: Recorder) -> None:
    login_page = make_response(200, text="<html>Sign in</html>")
    with pytest.raises(UploadFailed, match="not with JSON"):
        send(FakeSession(login_page), [report], recorder)


def test_the_url_must_be_http(report: Path, recorder: Recorder) -> None:
    with pytest.raises(UploadInputError, match="--url must start with http"):
        upload("suitescope.test", "t", {}, [report], session=FakeSession())


# --- end to end, over a real socket on 127.0.0.1 ------------------------------------------


class FlakyUploadServer(ThreadingHTTPServer):
    """Answers the first POST with 503 (Retry-After: 1), every later one with 201."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FlakyUploadHandler)
        self.requests: list[tuple[dict[str, str], bytes]] = []

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class FlakyUploadHandler(BaseHTTPRequestHandler):
    server: FlakyUploadServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append((dict(self.headers), body))
        if len(self.server.requests) == 1:
            self.answer(503, {"error": {"code": "busy", "message": "busy"}}, retry_after="1")
        else:
            self.answer(201, REPLY)

    def answer(self, status: int, body: dict, retry_after: str | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if retry_after:
            self.send_header("Retry-After", retry_after)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def flaky_server() -> Iterator[FlakyUploadServer]:
    server = FlakyUploadServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_real_requests_retry_a_503_from_a_local_server(
    flaky_server: FlakyUploadServer, report: Path, recorder: Recorder
) -> None:
    reply = upload(
        flaky_server.url,
        "ss_secret",
        {"commit": "abc", "job": "tests"},
        [report],
        progress=recorder.progress,
        sleep=recorder.sleep,
    )

    assert reply == REPLY
    assert recorder.sleeps == [1.0], "the server's Retry-After, not the backoff"
    assert len(flaky_server.requests) == 2
    headers, body = flaky_server.requests[-1]
    assert headers["Authorization"] == "Bearer ss_secret"
    assert headers["Content-Type"].startswith("multipart/form-data")
    assert b'name="commit"\r\n\r\nabc' in body
    assert b'name="file"; filename="' in body
    assert gzip_file(report) in body


def test_real_requests_give_up_on_a_closed_port(report: Path, recorder: Recorder) -> None:
    # Bind then close: nothing listens on that port any more.
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()

    with pytest.raises(UploadFailed, match="could not reach") as raised:
        upload(
            f"http://127.0.0.1:{port}",
            "t",
            {},
            [report],
            retries=1,
            progress=recorder.progress,
            sleep=recorder.sleep,
        )

    assert raised.value.status is None
    assert recorder.sleeps == [2.0]
