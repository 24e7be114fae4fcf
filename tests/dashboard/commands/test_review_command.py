"""``suitescope review``: formats, --output, --send (webhook and SMTP mocked), exit codes."""

from __future__ import annotations

import json
import smtplib
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import requests

from dashboard import notifiers
from tests.factories import CaseFactory, ProjectFactory, run_with_results

W10 = datetime(2026, 3, 2, tzinfo=UTC)
HOOK = "https://hooks.example.com/services/T000/B000/SECRET"
SMTP = {
    "SUITESCOPE_SMTP_HOST": "smtp.example.com",
    "SUITESCOPE_SMTP_FROM": "suitescope@example.com",
    "SUITESCOPE_SMTP_TO": ["lead@example.com"],
}


@pytest.fixture
def project(db_session):
    project = ProjectFactory(slug="web", name="Web")
    cases = [CaseFactory(project=project, name=f"test_{i}") for i in range(6)]
    flaky = CaseFactory(project=project, name="test_wobbly")
    run_with_results(project, W10 + timedelta(days=1), {**dict.fromkeys(cases, "P"), flaky: "R"})
    db_session.commit()
    return project


@pytest.fixture
def settings(app, monkeypatch):
    """No delivery configured (whatever the environment says), no retry delay;
    ``settings(NAME=value)`` configures some."""
    for name in ("SUITESCOPE_WEBHOOK_URL", *SMTP):
        monkeypatch.setitem(app.config, name, "")
    monkeypatch.setattr(notifiers, "RETRY_DELAY_SECONDS", 0)

    def configure(**values):
        for name, value in values.items():
            monkeypatch.setitem(app.config, name, value)

    return configure


@pytest.fixture
def webhook(monkeypatch) -> mock.Mock:
    """The HTTP session the webhook notifier builds (no request leaves the test)."""
    session = mock.Mock(spec=requests.Session)
    session.post.return_value = mock.Mock(status_code=200, text="ok")
    monkeypatch.setattr(notifiers.requests, "Session", lambda: session)
    return session


@pytest.fixture
def smtp(monkeypatch) -> mock.Mock:
    factory = mock.Mock(spec=smtplib.SMTP)
    monkeypatch.setattr(notifiers.smtplib, "SMTP", factory)
    return factory


def review(runner, *args: str):
    return runner.invoke(args=["review", "--project", "web", "--week", "2026-W10", *args])


def test_markdown_on_stdout_by_default(runner, project):
    result = review(runner)

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# Weekly review: Web, 2026-W10\n")
    assert "## Newly flaky (1)" in result.stdout
    assert "SUITESCOPE_BASE_URL is not set" in result.stderr


def test_json_format_is_the_apis_json(runner, project):
    result = review(runner, "--format", "json")

    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["week"]["label"] == "2026-W10"
    assert [t["name"] for t in body["new_flaky"]] == ["test_wobbly"]
    assert result.stderr == ""  # JSON has no links to warn about


def test_html_format_is_a_whole_document_with_absolute_links(runner, project, app, monkeypatch):
    monkeypatch.setitem(app.config, "SUITESCOPE_BASE_URL", "https://suitescope.example.com")

    result = review(runner, "--format", "html")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("<!doctype html>")
    assert 'href="https://suitescope.example.com/p/web/review?week=2026-W10"' in result.stdout
    assert result.stderr == ""


def test_output_writes_the_file(runner, project, tmp_path):
    target = tmp_path / "review.md"

    result = review(runner, "--output", str(target))

    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert target.read_text(encoding="utf-8").startswith("# Weekly review: Web, 2026-W10")


def test_unknown_project_exits_2(runner, db_session):
    result = runner.invoke(args=["review", "--project", "nope"])

    assert result.exit_code == 2
    assert "no project with slug 'nope'" in result.output


def test_bad_week_exits_2(runner, project):
    result = runner.invoke(args=["review", "--project", "web", "--week", "2026-W99"])

    assert result.exit_code == 2
    assert "2026 has no ISO week 99" in result.output


def test_unknown_format_exits_2(runner, project):
    assert review(runner, "--format", "pdf").exit_code == 2


def test_send_without_any_delivery_configured_exits_2(runner, project, settings):
    result = review(runner, "--send")

    assert result.exit_code == 2
    assert "SUITESCOPE_WEBHOOK_URL" in result.output
    assert "SUITESCOPE_SMTP_HOST" in result.output


def test_send_posts_to_the_webhook(runner, project, settings, webhook):
    settings(SUITESCOPE_WEBHOOK_URL=HOOK)

    result = review(runner, "--send")

    assert result.exit_code == 0, result.output
    assert result.stdout == "sent the review of 2026-W10 to the webhook hooks.example.com\n"
    (url,), kwargs = webhook.post.call_args
    assert url == HOOK
    payload = kwargs["json"]
    assert "Weekly review of Web, 2026-W10" in payload["text"]
    assert "http://localhost/p/web/review?week=2026-W10" in payload["text"]
    assert payload["blocks"][0]["type"] == "header"


def test_send_mails_the_html_review(runner, project, settings, smtp):
    settings(**SMTP)

    result = review(runner, "--send")

    assert result.exit_code == 0, result.output
    mail = smtp.return_value.send_message.call_args.args[0]
    assert mail["To"] == "lead@example.com"
    assert mail["Subject"].startswith("Weekly review of Web, 2026-W10: 1 newly flaky test")
    html = mail.get_body(("html",)).get_content()
    assert "test_wobbly" in html
    smtp.return_value.starttls.assert_called_once()


def test_a_failing_delivery_exits_1_after_the_others(runner, project, settings, webhook, smtp):
    settings(SUITESCOPE_WEBHOOK_URL=HOOK, **SMTP)
    webhook.post.return_value = mock.Mock(status_code=500, text="server error")

    result = review(runner, "--send")

    assert result.exit_code == 1
    assert webhook.post.call_count == 2  # retried once
    smtp.return_value.send_message.assert_called_once()
    assert "sent the review of 2026-W10 to the e-mail via smtp.example.com:587" in result.stdout
    assert (
        "error: webhook hooks.example.com: the webhook hooks.example.com answered 500: "
        "server error (after a retry)"
    ) in result.stderr


def test_send_with_output_also_writes_the_file(runner, project, settings, webhook, tmp_path):
    settings(SUITESCOPE_WEBHOOK_URL=HOOK)
    target = tmp_path / "review.json"

    result = review(runner, "--send", "--format", "json", "--output", str(target))

    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text(encoding="utf-8"))["week"]["label"] == "2026-W10"
    webhook.post.assert_called_once()


def test_help_shows_a_cron_line(runner):
    result = runner.invoke(args=["review", "--help"])

    assert result.exit_code == 0
    assert "0 7 * * 1" in result.output
    assert "--send" in result.output
    assert "SUITESCOPE_WEBHOOK_URL" in result.output
