"""The weekly review page and its Markdown export.

The history lies in March 2026 (weeks 9 to 11), in the past whatever day the
suite runs, so the page (which reviews against the real clock) sees complete weeks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.models import Case, Project
from tests.factories import CaseFactory, ProjectFactory, QuarantineFactory, run_with_results

W09 = datetime(2026, 2, 23, tzinfo=UTC)
W10 = datetime(2026, 3, 2, tzinfo=UTC)
W11 = datetime(2026, 3, 9, tzinfo=UTC)
XSS = "<script>alert(1)</script>"


@pytest.fixture
def project(db_session) -> Project:
    return ProjectFactory(slug="web", name="Web")


def background(project: Project) -> dict[Case, str]:
    cases = [CaseFactory(project=project, name=f"test_ok_{i}") for i in range(6)]
    return dict.fromkeys(cases, "P")


@pytest.fixture
def history(db_session, project):
    """W09 to W11; in W10 one test turns flaky and one breaks."""
    others = background(project)
    wobbly = CaseFactory(project=project, classname="tests.test_app", name="test_wobbly")
    broken = CaseFactory(project=project, classname="tests.test_app", name="test_broken")
    for week in (W09, W11):
        run_with_results(project, week + timedelta(days=1), {**others, wobbly: "P", broken: "P"})
    for hour, (wobbly_outcome, broken_outcome) in enumerate(["PP", "RF", "PF", "PF"]):
        run_with_results(
            project,
            W10 + timedelta(days=1, hours=hour),
            {**others, wobbly: wobbly_outcome, broken: broken_outcome},
        )
    db_session.commit()
    return wobbly, broken


def test_full_page_and_htmx_partial(client, db_session, project, history):
    full = client.get("/p/web/review?week=2026-W10")
    partial = client.get("/p/web/review?week=2026-W10", headers={"HX-Request": "true"})

    assert full.status_code == partial.status_code == 200
    assert "<html" in full.text
    assert 'aria-current="page">Weekly review' in full.text
    assert "<html" not in partial.text
    assert partial.text.startswith('<section id="screen">')
    assert "Weekly review · 2026-W10" in partial.text
    assert "HX-Request" in full.vary
    assert "HX-Request" in partial.vary


def test_the_page_shows_each_section(client, db_session, project, history):
    wobbly, broken = history

    page = client.get("/p/web/review?week=2026-W10").text

    assert "Monday 02 March 2026 to Sunday 08 March 2026" in page
    for title in (
        "Headline",
        "Newly flaky (1)",
        "Recovered (0)",
        "Newly failing (1)",
        "The flaky tests that cost most",
        "Duration regressions (0)",
        "Coverage movers",
        "Quarantine debt (0 active, 0 expired)",
        "Anti-patterns (0)",
    ):
        assert title in page
    assert f'href="/p/web/tests/{wobbly.id}"' in page
    assert f'href="/p/web/tests/{broken.id}"' in page
    assert "None of the chapter&#39;s anti-patterns shows" in page


def test_links_to_the_neighbouring_weeks(client, db_session, project, history):
    page = client.get("/p/web/review?week=2026-W10").text

    assert 'href="/p/web/review?week=2026-W09"' in page
    assert 'href="/p/web/review?week=2026-W11"' in page
    assert 'hx-push-url="true"' in page
    assert 'class="pagination no-print"' in page  # printing leaves the navigation out
    assert 'href="/p/web/review.md?week=2026-W10"' in page
    assert 'href="/api/v1/projects/web/review?week=2026-W10"' in page


def test_the_default_week_has_no_link_into_the_future(client, db_session, project, history):
    page = client.get("/p/web/review").text

    assert "no later complete week" in page
    assert 'rel="next"' not in page
    assert 'rel="prev"' in page  # March 2026 lies before it


def test_a_week_without_runs_says_so(client, db_session, project, history):
    page = client.get("/p/web/review?week=2026-W05").text

    assert "No runs in 2026-W05." in page
    assert "no earlier week" in page  # nothing ran before
    assert "Quarantine debt" in page


def test_the_first_week_says_there_is_nothing_to_compare_with(client, db_session, project, history):
    page = client.get("/p/web/review?week=2026-W09").text

    assert "first week of runs" in page
    assert "no earlier figure" in page


@pytest.mark.parametrize("week", ["2026-47", "W47", "2026-W60", "2025-W53", "x" * 500, "\x00"])
def test_a_bad_week_is_a_400_with_a_clear_message(client, db_session, project, week):
    db_session.commit()

    page = client.get("/p/web/review", query_string={"week": week})
    markdown = client.get("/p/web/review.md", query_string={"week": week})

    assert page.status_code == markdown.status_code == 400
    assert "ISO week" in page.text
    assert "<html" in page.text


def test_a_week_in_the_future_is_a_400(client, db_session, project):
    db_session.commit()

    response = client.get("/p/web/review?week=9998-W01")

    assert response.status_code == 400
    assert "has not started yet" in response.text


def test_unknown_project_is_a_404(client, db_session):
    assert client.get("/p/nope/review").status_code == 404
    assert client.get("/p/nope/review.md").status_code == 404


# --- hostile names ----------------------------------------------------------------------


@pytest.fixture
def hostile(db_session, project):
    """A test named to break HTML and Markdown, newly failing with a hostile message."""
    others = background(project)
    nasty = CaseFactory(
        project=project, file="tests/test_x.py", classname="a|b`c", name=f"test_{XSS}"
    )
    message = "expected <b>bold</b> | got `tick` and ``double``"
    for hour in range(3):
        run_with_results(
            project,
            W10 + timedelta(days=1, hours=hour),
            {**others, nasty: {"failing": True, "message": message}},
        )
    QuarantineFactory(
        case=nasty,
        reason="<img src=x onerror=alert(1)> | *boom* [link](javascript:alert(1))",
        created_by="admin",
        created_at=W10,
    )
    project.name = "Web <i>app</i>"
    db_session.commit()
    return nasty


def test_the_page_escapes_every_report_string(client, db_session, project, hostile):
    page = client.get("/p/web/review?week=2026-W10").text

    assert XSS not in page
    assert "<img src=x" not in page
    assert "<b>bold</b>" not in page
    assert "test_&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_markdown_is_served_as_markdown_with_absolute_links(client, db_session, project, hostile):
    response = client.get("/p/web/review.md?week=2026-W10")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/markdown; charset=utf-8"
    assert "HX-Request" not in response.vary
    body = response.text
    assert body.startswith("# Weekly review: Web &lt;i&gt;app&lt;/i&gt;, 2026-W10\n")
    assert f"(http://localhost/p/web/tests/{hostile.id})" in body
    assert "(http://localhost/p/web/review?week=2026-W10)" in body


def test_markdown_neutralises_hostile_names(client, db_session, project, hostile):
    body = client.get("/p/web/review.md?week=2026-W10").text
    failing = next(line for line in body.splitlines() if line.startswith("| [``a\\|b`c"))

    # The name in a code span whose fence outgrows its backticks, pipes escaped for the table.
    assert failing.startswith(f"| [``a\\|b`c::test_{XSS}``](http://localhost/p/web/tests/")
    # The message in a code span too: HTML shows as text there, never as markup.
    assert "``` expected <b>bold</b> \\| got `tick` and ``double`` ```" in failing
    reason = next(line for line in body.splitlines() if "onerror" in line)
    assert "&lt;img src=x onerror=alert(1)&gt; \\| \\*boom\\* \\[link\\](javascript:alert(1))" in (
        reason
    )
    assert "<img" not in body
    assert "<script>" not in body.replace(f"test_{XSS}", "")  # only inside code spans


def test_every_table_row_has_as_many_cells_as_its_header(client, db_session, project, hostile):
    lines = client.get("/p/web/review.md?week=2026-W10").text.splitlines()

    tables = 0
    for index, line in enumerate(lines):
        if line.startswith("| ---"):  # the alignment row, under the header
            tables += 1
            for row in table_rows(lines[index + 1 :]):
                assert cells(row) == cells(lines[index - 1]), row
    assert tables >= 4


def table_rows(lines: list[str]) -> list[str]:
    rows = []
    for line in lines:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def cells(row: str) -> int:
    """Cells of a GitHub table row: pipes not escaped by a backslash separate them."""
    count, escaped = 0, False
    for char in row.strip()[1:-1]:
        if char == "|" and not escaped:
            count += 1
        escaped = char == "\\" and not escaped
    return count + 1


def test_markdown_links_start_with_the_base_url_when_set(
    app, client, db_session, project, hostile, monkeypatch
):
    monkeypatch.setitem(app.config, "SUITESCOPE_BASE_URL", "https://suitescope.example.com")

    body = client.get("/p/web/review.md?week=2026-W10").text

    assert f"(https://suitescope.example.com/p/web/tests/{hostile.id})" in body
    assert "http://localhost" not in body


def test_the_page_makes_as_many_queries_for_many_tests_as_for_few(
    client, db_session, project, count_queries
):
    others = background(project)

    def page_queries(flaky_tests: int) -> int:
        for index in range(flaky_tests):
            wobbly = CaseFactory(project=project, name=f"test_wobbly_{flaky_tests}_{index}")
            QuarantineFactory(case=wobbly, created_at=W09)
            for week in (W09, W10):
                run_with_results(
                    project, week + timedelta(hours=index + 1), {**others, wobbly: "R"}
                )
        db_session.commit()
        with count_queries.watching() as queries:
            assert client.get("/p/web/review?week=2026-W10").status_code == 200
        return queries.count

    assert page_queries(2) == page_queries(6)
