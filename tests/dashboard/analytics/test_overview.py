"""analytics.overview: the headline cards against the previous period, daily health,
the costliest flaky tests and the latest runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dashboard.analytics.overview import (
    TOP_FLAKY,
    daily_health,
    project_overview,
    run_stats,
)
from dashboard.analytics.scope import Scope
from tests.dashboard.analytics.scopes import window
from tests.factories import (
    CaseFactory,
    ProjectFactory,
    RunFactory,
    coverage_run,
    result_history,
)

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=400)


def scope_of(project, *, days: int = 30, **filters) -> Scope:
    return window(project, NOW, days, **filters)


def run(project, days_ago: float, *, failed: int = 0, errors: int = 0, tests: int = 10, **fields):
    return RunFactory(
        project=project,
        started_at=NOW - timedelta(days=days_ago),
        tests=tests,
        failed=failed,
        errors=errors,
        passed=tests - failed - errors,
        **fields,
    )


def card(overview, label: str):
    return next(c for c in overview.cards if c.label == label)


def test_run_stats_count_runs_with_results_and_the_share_without_failures(db_session):
    project = ProjectFactory()
    run(project, 1, wall_seconds=100.0)
    run(project, 2, failed=1, wall_seconds=300.0)
    run(project, 3, errors=2, wall_seconds=200.0)
    run(project, 4, wall_seconds=0.0)  # no wall time reported: not in the median
    run(project, 5, tests=0)  # a coverage-only run: not a test run
    run(project, 40)  # before the window

    stats = run_stats(scope_of(project))

    assert stats.runs == 4
    assert stats.green_rate == 0.5
    assert stats.median_wall_seconds == 200.0


def test_run_stats_of_an_empty_window_have_no_rates(db_session):
    stats = run_stats(scope_of(ProjectFactory()))
    assert (stats.runs, stats.green_rate, stats.median_wall_seconds) == (0, None, None)


def test_run_stats_follow_the_branch_filter(db_session):
    project = ProjectFactory()
    run(project, 1, branch="main")
    run(project, 2, branch="feature", failed=1)
    stats = run_stats(scope_of(project, branch="feature"))
    assert (stats.runs, stats.green_rate) == (1, 0.0)


def test_daily_health_counts_green_runs_per_utc_day_oldest_first(db_session):
    project = ProjectFactory()
    run(project, 2.0)
    run(project, 2.1, failed=1)
    run(project, 1.0)
    run(project, 1.1, tests=0)  # no results: not counted

    days = daily_health(scope_of(project))

    # NOW is noon: 2.0 and 2.1 days ago fall on the same UTC day.
    assert [(d.day, d.runs, d.green_runs) for d in days] == [
        ((NOW - timedelta(days=2)).date(), 2, 1),
        ((NOW - timedelta(days=1)).date(), 1, 1),
    ]
    assert days[0].green_rate == 0.5


def test_cards_compare_with_the_previous_period(db_session):
    project = ProjectFactory()
    run(project, 1, wall_seconds=60.0)
    run(project, 2, failed=1, wall_seconds=120.0)
    run(project, 31, wall_seconds=30.0)  # the 30 days before the window
    coverage_run(project, {"a.py": (100, 80, 10, 5)}, started_at=NOW - timedelta(days=1))
    coverage_run(project, {"a.py": (100, 60, 10, 2)}, started_at=NOW - timedelta(days=31))

    overview = project_overview(scope_of(project))

    runs = card(overview, "Runs")
    assert (runs.value, runs.previous, runs.change) == (2, 1, 1)
    passed = card(overview, "Runs passed")
    assert (passed.value, passed.previous) == (0.5, 1.0)
    assert passed.change == -0.5
    wall = card(overview, "Median suite wall time")
    assert (wall.value, wall.previous) == (90.0, 30.0)
    lines = card(overview, "Line coverage")
    assert (lines.value, lines.previous) == (0.8, 0.6)
    branches = card(overview, "Branch coverage")
    assert (branches.value, branches.previous) == (0.5, 0.2)


def test_a_card_without_a_previous_figure_shows_no_change(db_session):
    project = ProjectFactory()
    run(project, 1, wall_seconds=60.0)
    overview = project_overview(scope_of(project))
    wall = card(overview, "Median suite wall time")
    assert (wall.value, wall.previous, wall.change) == (60.0, None, None)
    assert card(overview, "Line coverage").value is None


def test_a_history_that_starts_in_the_window_has_no_earlier_figures(db_session):
    # Zeros for the period before the first run would show "+2 runs", "+1 flaky"
    # against a time nobody uploaded anything.
    project = ProjectFactory()
    case = CaseFactory(project=project, first_seen_at=NOW - timedelta(days=5))
    result_history(case, "R", start=NOW - timedelta(days=5))
    run(project, 1)
    overview = project_overview(scope_of(project))
    for label in ("Runs", "Runs passed", "Flaky tests", "Median suite wall time"):
        assert card(overview, label).previous is None, label
        assert card(overview, label).change is None, label
    assert card(overview, "Flaky tests").value == 1


def test_an_empty_previous_period_after_earlier_history_counts_as_zero(db_session):
    project = ProjectFactory()
    run(project, 1)
    run(project, 75)  # history, but nothing in the 30 days before the window
    runs = card(project_overview(scope_of(project)), "Runs")
    assert (runs.value, runs.previous, runs.change) == (1, 0, 1)


def test_flaky_card_and_top_list_count_flaky_tests_costliest_first(db_session):
    project = ProjectFactory()
    start = NOW - timedelta(days=10)
    cases = [CaseFactory(project=project, first_seen_at=LONG_AGO) for _ in range(TOP_FLAKY + 2)]
    for index, case in enumerate(cases):
        # A retry flake in each run; more runs (and wall time) for later cases.
        result_history(case, "R" * (index + 1), start=start, wall_seconds=10.0)
    earlier = CaseFactory(project=project, first_seen_at=LONG_AGO)
    result_history(earlier, "R", start=NOW - timedelta(days=40))
    failing_only = CaseFactory(project=project, first_seen_at=LONG_AGO)
    result_history(failing_only, "FFF", start=start, branch=project.default_branch)

    overview = project_overview(scope_of(project))

    flaky_card = card(overview, "Flaky tests")
    assert (flaky_card.value, flaky_card.previous) == (len(cases), 1)
    assert len(overview.top_flaky) == TOP_FLAKY
    assert [row.case_id for row in overview.top_flaky] == [c.id for c in reversed(cases)][
        :TOP_FLAKY
    ]
    assert failing_only.id not in [row.case_id for row in overview.top_flaky]


def test_latest_runs_are_the_newest_of_the_window(db_session):
    project = ProjectFactory()
    runs = [run(project, days) for days in (5, 1, 3, 40)]
    overview = project_overview(scope_of(project))
    assert [r.id for r in overview.latest_runs] == [runs[1].id, runs[2].id, runs[0].id]
