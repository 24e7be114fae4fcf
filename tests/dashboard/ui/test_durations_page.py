"""The durations screen and its chart endpoints."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime, timedelta

import pytest
from flask import url_for

from dashboard.extensions import db
from dashboard.models import Case, Project, Result, Run
from tests.factories import CaseFactory, ProjectFactory, ResultFactory, RunFactory

XSS = "<script>alert(1)</script>"


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)


def run_at(project: Project, at: datetime, cases: list[Case], seconds: float, **fields) -> Run:
    """A run in which each of ``cases`` passed in ``seconds`` (results added in one batch)."""
    run = RunFactory(project=project, started_at=at, **fields)
    db.session.add_all(
        Result(run=run, case=case, outcome="passed", duration_s=seconds) for case in cases
    )
    db.session.flush()
    return run


def regressing_history(project: Project, cases: list[Case], now: datetime) -> list[Run]:
    """5 runs at 1 s three weeks ago, then 5 at 2 s this week: every case regressed."""
    before = [run_at(project, now - timedelta(days=20, hours=i), cases, 1.0) for i in range(5)]
    after = [run_at(project, now - timedelta(days=3, hours=i), cases, 2.0) for i in range(5)]
    return before + after


@pytest.fixture
def project(db_session) -> Project:
    return ProjectFactory(slug="web", name="Web")


def test_full_page_and_htmx_partial(client, db_session, project, now):
    run_at(project, now - timedelta(days=1), [CaseFactory(project=project)], 1.0)
    db_session.commit()

    full = client.get("/p/web/durations")
    partial = client.get("/p/web/durations", headers={"HX-Request": "true"})

    assert full.status_code == partial.status_code == 200
    assert "<html" in full.text
    assert 'aria-current="page">Durations' in full.text
    assert "<html" not in partial.text
    assert partial.text.startswith('<section id="screen">')
    assert "Slowest tests" in partial.text
    assert "HX-Request" in full.vary
    assert "HX-Request" in partial.vary


def test_unknown_project_is_a_404(client, db_session):
    assert client.get("/p/nope/durations").status_code == 404
    assert client.get("/p/nope/durations/wall-time.json").status_code == 404


def test_no_runs_in_the_window_explains_what_to_do(client, db_session, project, now):
    run_at(project, now - timedelta(days=20), [CaseFactory(project=project)], 1.0, job="linux")
    db_session.commit()

    page = client.get("/p/web/durations?window=7&job=linux").text

    assert "No runs in the last 7 days in job linux." in page
    assert "suitescope upload" in page
    assert "Slowest tests" not in page


def test_filters_live_in_the_url(client, db_session, project, now):
    at = now - timedelta(days=1)
    run_at(project, at, [CaseFactory(project=project, name="on_main")], 1.0, job="linux")
    run_at(project, at, [CaseFactory(project=project, name="on_feature")], 1.0, branch="feature")
    db_session.commit()

    page = client.get("/p/web/durations?window=14&branch=main&job=linux").text

    assert "on_main" in page
    assert "on_feature" not in page
    assert '<option value="14" selected>' in page
    assert '<option value="main" selected>' in page
    assert '<option value="linux" selected>' in page
    assert 'hx-push-url="true"' in page
    chart_src = "/p/web/durations/wall-time.json?window=14&amp;branch=main&amp;job=linux"
    assert f'data-chart-src="{chart_src}"' in page


def test_slowest_table_shows_median_p95_executions_and_a_sparkline(
    client, db_session, project, now
):
    case = CaseFactory(project=project, classname="tests.test_a", name="test_slow")
    for days, seconds in [(1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0), (5, 10.0)]:
        run_at(project, now - timedelta(days=days), [case], seconds)
    db_session.commit()

    page = client.get("/p/web/durations").text

    assert "tests.test_a::test_slow" in page
    row = page[page.index("tests.test_a::test_slow") :]
    row = row[: row.index("</tr>")]
    assert '<td class="num">3.0 s</td>' in row
    assert '<td class="num">8.8 s</td>' in row
    assert '<td class="num">5</td>' in row
    assert '<svg class="sparkline"' in row
    assert 'aria-label="Daily median duration of tests.test_a::test_slow"' in row


def test_test_names_link_to_their_history_when_that_page_exists(
    client, app, db_session, project, now
):
    case = CaseFactory(project=project, name="test_linked")
    run_at(project, now - timedelta(days=1), [case], 1.0)
    db_session.commit()

    page = client.get("/p/web/durations").text

    if "ui.test_history" in app.view_functions:
        with app.test_request_context():
            href = url_for("ui.test_history", slug="web", case_id=case.id)
        assert f'<a href="{href}" title="{case.display_name}">test_linked</a>' in page
    else:
        assert f'<span title="{case.display_name}">test_linked</span>' in page


def test_slowest_table_sorts_and_pages(client, db_session, project, now):
    cases = [CaseFactory(project=project, name=f"case_{i:02d}") for i in range(30)]
    for i, case in enumerate(cases):
        for day in range(1, i % 3 + 2):  # 1 to 3 executions
            run_at(project, now - timedelta(days=day), [case], 0.1 * (i + 1))
    db_session.commit()

    by_median = client.get("/p/web/durations?per_page=25").text
    fastest_first = client.get("/p/web/durations?sort=median&per_page=25").text
    second_page = client.get("/p/web/durations?per_page=25&page=2").text

    assert by_median.index("case_29") < by_median.index("case_28")
    assert "case_04" not in by_median  # on the second page
    assert 'aria-sort="descending"' in by_median
    assert "Page 1 of 2 (30 in all)" in by_median
    assert "case_04" in second_page
    assert "case_29" not in second_page
    assert fastest_first.index("case_00") < fastest_first.index("case_01")
    assert 'aria-sort="ascending"' in fastest_first
    by_executions = client.get("/p/web/durations?sort=-executions&per_page=100").text
    assert by_executions.index("case_29") < by_executions.index("case_27")  # 3 runs before 1


def test_a_first_click_sorts_names_a_to_z_and_figures_biggest_first(client, db_session, project):
    db_session.commit()
    run_at(project, datetime.now(UTC) - timedelta(days=1), [CaseFactory(project=project)], 1.0)
    db_session.commit()

    page = client.get("/p/web/durations").text  # sorted by median, descending

    assert 'href="/p/web/durations?sort=name"' in page
    assert 'href="/p/web/durations?sort=-p95"' in page
    assert 'href="/p/web/durations?sort=median"' in page  # the active one: reversed
    by_name = client.get("/p/web/durations?sort=name").text
    assert 'href="/p/web/durations?sort=-name"' in by_name  # and back


def test_regressions_table_links_the_run_where_it_began(client, db_session, project, now):
    case = CaseFactory(project=project, name="test_regressed")
    runs = regressing_history(project, [case], now)
    first_slow = min(runs[5:], key=lambda r: r.started_at)
    db_session.commit()

    page = client.get("/p/web/durations").text
    section = page[page.index('id="regressions"') : page.index('id="wall-time"')]

    assert "test_regressed" in section
    assert "1.0 s → 2.0 s" in section
    assert "+100%" in section
    assert f'href="/p/web/runs/{first_slow.id}">run {first_slow.id}</a>' in section


def test_regressions_empty_states(client, db_session, project, now):
    case = CaseFactory(project=project)
    run_at(project, now - timedelta(days=1), [case], 1.0)
    db_session.commit()

    too_little = client.get("/p/web/durations").text
    assert "Not enough history to compare yet." in too_little
    assert (
        "at least 5 timed executions in the last 7 days and 5 in the 21 days before" in too_little
    )

    for days in (20, 19, 18, 17, 16, 2, 3, 4, 5):
        run_at(project, now - timedelta(days=days), [case], 1.0)
    db_session.commit()

    steady = client.get("/p/web/durations").text
    assert "No regressions." in steady
    assert "None of the 1 tests with enough history got slower" in steady


def test_parallelism_table_with_speed_up_and_its_run(client, db_session, project, now):
    run = RunFactory(project=project, started_at=now - timedelta(hours=1), wall_seconds=70.0)
    for file, seconds in [("a.py", 30.0), ("b.py", 20.0), ("c.py", 10.0)]:
        ResultFactory(run=run, case=CaseFactory(project=project, file=file), duration_s=seconds)
    db_session.commit()

    page = squash(client.get("/p/web/durations").text)
    section = page[page.index('id="parallelism"') :]

    assert f'href="/p/web/runs/{run.id}">run {run.id}</a>' in section
    assert "measured wall time 70.0 s" in section
    # 1: the serial 60 s; 2: 30 | 20 + 10; 4 and 8: the longest file.
    for workers, wall, speed_up in [
        (1, "60.0 s", "1.00"),
        (2, "30.0 s", "2.00"),
        (8, "30.0 s", "2.00"),
    ]:
        cells = (
            f'<td>{workers}</td> <td class="num">{wall}</td> <td class="num">{speed_up}\u00d7</td>'
        )
        assert cells in section


def test_report_strings_are_escaped_on_the_page(client, db_session, project, now):
    case = CaseFactory(project=project, name=XSS, file=XSS)
    regressing_history(project, [case], now)
    db_session.commit()

    page = client.get("/p/web/durations").text

    assert XSS not in page
    assert html.escape(XSS, quote=False) in page


def test_wall_time_chart_is_a_figure_with_one_escaped_series_per_job(
    client, db_session, project, now
):
    RunFactory(project=project, started_at=now - timedelta(days=2), job="linux", wall_seconds=60.0)
    RunFactory(project=project, started_at=now - timedelta(days=1), job="linux", wall_seconds=90.0)
    RunFactory(project=project, started_at=now - timedelta(days=1), job=XSS, wall_seconds=30.0)
    RunFactory(project=project, started_at=now - timedelta(days=1), job="macos", wall_seconds=0.0)
    db_session.commit()

    response = client.get("/p/web/durations/wall-time.json")
    figure = response.get_json()

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert_valid_figure(figure)
    traces = {trace["name"]: trace for trace in figure["data"]}
    assert set(traces) == {"linux", html.escape(XSS)}
    assert traces["linux"]["y"] == [60.0, 90.0]
    assert all(XSS not in text for text in traces[html.escape(XSS)]["text"])
    assert XSS not in response.text
    filtered = client.get("/p/web/durations/wall-time.json?job=linux").get_json()
    assert [trace["name"] for trace in filtered["data"]] == ["linux"]


def test_wall_time_chart_without_data_says_so(client, db_session, project):
    db_session.commit()
    figure = client.get("/p/web/durations/wall-time.json").get_json()

    assert figure["data"] == []
    assert "No run in this window" in figure["layout"]["annotations"][0]["text"]


def test_test_duration_chart_escapes_the_test_name(client, db_session, project, now):
    case = CaseFactory(project=project, name=XSS)
    for day, seconds in [(3, 1.0), (2, 2.0), (1, 3.0)]:
        run_at(project, now - timedelta(days=day), [case], seconds, job="linux")
    db_session.commit()

    response = client.get(f"/p/web/tests/{case.id}/durations.json?window=7")
    figure = response.get_json()

    assert response.status_code == 200
    assert_valid_figure(figure)
    linux, median_line = figure["data"]
    assert linux["name"] == "linux"
    assert linux["y"] == [1.0, 2.0, 3.0]
    assert all(html.escape(XSS) in text for text in linux["text"])
    assert median_line["y"] == [2.0, 2.0]
    assert median_line["line"]["dash"] == "dash"
    assert XSS not in response.text


def test_test_duration_chart_marks_failed_executions_in_red(client, db_session, project, now):
    case = CaseFactory(project=project)
    run_at(project, now - timedelta(days=2), [case], 0.05, job="linux")
    timed_out = RunFactory(project=project, started_at=now - timedelta(days=1), job="linux")
    ResultFactory(run=timed_out, case=case, failing=True, duration_s=5.0)
    db_session.commit()

    linux, _median = client.get(f"/p/web/tests/{case.id}/durations.json").get_json()["data"]

    job_colour = linux["line"]["color"]
    assert linux["marker"]["color"] == [job_colour, "#c62828"]
    assert job_colour != "#c62828"
    assert "failed" in linux["text"][1]


def test_test_duration_chart_only_for_the_projects_own_tests(client, db_session, project):
    other = CaseFactory(project=ProjectFactory(slug="other"))
    mine = CaseFactory(project=project)
    db_session.commit()

    assert client.get(f"/p/web/tests/{other.id}/durations.json").status_code == 404
    assert client.get("/p/web/tests/999999/durations.json").status_code == 404
    empty = client.get(f"/p/web/tests/{mine.id}/durations.json").get_json()
    assert empty["data"] == []


@pytest.mark.parametrize(
    "query",
    ["window=abc", "window=3", "branch=%00", "job=%00x", "sort=bogus", "page=-4", "per_page=x"],
)
def test_malformed_filters_still_show_the_page(client, db_session, project, now, query):
    run_at(project, now - timedelta(days=1), [CaseFactory(project=project)], 1.0)
    db_session.commit()

    assert client.get(f"/p/web/durations?{query}").status_code == 200
    assert client.get(f"/p/web/durations/wall-time.json?{query}").status_code == 200


# Project, filter options, run count, slowest (3), regressions (3), parallelism (2),
# the layout's project switcher, and two "is every run of the window rolled up?"
# checks each for the slowest and the regressions (factory-built runs are not, so
# both read the results): 16, with room for the layout to grow a little.
MAX_PAGE_QUERIES = 18


def page_queries(client, count_queries, slug: str) -> int:
    with count_queries.watching() as queries:
        page = client.get(f"/p/{slug}/durations").text
    assert page.count('<svg class="sparkline"') >= 3
    assert "Slow since" in page  # the regressions table, not an empty state
    assert 'id="parallelism"' in page
    return queries.count


def test_query_count_does_not_grow_with_tests(client, db_session, now, count_queries):
    for slug, tests in [("few", 3), ("many", 30)]:
        project = ProjectFactory(slug=slug)
        regressing_history(project, [CaseFactory(project=project) for _ in range(tests)], now)
    db_session.commit()

    few = page_queries(client, count_queries, "few")
    many = page_queries(client, count_queries, "many")

    assert few == many
    assert many <= MAX_PAGE_QUERIES


def squash(text: str) -> str:
    """The page with runs of whitespace made single spaces."""
    return " ".join(text.split())


def assert_valid_figure(figure: dict) -> None:
    assert set(figure) == {"data", "layout"}
    assert isinstance(figure["layout"], dict)
    for trace in figure["data"]:
        assert trace["type"] == "scatter"
        assert len(trace["x"]) == len(trace["y"]) == len(trace["text"])
        for x in trace["x"]:
            datetime.fromisoformat(x)
    json.dumps(figure)


def test_a_search_narrows_the_slowest_tests_and_stays_in_the_url(client, db_session, project, now):
    login = CaseFactory(project=project, name="test_login")
    cart = CaseFactory(project=project, name="test_cart")
    run_at(project, now - timedelta(days=1), [login], 1.0)
    run_at(project, now - timedelta(days=1), [cart], 2.0)
    db_session.commit()

    page = client.get("/p/web/durations?q=LOGIN").text
    slowest = page.split('id="slowest"')[1].split("</section>")[0]

    assert "test_login" in slowest
    assert "test_cart" not in slowest
    assert "contains “LOGIN”" in slowest
    assert 'href="/p/web/durations">show all</a>' in slowest
    assert 'href="/p/web/durations?q=LOGIN&amp;sort=' in slowest  # sorting keeps the search
    assert 'value="LOGIN"' in page


def test_a_search_without_a_timed_match_points_to_the_tests_screen(
    client, db_session, project, now
):
    run_at(project, now - timedelta(days=1), [CaseFactory(project=project)], 1.0)
    db_session.commit()
    page = client.get("/p/web/durations", query_string={"q": XSS}).text
    assert "No timed test has a name, class or file containing" in page
    assert 'href="/p/web/tests?q=%3Cscript%3E' in page
    assert XSS not in page
