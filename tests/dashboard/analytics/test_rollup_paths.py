"""Rolled-up scopes give the answers of the results themselves.

Each history is built with factories (so the analytics read the results), the
answers are taken, the runs are rolled up with ``ingest.store.refresh_rollups``
(as ingest would), and the same questions are asked again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.analytics import flaky
from dashboard.analytics.scope import Scope
from dashboard.models import Run
from ingest import store
from tests.dashboard.analytics.scopes import window
from tests.factories import (
    HISTORY_TRAITS,
    CaseFactory,
    ProjectFactory,
    QuarantineFactory,
    ResultFactory,
    RunFactory,
)

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
BRANCHES = ("main", "feature")
JOBS = ("py3.11", "py3.12")


def scope_of(project, days: int = 30, **filters) -> Scope:
    return window(project, NOW, days, **filters)


def roll_up(db_session, runs: list[Run]) -> None:
    db_session.flush()
    assert store.refresh_rollups(db_session, [run.id for run in runs]) == len(runs)
    assert all(run.is_rolled_up for run in runs)


def build(db_session, project, runs_plan, outcomes) -> tuple[list, list[Run]]:
    """Cases and runs: ``runs_plan`` holds (hours before NOW, branch, job, commit,
    infrastructure), ``outcomes`` a letter per case per run ('-' for absent)."""
    cases = [
        CaseFactory(project=project, first_seen_at=NOW - timedelta(days=50))
        for _ in range(len(outcomes))
    ]
    runs = []
    for index, (hours, branch, job, commit, infrastructure) in enumerate(runs_plan):
        run = RunFactory(
            project=project,
            started_at=NOW - timedelta(hours=hours),
            branch=branch,
            job=job,
            commit_sha=f"{commit:040x}",
            wall_seconds=10.0 + index,
        )
        runs.append(run)
        for case, letters in zip(cases, outcomes, strict=True):
            letter = "E" if infrastructure else letters[index % len(letters)]
            if letter == "-":
                continue
            fields = dict(HISTORY_TRAITS[letter])
            fields.setdefault("duration_s", 0.01 * (index + 1))
            ResultFactory(run=run, case=case, **fields)
    db_session.flush()
    for run in runs:
        store.refresh_run_totals(db_session, run)
    db_session.flush()
    return cases, runs


def scopes(project) -> dict[str, Scope]:
    return {
        "window": scope_of(project),
        "week": scope_of(project, days=7),
        "main": scope_of(project, branch="main"),
        "job": scope_of(project, job="py3.12"),
    }


def answers(project, cases) -> tuple:
    report = {name: flaky.flaky_report(scope) for name, scope in scopes(project).items()}
    one = [flaky.case_flakiness(scope_of(project), case.id) for case in cases]
    counts = {name: flaky.flaky_count(scope) for name, scope in scopes(project).items()}
    assert counts == {
        name: sum(1 for row in rows if row.status == "flaky") for name, rows in report.items()
    }
    return report, one, counts


run_plans = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=24 * 40),  # hours before NOW: some outside the window
        st.sampled_from(BRANCHES),
        st.sampled_from(JOBS),
        st.integers(min_value=0, max_value=6),  # few commits: the same one runs again
        st.just(False),  # replaced by the infrastructure set below
    ),
    min_size=2,
    max_size=24,
)
letters = st.text(alphabet="PPPPFFERS-", min_size=1, max_size=12)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plan=run_plans,
    outcomes=st.lists(letters, min_size=1, max_size=6),
    infrastructure=st.sets(st.integers(min_value=0, max_value=23), max_size=2),
    min_executions=st.sampled_from([2, 3, 10]),
    threshold=st.sampled_from([0.0, 0.1, 0.4]),
    quarantined=st.booleans(),
)
def test_flakiness_is_the_same_from_rollups(
    db_session, plan, outcomes, infrastructure, min_executions, threshold, quarantined
):
    project = ProjectFactory(min_executions=min_executions, flip_rate_threshold=threshold)
    plan = [
        (hours, branch, job, commit, index in infrastructure)
        for index, (hours, branch, job, commit, _) in enumerate(plan)
    ]
    cases, runs = build(db_session, project, plan, outcomes)
    if quarantined:
        QuarantineFactory(case=cases[0], project=project)
        db_session.flush()
    before = answers(project, cases)
    roll_up(db_session, runs)
    assert answers(project, cases) == before


def test_the_rollup_path_reads_only_suspect_results_for_a_present_case(db_session, monkeypatch):
    project = ProjectFactory(min_executions=3)
    plan = [(h, "main", "py3.11", h % 3, False) for h in range(1, 13)]
    cases, runs = build(db_session, project, plan, ["PFPFFPPRPFPP", "PPPPPPPPPPPF", "PSPPPPPPPPPP"])
    before = answers(project, cases)
    roll_up(db_session, runs)
    judged = []
    original = flaky._assess_present
    monkeypatch.setattr(
        flaky, "_assess_present", lambda case, *a: judged.append(case.id) or original(case, *a)
    )
    assert answers(project, cases) == before
    # The first two ran everywhere; the third was skipped once, so its executions are read.
    assert set(judged) == {cases[0].id, cases[1].id}
    assert before[0]["window"], "the history has something to report"


@pytest.mark.parametrize("skipped_outside_the_window", [False, True])
def test_a_case_absent_from_a_run_of_the_covering_weeks_is_read_from_results(
    db_session, skipped_outside_the_window
):
    project = ProjectFactory(min_executions=2)
    plan = [(h * 24, "main", "py3.11", h, False) for h in (1, 2, 3, 29, 31)]
    outcome = "PFPFS" if skipped_outside_the_window else "PFPFP"
    cases, runs = build(db_session, project, plan, [outcome])
    before = answers(project, cases)
    roll_up(db_session, runs)
    assert answers(project, cases) == before


# --- durations ------------------------------------------------------------------------

# Durations a few percent apart: bucketed medians never swap two of them.
DURATIONS = [0.0, 0.02, 0.1, 0.3, 0.35, 1.0, 1.2, 2.5]


def timed_history(db_session, project, plan, cases_plan):
    """``cases_plan``: per case, (base index into DURATIONS, slowdown factor in the last
    week, letters as in ``build``)."""
    # Named so that a search ("even") keeps every other case.
    cases = [
        CaseFactory(project=project, name=f"test_{('odd', 'even')[index % 2 == 0]}_{index}")
        for index in range(len(cases_plan))
    ]
    runs = []
    for index, (hours, infrastructure) in enumerate(plan):
        started_at = NOW - timedelta(hours=hours)
        run = RunFactory(project=project, started_at=started_at, job=JOBS[index % 2])
        runs.append(run)
        for case, (base, slowdown, letters) in zip(cases, cases_plan, strict=True):
            letter = "E" if infrastructure else letters[index % len(letters)]
            if letter == "-":
                continue
            seconds = DURATIONS[(base + index) % len(DURATIONS)] if base < 0 else DURATIONS[base]
            if hours < 24 * 7:
                seconds *= slowdown
            fields = dict(HISTORY_TRAITS[letter])
            fields["duration_s"] = 0.0 if letter == "S" else seconds * (1 + index / 1000)
            ResultFactory(run=run, case=case, **fields)
    db_session.flush()
    for run in runs:
        store.refresh_run_totals(db_session, run)
    db_session.flush()
    return cases, runs


def duration_answers(project):
    from dashboard.analytics import durations

    scopes = {"window": scope_of(project), "week": scope_of(project, days=7)}
    filtered = scope_of(project, job=JOBS[0])
    slowest = {name: durations.slowest_tests(scope, limit=20) for name, scope in scopes.items()}
    slowest["searched"] = durations.slowest_tests(scope_of(project), limit=20, search="EVEN")
    return (
        slowest,
        durations.regressions(scope_of(project)),
        durations.comparable_cases(scope_of(project)),
        # Filtered by job: candidates from the rollups, figures exact.
        (
            durations.slowest_tests(filtered, limit=20),
            durations.regressions(filtered),
            durations.slowest_tests(filtered, limit=20, search="even"),
        ),
    )


def assert_close(rolled, exact):
    """Bucketed figures: the same tests and counts, percentiles within 0.25%, in the
    same order but where two medians are that close."""
    assert {t.case_id for t in rolled} == {t.case_id for t in exact}
    position = {t.case_id: index for index, t in enumerate(rolled)}
    for first, second in pairwise(exact):
        if first.median_s > second.median_s * 1.006:
            assert position[first.case_id] < position[second.case_id]
    rolled = sorted(rolled, key=lambda t: t.case_id)
    for one, other in zip(rolled, sorted(exact, key=lambda t: t.case_id), strict=True):
        assert one.executions == other.executions
        assert one.median_s == pytest.approx(other.median_s, rel=0.0026, abs=1e-6)
        assert one.p95_s == pytest.approx(other.p95_s, rel=0.0026, abs=1e-6)
        assert one.trend == pytest.approx(other.trend, rel=0.0026, abs=1e-6)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    hours=st.lists(st.integers(min_value=0, max_value=24 * 35), min_size=6, max_size=40),
    cases_plan=st.lists(
        st.tuples(
            st.integers(min_value=-1, max_value=len(DURATIONS) - 1),
            st.sampled_from([1.0, 1.0, 1.3, 3.0]),
            st.text(alphabet="PPPPPFS-", min_size=1, max_size=5),
        ),
        min_size=1,
        max_size=5,
    ),
    infrastructure=st.sets(st.integers(min_value=0, max_value=39), max_size=2),
)
def test_durations_are_the_same_from_rollups(db_session, hours, cases_plan, infrastructure):
    project = ProjectFactory()
    plan = [(h, index in infrastructure) for index, h in enumerate(hours)]
    _, runs = timed_history(db_session, project, plan, cases_plan)
    slowest, found, comparable, filtered = duration_answers(project)
    roll_up(db_session, runs)
    rolled_slowest, rolled_found, rolled_comparable, rolled_filtered = duration_answers(project)
    for name, exact in slowest.items():
        assert_close(rolled_slowest[name], exact)
    assert rolled_found == found
    assert rolled_comparable == comparable
    assert rolled_filtered == filtered


def test_a_window_of_whole_days_reads_no_run_tags(db_session):
    from dashboard.analytics import durations

    project = ProjectFactory()
    _, runs = timed_history(
        db_session, project, [(h * 5, False) for h in range(40)], [(3, 1.0, "P")]
    )
    midnight = NOW.replace(hour=0)
    scope = Scope(project, midnight - timedelta(days=7), midnight, window_days=7)
    exact = durations.slowest_tests(scope)
    roll_up(db_session, runs)
    assert_close(durations.slowest_tests(scope), exact)


def test_a_slowdown_is_found_from_rollups_with_its_exact_figures(db_session):
    project = ProjectFactory()
    plan = [(h * 6, False) for h in range(100)]  # a run every six hours for 25 days
    cases, runs = timed_history(
        db_session, project, plan, [(5, 3.0, "P"), (2, 1.0, "P"), (0, 1.0, "P")]
    )
    slowest, found, comparable, filtered = duration_answers(project)
    assert [r.case_id for r in found] == [cases[0].id]
    assert [r.case_id for r in filtered[1]] == [cases[0].id]
    roll_up(db_session, runs)
    assert duration_answers(project)[1:] == (found, comparable, filtered)
    assert_close(duration_answers(project)[0]["window"], slowest["window"])


@given(
    samples=st.lists(
        st.floats(min_value=0.0, max_value=1000.0, allow_nan=False), min_size=1, max_size=60
    ),
    removed=st.integers(min_value=0, max_value=59),
    data=st.data(),
)
def test_the_baseline_floor_is_never_above_the_median_of_what_remains(samples, removed, data):
    from dashboard.analytics import durations

    removed = min(removed, len(samples) - 1)
    gone = set(data.draw(st.permutations(range(len(samples))))[:removed])
    kept = [value for index, value in enumerate(samples) if index not in gone]
    floor = durations._baseline_floor(
        len(samples), sum(samples), sum(v * v for v in samples), min(samples), removed
    )
    assert floor <= durations.median(kept) + 1e-9
