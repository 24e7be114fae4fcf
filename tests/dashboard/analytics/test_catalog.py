"""analytics.catalog: find any test of a project by name, class or file."""

from __future__ import annotations

from datetime import timedelta

from dashboard.analytics.catalog import find_tests
from dashboard.filters import Filters
from tests.factories import BASE_TIME, CaseFactory, ProjectFactory, result_history


def names(page) -> list[str]:
    return [entry.case.name for entry in page.items]


def test_search_matches_name_class_or_file_in_any_case(db_session):
    project = ProjectFactory()
    CaseFactory(project=project, name="test_Login", classname="tests.auth", file="tests/auth.py")
    CaseFactory(project=project, name="test_a", classname="tests.LoginForm", file="tests/b.py")
    CaseFactory(project=project, name="test_b", classname="tests.c", file="tests/login/c.py")
    CaseFactory(project=project, name="test_other", classname="tests.d", file="tests/d.py")
    CaseFactory(project=ProjectFactory(), name="test_login", file="tests/auth.py")  # elsewhere

    found = find_tests(project, Filters(q="LOGIN"))

    assert names(found) == ["test_Login", "test_a", "test_b"]  # by file, class, name
    assert found.total == 3
    assert find_tests(project, Filters()).total == 4


def test_percent_and_underscore_are_literal_characters(db_session):
    project = ProjectFactory()
    CaseFactory(project=project, name="test_100%_covered")
    CaseFactory(project=project, name="test_1000_covered")
    CaseFactory(project=project, name="testXcase")

    assert names(find_tests(project, Filters(q="100%"))) == ["test_100%_covered"]
    assert names(find_tests(project, Filters(q="t_c"))) == []  # as a wildcard: "testXcase"
    both = ["test_100%_covered", "test_1000_covered"]
    assert names(find_tests(project, Filters(q="st_1"))) == both


def test_pages_through_the_tests_and_past_the_end(db_session):
    project = ProjectFactory()
    for index in range(30):
        CaseFactory(project=project, file=f"tests/test_{index:02}.py", name="test_x")

    second = find_tests(project, Filters(page=2, per_page=25))
    assert [e.case.file for e in second.items] == [f"tests/test_{i:02}.py" for i in range(25, 30)]
    assert (second.total, second.pages) == (30, 2)
    beyond = find_tests(project, Filters(page=9, per_page=25))
    assert (beyond.items, beyond.total) == ([], 30)


def test_each_test_comes_with_its_result_in_the_run_received_last(db_session):
    project = ProjectFactory()
    flaky = CaseFactory(project=project, name="test_flaky")
    result_history(flaky, "PFR", start=BASE_TIME)
    # Received last, though it started earlier (a late upload of an old build).
    late = result_history(flaky, "F", start=BASE_TIME - timedelta(days=3))[0]
    steady = CaseFactory(project=project, name="test_steady")
    retried = result_history(steady, "PR", start=BASE_TIME)[-1]
    CaseFactory(project=project, name="test_unrun")

    entries = {e.case.name: e for e in find_tests(project, Filters()).items}

    assert (entries["test_flaky"].latest.run_id, entries["test_flaky"].latest.kind) == (
        late.run_id,
        "failed",
    )
    assert entries["test_steady"].latest.run_id == retried.run_id
    assert entries["test_steady"].latest.kind == "retried"
    assert entries["test_steady"].latest.started_at == retried.run.started_at
    assert entries["test_unrun"].latest is None
