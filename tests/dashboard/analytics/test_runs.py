"""analytics.runs: the runs list, one run's detail, two runs compared."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dashboard.analytics import runs
from dashboard.analytics.scope import Scope
from dashboard.filters import Filters
from dashboard.models import Upload
from tests.factories import (
    BASE_TIME,
    CaseFactory,
    ProjectFactory,
    ResultFactory,
    RunFactory,
    coverage_run,
    recount,
)


def failing(run, name: str, fingerprint: str, message: str = "boom", **fields):
    case = CaseFactory(project=run.project, name=name)
    return ResultFactory(
        run=run,
        case=case,
        outcome=fields.pop("outcome", "failed"),
        failure_type=fields.pop("failure_type", "AssertionError"),
        message=message,
        trace=f"trace of {name}",
        fingerprint=fingerprint,
        **fields,
    )


def page_of(project, **args) -> list[int]:
    filters = Filters.from_args(args)
    page = runs.runs_page(Scope.from_filters(project, filters), filters)
    return [row.run.id for row in page.items]


# --- runs list ------------------------------------------------------------------------


@pytest.fixture
def statuses(db_session):
    """One run of each status: passed, failed, infrastructure, passed with a retry flake."""
    project = ProjectFactory()
    planted = {}
    for status, outcomes in {
        "passed": ["passed"] * 5,
        "failed": ["failed"] + ["passed"] * 4,
        "infrastructure": ["failed"] * 5,  # 100% of the executed cases failed
        "retry": ["passed"] * 5,
    }.items():
        run = RunFactory(project=project)
        for outcome in outcomes:
            ResultFactory(run=run, outcome=outcome)
        planted[status] = run
    ResultFactory(run=planted["retry"], flaky=True)
    # 4 of 5 executed failed: exactly 80% is not "more than 80%"; skips don't count.
    edge = RunFactory(project=project)
    for outcome in ["failed"] * 4 + ["passed", "skipped", "skipped"]:
        ResultFactory(run=edge, outcome=outcome)
    planted["edge"] = edge
    recount(*planted.values())
    return project, planted


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("passed", {"passed", "retry"}),
        ("failed", {"failed", "edge"}),
        ("infrastructure", {"infrastructure"}),
        ("retry-flakes", {"retry"}),
        ("nonsense", {"passed", "failed", "infrastructure", "retry", "edge"}),
    ],
)
def test_runs_filter_by_status(statuses, status, expected):
    project, planted = statuses
    ids = set(page_of(project, status=status))
    assert ids == {planted[name].id for name in expected}


def test_runs_row_status_names_the_infrastructure_failure(statuses):
    project, planted = statuses
    filters = Filters()
    rows = runs.runs_page(Scope.from_filters(project, filters), filters).items
    by_id = {row.run.id: row.status for row in rows}
    assert by_id[planted["infrastructure"].id] == "infrastructure"
    assert by_id[planted["edge"].id] == "failed"
    assert by_id[planted["passed"].id] == "passed"


def test_runs_filter_by_branch_and_job_newest_first(db_session):
    project = ProjectFactory()
    wanted = [
        RunFactory(
            project=project, branch="main", job="py3.12", started_at=BASE_TIME + timedelta(hours=h)
        )
        for h in (1, 3, 2)
    ]
    RunFactory(project=project, branch="main", job="py3.11")
    RunFactory(project=project, branch="feature", job="py3.12")
    RunFactory(branch="main", job="py3.12")  # another project
    assert page_of(project, branch="main", job="py3.12") == [
        wanted[1].id,
        wanted[2].id,
        wanted[0].id,
    ]


def test_runs_list_is_not_limited_to_the_window(db_session):
    project = ProjectFactory()
    old = RunFactory(project=project, started_at=BASE_TIME - timedelta(days=400))
    assert page_of(project) == [old.id]


def test_runs_pagination(db_session):
    project = ProjectFactory()
    made = [RunFactory(project=project) for _ in range(27)]
    newest_first = [run.id for run in reversed(made)]
    filters = Filters.from_args({"per_page": "25", "page": "2"})
    page = runs.runs_page(Scope.from_filters(project, filters), filters)
    assert [row.run.id for row in page.items] == newest_first[25:]
    assert (page.page, page.pages, page.total) == (2, 2, 27)


def test_a_page_past_the_end_is_empty_without_a_query(db_session, count_queries):
    project = ProjectFactory()
    RunFactory(project=project)
    filters = Filters.from_args({"page": str(10**30)})
    with count_queries.watching() as queries:
        page = runs.runs_page(Scope.from_filters(project, filters), filters)
    assert page.items == []
    assert page.total == 1
    assert queries.count == 1  # the count only


# --- run detail -----------------------------------------------------------------------


def test_failures_are_grouped_by_fingerprint_largest_first(db_session):
    run = RunFactory()
    failing(run, "test_c", "fp-timeout", "timed out after 31 s", failure_type="TimeoutError")
    failing(run, "test_a", "fp-timeout", "timed out after 30 s", failure_type="TimeoutError")
    failing(run, "test_b", "fp-timeout", "timed out after 29 s", failure_type="TimeoutError")
    failing(run, "test_x", "fp-assert", "assert 1 == 2")
    failing(run, "test_y", "fp-assert", "assert 3 == 4")
    failing(run, "test_z", "fp-error", "no such table", outcome="error", failure_type="DbError")
    ResultFactory(run=run)
    ResultFactory(run=run, skipped=True)
    recount(run)

    detail = runs.run_detail(run)

    summary = [(g.fingerprint, g.count, [c.name for c in g.cases]) for g in detail.failure_groups]
    assert summary == [
        ("fp-timeout", 3, ["test_a", "test_b", "test_c"]),
        ("fp-assert", 2, ["test_x", "test_y"]),
        ("fp-error", 1, ["test_z"]),
    ]
    timeout = detail.failure_groups[0]
    # The representative is the group's first case, message and trace alike.
    assert (timeout.failure_type, timeout.message, timeout.trace) == (
        "TimeoutError",
        "timed out after 30 s",
        "trace of test_a",
    )
    assert detail.failure_groups[2].outcome == "error"
    assert detail.failure_group_total == 3
    assert detail.hidden_failure_groups == 0


def test_failure_groups_cap_cases_and_groups(db_session, monkeypatch):
    monkeypatch.setattr(runs, "CASES_PER_GROUP", 2)
    monkeypatch.setattr(runs, "FAILURE_GROUP_LIMIT", 2)
    run = RunFactory()
    for index in range(5):
        failing(run, f"test_big_{index}", "fp-big")
    for fingerprint in ("fp-1", "fp-2", "fp-3"):
        failing(run, f"test_{fingerprint}", fingerprint)

    detail = runs.run_detail(run)

    big, second = detail.failure_groups
    assert (big.fingerprint, big.count, len(big.cases), big.more) == ("fp-big", 5, 2, 3)
    assert second.fingerprint == "fp-1"  # equal sizes: by fingerprint
    assert detail.failure_group_total == 4
    assert detail.hidden_failure_groups == 2


def test_retry_flakes_slowest_and_sections(db_session):
    project = ProjectFactory()
    run = RunFactory(project=project, build_url="https://ci.example.com/1")
    flaky = ResultFactory(run=run, flaky=True, attempts=3)
    for index in range(12):
        ResultFactory(run=run, duration_s=float(index))
    ResultFactory(run=run, skipped=True, duration_s=99.0)  # skipped: not among the slowest
    db_session.add(
        Upload(
            run=run, kind="tests", format="junit", size_bytes=10, sha256="a" * 64, warnings=["odd"]
        )
    )
    coverage_run(project, {"a.py": (10, 5, None, None)})  # another run's coverage
    recount(run)

    detail = runs.run_detail(run)

    assert [(e.case.id, e.attempts) for e in detail.retry_flakes] == [(flaky.case_id, 3)]
    assert [e.duration_s for e in detail.slowest] == [
        11.0,
        10.0,
        9.0,
        8.0,
        7.0,
        6.0,
        5.0,
        4.0,
        3.0,
        2.0,
    ]
    assert detail.coverage is None
    assert [(u.format, u.warnings) for u in detail.uploads] == [("junit", ["odd"])]
    assert detail.status == "passed"


def test_previous_run_is_the_same_branch_and_job(db_session):
    project = ProjectFactory()
    first = RunFactory(project=project, branch="main", job="unit", started_at=BASE_TIME)
    RunFactory(
        project=project, branch="main", job="lint", started_at=BASE_TIME + timedelta(hours=1)
    )
    RunFactory(project=project, branch="dev", job="unit", started_at=BASE_TIME + timedelta(hours=2))
    second = RunFactory(
        project=project, branch="main", job="unit", started_at=BASE_TIME + timedelta(hours=3)
    )
    # Same start time: the lower id counts as earlier.
    third = RunFactory(project=project, branch="main", job="unit", started_at=second.started_at)
    RunFactory(
        project=project, branch="main", job="unit", started_at=BASE_TIME + timedelta(hours=9)
    )

    assert runs.previous_run(third) == second
    assert runs.previous_run(second) == first
    assert runs.previous_run(first) is None


def test_previous_run_without_a_branch(db_session):
    project = ProjectFactory()
    first = RunFactory(project=project, branch=None)
    RunFactory(project=project, branch="main")
    second = RunFactory(project=project, branch=None)
    assert runs.previous_run(second) == first


def test_get_run_refuses_other_projects_and_impossible_ids(db_session):
    project = ProjectFactory()
    mine, theirs = RunFactory(project=project), RunFactory()
    assert runs.get_run(project, mine.id) == mine
    assert runs.get_run(project, theirs.id) is None
    assert runs.get_run(project, 2**63) is None
    assert runs.get_run(project, 0) is None


# --- comparing two runs ---------------------------------------------------------------


@pytest.fixture
def planted_pair(db_session):
    """A base and a head run with one case for each kind of change."""
    project = ProjectFactory()
    base, head = RunFactory(project=project), RunFactory(project=project)
    plan = {
        # name: (base outcome, base seconds, head outcome, head seconds); None: absent
        "breaks": ("passed", 1.0, "failed", 1.0),
        "added_failing": (None, 0, "failed", 1.0),
        "was_skipped": ("skipped", 0.0, "error", 1.0),
        "fixed": ("failed", 1.0, "passed", 1.0),
        "still": ("error", 1.0, "failed", 1.0),
        "skipped_now": ("failed", 1.0, "skipped", 0.0),
        "removed": ("passed", 1.0, None, 0),
        "slower": ("passed", 1.0, "passed", 3.0),
        "faster": ("passed", 2.0, "passed", 1.5),
        "from_zero": ("passed", 0.0, "passed", 0.1),
        "unskipped": ("skipped", 0.0, "passed", 5.0),
        "added": (None, 0, "passed", 1.0),
    }
    cases = {}
    for name, (base_outcome, base_s, head_outcome, head_s) in plan.items():
        case = cases[name] = CaseFactory(project=project, name=name)
        for run, outcome, seconds in ((base, base_outcome, base_s), (head, head_outcome, head_s)):
            if outcome is not None:
                ResultFactory(
                    run=run,
                    case=case,
                    outcome=outcome,
                    duration_s=seconds,
                    message=f"{name} {outcome}",
                )
    recount(base, head)
    return base, head, cases


def names(section: runs.Section) -> list[str]:
    return [change.case.name for change in section.items]


def test_compare_sections_are_exactly_right(planted_pair):
    base, head, _ = planted_pair
    comparison = runs.compare_runs(base, head)

    assert names(comparison.new_failures) == ["added_failing", "breaks", "was_skipped"]
    assert names(comparison.fixed) == ["fixed"]
    assert names(comparison.still_failing) == ["still"]
    assert names(comparison.added) == ["added", "added_failing"]
    assert names(comparison.removed) == ["removed"]
    assert comparison.new_failures.total == 3
    breaks = comparison.new_failures.items[1]
    assert (breaks.base_outcome, breaks.head_outcome, breaks.message) == (
        "passed",
        "failed",
        "breaks failed",
    )
    removed = comparison.removed.items[0]
    assert (removed.base_outcome, removed.head_outcome) == ("passed", None)


def test_compare_duration_changes_only_for_cases_executed_in_both(planted_pair):
    base, head, _ = planted_pair
    changes = runs.compare_runs(base, head).durations

    moved = [(c.case.name, round(c.change_s, 3)) for c in changes[:3]]
    assert moved == [("slower", 2.0), ("faster", -0.5), ("from_zero", 0.1)]
    assert changes[0].change_pct == pytest.approx(2.0)
    assert changes[1].change_pct == pytest.approx(-0.25)
    assert changes[2].change_pct is None  # from zero: no percentage
    executed_in_both = {"breaks", "fixed", "still", "slower", "faster", "from_zero"}
    assert {c.case.name for c in changes} == executed_in_both
    # The unchanged ones follow, in case order.
    assert [c.case.id for c in changes[3:]] == sorted(c.case.id for c in changes[3:])


def test_compare_sections_are_capped_with_totals(db_session, monkeypatch):
    monkeypatch.setattr(runs, "SECTION_LIMIT", 2)
    project = ProjectFactory()
    base, head = RunFactory(project=project), RunFactory(project=project)
    for index in range(5):
        ResultFactory(run=head, case=CaseFactory(project=project, name=f"test_{index}"))
    section = runs.compare_runs(base, head).added
    assert (names(section), section.total, section.more) == (["test_0", "test_1"], 5, 3)


def test_compare_a_run_with_itself_changes_nothing(planted_pair):
    base, _, _ = planted_pair
    comparison = runs.compare_runs(base, base)
    totals = {name: section.total for name, section in comparison.sections.items()}
    # Its failures (fixed, skipped_now, still) are still failing; nothing else moved.
    assert totals == {"new_failures": 0, "fixed": 0, "still_failing": 3, "added": 0, "removed": 0}
    assert all(change.change_s == 0 for change in comparison.durations)


def test_compare_coverage_totals_and_files(db_session):
    project = ProjectFactory()
    base = coverage_run(
        project,
        {"a.py": (10, 5, 4, 2), "b.py": (10, 10, None, None), "gone.py": (5, 5, None, None)},
    )
    head = coverage_run(
        project, {"a.py": (10, 9, 4, 4), "b.py": (10, 9, None, None), "new.py": (4, 0, None, None)}
    )

    change = runs.compare_runs(base, head).coverage

    assert change.base.line_rate == pytest.approx(20 / 25)
    assert change.line_delta == pytest.approx(18 / 24 - 20 / 25)
    assert change.branch_delta == pytest.approx(0.5)
    assert [(f.path, f.status) for f in change.files] == [
        ("a.py", "changed"),
        ("b.py", "changed"),
        ("gone.py", "removed"),
        ("new.py", "added"),
    ]


def test_compare_coverage_with_one_report(db_session):
    project = ProjectFactory()
    base = RunFactory(project=project)
    head = coverage_run(project, {"a.py": (10, 5, None, None)})
    change = runs.compare_runs(base, head).coverage
    assert (change.base, change.files, change.line_delta) == (None, None, None)
    assert change.head.run_id == head.id


def test_compare_query_count_does_not_grow_with_the_suite(db_session, count_queries):
    def pair(size: int):
        project = ProjectFactory()
        base, head = RunFactory(project=project), RunFactory(project=project)
        for index in range(size):
            case = CaseFactory(project=project)
            ResultFactory(run=base, case=case)
            ResultFactory(run=head, case=case, failing=index % 2 == 0)
        coverage_run(project, {"a.py": (10, 5, None, None)}, started_at=BASE_TIME)
        return base, head

    counts = []
    for size in (3, 30):
        base, head = pair(size)
        with count_queries.watching() as queries:
            runs.compare_runs(base, head)
        counts.append(queries.count)
    assert counts[0] == counts[1] <= 4


def test_run_json_shape(db_session):
    run = RunFactory(branch=None, commit_sha=None)
    failing(run, "test_a", "fp")
    recount(run)
    body = runs.run_detail_json(runs.run_detail(run))
    assert body["counts"] == {
        "tests": 1,
        "passed": 0,
        "failed": 1,
        "errors": 0,
        "skipped": 0,
        "retry_flakes": 0,
    }
    assert body["status"] == "infrastructure"
    assert body["branch"] is None
    assert body["failure_groups"][0]["cases"][0]["name"] == "test_a"
    assert body["started_at"].endswith("+00:00")
