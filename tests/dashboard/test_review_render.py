"""Markdown, Slack and e-mail renderings of the review: escaping and shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.analytics.review import Figure, weekly_review
from dashboard.review_render import (
    Links,
    email_subject,
    fmt_change,
    fmt_seconds,
    md_code,
    md_row,
    md_text,
    review_slack,
    slack_code,
    slack_escape,
)
from tests.factories import CaseFactory, ProjectFactory, run_with_results

W10 = datetime(2026, 3, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("test_plain", "`test_plain`"),
        ("a`b", "``a`b``"),
        ("a``b`c", "```a``b`c```"),
        ("`starts", "`` `starts ``"),
        ("ends`", "`` ends` ``"),
        ("<script>alert(1)</script>", "`<script>alert(1)</script>`"),
        ("two\nlines\tand  tabs", "`two lines and tabs`"),
        ("nul\x00byte", "`nulbyte`"),
        ("", ""),
    ],
)
def test_code_spans_hold_any_backticks(text, span):
    assert md_code(text) == span


@pytest.mark.parametrize(
    ("text", "markdown"),
    [
        ("plain words", "plain words"),
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
        ("a & b", "a &amp; b"),
        ("*bold* _it_ `code` ~~strike~~", "\\*bold\\* \\_it\\_ \\`code\\` \\~\\~strike\\~\\~"),
        ("[link](javascript:alert(1))", "\\[link\\](javascript:alert(1))"),
        ("# heading", "\\# heading"),
        ("- item", "\\- item"),
        ("1. item", "1\\. item"),
        ("back\\slash", "back\\\\slash"),
        ("line\nbreak", "line break"),
    ],
)
def test_text_is_literal_markdown(text, markdown):
    assert md_text(text) == markdown


def test_table_rows_escape_every_pipe():
    assert md_row(["`a|b`", "c|d"]) == "| `a\\|b` | c\\|d |"


def test_slack_text_escapes_its_three_entities_and_keeps_code_spans_whole():
    assert slack_escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    assert slack_code("a`b") == "`a\u02cbb`"


def test_numbers_as_people_read_them():
    assert fmt_seconds(0.25) == "250 ms"
    assert fmt_seconds(42) == "42.0 s"
    assert fmt_seconds(600) == "10.0 min"
    assert fmt_seconds(None) == "—"


def test_the_slack_message_of_a_hostile_week(app, db_session):
    project = ProjectFactory(slug="web", name="Web <!channel>")
    others = {CaseFactory(project=project, name=f"test_{i}"): "P" for i in range(6)}
    nasty = CaseFactory(project=project, classname="", name="test_<@U123>`x`")
    run_with_results(project, W10 + timedelta(hours=1), {**others, nasty: "R"})

    review = weekly_review(project, "2026-W10", now=W10 + timedelta(days=8))
    with app.test_request_context():
        message = review_slack(review, Links("web"))

    assert message["text"].startswith("Weekly review of Web &lt;!channel&gt;, 2026-W10: 1 run")
    assert message["text"].endswith("<http://localhost/p/web/review?week=2026-W10|Open the review>")
    header, context, fields, summary, actions = message["blocks"]
    assert header["text"]["text"] == "Weekly review · Web <!channel> · 2026-W10"  # plain text
    assert context["type"] == "context"
    assert "first week" in context["elements"][0]["text"]
    assert len(fields["fields"]) == 6
    assert "`test_&lt;@U123&gt;\u02cbx\u02cb`" in summary["text"]["text"]
    assert actions["elements"][0]["url"] == "http://localhost/p/web/review?week=2026-W10"
    assert email_subject(review) == (
        "Weekly review of Web <!channel>, 2026-W10: 1 newly flaky test, 0 newly failing tests"
    )


def test_changes_keep_their_sign_and_unit():
    assert fmt_change(Figure("CI time", 30.0, 210.0, "seconds", "down", key="t")) == "-3.0 min"
    assert fmt_change(Figure("Pass rate", 0.9, 0.85, "rate", "up", key="r")) == "+5.0 pts"
    assert fmt_change(Figure("Runs", 12, 12, "count", "up", key="n")) == "unchanged"
    assert fmt_change(Figure("Runs", 12, None, "count", "up", key="n")) == "—"
