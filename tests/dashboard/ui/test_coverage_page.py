"""The coverage screen: full page and htmx partial, filters, charts, empty states, queries."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from dashboard.ui.coverage import treemap_figure, trend_figure
from tests.factories import ProjectFactory, coverage_run

XSS_PATH = "src/<script>alert(1)</script>.py"


def whole_paths(page: str) -> str:
    """The page with file paths read whole: they may wrap after each "/" (``<wbr>``)."""
    return page.replace("/<wbr>", "/")


def days_ago(days: float) -> datetime:
    # The page's window ends now, so the runs are placed relative to it.
    return datetime.now(UTC) - timedelta(days=days)


@pytest.fixture
def project(db_session):
    return ProjectFactory(slug="web", default_branch="main")


@pytest.fixture
def history(project, db_session):
    """main: two runs; feature: two runs, the last with a new file."""
    coverage_run(project, {"src/app.py": (10, 5, 4, 2)}, started_at=days_ago(9), commit_sha="m1")
    coverage_run(project, {"src/app.py": (10, 6, 4, 2)}, started_at=days_ago(8), commit_sha="m2")
    coverage_run(project, {"src/app.py": (10, 4, 4, 1)}, started_at=days_ago(5), branch="feature")
    coverage_run(
        project,
        {"src/app.py": (10, 9, 4, 3), "src/new.py": (8, 2, 4, 0)},
        started_at=days_ago(1),
        branch="feature",
        commit_sha="f2",
    )
    db_session.commit()


def test_full_page_and_htmx_partial(client, history):
    full = client.get("/p/web/coverage")
    partial = client.get("/p/web/coverage", headers={"HX-Request": "true"})
    assert full.status_code == partial.status_code == 200
    assert "<html" in full.text
    assert "<html" not in partial.text
    assert partial.text.lstrip().startswith('<section id="screen">')
    assert "Coverage on <code>main</code>" in partial.text
    assert "HX-Request" in full.vary
    assert "HX-Request" in partial.vary
    assert 'aria-current="page">Coverage</a>' in full.text


def test_the_default_branch_is_chosen_and_written_into_every_link(client, history):
    page = client.get("/p/web/coverage?window=14").text
    assert '<option value="main" selected>main (default)</option>' in page
    assert 'data-chart-src="/p/web/coverage/trend.json?window=14&amp;branch=main"' in page
    assert 'data-chart-src="/p/web/coverage/treemap.json?window=14&amp;branch=main"' in page
    assert "?window=14&amp;branch=main&amp;sort=branch_rate" in page  # lowest rate first


def test_the_file_table_marks_its_default_order(client, history):
    def file_header(page: str) -> tuple[str, str]:
        """(the File header's attributes, its link's query)."""
        found = re.search(r'<th scope="col" ([^>]*)>\s*<a href="[^"?]*\?([^"]*)"[^>]*>File', page)
        assert found, "no File header"
        return found[1], found[2]

    attributes, link = file_header(client.get("/p/web/coverage").text)
    assert 'aria-sort="ascending"' in attributes  # by path, unless told otherwise
    assert "sort=-path" in link  # a click reverses it
    attributes, _ = file_header(client.get("/p/web/coverage?sort=bogus").text)
    assert 'aria-sort="ascending"' in attributes
    attributes, link = file_header(client.get("/p/web/coverage?sort=-line_rate").text)
    assert "aria-sort" not in attributes
    assert "sort=path" in link


def test_summary_shows_rates_and_signed_deltas_against_previous_and_default(client, history):
    page = client.get("/p/web/coverage?branch=feature").text
    assert "Coverage on <code>feature</code>" in page
    # Latest feature run: lines 11/18, branches 3/8; previous 4/10 and 1/4; main 6/10 and 2/4.
    assert "61.1%" in page
    assert "37.5%" in page
    assert "▲ +21.1 pts" in page  # lines vs previous run
    assert "▲ +12.5 pts" in page  # branches vs previous run (25% → 37.5%)
    assert "▼ -12.5 pts" in page  # branches vs main (50% → 37.5%)
    assert '<span class="badge new">new</span>' in page
    assert "Change vs main" in page


def test_default_branch_page_does_not_compare_with_itself(client, history):
    page = client.get("/p/web/coverage").text
    assert "(this branch)" in page
    assert "Change vs main" not in page
    assert "▲ +10.0 pts" in page  # lines 50% → 60% vs the previous main run


def test_files_table_search_sort_and_pagination(client, project, db_session):
    files = {f"src/mod_{i:02}.py": (10, i % 10, 10, i % 10) for i in range(60)}
    files["lib/Other.py"] = (10, 10, 10, 10)
    coverage_run(project, files, started_at=days_ago(1))
    db_session.commit()

    raw = client.get("/p/web/coverage").text
    assert "<code>lib/<wbr>Other.py</code>" in raw  # a long path wraps between names
    page = whole_paths(raw)
    assert "Page 1 of 2 (61 in all)" in page
    assert "lib/Other.py" in page
    second = whole_paths(client.get("/p/web/coverage?page=2").text)
    assert "src/mod_59.py" in second

    found = whole_paths(client.get("/p/web/coverage?q=other").text)
    assert "lib/Other.py" in found
    assert "src/mod_01.py" not in found.split("<h2>Files")[1]

    ranked = whole_paths(client.get("/p/web/coverage?sort=-missing_branches").text)
    ranked = ranked.split("<h2>Files")[1]
    paths = re.findall(r"<td class=\"subject\"><code>([^<]+)</code>", ranked)
    assert paths[:6] == [f"src/mod_{i:02}.py" for i in (0, 10, 20, 30, 40, 50)]

    nothing = whole_paths(client.get("/p/web/coverage?q=zzz").text)
    assert "No file path contains “zzz”." in nothing


def test_lowest_branch_coverage_lists_files_under_the_threshold(client, project, db_session):
    coverage_run(
        project,
        {"big.py": (10, 10, 100, 60), "tiny.py": (10, 10, 1, 0), "fine.py": (10, 10, 10, 9)},
        started_at=days_ago(1),
    )
    db_session.commit()
    page = whole_paths(client.get("/p/web/coverage").text)
    section = page.split("<h2>Lowest branch coverage</h2>")[1].split("<h2>")[0]
    assert re.findall(r"<code>([^<]+)</code>", section) == ["big.py", "tiny.py"]
    assert "threshold of 80%" in section


def test_empty_state_explains_what_to_upload(client, project, db_session):
    db_session.commit()
    page = whole_paths(client.get("/p/web/coverage").text)
    assert "No coverage for main in the last 30 days." in page
    assert "Cobertura, LCOV, JaCoCo or coverage.py JSON" in page
    assert "suitescope upload --branch main coverage.xml" in page
    assert "http://localhost/api/v1/uploads" in page
    assert "data-chart-src" not in page


def test_a_format_without_branch_data_says_so(client, project, db_session):
    coverage_run(project, {"main.go": (10, 7, None, None)}, started_at=days_ago(1))
    db_session.commit()
    page = whole_paths(client.get("/p/web/coverage").text)
    assert "no branch data" in page
    assert "No branch data (this format does not record branches)." in page
    assert not re.search(r"[^\d.]0\.0%", page)  # no 0% standing in for "no data"


def test_report_strings_are_escaped_in_the_page(client, project, db_session):
    coverage_run(project, {XSS_PATH: (10, 1, 4, 0)}, started_at=days_ago(1), branch="<b>x</b>")
    db_session.commit()
    page = whole_paths(client.get("/p/web/coverage", query_string={"branch": "<b>x</b>"}).text)
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>x</b>" not in page


def test_trend_chart_has_both_series_as_percent(client, history):
    fig = client.get("/p/web/coverage/trend.json?branch=feature").get_json()
    line, branch = fig["data"]
    assert line["name"] == "Line rate"
    assert branch["name"] == "Branch rate"
    assert line["y"] == pytest.approx([0.4, 11 / 18])
    assert branch["y"] == [0.25, 0.375]
    assert fig["layout"]["yaxis"]["tickformat"] == ".0%"


def test_trend_chart_draws_each_job_apart(client, project, db_session):
    """Jobs of one commit measure different code: one line through them all zigzags."""
    for day, (python, web) in enumerate([(8, 3), (9, 4)]):
        for job, covered in (("py3.12", python), ("<b>web</b>", web)):
            coverage_run(
                project, {"src/app.py": (10, covered, 4, 2)}, started_at=days_ago(3 - day), job=job
            )
    db_session.commit()

    fig = client.get("/p/web/coverage/trend.json").get_json()

    names = [trace["name"] for trace in fig["data"]]
    assert names == [
        "Line rate · &lt;b&gt;web&lt;/b&gt;",
        "Branch rate · &lt;b&gt;web&lt;/b&gt;",
        "Line rate · py3.12",
        "Branch rate · py3.12",
    ]
    web_line, web_branch, python_line, python_branch = fig["data"]
    assert python_line["y"] == [0.8, 0.9]
    assert web_line["y"] == [0.3, 0.4]
    assert python_branch["y"] == web_branch["y"] == [0.5, 0.5]
    assert python_branch["line"]["dash"] == "dot"
    # A job's pair shares its colour and its legend entry's click.
    assert python_line["line"]["color"] == python_branch["line"]["color"]
    assert python_line["line"]["color"] != web_line["line"]["color"]
    assert python_line["legendgroup"] == python_branch["legendgroup"] == "py3.12"
    assert web_line["legendgroup"] == "&lt;b&gt;web&lt;/b&gt;"


def test_trend_chart_keeps_the_branch_series_without_branch_data(client, project, db_session):
    coverage_run(project, {"main.go": (10, 7, None, None)}, started_at=days_ago(1))
    db_session.commit()
    line, branch = client.get("/p/web/coverage/trend.json").get_json()["data"]
    assert line["y"] == [0.7]
    assert branch["y"] == [None]
    assert branch["name"] == "Branch rate (no branch data)"


def test_treemap_chart_escapes_paths_and_colours_by_branch_rate(client, project, db_session):
    coverage_run(
        project,
        {XSS_PATH: (10, 1, 4, 1), "src/ok.py": (30, 30, 4, 4), "src/plain.py": (5, 5, 0, 0)},
        started_at=days_ago(1),
    )
    db_session.commit()
    response = client.get("/p/web/coverage/treemap.json")
    assert response.status_code == 200
    assert "<script>" not in response.text
    (trace,) = response.get_json()["data"]
    assert trace["type"] == "treemap"
    # The path's "/" in "</script>" makes a directory "src/<script>alert(1)<".
    strings = trace["ids"] + trace["parents"] + trace["labels"]
    strings += [text.replace("<br>", " ") for text in trace["text"]]
    assert not [s for s in strings if "<" in s or ">" in s]
    escaped_file = "src/&lt;script&gt;alert(1)&lt;/script&gt;.py"
    assert escaped_file in trace["ids"]
    assert "script&gt;.py" in trace["labels"]
    nodes = dict(
        zip(
            trace["ids"],
            zip(trace["parents"], trace["values"], trace["marker"]["colors"], strict=True),
            strict=True,
        )
    )
    assert nodes["/"] == ("", 45, 5 / 8)
    assert nodes["src/"] == ("/", 45, 5 / 8)
    assert nodes[escaped_file] == ("src/&lt;script&gt;alert(1)&lt;/", 10, 0.25)
    assert nodes["src/plain.py"][2] == "#bdbdbd"  # no branches: grey, said in the hover text
    assert trace["marker"]["colorscale"][0] == [0.0, "#c62828"]
    assert trace["marker"]["showscale"] is True
    assert trace["branchvalues"] == "total"


def test_chart_endpoints_without_coverage_give_an_empty_figure(client, project, db_session):
    db_session.commit()
    for name in ("trend", "treemap"):
        fig = client.get(f"/p/web/coverage/{name}.json").get_json()
        assert fig["data"] == []
        assert "No coverage" in fig["layout"]["annotations"][0]["text"]


def test_figures_are_pure_functions_of_their_data():
    assert trend_figure([])["data"] == []
    assert treemap_figure([], 0.8)["data"] == []


@pytest.mark.parametrize(
    "url", ["/p/nope/coverage", "/p/nope/coverage/trend.json", "/p/NO%00PE/coverage"]
)
def test_unknown_projects_are_404(client, db_session, url):
    assert client.get(url).status_code == 404


def test_bad_parameters_fall_back_to_defaults(client, history):
    response = client.get("/p/web/coverage?window=abc&page=-3&per_page=7&sort=%00&branch=a%00b")
    assert response.status_code == 200
    assert "No coverage for a" in response.text


def page_queries(client, count_queries, url: str) -> int:
    with count_queries.watching() as queries:
        assert client.get(url).status_code == 200
    return queries.count


@pytest.mark.parametrize("url", ["/p/web/coverage", "/p/web/coverage/treemap.json"])
def test_query_count_does_not_grow_with_the_number_of_files(
    client, project, db_session, count_queries, url
):
    counts = []
    for size, branch in ((3, "small"), (30, "large")):
        files = {f"src/{branch}/m{i}.py": (10, 5, 4, 2) for i in range(size)}
        coverage_run(project, files, started_at=days_ago(3), branch=branch)
        coverage_run(project, files, started_at=days_ago(2), branch=branch)
    coverage_run(project, {"src/m.py": (10, 5, 4, 2)}, started_at=days_ago(4))
    db_session.commit()
    for branch in ("small", "large"):
        counts.append(page_queries(client, count_queries, f"{url}?branch={branch}"))
    assert counts[0] == counts[1]
    assert counts[0] <= 7
