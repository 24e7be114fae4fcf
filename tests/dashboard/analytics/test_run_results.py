"""analytics.run_results: every result of one run, by outcome and search, sorted and paged."""

from __future__ import annotations

import pytest

from dashboard.analytics.run_results import run_results, sort_or_default, status_condition
from dashboard.filters import Filters
from tests.factories import CaseFactory, ProjectFactory, ResultFactory, RunFactory


@pytest.fixture
def run(db_session):
    """One run with each kind of result, and another run of the same tests."""
    project = ProjectFactory()
    run = RunFactory(project=project)
    other = RunFactory(project=project)

    def result(name: str, file: str = "tests/test_a.py", **fields):
        case = CaseFactory(project=project, name=name, file=file, classname="")
        ResultFactory(run=other, case=case)  # the other run: never listed
        return ResultFactory(run=run, case=case, **fields)

    result("test_pass", duration_s=0.5)
    result("test_slow_pass", file="tests/test_b.py", duration_s=9.0)
    result("test_fail", failing=True, duration_s=1.0)
    result("test_error", outcome="error", message="fixture 'db' not found", duration_s=0.1)
    result("test_retried", flaky=True, attempts=3, duration_s=2.0)
    result("test_skip", skipped=True)
    return run


def names(page) -> list[str]:
    return [result.case.name for result in page.items]


def test_problems_first_by_default_then_by_file_and_name(run):
    page = run_results(run, Filters())

    assert names(page) == [
        "test_error",
        "test_fail",
        "test_retried",
        "test_skip",
        "test_pass",
        "test_slow_pass",
    ]
    assert page.total == 6
    error = page.items[0]
    assert (error.outcome, error.message, error.kind) == (
        "error",
        "fixture 'db' not found",
        "error",
    )
    assert page.items[2].kind == "retried"
    assert page.items[2].attempts == 3


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("failing", ["test_error", "test_fail"]),
        ("failed", ["test_fail"]),
        ("error", ["test_error"]),
        ("retried", ["test_retried"]),
        ("skipped", ["test_skip"]),
        ("passed", ["test_retried", "test_pass", "test_slow_pass"]),  # a retried pass is a pass
        ("nonsense", ["test_error", "test_fail", "test_retried", "test_skip", "test_pass",
                      "test_slow_pass"]),
    ],
)  # fmt: skip
def test_the_outcome_filter(run, status, expected):
    page = run_results(run, Filters(status=status))
    assert names(page) == expected
    assert page.total == len(expected)


def test_search_and_outcome_together_in_any_case(run):
    assert names(run_results(run, Filters(q="PASS"))) == ["test_pass", "test_slow_pass"]
    assert names(run_results(run, Filters(q="test_b.py"))) == ["test_slow_pass"]
    assert names(run_results(run, Filters(q="pass", status="passed"))) == [
        "test_pass",
        "test_slow_pass",
    ]
    nothing = run_results(run, Filters(q="pass", status="failing"))
    assert (nothing.items, nothing.total) == ([], 0)


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("-duration", ["test_slow_pass", "test_retried", "test_fail", "test_pass", "test_error",
                       "test_skip"]),
        ("duration", ["test_skip", "test_error", "test_pass", "test_fail", "test_retried",
                      "test_slow_pass"]),
        ("-attempts", ["test_retried", "test_error", "test_fail", "test_pass", "test_skip",
                       "test_slow_pass"]),
        ("name", ["test_error", "test_fail", "test_pass", "test_retried", "test_skip",
                  "test_slow_pass"]),
        ("-name", ["test_slow_pass", "test_skip", "test_retried", "test_pass", "test_fail",
                   "test_error"]),
        ("-status", ["test_pass", "test_slow_pass", "test_skip", "test_retried", "test_fail",
                     "test_error"]),
    ],
)  # fmt: skip
def test_sorts(run, sort, expected):
    assert names(run_results(run, Filters(sort=sort))) == expected


def test_pages_and_past_the_end(run):
    second = run_results(run, Filters(page=2, per_page=25))
    assert (second.items, second.total, second.pages) == ([], 6, 1)
    many = RunFactory()
    for index in range(30):
        ResultFactory(run=many, case__name=f"test_{index:02}", case__file="tests/t.py")

    page = run_results(many, Filters(page=2, per_page=25, sort="name"))

    assert names(page) == [f"test_{index:02}" for index in range(25, 30)]
    assert (page.total, page.pages) == (30, 2)


def test_unknown_sorts_and_statuses_fall_back():
    assert sort_or_default(None) == sort_or_default("bogus") == "status"
    assert sort_or_default("-duration") == "-duration"
    assert status_condition(None) is None
    assert status_condition("bogus") is None
