"""analytics.history: one test's executions, failure groups and flakiness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dashboard.analytics import history
from tests.factories import (
    BASE_TIME,
    CaseFactory,
    ProjectFactory,
    ResultFactory,
    RunFactory,
    recount,
    result_history,
)


def test_executions_are_the_latest_oldest_first_whatever_the_insert_order(db_session):
    case = CaseFactory()
    later = RunFactory(project=case.project, started_at=BASE_TIME + timedelta(hours=5))
    earlier = RunFactory(project=case.project, started_at=BASE_TIME + timedelta(hours=1))
    middle = RunFactory(project=case.project, started_at=BASE_TIME + timedelta(hours=3))
    for run in (later, earlier, middle):
        ResultFactory(run=run, case=case)
    ResultFactory(run=middle)  # another case of the same run

    found = history.case_history(case.project, case.id)

    assert [e.run_id for e in found.executions] == [earlier.id, middle.id, later.id]


def test_history_keeps_the_latest_100(db_session):
    case = CaseFactory()
    results = result_history(case, "F" + "P" * 100)
    found = history.case_history(case.project, case.id)
    assert len(found.executions) == history.HISTORY_LIMIT == 100
    assert found.executions[0].run_id == results[1].run_id  # the oldest (failed) one dropped
    assert found.executions[-1].run_id == results[-1].run_id


def test_execution_kinds_and_letters(db_session):
    case = CaseFactory()
    result_history(case, "PFESR", branch="main", job="unit")
    found = history.case_history(case.project, case.id)
    assert "".join(e.letter for e in found.executions) == "PFESR"
    assert [e.kind for e in found.executions] == ["passed", "failed", "error", "skipped", "retried"]
    assert found.executions[-1].description == "passed after a retry"
    assert found.executions[-1].attempts == 2
    assert found.kind_counts["retried"] == 1
    assert {(e.branch, e.job) for e in found.executions} == {("main", "unit")}


def test_execution_in_an_infrastructure_failure_is_marked(db_session):
    case = CaseFactory()
    broken = RunFactory(project=case.project)
    ResultFactory(run=broken, case=case, failing=True)
    recount(broken)
    found = history.case_history(case.project, case.id)
    assert found.executions[0].infrastructure_failure is True


def test_failures_grouped_by_fingerprint_most_frequent_first(db_session):
    case = CaseFactory()
    project = case.project

    def fail(hours: int, fingerprint: str, message: str):
        run = RunFactory(project=project, started_at=BASE_TIME + timedelta(hours=hours))
        ResultFactory(
            run=run,
            case=case,
            failing=True,
            fingerprint=fingerprint,
            message=message,
            trace=f"trace {hours}",
        )
        return run

    fail(1, "fp-a", "timeout after 1 s")
    fail(2, "fp-b", "connection refused")
    latest_a = fail(3, "fp-a", "timeout after 3 s")
    fail(0, "fp-a", "timeout after 0 s")
    result_history(case, "PP", start=BASE_TIME + timedelta(hours=10))

    groups = history.case_history(project, case.id).failure_groups

    assert [(g.fingerprint, g.count) for g in groups] == [("fp-a", 3), ("fp-b", 1)]
    top = groups[0]
    assert (top.message, top.trace, top.last_run_id) == (
        "timeout after 3 s",
        "trace 3",
        latest_a.id,
    )
    assert top.first_seen_at == BASE_TIME
    assert top.last_seen_at == BASE_TIME + timedelta(hours=3)


def test_flakiness_comes_from_the_flaky_analysis(db_session):
    case = CaseFactory()
    # A retry flake within the last 30 days: flaky, with that run as evidence.
    now = datetime.now(UTC)
    results = result_history(case, "PR", start=now - timedelta(days=2))
    found = history.case_history(case.project, case.id)
    assert found.flakiness.status == "flaky"
    assert found.flakiness.why
    assert [e.run_ids for e in found.flakiness.evidence] == [[results[1].run_id]]


def test_another_projects_case_has_no_history(db_session):
    other = CaseFactory()
    assert history.case_history(ProjectFactory(), other.id) is None
    assert history.case_history(other.project, 2**40) is None


def test_history_json(db_session):
    case = CaseFactory(name="test_<x>")
    result_history(case, "FP", branch=None)
    body = history.history_json(history.case_history(case.project, case.id))
    assert body["case"] == {
        "id": case.id,
        "file": case.file,
        "classname": case.classname,
        "name": "test_<x>",
    }
    assert [e["outcome"] for e in body["executions"]] == ["failed", "passed"]
    assert body["executions"][0]["branch"] is None
    assert body["failure_groups"][0]["count"] == 1


def test_history_query_count_is_fixed(db_session, count_queries):
    counts = []
    for size in (3, 30):
        case = CaseFactory()
        result_history(
            case,
            "FR" * size,
            start=datetime.now(UTC) - timedelta(days=3),
            step=timedelta(minutes=1),
        )
        with count_queries.watching() as queries:
            history.case_history(case.project, case.id)
        counts.append(queries.count)
    assert counts[0] == counts[1]
