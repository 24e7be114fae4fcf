"""Durations: percentiles, slowest tests, regressions, wall time and parallelism."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.analytics import durations
from dashboard.analytics.durations import (
    change_point,
    lpt_makespan,
    median,
    percentile,
)
from dashboard.analytics.scope import Scope
from dashboard.models import Case, Project, Run
from tests.dashboard.analytics.scopes import window
from tests.factories import CaseFactory, ProjectFactory, ResultFactory, RunFactory

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
RECENT_SINCE = NOW - timedelta(days=7)
BASELINE_SINCE = NOW - timedelta(days=28)
STEP = timedelta(hours=6)


def scope_of(
    project: Project, *, days: int = 30, branch: str | None = None, job: str | None = None
) -> Scope:
    return window(project, NOW, days, branch=branch, job=job)


def timed(case: Case, seconds: float, at: datetime, *, outcome="passed", **run_fields) -> Run:
    """A run started ``at`` in which ``case`` took ``seconds``."""
    run = RunFactory(project=case.project, started_at=at, **run_fields)
    ResultFactory(run=run, case=case, duration_s=seconds, outcome=outcome)
    return run


def series(case: Case, seconds: list[float], start: datetime, **run_fields) -> list[Run]:
    """One run per duration, 6 hours apart from ``start``."""
    return [timed(case, s, start + i * STEP, **run_fields) for i, s in enumerate(seconds)]


def history(case: Case, baseline: list[float], recent: list[float], **run_fields):
    """Samples a day into the baseline period and a day into the recent one."""
    before = series(case, baseline, BASELINE_SINCE + timedelta(days=1), **run_fields)
    after = series(case, recent, RECENT_SINCE + timedelta(days=1), **run_fields)
    return before, after


# --- Pure helpers -------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [
        ([5.0], 50, 5.0),
        ([5.0], 95, 5.0),
        ([1.0, 2.0, 3.0], 50, 2.0),
        ([4.0, 1.0, 3.0, 2.0], 50, 2.5),  # even count: halfway, input order irrelevant
        ([1.0, 2.0, 3.0, 4.0, 10.0], 95, 8.8),  # rank 3.8: 4 + 0.8 * (10 - 4)
        ([float(v) for v in range(1, 21)], 95, 19.05),  # rank 18.05
        ([1.0, 2.0, 3.0, 4.0], 0, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
        ([1.0, 2.0, 3.0, 4.0], 25, 1.75),
    ],
)
def test_percentile_interpolates_between_closest_ranks(values, pct, expected):
    assert percentile(values, pct) == pytest.approx(expected)


def test_median_is_the_50th_percentile():
    assert median([3.0, 1.0, 2.0, 10.0]) == 2.5
    assert median(iter([7.0, 1.0, 4.0])) == 4.0


@pytest.mark.parametrize(("values", "pct"), [([], 50), ([1.0], -1), ([1.0], 100.5)])
def test_percentile_refuses_no_values_and_out_of_range_ranks(values, pct):
    with pytest.raises(ValueError, match="percentile"):
        percentile(values, pct)


FILES = {"a": 7.0, "b": 5.0, "c": 4.0, "d": 3.0, "e": 3.0, "f": 2.0}


@pytest.mark.parametrize(
    ("workers", "expected"),
    [
        (1, 24.0),  # the serial sum
        # 7→A, 5→B, 4→B(9), 3→A(10), 3→B(12), 2→A(12)
        (2, 12.0),
        # 7, 5, 4, 3 each alone; 3→the 3 (6), 2→the 4 (6)
        (4, 7.0),
        (8, 7.0),  # more workers than files: the longest file
    ],
)
def test_lpt_makespan_by_hand(workers, expected):
    assert lpt_makespan(FILES, workers) == expected
    assert lpt_makespan(list(FILES.values()), workers) == expected


def test_lpt_is_longest_first_not_optimal():
    # The textbook case where LPT (7) misses the optimum (6: 3+3 | 2+2+2).
    assert lpt_makespan([2.0, 3.0, 2.0, 3.0, 2.0], 2) == 7.0


def test_lpt_edge_cases():
    assert lpt_makespan([], 4) == 0.0
    assert lpt_makespan([4.0, 1.0], 8) == 4.0
    with pytest.raises(ValueError, match="worker"):
        lpt_makespan([1.0], 0)


@pytest.mark.parametrize(
    ("sequence", "expected"),
    [
        ([1, 1, 1, 2, 2, 2], 3),  # a clean step
        ([1, 2, 1, 1, 1, 2, 2, 2, 2], 5),  # an early spike is not the start
        ([1, 1, 2, 1, 2, 2, 2], 2),  # one fast run after the change does not move it
        ([2, 2, 2], 0),
    ],
)
def test_change_point_finds_where_the_slow_executions_begin(sequence, expected):
    assert change_point([float(s) for s in sequence], threshold=1.5) == expected


def test_change_point_needs_a_slow_execution():
    with pytest.raises(ValueError, match="threshold"):
        change_point([1.0, 1.0], threshold=1.5)


# --- Slowest tests ------------------------------------------------------------


def test_slowest_tests_median_p95_and_executions(db_session):
    case = CaseFactory(file="tests/test_a.py", classname="tests.test_a", name="test_slow")
    series(case, [1.0, 2.0, 3.0, 4.0, 10.0], NOW - timedelta(days=3))

    [slow] = durations.slowest_tests(scope_of(case.project))

    assert (slow.case_id, slow.file, slow.classname, slow.name) == (
        case.id,
        "tests/test_a.py",
        "tests.test_a",
        "test_slow",
    )
    assert slow.median_s == 3.0
    assert slow.p95_s == pytest.approx(8.8)
    assert slow.executions == 5
    assert slow.display_name == "tests.test_a::test_slow"


def test_slowest_tests_are_ordered_by_median_and_limited(db_session):
    project = ProjectFactory()
    for name, seconds in [("one", 1.0), ("three", 3.0), ("two", 2.0)]:
        timed(CaseFactory(project=project, name=name), seconds, NOW - timedelta(days=1))

    slowest = durations.slowest_tests(scope_of(project), limit=2)

    assert [t.name for t in slowest] == ["three", "two"]


def test_a_search_ranks_only_the_tests_it_matches(db_session):
    project = ProjectFactory()
    for name, seconds in [("test_login_slow", 3.0), ("test_cart", 5.0), ("test_login_ok", 1.0)]:
        timed(CaseFactory(project=project, name=name), seconds, NOW - timedelta(days=1))
    scope = scope_of(project)

    # The limit applies to the matching tests, not to the slowest of all.
    assert [t.name for t in durations.slowest_tests(scope, limit=1, search="LOGIN")] == [
        "test_login_slow"
    ]
    assert [t.name for t in durations.slowest_tests(scope, search="login")] == [
        "test_login_slow",
        "test_login_ok",
    ]
    assert durations.slowest_tests(scope, search="nothing") == []


def test_exact_medians_decide_over_the_mean_that_picked_candidates(db_session):
    project = ProjectFactory()
    spiky = CaseFactory(project=project, name="spiky")  # mean 3.4, median 0.1
    steady = CaseFactory(project=project, name="steady")  # mean 1.0, median 1.0
    start = NOW - timedelta(days=2)
    series(spiky, [0.1, 0.1, 10.0], start)
    series(steady, [1.0, 1.0, 1.0], start)

    [slowest] = durations.slowest_tests(scope_of(project), limit=1)

    assert slowest.name == "steady"


def test_skipped_executions_are_not_samples(db_session):
    case = CaseFactory()
    series(case, [1.0, 1.0, 1.0], NOW - timedelta(days=2))
    timed(case, 100.0, NOW - timedelta(days=1), outcome="skipped")
    only_skipped = CaseFactory(project=case.project, name="never_runs")
    timed(only_skipped, 50.0, NOW - timedelta(days=1), outcome="skipped")

    slowest = durations.slowest_tests(scope_of(case.project))

    assert [(t.name, t.median_s, t.executions) for t in slowest] == [(case.name, 1.0, 3)]


def test_failed_executions_are_samples(db_session):
    case = CaseFactory()
    timed(case, 4.0, NOW - timedelta(days=1), outcome="failed")
    timed(case, 2.0, NOW - timedelta(days=2), outcome="error")

    [slow] = durations.slowest_tests(scope_of(case.project))

    assert (slow.median_s, slow.executions) == (3.0, 2)


def test_infrastructure_failure_runs_are_left_out(db_session):
    case = CaseFactory()
    timed(case, 1.0, NOW - timedelta(days=2), tests=10, failed=8)  # 80%: not one
    timed(case, 60.0, NOW - timedelta(days=1), tests=10, failed=9)  # 90%: infrastructure

    [slow] = durations.slowest_tests(scope_of(case.project))

    assert (slow.median_s, slow.executions) == (1.0, 1)


def test_window_edges(db_session):
    case = CaseFactory()
    since = NOW - timedelta(days=7)
    timed(case, 1.0, since)  # first instant of the window: in
    timed(case, 3.0, NOW - timedelta(seconds=1))  # last second: in
    timed(case, 100.0, since - timedelta(seconds=1))  # before the window
    timed(case, 100.0, NOW)  # the window ends before "now"

    [slow] = durations.slowest_tests(scope_of(case.project, days=7))

    assert (slow.median_s, slow.executions) == (2.0, 2)


def test_branch_and_job_filters(db_session):
    case = CaseFactory()
    at = NOW - timedelta(days=1)
    timed(case, 1.0, at, branch="main", job="linux")
    timed(case, 2.0, at, branch="main", job="windows")
    timed(case, 4.0, at, branch="feature", job="linux")
    project = case.project

    def medians(**filters):
        return [t.median_s for t in durations.slowest_tests(scope_of(project, **filters))]

    assert medians() == [2.0]
    assert medians(branch="main") == [1.5]
    assert medians(job="linux") == [2.5]
    assert medians(branch="main", job="windows") == [2.0]
    assert medians(branch="nope") == []


def test_other_projects_are_not_counted(db_session):
    mine = CaseFactory()
    theirs = CaseFactory(file=mine.file, classname=mine.classname, name=mine.name)
    timed(mine, 1.0, NOW - timedelta(days=1))
    timed(theirs, 9.0, NOW - timedelta(days=1))

    assert [t.median_s for t in durations.slowest_tests(scope_of(mine.project))] == [1.0]


def test_trend_is_the_median_of_each_day_oldest_first(db_session):
    case = CaseFactory()
    day = datetime(2026, 11, 25, tzinfo=UTC)
    timed(case, 5.0, day + timedelta(days=1, hours=8))
    timed(case, 1.0, day + timedelta(hours=1))
    timed(case, 3.0, day + timedelta(hours=23))

    [slow] = durations.slowest_tests(scope_of(case.project))

    assert slow.trend == [2.0, 5.0]


# --- Regressions ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("baseline", "recent", "regressed"),
    [
        (1.0, 1.25, True),  # exactly 25% (and 250 ms)
        (1.0, 1.249, False),  # just under 25%
        (0.2, 0.3, True),  # exactly 100 ms (and 50%)
        (0.2, 0.299, False),  # 99 ms
        (0.4, 0.5, True),  # exactly both
        (0.4, 0.499, False),
    ],
)
def test_regression_thresholds_are_inclusive(db_session, baseline, recent, regressed):
    case = CaseFactory()
    history(case, [baseline] * 5, [recent] * 5)

    found = durations.regressions(scope_of(case.project))

    assert bool(found) is regressed
    if regressed:
        [regression] = found
        assert regression.baseline_median_s == baseline
        assert regression.recent_median_s == recent
        assert regression.change_pct == pytest.approx((recent - baseline) / baseline * 100)


@pytest.mark.parametrize(
    ("baseline_samples", "recent_samples", "regressed"),
    [(5, 5, True), (4, 5, False), (5, 4, False)],
)
def test_regressions_need_five_samples_in_each_period(
    db_session, baseline_samples, recent_samples, regressed
):
    case = CaseFactory()
    history(case, [1.0] * baseline_samples, [2.0] * recent_samples)

    assert bool(durations.regressions(scope_of(case.project))) is regressed


def test_skipped_executions_do_not_make_up_the_five(db_session):
    case = CaseFactory()
    history(case, [1.0] * 4, [2.0] * 5)
    timed(case, 1.0, BASELINE_SINCE + timedelta(days=10), outcome="skipped")

    assert durations.regressions(scope_of(case.project)) == []
    assert durations.comparable_cases(scope_of(case.project)) == 0


def test_thresholds_are_the_projects(db_session):
    lenient = ProjectFactory(regression_pct=10.0, regression_min_ms=20.0)
    strict = ProjectFactory()
    for project in (lenient, strict):
        history(CaseFactory(project=project), [0.1] * 5, [0.12] * 5)

    [regression] = durations.regressions(scope_of(lenient))
    assert regression.change_pct == pytest.approx(20.0)
    assert durations.regressions(scope_of(strict)) == []


def test_regressions_ignore_the_window(db_session):
    case = CaseFactory()
    history(case, [1.0] * 5, [2.0] * 5)

    assert len(durations.regressions(scope_of(case.project, days=7))) == 1


@pytest.mark.parametrize(
    ("extra_at", "regressed"),
    [
        (BASELINE_SINCE, True),  # first instant of the baseline counts
        (BASELINE_SINCE - timedelta(seconds=1), False),  # 28 days and a second ago: too old
        (RECENT_SINCE, False),  # the first instant of the recent period is recent
    ],
)
def test_period_edges_for_the_fifth_baseline_sample(db_session, extra_at, regressed):
    case = CaseFactory()
    history(case, [1.0] * 4, [2.0] * 5)
    timed(case, 1.0, extra_at)

    assert bool(durations.regressions(scope_of(case.project))) is regressed


@pytest.mark.parametrize(
    ("extra_at", "regressed"),
    [(RECENT_SINCE, True), (NOW - timedelta(seconds=1), True), (NOW, False)],
)
def test_period_edges_for_the_fifth_recent_sample(db_session, extra_at, regressed):
    case = CaseFactory()
    history(case, [1.0] * 5, [2.0] * 4)
    timed(case, 2.0, extra_at)

    assert bool(durations.regressions(scope_of(case.project))) is regressed


def test_a_zero_baseline_is_not_a_regression(db_session):
    case = CaseFactory()
    history(case, [0.0] * 5, [1.0] * 5)

    assert durations.regressions(scope_of(case.project)) == []


def test_a_fast_outlier_in_the_baseline_does_not_hide_a_regression(db_session):
    # The SQL narrows on the fastest baseline sample; the median decides.
    case = CaseFactory()
    history(case, [0.0, 1.0, 1.0, 1.0, 1.0], [2.0] * 5)

    [regression] = durations.regressions(scope_of(case.project))
    assert (regression.baseline_median_s, regression.recent_median_s) == (1.0, 2.0)


def test_regressions_within_branch_and_job_filters(db_session):
    case = CaseFactory()
    history(case, [1.0] * 5, [2.0] * 5, job="linux")
    history(case, [1.0] * 5, [1.0] * 5, job="windows")
    history(case, [1.0] * 5, [3.0] * 5, job="linux", branch="feature")
    project = case.project

    def count(**filters):
        return len(durations.regressions(scope_of(project, **filters)))

    assert count(job="linux", branch="main") == 1
    assert count(job="windows") == 0
    assert count(branch="main", job="windows") == 0
    [feature] = durations.regressions(scope_of(project, branch="feature"))
    assert feature.recent_median_s == 3.0


def test_regressions_are_ordered_by_seconds_added(db_session):
    project = ProjectFactory()
    for name, baseline, recent in [("small", 1.0, 1.5), ("big", 10.0, 13.0), ("mid", 0.5, 2)]:
        history(CaseFactory(project=project, name=name), [baseline] * 5, [recent] * 5)

    assert [r.name for r in durations.regressions(scope_of(project))] == ["big", "mid", "small"]


def test_first_slow_run_is_the_first_of_a_clean_step(db_session):
    case = CaseFactory()
    _, recent = history(case, [1.0] * 8, [2.0] * 5)

    [regression] = durations.regressions(scope_of(case.project))

    assert regression.first_slow_run_id == recent[0].id


def test_first_slow_run_ignores_an_early_spike_and_a_later_dip(db_session):
    case = CaseFactory()
    _, recent = history(case, [1, 1, 3, 1, 1, 1, 1, 1], [2, 2, 1, 2, 2, 2])

    [regression] = durations.regressions(scope_of(case.project))

    assert regression.first_slow_run_id == recent[0].id


def test_first_slow_run_may_be_in_the_baseline_period(db_session):
    # Slow for the last 4 baseline runs already; the baseline median is still 1 s.
    case = CaseFactory()
    baseline, _ = history(case, [1.0] * 10 + [2.0] * 4, [2.0] * 5)

    [regression] = durations.regressions(scope_of(case.project))

    assert regression.baseline_median_s == 1.0
    assert regression.first_slow_run_id == baseline[10].id


def test_comparable_cases_counts_those_with_enough_history(db_session):
    project = ProjectFactory()
    history(CaseFactory(project=project), [1.0] * 5, [1.0] * 5)
    history(CaseFactory(project=project), [1.0] * 5, [2.0] * 5)
    history(CaseFactory(project=project), [1.0] * 3, [1.0] * 5)

    assert durations.comparable_cases(scope_of(project)) == 2


# --- Wall time ------------------------------------------------------------------


def test_wall_time_per_run_oldest_first_skipping_runs_without_time(db_session):
    project = ProjectFactory()
    day = NOW - timedelta(days=3)
    later = RunFactory(project=project, started_at=day + STEP, job="windows", wall_seconds=90.0)
    first = RunFactory(project=project, started_at=day, job="linux", wall_seconds=60.0)
    RunFactory(project=project, started_at=day, wall_seconds=0.0)  # no time reported
    RunFactory(project=project, started_at=day, wall_seconds=500.0, tests=10, failed=10)
    RunFactory(project=project, started_at=NOW - timedelta(days=40), wall_seconds=10.0)

    points = durations.wall_time(scope_of(project))

    assert [(p.run_id, p.started_at, p.job, p.seconds) for p in points] == [
        (first.id, day, "linux", 60.0),
        (later.id, day + STEP, "windows", 90.0),
    ]
    assert [p.job for p in durations.wall_time(scope_of(project, job="linux"))] == ["linux"]


# --- Parallelism --------------------------------------------------------------


def run_with_files(project: Project, at: datetime, files: dict[str, list[float]], **run_fields):
    run = RunFactory(project=project, started_at=at, **run_fields)
    for file, seconds in files.items():
        for index, value in enumerate(seconds):
            case = CaseFactory(project=project, file=file, name=f"test_{index}")
            ResultFactory(run=run, case=case, duration_s=value)
    return run


def test_parallelism_estimate_from_the_latest_run(db_session):
    project = ProjectFactory()
    at = NOW - timedelta(days=1)
    run_with_files(project, at - timedelta(days=1), {"tests/old.py": [100.0]})
    latest = run_with_files(
        project,
        at,
        {
            "tests/a.py": [3.0, 4.0],
            "tests/b.py": [5.0],
            "tests/c.py": [4.0],
            "tests/d.py": [1.0, 2.0],
            "tests/e.py": [3.0],
            "tests/f.py": [2.0],
        },
    )
    skipped = CaseFactory(project=project, file="tests/g.py")
    ResultFactory(run=latest, case=skipped, duration_s=50.0, outcome="skipped")
    # Later runs that cannot be used: nothing timed, or an infrastructure failure.
    timed(skipped, 1.0, at + STEP, outcome="skipped")
    run_with_files(project, at + 2 * STEP, {"tests/h.py": [9.0]}, tests=1, failed=1)
    scope = scope_of(project)

    assert durations.parallelism_run(scope).id == latest.id
    assert durations.parallelism_estimate(scope) == {1: 24.0, 2: 12.0, 4: 7.0, 8: 7.0}


def test_parallelism_groups_by_classname_when_reports_give_no_file(db_session):
    project = ProjectFactory()
    run = RunFactory(project=project, started_at=NOW - timedelta(days=1))
    for classname, seconds in [("pkg.TestA", 2.0), ("pkg.TestA", 2.0), ("pkg.TestB", 3.0)]:
        case = CaseFactory(project=project, file="", classname=classname)
        ResultFactory(run=run, case=case, duration_s=seconds)

    estimate = durations.parallelism_estimate(scope_of(project), run)

    assert estimate == {1: 7.0, 2: 4.0, 4: 4.0, 8: 4.0}


def test_parallelism_follows_the_filters_and_is_empty_without_runs(db_session):
    project = ProjectFactory()
    at = NOW - timedelta(days=1)
    linux = run_with_files(project, at, {"a.py": [1.0]}, job="linux")
    run_with_files(project, at + STEP, {"b.py": [2.0]}, job="windows")

    assert durations.parallelism_run(scope_of(project, job="linux")).id == linux.id
    assert durations.parallelism_estimate(scope_of(project, job="linux"))[1] == 1.0
    assert durations.parallelism_estimate(scope_of(project))[1] == 2.0
    assert durations.parallelism_run(scope_of(project, job="macos")) is None
    assert durations.parallelism_estimate(scope_of(project, job="macos")) == {}


# --- One case's durations -----------------------------------------------------


def test_case_durations_oldest_first_without_skips(db_session):
    case = CaseFactory()
    second = timed(case, 2.0, NOW - timedelta(days=1), job="linux", outcome="failed")
    first = timed(case, 1.0, NOW - timedelta(days=2), job="windows")
    timed(case, 0.0, NOW - timedelta(hours=1), outcome="skipped")
    timed(CaseFactory(project=case.project), 5.0, NOW - timedelta(hours=2))

    points = durations.case_durations(scope_of(case.project), case.id)

    assert [(p.run_id, p.job, p.outcome, p.seconds) for p in points] == [
        (first.id, "windows", "passed", 1.0),
        (second.id, "linux", "failed", 2.0),
    ]
