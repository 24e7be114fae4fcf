"""Coverage analytics: rates, deltas, per-file table, movers, threshold listing, treemap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.analytics import coverage
from dashboard.analytics.scope import Scope
from dashboard.filters import Filters
from dashboard.models import CoverageFile, CoverageReport
from tests.factories import ProjectFactory, RunFactory, coverage_run

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def scope_of(project, **filters) -> Scope:
    return Scope.from_filters(project, Filters(**filters), now=NOW)


def report(files: dict[str, tuple]) -> CoverageReport:
    """A transient report (no database) for the pure comparison functions."""
    return CoverageReport(
        files=[
            CoverageFile(
                path=p, lines_valid=lv, lines_covered=lc, branches_valid=bv, branches_covered=bc
            )
            for p, (lv, lc, bv, bc) in files.items()
        ]
    )


def by_path(files) -> dict:
    return {f.path: f for f in files}


# --- pure helpers -------------------------------------------------------------------


def test_rate_is_none_when_there_is_nothing_to_divide():
    assert coverage.rate(3, 4) == 0.75
    assert coverage.rate(0, 4) == 0.0  # a real 0%
    assert coverage.rate(None, None) is None  # no branch data
    assert coverage.rate(0, 0) is None  # no branches


def test_rate_delta_needs_both_sides():
    assert coverage.rate_delta(0.75, 0.5) == 0.25
    assert coverage.rate_delta(None, 0.5) is None
    assert coverage.rate_delta(0.5, None) is None


def test_missing_is_none_only_without_branch_data():
    assert coverage.missing(3, 4) == 1
    assert coverage.missing(0, 0) == 0
    assert coverage.missing(None, None) is None


def point(job: str, run_id: int) -> coverage.CoveragePoint:
    return coverage.CoveragePoint(
        run_id, None, "main", NOW, None, None, 0, 0, None, None, job=job, report_id=run_id
    )


def test_previous_point_is_the_last_earlier_run_of_the_same_job():
    points = [point("py311", 1), point("py312", 2), point("py311", 3), point("py312", 4)]
    assert coverage.previous_point(points).run_id == 2
    assert coverage.previous_point(points[:1]) is None
    assert coverage.previous_point([]) is None


def test_compare_reports_lists_added_removed_changed_and_unchanged_files():
    old = report({"a.py": (10, 5, 4, 2), "gone.py": (5, 5, 2, 2), "same.py": (3, 3, None, None)})
    new = report({"a.py": (10, 8, 4, 3), "new.py": (4, 1, 2, 0), "same.py": (3, 3, None, None)})
    deltas = {d.path: d for d in coverage.compare_reports(old, new)}
    assert list(deltas) == ["a.py", "gone.py", "new.py", "same.py"]
    assert {p: d.status for p, d in deltas.items()} == {
        "a.py": "changed",
        "gone.py": "removed",
        "new.py": "added",
        "same.py": "unchanged",
    }
    assert deltas["a.py"].delta_branch_rate == pytest.approx(0.25)
    assert deltas["a.py"].delta_line_rate == pytest.approx(0.3)
    assert deltas["a.py"].delta_missing_branches == -1
    assert deltas["gone.py"].new_branch_rate is None
    assert deltas["gone.py"].delta_branch_rate is None
    assert deltas["new.py"].delta_branch_rate is None
    assert deltas["same.py"].old_branch_rate is None


def test_compare_reports_without_an_old_report_marks_every_file_added():
    new = report({"a.py": (10, 8, 4, 3), "b.py": (1, 1, None, None)})
    assert [d.status for d in coverage.compare_reports(None, new)] == ["added", "added"]


def test_movers_rank_the_largest_drops_and_gains():
    old = report(
        {
            "big_drop.py": (10, 10, 10, 10),  # 100% → 50%, 5 more uncovered
            "small_drop.py": (10, 10, 4, 4),  # 100% → 75%
            "tie_drop.py": (10, 10, 2, 2),  # 100% → 50%, only 1 more uncovered
            "gain.py": (10, 10, 4, 1),  # 25% → 100%
            "no_branches.py": (10, 5, None, None),
            "gone.py": (10, 10, 4, 4),
        }
    )
    new = report(
        {
            "big_drop.py": (10, 10, 10, 5),
            "small_drop.py": (10, 10, 4, 3),
            "tie_drop.py": (10, 10, 2, 1),
            "gain.py": (10, 10, 4, 4),
            "no_branches.py": (10, 1, None, None),
            "added.py": (10, 0, 4, 0),
        }
    )
    moved = coverage.movers(coverage.compare_reports(old, new), limit=2)
    assert [d.path for d in moved.drops] == ["big_drop.py", "tie_drop.py"]
    assert [d.path for d in moved.gains] == ["gain.py"]
    assert coverage.movers(coverage.compare_reports(old, new), limit=5).drops[-1].path == (
        "small_drop.py"
    )


def file_row(path: str, covered: int | None, valid: int | None, **deltas) -> coverage.FileCoverage:
    return coverage.FileCoverage(
        path=path,
        lines_valid=10,
        lines_covered=10,
        branches_valid=valid,
        branches_covered=covered,
        line_rate=1.0,
        branch_rate=coverage.rate(covered, valid),
        missing_lines=0,
        missing_branches=coverage.missing(covered, valid),
        delta_branch_rate=deltas.get("delta"),
        delta_vs_default=None,
        delta_line_rate=None,
    )


def test_rank_by_uncovered_branches_lists_files_under_the_threshold_biggest_gap_first():
    files = [
        file_row("tiny.py", 0, 1),  # 0%, 1 uncovered
        file_row("big.py", 120, 200),  # 60%, 80 uncovered
        file_row("at_threshold.py", 8, 10),  # exactly 80%: not under
        file_row("no_data.py", None, None),
        file_row("no_branches.py", 0, 0),
        file_row("half.py", 5, 10),  # 50%, 5 uncovered
    ]
    ranked = coverage.rank_by_uncovered_branches(files, 0.8)
    assert [f.path for f in ranked] == ["big.py", "half.py", "tiny.py"]


def test_sort_files_puts_missing_values_last_in_both_directions():
    files = [
        file_row("b.py", 1, 4, delta=0.1),
        file_row("a.py", 3, 4, delta=-0.2),
        file_row("c.py", None, None),
        file_row("d.py", 2, 4, delta=None),
    ]
    assert [f.path for f in coverage.sort_files(files, "branch_rate")] == [
        "b.py",
        "d.py",
        "a.py",
        "c.py",
    ]
    assert [f.path for f in coverage.sort_files(files, "-branch_rate")] == [
        "a.py",
        "d.py",
        "b.py",
        "c.py",
    ]
    assert [f.path for f in coverage.sort_files(files, "-delta")] == [
        "b.py",
        "a.py",
        "c.py",
        "d.py",
    ]
    assert [f.path for f in coverage.sort_files(files, "nonsense")] == [
        "a.py",
        "b.py",
        "c.py",
        "d.py",
    ]


def test_search_files_matches_part_of_the_path_ignoring_case():
    files = [file_row("src/Models/user.py", 1, 1), file_row("src/views.py", 1, 1)]
    assert [f.path for f in coverage.search_files(files, "models/")] == ["src/Models/user.py"]
    assert len(coverage.search_files(files, None)) == 2


def test_directory_tree_aggregates_files_into_their_directories():
    files = [
        file_row("src/app.py", 2, 4),
        file_row("src/pkg/util.py", 4, 4),
        file_row("src/plain.go", None, None),  # no branch data: lines only
        file_row("setup.py", 0, 0),
    ]
    nodes = {n.id: n for n in coverage.directory_tree(files)}
    expected_ids = ["/", "setup.py", "src/", "src/app.py", "src/pkg/", "src/pkg/util.py"]
    assert list(nodes) == [*expected_ids, "src/plain.go"]
    root, src, pkg = nodes["/"], nodes["src/"], nodes["src/pkg/"]
    assert (root.parent, src.parent, pkg.parent, nodes["src/pkg/util.py"].parent) == (
        "",
        "/",
        "src/",
        "src/pkg/",
    )
    assert (src.label, pkg.label, nodes["src/pkg/util.py"].label) == ("src", "pkg", "util.py")
    assert src.lines_valid == 30
    assert (src.branches_valid, src.branches_covered) == (8, 6)
    assert src.branch_rate == 0.75
    assert (root.lines_valid, root.branches_valid, root.branches_covered) == (40, 8, 6)
    assert nodes["src/plain.go"].branch_rate is None
    assert nodes["src/plain.go"].branches_valid is None
    assert nodes["setup.py"].branch_rate is None  # no branches, but branch data
    assert nodes["setup.py"].branches_valid == 0
    # Parents' values are the sums of their children's (Plotly's branchvalues="total").
    children = ("src/app.py", "src/pkg/", "src/plain.go")
    assert src.value("lines") == sum(nodes[i].value("lines") for i in children)
    assert src.value("branches") == 8


def test_directory_tree_keeps_a_file_and_a_directory_of_the_same_name_apart():
    files = [
        file_row("src/build", 1, 1),
        file_row("src/build/main.py", 1, 2),
        file_row("./src//x.py", 1, 1),
    ]
    ids = [n.id for n in coverage.directory_tree(files)]
    assert "src/build" in ids
    assert "src/build/" in ids
    assert "src/x.py" in ids
    assert len(ids) == len(set(ids))


def test_directory_tree_joins_a_directory_that_holds_only_one_directory():
    files = [
        file_row("src/main/java/com/acme/app/App.java", 1, 2),
        file_row("src/main/java/com/acme/app/web/Routes.java", 1, 2),
        file_row("src/main/java/com/acme/util/Text.java", 2, 2),
        file_row("src/main/resources/a.txt", None, None),
    ]
    nodes = {n.id: n for n in coverage.directory_tree(files)}
    assert [(n.label, n.parent) for n in nodes.values() if not n.is_file] == [
        ("all files", ""),
        ("src/main", "/"),
        ("java/com/acme", "src/main/"),
        ("app", "src/main/java/com/acme/"),
        ("web", "src/main/java/com/acme/app/"),
        ("util", "src/main/java/com/acme/"),
        ("resources", "src/main/"),
    ]
    # Every parent named is a node, and a joined tile still sums what is under it.
    assert all(n.parent in nodes for n in nodes.values() if n.parent)
    assert nodes["src/main/java/com/acme/"].lines_valid == 30
    assert nodes["src/main/java/com/acme/"].branches_valid == 6


def test_directory_tree_of_no_files_is_only_the_root():
    assert [n.id for n in coverage.directory_tree([])] == ["/"]


# --- queries --------------------------------------------------------------------------


@pytest.fixture
def project(db_session):
    return ProjectFactory(slug="web", default_branch="main")


def test_trend_has_each_coverage_run_of_the_default_branch_in_the_window(project, db_session):
    coverage_run(project, {"a.py": (10, 5, 4, 1)}, started_at=days_ago(40))  # outside the window
    coverage_run(project, {"a.py": (10, 6, 4, 2)}, started_at=days_ago(10), commit_sha="c1")
    coverage_run(project, {"a.py": (10, 8, 4, 3)}, started_at=days_ago(2), commit_sha="c2")
    coverage_run(project, {"a.py": (10, 1, 4, 0)}, started_at=days_ago(1), branch="feature")
    coverage_run(project, {"a.py": (10, 1, 4, 0)}, started_at=NOW + timedelta(hours=1))
    RunFactory(project=project, started_at=days_ago(1))  # tests only, no coverage

    trend = coverage.coverage_trend(scope_of(project))
    assert [p.commit for p in trend] == ["c1", "c2"]
    assert [p.line_rate for p in trend] == [0.6, 0.8]
    assert [p.branch_rate for p in trend] == [0.5, 0.75]
    assert {p.branch for p in trend} == {"main"}
    assert (trend[1].lines_valid, trend[1].branches_covered) == (10, 3)


def test_trend_follows_the_branch_and_window_filters(project, db_session):
    coverage_run(project, {"a.py": (10, 6, 4, 2)}, started_at=days_ago(10))
    coverage_run(project, {"a.py": (10, 1, 4, 0)}, started_at=days_ago(10), branch="feature")
    coverage_run(project, {"a.py": (10, 2, 4, 0)}, started_at=days_ago(3), branch="feature")
    assert len(coverage.coverage_trend(scope_of(project, branch="feature"))) == 2
    assert len(coverage.coverage_trend(scope_of(project, branch="feature", window=7))) == 1
    assert len(coverage.coverage_trend(scope_of(project, window=7))) == 0
    assert coverage.coverage_trend(scope_of(project, branch="nope")) == []


def test_a_format_without_branch_data_gives_none_never_zero(project, db_session):
    coverage_run(project, {"main.go": (10, 7, None, None)}, started_at=days_ago(1))
    scope = scope_of(project)
    (trend,) = coverage.coverage_trend(scope)
    assert trend.branch_rate is None
    assert trend.has_branch_data is False
    assert trend.line_rate == 0.7
    (row,) = coverage.file_table(scope)
    assert (row.branch_rate, row.missing_branches, row.has_branch_data) == (None, None, False)
    assert coverage.lowest_branch_coverage(scope) == []


def test_a_file_without_branches_has_no_rate_but_has_branch_data(project, db_session):
    coverage_run(project, {"a.py": (10, 7, 0, 0), "b.py": (10, 7, 2, 1)}, started_at=days_ago(1))
    files = by_path(coverage.file_table(scope_of(project)))
    assert files["a.py"].branch_rate is None
    assert files["a.py"].has_branch_data is True
    assert files["a.py"].missing_branches == 0
    assert files["b.py"].branch_rate == 0.5


def test_file_table_deltas_against_the_previous_run_and_the_default_branch(project, db_session):
    coverage_run(project, {"a.py": (10, 5, 4, 2), "c.py": (5, 5, 2, 2)}, started_at=days_ago(5))
    coverage_run(
        project,
        {"a.py": (10, 4, 4, 1), "gone.py": (4, 4, 2, 2), "c.py": (5, 5, 2, 2)},
        started_at=days_ago(4),
        branch="feature",
    )
    coverage_run(
        project,
        {"a.py": (10, 9, 4, 3), "new.py": (8, 2, 4, 1), "c.py": (5, 5, None, None)},
        started_at=days_ago(1),
        branch="feature",
    )
    files = by_path(coverage.file_table(scope_of(project, branch="feature")))

    assert sorted(files) == ["a.py", "c.py", "new.py"]  # gone.py was removed
    a = files["a.py"]
    assert a.branch_rate == 0.75
    assert a.delta_branch_rate == pytest.approx(0.5)  # 25% → 75% on feature
    assert a.delta_vs_default == pytest.approx(0.25)  # main has 50%
    assert a.delta_line_rate == pytest.approx(0.5)
    assert a.is_new is False
    new = files["new.py"]
    assert new.is_new is True
    assert (new.delta_branch_rate, new.delta_vs_default, new.delta_line_rate) == (None, None, None)
    c = files["c.py"]  # lost its branch data: no delta, not a drop to 0%
    assert (c.branch_rate, c.delta_branch_rate, c.delta_vs_default) == (None, None, None)
    assert c.delta_line_rate == 0


def test_without_a_previous_run_no_file_is_new_and_no_delta_is_given(project, db_session):
    coverage_run(project, {"a.py": (10, 5, 4, 2)}, started_at=days_ago(5))
    coverage_run(project, {"a.py": (10, 9, 4, 3)}, started_at=days_ago(1), branch="f")
    (row,) = coverage.file_table(scope_of(project, branch="f"))
    assert row.is_new is False
    assert row.delta_branch_rate is None
    assert row.delta_vs_default == pytest.approx(0.25)


def test_summary_compares_the_latest_run_with_the_previous_and_the_default_branch(
    project, db_session
):
    base = coverage_run(project, {"a.py": (10, 5, 10, 5)}, started_at=days_ago(6))
    prev = coverage_run(project, {"a.py": (10, 6, 10, 6)}, started_at=days_ago(4), branch="f")
    last = coverage_run(project, {"a.py": (10, 9, 10, 8)}, started_at=days_ago(1), branch="f")
    summary = coverage.coverage_summary(scope_of(project, branch="f"))
    assert (summary.latest.run_id, summary.previous.run_id, summary.baseline.run_id) == (
        last.id,
        prev.id,
        base.id,
    )
    assert summary.delta_branch_rate == pytest.approx(0.2)
    assert summary.delta_line_rate == pytest.approx(0.3)
    assert summary.delta_branch_vs_default == pytest.approx(0.3)
    assert summary.delta_line_vs_default == pytest.approx(0.4)


def test_summary_on_the_default_branch_has_no_baseline(project, db_session):
    coverage_run(project, {"a.py": (10, 5, 10, 5)}, started_at=days_ago(6))
    coverage_run(project, {"a.py": (10, 6, 10, 6)}, started_at=days_ago(1))
    summary = coverage.coverage_summary(scope_of(project))
    assert summary.branch == "main"
    assert summary.baseline is None
    assert summary.delta_branch_vs_default is None
    assert summary.delta_branch_rate == pytest.approx(0.1)
    assert {f.delta_vs_default for f in coverage.file_table(scope_of(project))} == {None}


def test_the_previous_run_and_the_baseline_are_of_the_same_job(project, db_session):
    main_unit = coverage_run(project, {"a.py": (10, 5, 10, 5)}, started_at=days_ago(8), job="unit")
    coverage_run(project, {"a.py": (10, 1, 10, 1)}, started_at=days_ago(7), job="e2e")
    unit = coverage_run(
        project, {"a.py": (10, 6, 10, 6)}, started_at=days_ago(4), branch="f", job="unit"
    )
    coverage_run(project, {"a.py": (10, 1, 10, 1)}, started_at=days_ago(3), branch="f", job="e2e")
    coverage_run(project, {"a.py": (10, 9, 10, 9)}, started_at=days_ago(1), branch="f", job="unit")
    summary = coverage.coverage_summary(scope_of(project, branch="f"))
    assert summary.previous.run_id == unit.id
    assert summary.baseline.run_id == main_unit.id


def test_the_baseline_falls_back_to_any_job_of_the_default_branch(project, db_session):
    main_run = coverage_run(project, {"a.py": (10, 5, 10, 5)}, started_at=days_ago(8), job="ci")
    coverage_run(project, {"a.py": (10, 9, 10, 9)}, started_at=days_ago(1), branch="f", job="x")
    summary = coverage.coverage_summary(scope_of(project, branch="f"))
    assert summary.previous is None
    assert summary.baseline.run_id == main_run.id


def test_the_job_filter_narrows_every_look_up(project, db_session):
    coverage_run(project, {"a.py": (10, 5, 10, 5)}, started_at=days_ago(8), job="unit")
    coverage_run(project, {"a.py": (10, 1, 10, 1)}, started_at=days_ago(2), job="e2e")
    unit = coverage_run(project, {"a.py": (10, 9, 10, 9)}, started_at=days_ago(1), job="unit")
    trend = coverage.coverage_trend(scope_of(project, job="unit"))
    assert [p.job for p in trend] == ["unit", "unit"]
    assert coverage.latest_report(scope_of(project, job="e2e")).lines_covered == 1
    assert coverage.latest_report(scope_of(project, job="unit")).run_id == unit.id


def test_threshold_listing_ranks_files_under_it_by_uncovered_branches(project, db_session):
    project.branch_coverage_threshold = 0.9
    files = {
        "small.py": (10, 10, 2, 0),  # 0%, 2 uncovered
        "large.py": (10, 10, 100, 70),  # 70%, 30 uncovered
        "fine.py": (10, 10, 10, 10),
        "go.go": (10, 10, None, None),
    }
    coverage_run(project, files, started_at=days_ago(1))
    scope = scope_of(project)
    assert [f.path for f in coverage.files_under_threshold(scope, 0.8)] == ["large.py", "small.py"]
    assert [f.path for f in coverage.files_under_threshold(scope, 0.5)] == ["small.py"]
    assert [f.path for f in coverage.lowest_branch_coverage(scope)] == ["large.py", "small.py"]
    assert [f.path for f in coverage.lowest_branch_coverage(scope, limit=1)] == ["large.py"]


def test_latest_report_is_the_newest_coverage_run_of_the_branch(project, db_session):
    coverage_run(project, {"a.py": (10, 5, 4, 2)}, started_at=days_ago(3))
    newest = coverage_run(project, {"a.py": (10, 9, 4, 2)}, started_at=days_ago(1))
    coverage_run(project, {"a.py": (10, 1, 4, 2)}, started_at=days_ago(0.5), branch="other")
    latest = coverage.latest_report(scope_of(project))
    assert latest.run.id == newest.id
    assert latest.line_rate == 0.9
    assert coverage.latest_report(scope_of(project, branch="missing")) is None


def test_reports_by_run_loads_files_for_compare_reports_in_two_queries(
    project, db_session, count_queries
):
    old = coverage_run(project, {"a.py": (10, 5, 4, 2), "b.py": (1, 1, 2, 2)}).id
    new = coverage_run(project, {"a.py": (10, 9, 4, 1)}).id
    db_session.expire_all()  # nothing already loaded may hide a query
    with count_queries.watching() as queries:
        reports = coverage.reports_by_run([old, new])
        deltas = coverage.compare_reports(reports[old], reports[new])
    assert queries.count == 2
    assert [(d.path, d.status) for d in deltas] == [("a.py", "changed"), ("b.py", "removed")]
    assert coverage.movers(deltas).drops[0].path == "a.py"
    assert coverage.reports_by_run([]) == {}


@pytest.mark.parametrize("count", [3, 30])
def test_file_table_is_one_query_whatever_the_number_of_files(
    project, db_session, count_queries, count
):
    files = {f"src/m{i}.py": (10, 5, 4, 2) for i in range(count)}
    coverage_run(project, files, started_at=days_ago(3), branch="f")
    coverage_run(project, files, started_at=days_ago(2), branch="f")
    coverage_run(project, files, started_at=days_ago(1))
    scope = scope_of(project, branch="f")
    summary = coverage.coverage_summary(scope)
    with count_queries.watching() as queries:
        rows = coverage.file_table(scope, summary)
    assert len(rows) == count
    assert queries.count == 1
