"""``suitescope upload``: exit codes and output, through click's CliRunner.

The HTTP side is a fake session put in place of ``requests.Session``; the
retry loop itself is tested in ``tests/ingest/test_upload_client.py``.
"""

from __future__ import annotations

from pathlib import Path

import click
import pytest
import requests
from click.testing import CliRunner, Result
from flask.cli import FlaskGroup

from dashboard.commands.upload import upload_command
from tests.ingest.test_upload_client import REPLY, FakeSession, make_response

# A clean environment: no CI variables leak in from the machine running the tests.
CI_MARKERS = ("GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI", "BUILDKITE", "JENKINS_URL", "JENKINS_HOME")
NO_CI = dict.fromkeys((*CI_MARKERS, "SUITESCOPE_URL", "SUITESCOPE_TOKEN"))
SERVER = ["--url", "https://suitescope.test", "--token", "ss_secret"]


@pytest.fixture
def report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    Path("reports").mkdir()
    Path("reports/junit.xml").write_text('<testsuite tests="1"><testcase name="t"/></testsuite>')
    return "reports/junit.xml"


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Backoff without waiting: time.sleep records instead."""
    recorded: list[float] = []
    monkeypatch.setattr("time.sleep", recorded.append)
    return recorded


def serve(monkeypatch: pytest.MonkeyPatch, *answers) -> FakeSession:
    """Make the command's ``requests.Session()`` the fake answering ``answers``."""
    session = FakeSession(*answers)
    monkeypatch.setattr(requests, "Session", lambda: session)
    return session


def invoke(args: list[str], **env: str) -> Result:
    return CliRunner().invoke(upload_command, args, env={**NO_CI, **env})


def test_success_prints_the_run_url_and_counts(
    monkeypatch: pytest.MonkeyPatch, report: str
) -> None:
    reply = {
        **REPLY,
        "coverage": {"line_rate": 0.8321, "branch_rate": None},
        "files": [{"name": report, "format": "junit", "cases": 3, "warnings": ["no timestamps"]}],
    }
    session = serve(monkeypatch, make_response(201, body=reply))

    result = invoke([*SERVER, "reports/*.xml"])

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "https://suitescope.test/projects/web/runs/42",
        "3 tests: 2 passed, 1 failed, 0 errors, 0 skipped, 0 retry flakes",
        "coverage: 83.2% lines, n/a branches",
    ]
    assert "uploading 1 file (" in result.stderr
    assert f"{report}: junit, 3 cases" in result.stderr
    assert f"warning: {report}: no timestamps" in result.stderr
    assert session.closed


def test_a_duplicate_says_nothing_new_was_stored(
    monkeypatch: pytest.MonkeyPatch, report: str
) -> None:
    serve(monkeypatch, make_response(200, body={**REPLY, "duplicate": True}))
    result = invoke([*SERVER, report])
    assert result.exit_code == 0
    assert "(already stored: nothing new)" in result.stdout


def test_url_and_token_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, report: str
) -> None:
    session = serve(monkeypatch, make_response(201, body=REPLY))
    result = invoke([report], SUITESCOPE_URL="http://127.0.0.1:5000", SUITESCOPE_TOKEN="ss_env")
    assert result.exit_code == 0, result.output
    assert session.calls[0]["url"] == "http://127.0.0.1:5000/api/v1/uploads"
    assert session.calls[0]["headers"]["Authorization"] == "Bearer ss_env"


def test_flags_override_the_ci_environment(monkeypatch: pytest.MonkeyPatch, report: str) -> None:
    session = serve(monkeypatch, make_response(201, body=REPLY))
    github = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_SHA": "a" * 40,
        "GITHUB_REF_NAME": "main",
        "GITHUB_RUN_ID": "9001",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_JOB": "tests",
    }

    result = invoke(
        [*SERVER, "--job", "tests-py3.12", "--started-at", "2025-01-02T03:04:05Z", report],
        **github,
    )

    assert result.exit_code == 0, result.output
    assert session.calls[0]["data"] == {
        "commit": "a" * 40,
        "branch": "main",
        "build": "9001-1",
        "job": "tests-py3.12",
        "started_at": "2025-01-02T03:04:05Z",
    }
    assert "run metadata: commit " in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--token", "t", "a.xml"], "Missing option '--url'", id="no-url"),
        pytest.param(
            ["--url", "https://s.test", "a.xml"], "Missing option '--token'", id="no-token"
        ),
        pytest.param(SERVER, "Missing argument 'PATHS_OR_GLOBS...'", id="no-paths"),
        pytest.param([*SERVER, "--started-at", "yesterday", "a.xml"], "ISO 8601", id="bad-time"),
        pytest.param(
            [*SERVER, "reports/**/*.xml"], "no file matches 'reports/**/*.xml'", id="glob"
        ),
        pytest.param(["--url", "s.test", "--token", "t", "a.xml"], "--url must start", id="url"),
        pytest.param([*SERVER, "--commit", "abc def", "a.xml"], "must not contain", id="commit"),
    ],
)
def test_bad_local_input_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a.xml").write_text("<testsuite/>")
    session = serve(monkeypatch)

    result = invoke(args)

    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert session.calls == [], "nothing is sent"


def test_a_refused_upload_exits_1_with_the_servers_message(
    monkeypatch: pytest.MonkeyPatch, report: str, sleeps: list[float]
) -> None:
    body = {"error": {"code": "empty_report", "message": "junit.xml: no test cases"}}
    serve(monkeypatch, make_response(422, body=body))

    result = invoke([*SERVER, report])

    assert result.exit_code == 1
    assert "upload failed (422): junit.xml: no test cases" in result.stderr
    assert result.stdout == ""
    assert sleeps == []


def test_gives_up_after_three_retries_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, report: str, sleeps: list[float]
) -> None:
    serve(monkeypatch, *(requests.ConnectionError("connection refused") for _ in range(4)))

    result = invoke([*SERVER, report])

    assert result.exit_code == 1
    assert sleeps == [2.0, 4.0, 8.0]
    assert "retrying in 8s after a connection error (3/3)" in result.stderr
    assert "could not reach https://suitescope.test/api/v1/uploads" in result.stderr
    assert "gave up after 3 retries" in result.stderr


def test_help_shows_github_and_gitlab_examples() -> None:
    result = invoke(["--help"])
    assert result.exit_code == 0
    assert "secrets.SUITESCOPE_TOKEN" in result.stdout
    assert "after_script:" in result.stdout
    assert "SUITESCOPE_URL" in result.stdout


def test_runs_from_a_flask_group_without_building_an_app(
    monkeypatch: pytest.MonkeyPatch, report: str
) -> None:
    """CI runners have no database: registering the command must not need the app."""

    def no_app():
        raise AssertionError("the upload command must not build the app")

    @click.group(cls=FlaskGroup, create_app=no_app, add_version_option=False)
    def cli() -> None:
        pass

    cli.add_command(upload_command)
    serve(monkeypatch, make_response(201, body=REPLY))

    result = CliRunner().invoke(cli, ["upload", *SERVER, report], env=NO_CI)

    assert result.exit_code == 0, result.output
    assert REPLY["run_url"] in result.stdout
