"""The flakiness definitions of design.md, rule by rule, on small factory-built histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.analytics.flaky import (
    EVIDENCE_LIMIT,
    UnknownCaseError,
    case_flakiness,
    count_flips,
    flaky_report,
    flip_rate,
    wilson_interval,
)
from dashboard.analytics.scope import Scope
from tests.dashboard.analytics.scopes import window
from tests.factories import (
    CaseFactory,
    ProjectFactory,
    QuarantineFactory,
    ResultFactory,
    RunFactory,
    result_history,
)

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
START = NOW - timedelta(days=20)
LONG_AGO = NOW - timedelta(days=400)


def scope_of(project, *, days: int = 30, until: datetime = NOW, **filters) -> Scope:
    return window(project, until, days, **filters)


def new_case(project, **fields):
    fields.setdefault("first_seen_at", LONG_AGO)
    return CaseFactory(project=project, **fields)


def history(case, outcomes: str, **run_fields):
    run_fields.setdefault("start", START)
    return result_history(case, outcomes, **run_fields)


def infra_run(project, **fields):
    """A run in which 81 of 100 executed cases failed: an infrastructure failure."""
    return RunFactory(project=project, tests=100, failed=81, passed=19, **fields)


def assess(case, **filters):
    return case_flakiness(scope_of(case.project, **filters), case.id)


@pytest.fixture
def project(db_session):
    return ProjectFactory(slug="acme")


# --- pure helpers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        (0, 10, 0.0, 0.2775),
        (5, 10, 0.2366, 0.7634),
        (10, 10, 0.7225, 1.0),
        (1, 10, 0.0179, 0.4042),
        (0, 0, 0.0, 1.0),
    ],
)
def test_wilson_interval_known_values(successes, trials, low, high):
    assert wilson_interval(successes, trials) == (
        pytest.approx(low, abs=5e-5),
        pytest.approx(high, abs=5e-5),
    )


def test_wilson_interval_ends_are_exact():
    assert wilson_interval(0, 3)[0] == 0.0
    assert wilson_interval(3, 3)[1] == 1.0


def test_wilson_interval_refuses_impossible_counts():
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(11, 10)


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        (["passed", "failed", "passed", "failed"], 1.0),
        (["passed", "passed", "passed"], 0.0),
        (["passed", "skipped", "failed", "skipped", "passed"], 1.0),  # skips removed first
        (["passed", "error"], 1.0),  # error is a fail
        (["failed", "error"], 0.0),  # failed and error are the same side
        (["passed", "passed", "failed", "failed", "failed"], 0.25),
        (["passed"], None),
        (["passed", "skipped"], None),
        ([], None),
    ],
)
def test_flip_rate(outcomes, expected):
    assert flip_rate(outcomes) == expected


def test_count_flips_ignores_skips():
    assert count_flips(["failed", "skipped", "failed", "passed", "skipped", "failed"]) == 2


# --- retry flakes ---------------------------------------------------------------------


def test_a_retry_flake_makes_a_case_flaky(project):
    case = new_case(project)
    results = history(case, "PPRP")
    row = assess(case)
    assert row.status == "flaky"
    assert row.retry_flakes == 1
    assert [(e.kind, e.run_ids) for e in row.evidence] == [("retry_flake", [results[2].run_id])]
    assert row.why == "retried into a pass in 1 run"
    assert row.last_flake_run_id == results[2].run_id


def test_a_case_without_failures_or_retries_is_healthy(project):
    case = new_case(project)
    history(case, "PPPPPPPPPPPP")
    row = assess(case)
    assert (row.status, row.flaky_executions, row.flip_rate) == ("healthy", 0, 0.0)
    assert row.why == "no flaky evidence in this window"
    assert flaky_report(scope_of(project)) == []


# --- same-commit flakes ---------------------------------------------------------------


def test_pass_and_fail_on_one_commit_and_job_is_a_same_commit_flake(project):
    case = new_case(project)
    failed = history(case, "F", commit_sha="1a2b3c4d5e", job="py3.12")[0]
    passed = history(case, "P", commit_sha="1a2b3c4d5e", job="py3.12", start=START + timedelta(1))
    row = assess(case)
    assert row.status == "flaky"
    assert row.same_commit_flakes == 1
    [evidence] = row.evidence
    assert evidence.kind == "same_commit"
    assert evidence.run_ids == [failed.run_id, passed[0].run_id]
    assert (evidence.commit, evidence.job) == ("1a2b3c4d5e", "py3.12")
    assert row.why == "failed and passed on commit 1a2b3c4 (job py3.12)"


def test_several_same_commit_flakes_name_the_latest(project):
    case = new_case(project)
    history(case, "FP", commit_sha="aaaaaaaaaa")
    history(case, "PF", commit_sha="bbbbbbbbbb", start=START + timedelta(days=1))
    row = assess(case)
    assert row.same_commit_flakes == 2
    assert row.why == "failed and passed on the same commit 2 times (latest bbbbbbb, job default)"


def test_pass_on_one_job_and_fail_on_another_of_the_same_commit_is_not_a_flake(project):
    case = new_case(project)
    history(case, "P", commit_sha="abc", job="py3.11")
    history(case, "F", commit_sha="abc", job="py3.12")
    row = assess(case)
    assert (row.status, row.same_commit_flakes) == ("healthy", 0)


def test_same_commit_pairs_span_branches_of_one_job(project):
    case = new_case(project)
    history(case, "F", commit_sha="abc", branch="feature/x")
    history(case, "P", commit_sha="abc", branch="main", start=START + timedelta(hours=5))
    assert assess(case).same_commit_flakes == 1


def test_an_error_and_a_pass_on_one_commit_is_a_flake(project):
    case = new_case(project)
    history(case, "EP", commit_sha="abc")
    assert assess(case).same_commit_flakes == 1


def test_runs_without_a_commit_never_pair(project):
    case = new_case(project)
    history(case, "FP", commit_sha=None)
    assert assess(case).same_commit_flakes == 0


def test_a_skip_is_not_the_passing_side_of_a_pair(project):
    case = new_case(project)
    history(case, "FS", commit_sha="abc")
    assert assess(case).same_commit_flakes == 0


# --- flip rate ------------------------------------------------------------------------


def test_flip_rate_with_skips_in_between(project):
    case = new_case(project)
    history(case, "PSFSPFSPFPFPF")  # 10 executions, every pair flips once skips are gone
    row = assess(case)
    assert row.executions == 10
    assert row.flip_rate == 1.0
    assert row.status == "flaky"
    [evidence] = row.evidence
    assert (evidence.kind, evidence.commit, evidence.branch) == ("flip", None, "main")
    assert len(evidence.run_ids) == 9
    assert row.why == "flip rate 1.00 on main/default"


@pytest.mark.parametrize(("outcomes", "flaky"), [("PFPFPFPFP", False), ("PFPFPFPFPF", True)])
def test_flips_need_the_minimum_number_of_executions(project, outcomes, flaky):
    case = new_case(project)
    history(case, outcomes)
    row = assess(case)
    assert (row.status == "flaky") is flaky
    assert row.flip_rate == (1.0 if flaky else None)


def test_skips_do_not_count_towards_the_minimum(project):
    case = new_case(project)
    history(case, "PFPFPFPFPS")
    assert assess(case).flip_rate is None


def test_the_minimum_is_the_projects(project):
    project.min_executions = 5
    case = new_case(project)
    history(case, "PFPFP")
    assert assess(case).status == "flaky"


@pytest.mark.parametrize(
    ("outcomes", "rate", "flaky"),
    [
        ("PPPPPPPPPPF", 0.1, True),  # 1 flip in 10 pairs: exactly the threshold
        ("PPPPPPPPPPPF", 1 / 11, False),  # 1 in 11: just below
    ],
)
def test_flip_threshold_is_inclusive(project, outcomes, rate, flaky):
    case = new_case(project)
    history(case, outcomes)
    row = assess(case)
    assert row.flip_rate == pytest.approx(rate)
    assert (row.status == "flaky") is flaky


def test_the_threshold_is_the_projects(project):
    project.flip_rate_threshold = 0.25
    case = new_case(project)
    history(case, "PPPPPPPFPPP")  # 2 flips in 10 pairs
    assert assess(case).status == "healthy"


def test_flip_rate_is_the_highest_over_series_with_enough_executions(project):
    case = new_case(project)
    history(case, "PPPPPPPPPPPF", job="py3.11")  # 1/11
    history(case, "PPPFPPPPPFPP", job="py3.12")  # 4/11
    history(case, "PFPFPF", job="docs")  # too short to count
    row = assess(case)
    assert row.flip_rate == pytest.approx(4 / 11)
    assert row.why == "flip rate 0.36 on main/py3.12"


def test_a_case_failing_on_one_job_only_is_failing_there_not_flaky(project):
    case = new_case(project)
    for index in range(12):
        at = START + timedelta(hours=index)
        commit = f"c{index}"
        history(case, "P", job="py3.11", start=at, commit_sha=commit)
        history(case, "F", job="py3.12", start=at, commit_sha=commit)
    row = assess(case)
    assert row.flip_rate == 0.0
    assert row.status == "failing"
    assert row.why == "failed its last 3 executions on main/py3.12"


# --- failing --------------------------------------------------------------------------


def test_three_failures_in_a_row_on_the_default_branch_is_failing(project):
    case = new_case(project)
    history(case, "PPPPFFF")
    row = assess(case)
    assert row.status == "failing"
    assert (row.runs_disrupted, row.ci_seconds_lost) == (0, 0.0)  # failing is not flaky
    assert [r.case_id for r in flaky_report(scope_of(project))] == [case.id]


@pytest.mark.parametrize("outcomes", ["PPPPPFF", "FF"])
def test_two_failures_in_a_row_is_not_failing(project, outcomes):
    case = new_case(project)
    history(case, outcomes)
    assert assess(case).status == "healthy"


def test_skips_do_not_break_a_failing_streak(project):
    case = new_case(project)
    history(case, "PFFSF")
    assert assess(case).status == "failing"


def test_failing_only_counts_the_default_branch(project):
    case = new_case(project)
    history(case, "PFFF", branch="feature/x")
    assert assess(case).status == "healthy"


def test_flaky_beats_failing(project):
    case = new_case(project)
    history(case, "RPFFF")
    assert assess(case).status == "flaky"


def test_broken_then_fixed_is_neither_flaky_nor_failing(project):
    case = new_case(project)
    history(case, "FFFFF" + "P" * 15)  # one flip in 19 pairs
    row = assess(case)
    assert row.status == "healthy"
    assert row.flip_rate == pytest.approx(1 / 19)
    assert flaky_report(scope_of(project)) == []


def test_still_broken_is_failing_not_flaky(project):
    case = new_case(project)
    history(case, "P" * 3 + "F" * 15)  # one flip in 17 pairs
    assert assess(case).status == "failing"


# --- the infrastructure guard ---------------------------------------------------------


@pytest.mark.parametrize(("failed", "infrastructure"), [(81, True), (80, False)])
def test_same_commit_pairs_ignore_infrastructure_failures(project, failed, infrastructure):
    case = new_case(project)
    bad = RunFactory(project=project, commit_sha="abc", tests=100, failed=failed, started_at=START)
    ResultFactory(run=bad, case=case, failing=True)
    history(case, "P", commit_sha="abc", start=START + timedelta(hours=1))
    row = assess(case)
    assert (row.same_commit_flakes == 0) is infrastructure
    assert row.executions == 2  # an infrastructure failure is still shown


def test_infrastructure_failures_leave_the_flip_series(project):
    case = new_case(project)
    for index in range(12):
        ResultFactory(
            run=RunFactory(project=project, started_at=START + timedelta(hours=index)),
            case=case,
        )
        bad = infra_run(project, started_at=START + timedelta(hours=index, minutes=30))
        ResultFactory(run=bad, case=case, failing=True)
    row = assess(case)
    assert row.flip_rate == 0.0
    assert row.status == "healthy"
    assert (row.executions, row.failures) == (24, 12)


def test_skipped_results_do_not_decide_the_infrastructure_share(project):
    case = new_case(project)
    # 81 of 110 results failed, but 20 were skipped: 81 of 90 executed is above 80%.
    bad = RunFactory(project=project, commit_sha="abc", tests=110, skipped=20, failed=71, errors=10)
    ResultFactory(run=bad, case=case, failing=True)
    history(case, "P", commit_sha="abc")
    assert assess(case).same_commit_flakes == 0


def test_a_retry_flake_inside_an_infrastructure_failure_is_no_evidence(project):
    case = new_case(project)
    ResultFactory(run=infra_run(project, started_at=START), case=case, flaky=True)
    row = assess(case)
    assert (row.status, row.retry_flakes, row.executions) == ("healthy", 0, 1)
    assert flaky_report(scope_of(project)) == []


def test_infrastructure_failures_do_not_make_a_case_failing(project):
    case = new_case(project)
    history(case, "PP")
    for hour in range(3):
        bad = infra_run(project, started_at=START + timedelta(days=1, hours=hour))
        ResultFactory(run=bad, case=case, failing=True)
    assert assess(case).status == "healthy"


# --- flake rate -----------------------------------------------------------------------


def test_flake_rate_comes_with_its_wilson_interval(project):
    case = new_case(project)
    history(case, "PPPPRPPPPP")
    row = assess(case)
    assert (row.flaky_executions, row.executions, row.flake_rate) == (1, 10, 0.1)
    assert (row.flake_rate_low, row.flake_rate_high) == wilson_interval(1, 10)


def test_flaky_executions_are_counted_once_from_every_kind_of_evidence(project):
    case = new_case(project)
    # py3.11: 10 executions flipping every time (5 failures) -> a flagged series;
    # its first two runs share a commit, so one failure is also a same-commit pair.
    runs = history(case, "PFPFPFPFPF", job="py3.11")
    runs[1].run.commit_sha = runs[0].run.commit_sha
    # py3.12: one retry flake (flaky) and one plain failure (not: a short series).
    history(case, "RF", job="py3.12", start=START + timedelta(days=2))
    row = assess(case)
    assert (row.retry_flakes, row.same_commit_flakes) == (1, 1)
    assert (row.executions, row.failures) == (12, 6)
    assert row.flaky_executions == 5 + 1
    assert row.flake_rate == pytest.approx(6 / 12)


def test_a_case_with_no_executions_has_an_uninformative_interval(project):
    case = new_case(project)
    row = assess(case)
    assert (row.executions, row.flake_rate, row.flake_rate_low, row.flake_rate_high) == (
        0,
        0.0,
        0.0,
        1.0,
    )


# --- cost -----------------------------------------------------------------------------


def test_cost_counts_failed_runs_and_retried_time(project):
    case = new_case(project)
    for hours, wall in ((0, 100.0), (1, 200.0)):
        run = RunFactory(
            project=project, started_at=START + timedelta(hours=hours), wall_seconds=wall
        )
        ResultFactory(run=run, case=case, failing=True)
    run = RunFactory(project=project, started_at=START + timedelta(hours=2), wall_seconds=50.0)
    ResultFactory(run=run, case=case, flaky=True, attempts=2, duration_s=4.0)
    bad = infra_run(project, started_at=START + timedelta(hours=3), wall_seconds=500.0)
    ResultFactory(run=bad, case=case, failing=True)
    row = assess(case)
    assert row.status == "flaky"
    assert row.runs_disrupted == 2  # not the infrastructure failure, not the retried pass
    assert row.ci_seconds_lost == pytest.approx(100 + 200 + 4.0 / 2)


def test_report_is_sorted_by_cost(project):
    def flaky_case(name, walls, outcomes="RF"):
        case = new_case(project, name=name)
        for hours, (letter, wall) in enumerate(zip(outcomes, walls, strict=True)):
            history(case, letter, wall_seconds=wall, start=START + timedelta(hours=hours))
        return case

    cheap = flaky_case("test_cheap", [0, 10])
    dear = flaky_case("test_dear", [0, 500])
    often = flaky_case("test_often", [0, 5, 5], "RFF")  # 10 s in 2 runs
    once = flaky_case("test_once", [0, 10], "RE")  # 10 s in 1 run, same as cheap
    rate = flaky_case("test_rate", [0, 10, 0, 0, 0, 0], "RFPPPP")  # lower flake rate
    names = [r.name for r in flaky_report(scope_of(project))]
    assert names == [dear.name, often.name, cheap.name, once.name, rate.name]


# --- quarantine -----------------------------------------------------------------------


def test_an_active_quarantine_takes_precedence_and_keeps_the_evidence(project):
    case = new_case(project)
    history(case, "PRFP", wall_seconds=60.0)
    QuarantineFactory(case=case, reason="races on the DB", created_by="ana")
    row = assess(case)
    assert (row.status, row.evidence_status) == ("quarantined", "flaky")
    assert (row.retry_flakes, row.runs_disrupted) == (1, 1)
    assert row.ci_seconds_lost == pytest.approx(60.0 + 0.05 / 2)  # the run, the retried attempt
    assert (row.quarantine.reason, row.quarantine.created_by) == ("races on the DB", "ana")
    assert row.why == "retried into a pass in 1 run"


@pytest.mark.parametrize(
    ("expires_at", "lifted_at", "quarantined"),
    [
        (None, None, True),
        (NOW + timedelta(seconds=1), None, True),
        (NOW, None, False),  # expired at the end of the window
        (NOW - timedelta(days=1), None, False),
        (None, NOW - timedelta(hours=1), False),
    ],
)
def test_expired_or_lifted_quarantines_no_longer_count(project, expires_at, lifted_at, quarantined):
    case = new_case(project)
    history(case, "PR")
    QuarantineFactory(case=case, expires_at=expires_at, lifted_at=lifted_at)
    row = assess(case)
    assert row.status == ("quarantined" if quarantined else "flaky")
    assert (row.quarantine is not None) is quarantined


def test_a_quarantined_case_without_executions_is_reported(project):
    case = new_case(project)
    QuarantineFactory(case=case)
    [row] = flaky_report(scope_of(project))
    assert (row.case_id, row.status, row.executions) == (case.id, "quarantined", 0)
    assert row.why == "quarantined; no flaky evidence in this window"


def test_another_projects_quarantine_does_not_count(project):
    case = new_case(project)
    QuarantineFactory(case=case, project=ProjectFactory())
    assert assess(case).status == "healthy"


# --- new ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first_seen", "status"),
    [
        (NOW - timedelta(days=30), "new"),  # the window's first instant
        (NOW - timedelta(days=2), "new"),
        (NOW - timedelta(days=30, seconds=1), "healthy"),
    ],
)
def test_a_case_first_seen_in_the_window_is_new(project, first_seen, status):
    case = new_case(project, first_seen_at=first_seen)
    history(case, "PP", start=NOW - timedelta(days=1))
    row = assess(case)
    assert row.status == status


def test_a_new_case_that_flakes_is_flaky(project):
    case = new_case(project, first_seen_at=NOW - timedelta(days=1))
    history(case, "R", start=NOW - timedelta(hours=5))
    assert assess(case).status == "flaky"


# --- scope: window, branch, job -------------------------------------------------------


def test_window_includes_its_start_and_excludes_its_end(project):
    inside = new_case(project, name="test_inside")
    history(inside, "R", start=NOW - timedelta(days=7))
    before = new_case(project, name="test_before")
    history(before, "R", start=NOW - timedelta(days=7, seconds=1))
    at_end = new_case(project, name="test_at_end")
    history(at_end, "R", start=NOW)
    names = [r.name for r in flaky_report(scope_of(project, days=7))]
    assert names == ["test_inside"]


def test_branch_and_job_filters_narrow_the_evidence(project):
    case = new_case(project)
    history(case, "R", branch="feature/x", job="py3.12")
    history(case, "PP", branch="main", job="py3.11", start=START + timedelta(days=1))
    assert [r.case_id for r in flaky_report(scope_of(project))] == [case.id]
    assert flaky_report(scope_of(project, branch="main")) == []
    assert flaky_report(scope_of(project, job="py3.11")) == []
    assert len(flaky_report(scope_of(project, branch="feature/x", job="py3.12"))) == 1
    assert assess(case, branch="main").executions == 2


def test_other_projects_are_invisible(project):
    other = new_case(ProjectFactory())
    history(other, "RFRF")
    assert flaky_report(scope_of(project)) == []
    with pytest.raises(UnknownCaseError):
        case_flakiness(scope_of(project), other.id)


# --- report ---------------------------------------------------------------------------


def test_status_narrows_the_report(project):
    flaky = new_case(project, name="test_flaky")
    history(flaky, "R")
    failing = new_case(project, name="test_failing")
    history(failing, "FFF")
    quarantined = new_case(project, name="test_quarantined")
    QuarantineFactory(case=quarantined)
    scope = scope_of(project)
    assert {r.name: r.status for r in flaky_report(scope)} == {
        "test_flaky": "flaky",
        "test_failing": "failing",
        "test_quarantined": "quarantined",
    }
    for status in ("flaky", "failing", "quarantined"):
        assert [r.name for r in flaky_report(scope, status=status)] == [f"test_{status}"]
    with pytest.raises(ValueError, match="status"):
        flaky_report(scope, status="healthy")


def test_why_names_every_kind_of_evidence(project):
    project.min_executions = 4
    case = new_case(project)
    history(case, "RRR", job="py3.12")
    history(
        case, "FP", job="py3.12", branch="fix", commit_sha="1a2b3c4d", start=START + timedelta(1)
    )
    history(case, "PPFP", job="py3.11", start=START + timedelta(days=2))  # 2 flips in 3 pairs
    row = assess(case)
    assert row.why == (
        "retried into a pass in 3 runs; failed and passed on commit 1a2b3c4 (job py3.12); "
        "flip rate 0.67 on main/py3.11"
    )
    assert [e.kind for e in row.evidence] == [
        "flip",
        "same_commit",
        "retry_flake",
        "retry_flake",
        "retry_flake",
    ]


def test_evidence_is_capped_newest_first(project):
    case = new_case(project)
    results = history(case, "R" * (EVIDENCE_LIMIT + 5))
    row = assess(case)
    assert row.retry_flakes == EVIDENCE_LIMIT + 5
    assert len(row.evidence) == EVIDENCE_LIMIT
    assert row.evidence[0].run_id == results[-1].run_id


def test_report_takes_three_queries_whatever_the_number_of_cases(project, count_queries):
    # The scope's runs (which decide between the rollups and the results), the
    # candidates, their executions.
    def queries_for(cases: int) -> int:
        for _ in range(cases):
            history(new_case(project), "RF")
        with count_queries.watching() as counter:
            assert len(flaky_report(scope_of(project))) >= cases
        return counter.count

    assert queries_for(2) == 3
    assert queries_for(20) == 3


def test_many_candidates_are_fetched_through_the_subquery(project, monkeypatch):
    monkeypatch.setattr("dashboard.analytics.flaky.MAX_LISTED_CASES", 1)
    first, second = new_case(project, name="test_1"), new_case(project, name="test_2")
    history(first, "RF", wall_seconds=10.0)
    history(second, "R")
    QuarantineFactory(case=new_case(project, name="test_3"))
    rows = flaky_report(scope_of(project))
    assert [(r.name, r.executions, r.status) for r in rows] == [
        ("test_1", 2, "flaky"),
        ("test_2", 1, "flaky"),
        ("test_3", 0, "quarantined"),
    ]


def test_an_empty_report_takes_two_queries(project, count_queries):
    history(new_case(project), "PPP")
    with count_queries.watching() as counter:
        assert flaky_report(scope_of(project)) == []
    assert counter.count == 2


def test_case_flakiness_takes_two_queries(project, count_queries):
    case = new_case(project)
    history(case, "RF")
    with count_queries.watching() as counter:
        case_flakiness(scope_of(project), case.id)
    assert counter.count == 2
