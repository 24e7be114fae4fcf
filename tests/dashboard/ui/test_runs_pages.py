"""The runs list, run detail, compare and test history screens."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import Result, Upload
from tests.factories import (
    BASE_TIME,
    CaseFactory,
    ProjectFactory,
    ResultFactory,
    RunFactory,
    coverage_run,
    recount,
    result_history,
)

SCRIPT_NAME = "<script>alert(1)</script>"
IMG_MESSAGE = "<img src=x onerror=alert(1)>"
HTMX = {"HX-Request": "true"}
TIMES = "\N{MULTIPLICATION SIGN}"


@pytest.fixture
def project(db_session):
    return ProjectFactory(slug="web", name="Web")


def failures(run, count: int, fingerprint: str = "fp") -> None:
    for _ in range(count):
        ResultFactory(run=run, failing=True, fingerprint=fingerprint)


@pytest.fixture
def pair(project, db_session):
    """Two runs of main/unit: the head breaks one test and fixes another."""
    base = RunFactory(project=project, branch="main", job="unit", started_at=BASE_TIME)
    head = RunFactory(
        project=project, branch="main", job="unit", started_at=BASE_TIME + timedelta(hours=1)
    )
    breaks = CaseFactory(project=project, name="test_breaks")
    fixed = CaseFactory(project=project, name="test_fixed")
    ResultFactory(run=base, case=breaks)
    ResultFactory(run=head, case=breaks, failing=True, message="expected 200, got 500")
    ResultFactory(run=base, case=fixed, failing=True)
    ResultFactory(run=head, case=fixed)
    for _ in range(8):
        case = CaseFactory(project=project)
        ResultFactory(run=base, case=case)
        ResultFactory(run=head, case=case)
    recount(base, head)
    db_session.commit()
    return base, head


def screens(project, run_id: int, case_id: int) -> list[str]:
    slug = project.slug
    return [
        f"/p/{slug}/runs",
        f"/p/{slug}/runs/{run_id}",
        f"/p/{slug}/runs/{run_id}/results?status=failing",
        f"/p/{slug}/compare?head={run_id}",
        f"/p/{slug}/tests/{case_id}",
        f"/p/{slug}/tests?q=test",
    ]


# --- every screen ---------------------------------------------------------------------


def test_each_screen_is_a_page_or_an_htmx_partial(client, pair):
    _, head = pair
    for url in screens(head.project, head.id, case_id_of(head)):
        full, partial = client.get(url), client.get(url, headers=HTMX)
        assert full.status_code == partial.status_code == 200, url
        assert "<html" in full.text, url
        assert "<html" not in partial.text, url
        assert partial.text.startswith('<section id="screen">'), url
        # Signed-in pages also vary by Cookie; HX-Request must be there either way.
        assert "HX-Request" in full.vary, url
        assert "HX-Request" in partial.vary, url


def case_id_of(run) -> int:
    """Any case of ``run``."""
    return db.session.scalar(select(Result.case_id).where(Result.run_id == run.id).limit(1))


def test_runs_tab_appears_on_project_pages(client, project, db_session):
    db_session.commit()
    assert 'href="/p/web/runs"' in client.get("/p/web").text


# --- runs list ------------------------------------------------------------------------


def test_runs_list_links_each_run_and_compares_with_the_previous(client, pair):
    base, head = pair
    page = client.get("/p/web/runs").text
    assert f'href="/p/web/runs/{head.id}"' in page
    assert f'href="/p/web/compare?head={head.id}"' in page
    assert f'name="base" value="{base.id}"' in page
    assert page.index(f"#{head.id}") < page.index(f"#{base.id}")  # newest first


def test_runs_list_filters_live_in_the_url(client, project, db_session):
    failed = RunFactory(project=project, branch="main", build="b-failed")
    failures(failed, 1)
    for _ in range(4):
        ResultFactory(run=failed)
    RunFactory(project=project, branch="main", build="b-green")
    RunFactory(project=project, branch="dev", build="b-dev")
    recount(failed)
    db_session.commit()

    page = client.get("/p/web/runs?branch=main&status=failed").text

    assert "b-failed" in page
    assert "b-green" not in page
    assert "b-dev" not in page
    assert '<option value="main" selected>' in page
    assert '<option value="failed" selected>' in page
    assert 'hx-push-url="true"' in page


def test_runs_list_pagination_keeps_the_filters(client, project, db_session):
    for _ in range(26):
        RunFactory(project=project, branch="main")
    db_session.commit()
    page = client.get("/p/web/runs?branch=main&per_page=25").text
    assert "Page 1 of 2 (26 in all)" in page
    assert 'href="/p/web/runs?branch=main&amp;page=2&amp;per_page=25"' in page


def test_runs_list_empty_states(client, project, db_session):
    db_session.commit()
    assert "No runs yet." in client.get("/p/web/runs").text
    RunFactory(project=project)
    db_session.commit()
    assert "No runs match these filters." in client.get("/p/web/runs?branch=nope").text


def test_runs_list_survives_hand_edited_urls(client, project, db_session):
    RunFactory(project=project)
    db_session.commit()
    for query in ("page=-1", "page=abc", f"page={10**30}", "branch=%00main", "status=%00"):
        assert client.get(f"/p/web/runs?{query}").status_code == 200, query


# --- run detail -----------------------------------------------------------------------


def test_run_detail_groups_failures_with_a_collapsible_trace(client, project, db_session):
    run = RunFactory(project=project, build_url="https://ci.example.com/builds/7")
    failures(run, 3, fingerprint="fp-one")
    ResultFactory(run=run, failing=True, fingerprint="fp-two", message="other cause", trace="T2")
    for _ in range(20):
        ResultFactory(run=run)
    db_session.add(
        Upload(
            run=run,
            filename="junit.xml",
            kind="tests",
            format="junit",
            size_bytes=10,
            sha256="b" * 64,
            warnings=["2 cases without a name"],
        )
    )
    recount(run)
    db_session.commit()

    page = client.get(f"/p/web/runs/{run.id}").text

    assert "4 failures from\n  2 causes" in page
    assert page.count('class="failure-group"') == 2
    assert f"3 {TIMES} AssertionError" in page
    assert page.index(f"3 {TIMES} AssertionError") < page.index("other cause")
    assert "<details>" in page
    assert "<pre><code>T2</code></pre>" in page
    assert (
        '<a href="https://ci.example.com/builds/7" rel="noopener noreferrer">CI build</a>' in page
    )
    assert "2 cases without a name" in page
    assert "Infrastructure failure." not in page
    assert "the first run of main / default" in page


def test_run_detail_banner_for_an_infrastructure_failure(client, project, db_session):
    run = RunFactory(project=project)
    failures(run, 9)
    ResultFactory(run=run)
    recount(run)
    db_session.commit()
    page = client.get(f"/p/web/runs/{run.id}").text
    assert "Infrastructure failure." in page
    assert "9 of the 10 executed cases failed" in page


def test_run_detail_links_the_comparison_with_the_previous_run(client, pair):
    base, head = pair
    page = client.get(f"/p/web/runs/{head.id}").text
    assert f'href="/p/web/compare?base={base.id}&amp;head={head.id}"' in page


def test_run_detail_does_not_link_a_non_http_build_url(client, project, db_session):
    run = RunFactory(project=project, build_url="javascript:alert(1)")
    db_session.commit()
    assert "javascript:alert(1)" not in client.get(f"/p/web/runs/{run.id}").text


@pytest.mark.parametrize("other_project", [True, False])
def test_unknown_runs_are_404(client, project, db_session, other_project):
    run_id = RunFactory().id if other_project else 2**40
    db_session.commit()
    for url in (f"/p/web/runs/{run_id}", f"/p/web/runs/{run_id}/results"):
        response = client.get(url)
        assert response.status_code == 404
        assert f"Project &#39;web&#39; has no run {run_id}." in response.text


# --- compare --------------------------------------------------------------------------


def test_compare_shows_each_section(client, pair):
    base, head = pair
    page = client.get(f"/p/web/compare?base={base.id}&head={head.id}").text
    new_failures = page[page.index('id="new-failures"') : page.index('id="fixed"')]
    fixed = page[page.index('id="fixed"') : page.index('id="still-failing"')]
    assert "test_breaks" in new_failures
    assert "expected 200, got 500" in new_failures
    assert "test_fixed" in fixed
    assert "test_breaks" not in fixed
    assert "New failures <small>(1)</small>" in page
    assert "Removed tests <small>(0)</small>" in page
    assert page.count('class="compare-section"') == 5


def test_compare_without_a_base_uses_the_previous_run(client, pair):
    base, head = pair
    page = client.get(f"/p/web/compare?head={head.id}").text
    assert f'name="base" min="1" value="{base.id}"' in page
    assert "New failures <small>(1)</small>" in page


def test_compare_the_first_run_asks_for_a_base(client, pair):
    base, _ = pair
    page = client.get(f"/p/web/compare?head={base.id}").text
    assert "Nothing to compare with." in page


def test_compare_without_runs_shows_the_picker(client, project, db_session):
    db_session.commit()
    page = client.get("/p/web/compare").text
    assert "Pick two runs." in page
    assert 'hx-get="/p/web/compare"' in page


def test_compare_refuses_another_projects_run(client, pair):
    base, _ = pair
    foreign = RunFactory()
    db.session.commit()
    response = client.get(f"/p/web/compare?base={base.id}&head={foreign.id}")
    assert response.status_code == 404
    assert f"has no run {foreign.id}" in response.text


@pytest.mark.parametrize("query", ["head=abc", "head=1&base=-3", "head=%C2%B2"])
def test_compare_malformed_ids_are_400(client, project, db_session, query):
    db_session.commit()
    assert client.get(f"/p/web/compare?{query}").status_code == 400


def test_compare_an_impossible_id_is_404(client, project, db_session):
    db_session.commit()
    assert client.get(f"/p/web/compare?head={10**30}").status_code == 404


@pytest.mark.parametrize(
    "url", ["/p/%00/runs", "/p/%00/runs/1", "/p/%00/compare", "/p/%00/tests/1"]
)
def test_an_impossible_project_slug_is_404(client, db_session, url):
    assert client.get(url).status_code == 404


def test_compare_shows_coverage_movers(client, project, db_session):
    base = coverage_run(project, {"src/a.py": (10, 5, None, None)}, started_at=BASE_TIME)
    head = coverage_run(
        project, {"src/a.py": (10, 9, None, None)}, started_at=BASE_TIME + timedelta(hours=1)
    )
    db_session.commit()
    page = client.get(f"/p/web/compare?base={base.id}&head={head.id}").text
    assert "<code>src/a.py</code>" in page
    assert "50.0% → 90.0%" in page


# --- test history ---------------------------------------------------------------------


def test_history_strip_cells_link_runs_with_letters_and_labels(client, project, db_session):
    case = CaseFactory(project=project, name="test_login")
    results = result_history(case, "PFSR", branch="main", job="unit")
    db_session.commit()

    page = client.get(f"/p/web/tests/{case.id}").text

    cell = (
        r'<a class="(\w+)" href="/p/web/runs/(\d+)"\s+title="([^"]*)" aria-label="([^"]*)">(\w)</a>'
    )
    cells = re.findall(cell, page)
    assert [(kind, letter) for kind, _, _, _, letter in cells] == [
        ("passed", "P"),
        ("failed", "F"),
        ("skipped", "S"),
        ("retried", "R"),
    ]
    assert [int(run_id) for _, run_id, _, _, _ in cells] == [r.run_id for r in results]
    retried_title, retried_label = cells[-1][2], cells[-1][3]
    assert retried_title == retried_label
    assert "passed after a retry (2 attempts)" in retried_label
    assert "main / unit" in retried_label


def test_history_shows_identity_failures_and_flakiness(client, project, db_session):
    case = CaseFactory(
        project=project, file="tests/test_auth.py", classname="TestAuth", name="test_login"
    )
    # A retry flake two days ago: flagged flaky, with that run as the evidence.
    failed, retried = result_history(case, "FR", start=datetime.now(UTC) - timedelta(days=2))
    db_session.commit()

    page = client.get(f"/p/web/tests/{case.id}").text

    assert "<code>tests/test_auth.py</code>" in page
    assert "<code>TestAuth</code>" in page
    assert f"1 {TIMES} AssertionError" in page
    assert f'last <time datetime="{failed.run.started_at.isoformat()}"' in page
    flakiness = page[page.index("<h2>Flakiness") : page.index("<h2>Failures by cause")]
    assert '<span class="badge flaky">flaky</span>' in flakiness
    assert f'<a href="/p/web/runs/{retried.run_id}">#{retried.run_id}</a>' in flakiness
    assert "passed after a retry" in flakiness


def test_history_embeds_the_duration_chart(client, project, db_session):
    case = CaseFactory(project=project)
    db_session.commit()
    page = client.get(f"/p/web/tests/{case.id}").text
    assert f'data-chart-src="/p/web/tests/{case.id}/durations.json"' in page


def test_another_projects_test_is_404(client, project, db_session):
    other = CaseFactory()
    db_session.commit()
    assert client.get(f"/p/web/tests/{other.id}").status_code == 404
    assert client.get(f"/p/web/tests/{2**40}").status_code == 404


# --- untrusted text -------------------------------------------------------------------


def test_report_text_is_escaped_everywhere(client, project, db_session):
    base = RunFactory(project=project, branch="<b>main</b>", started_at=BASE_TIME)
    head = RunFactory(
        project=project, branch="<b>main</b>", started_at=BASE_TIME + timedelta(hours=1)
    )
    case = CaseFactory(project=project, name=SCRIPT_NAME, classname=SCRIPT_NAME, file=SCRIPT_NAME)
    ResultFactory(run=base, case=case)
    ResultFactory(
        run=head,
        case=case,
        failing=True,
        failure_type=IMG_MESSAGE,
        message=IMG_MESSAGE,
        trace=IMG_MESSAGE,
        duration_s=3.0,
    )
    db_session.add(
        Upload(
            run=head,
            filename=SCRIPT_NAME,
            kind="tests",
            format="junit",
            size_bytes=1,
            sha256="c" * 64,
            warnings=[IMG_MESSAGE],
        )
    )
    recount(base, head)
    db_session.commit()

    urls = [*screens(project, head.id, case.id), f"/p/web/compare?base={base.id}&head={head.id}"]
    for url in urls:
        page = client.get(url).text
        assert "<script>alert" not in page, url
        assert "<img src=x" not in page, url
        assert "<b>main</b>" not in page, url
    detail = client.get(f"/p/web/runs/{head.id}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail
    assert "&lt;img src=x onerror=alert(1)&gt;" in detail


# --- queries --------------------------------------------------------------------------


def query_count(client, count_queries, url: str) -> int:
    # The request shares the test's session: expire what earlier requests or
    # factories loaded, or a lookup by id may be answered without a query.
    db.session.expire_all()
    with count_queries.watching() as queries:
        assert client.get(url).status_code == 200
    return queries.count


def test_run_detail_queries_do_not_grow_with_failures(client, project, db_session, count_queries):
    counts = []
    for size in (3, 30):
        run = RunFactory(project=project)
        for index in range(size):
            ResultFactory(
                run=run, failing=True, fingerprint=f"fp-{index % 4}", flaky=index % 5 == 0
            )
        recount(run)
        db_session.commit()
        counts.append(query_count(client, count_queries, f"/p/web/runs/{run.id}"))
    assert counts[0] == counts[1]


def test_list_compare_and_history_queries_are_bounded(client, project, db_session, count_queries):
    def measure(size: int) -> list[int]:
        case = CaseFactory(project=project)
        made = result_history(case, "FP" * size, step=timedelta(minutes=size))
        for result in made:
            ResultFactory(run=result.run, failing=True)
        recount(*(r.run for r in made))
        db_session.commit()
        base, head = made[-2].run_id, made[-1].run_id
        return [
            query_count(client, count_queries, "/p/web/runs?per_page=100"),
            query_count(client, count_queries, f"/p/web/compare?base={base}&head={head}"),
            query_count(client, count_queries, f"/p/web/tests/{case.id}"),
        ]

    assert measure(2) == measure(15)


# --- one run's results ----------------------------------------------------------------


def test_run_results_list_every_result_problems_first(client, project, db_session):
    run = RunFactory(project=project, build="4205", job="py3.12")
    ResultFactory(run=run, case__name="test_ok", duration_s=1.5)
    ResultFactory(run=run, case__name="test_skipped", skipped=True, message="needs redis")
    ResultFactory(run=run, case__name="test_broken", failing=True, message=IMG_MESSAGE)
    ResultFactory(run=run, case__name="test_retried", flaky=True)
    recount(run)
    db_session.commit()

    page = client.get(f"/p/web/runs/{run.id}/results").text

    shown = re.findall(r"<strong>(test_\w+)</strong>", page)
    assert shown == ["test_broken", "test_retried", "test_skipped", "test_ok"]
    assert "Results of run" in page
    assert "<code>4205</code>" in page
    assert "4 results" in page
    assert ">passed after a retry</span>" in page
    assert "needs redis" in page  # why it was skipped
    assert IMG_MESSAGE not in page
    assert "&lt;img src=x" in page
    assert "1.5 s" in page
    assert f'href="/p/web/runs/{run.id}"' in page  # the breadcrumb back


def test_run_results_filters_and_sort_live_in_the_url(client, project, db_session):
    run = RunFactory(project=project)
    for index in range(30):
        ResultFactory(run=run, case__name=f"test_pass_{index:02}", duration_s=index)
    ResultFactory(run=run, case__name="test_fail", failing=True)
    recount(run)
    db_session.commit()
    url = f"/p/web/runs/{run.id}/results"

    failing = client.get(url + "?status=failing").text
    assert re.findall(r"<strong>(test_\w+)</strong>", failing) == ["test_fail"]
    assert "1 result failed or error" in failing
    assert '<option value="failing" selected>' in failing

    page = client.get(url + "?q=PASS&sort=-duration&per_page=25").text
    assert re.findall(r"<strong>(test_\w+)</strong>", page)[:2] == ["test_pass_29", "test_pass_28"]
    assert 'value="PASS"' in page
    assert 'aria-sort="descending"' in page
    assert "Page 1 of 2 (30 in all)" in page
    assert f'href="{url}?q=PASS&amp;sort=-duration&amp;page=2&amp;per_page=25"' in page
    # The default order is marked, and left out of the URL.
    assert 'aria-sort="ascending"' in client.get(url).text
    assert "sort=status" not in client.get(url + "?page=1").text.split("<tbody>")[1]


def test_run_results_empty_states(client, project, db_session):
    coverage_only = coverage_run(project, {"src/a.py": (10, 5, None, None)}, build="77", job="cov")
    run = RunFactory(project=project)
    ResultFactory(run=run, case__name="test_ok")
    recount(run)
    db_session.commit()

    empty = client.get(f"/p/web/runs/{coverage_only.id}/results").text
    assert "This run has no test results." in empty
    assert "suitescope upload --build 77 --job cov junit.xml" in empty
    nothing = client.get(f"/p/web/runs/{run.id}/results?status=skipped").text
    assert "No result of this run matches." in nothing
    assert f'href="/p/web/runs/{run.id}/results">Show all 1 results' in nothing


def test_run_detail_counts_open_the_results_they_count(client, project, db_session):
    run = RunFactory(project=project)
    ResultFactory(run=run)
    ResultFactory(run=run, failing=True)
    ResultFactory(run=run, skipped=True)
    recount(run)
    db_session.commit()

    page = client.get(f"/p/web/runs/{run.id}").text

    results = f"/p/web/runs/{run.id}/results"
    for status in ("passed", "failed", "skipped"):
        assert f'href="{results}?status={status}"' in page
    assert f'href="{results}" title="List them">3</a>' in page
    assert f'href="{results}?status=error"' not in page  # none to list
    assert "All 3 results, with filters and search" in page


def test_run_results_queries_do_not_grow_with_the_run(client, project, db_session, count_queries):
    counts = []
    for size in (3, 60):
        run = RunFactory(project=project)
        for index in range(size):
            ResultFactory(run=run, failing=index % 3 == 0)
        recount(run)
        db_session.commit()
        url = f"/p/web/runs/{run.id}/results?q=test&per_page=25"
        counts.append(query_count(client, count_queries, url))
    assert counts[0] == counts[1]


# --- the test catalog -----------------------------------------------------------------


def test_the_tests_screen_finds_a_test_and_links_its_history_and_latest_run(
    client, project, db_session
):
    login = CaseFactory(project=project, name="test_login", classname="tests.auth.TestLogin")
    latest = result_history(login, "PF", start=BASE_TIME)[-1]
    CaseFactory(project=project, name="test_logout", classname="tests.auth.TestLogout")
    db_session.commit()

    page = client.get("/p/web/tests?q=testlogin").text

    assert 'href="/p/web/tests"' in page  # the tab
    assert f'href="/p/web/tests/{login.id}"' in page
    assert f'href="/p/web/runs/{latest.run_id}"' in page
    assert ">failed</span>" in page
    assert "test_logout" not in page
    assert "1 test matching “testlogin”" in page
    assert 'value="testlogin"' in page  # the search box keeps it after a reload


def test_the_tests_screen_pages_with_the_search_kept(client, project, db_session):
    for index in range(30):
        CaseFactory(project=project, name=f"test_page_{index:02}")
    db_session.commit()
    page = client.get("/p/web/tests?q=page&per_page=25").text
    assert "Page 1 of 2 (30 in all)" in page
    assert 'href="/p/web/tests?q=page&amp;page=2&amp;per_page=25"' in page
    assert "test_page_29" in client.get("/p/web/tests?q=page&per_page=25&page=2").text


def test_the_tests_screen_explains_an_empty_project_and_a_search_without_match(
    client, project, db_session
):
    db_session.commit()
    assert "No tests yet." in client.get("/p/web/tests").text
    CaseFactory(project=project, name="test_one")
    db_session.commit()
    nothing = client.get("/p/web/tests", query_string={"q": SCRIPT_NAME}).text
    assert "No test name, class or file contains" in nothing
    assert SCRIPT_NAME not in nothing
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in nothing
