"""Quarantine service: putting a case in and out, listing, parsing, pytest node ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.quarantine import (
    MAX_REASON_CHARS,
    AlreadyQuarantined,
    NotQuarantined,
    QuarantineError,
    UnknownCase,
    active_quarantines,
    display_line,
    expired_quarantines,
    find_case,
    lift_quarantine,
    parse_expiry,
    pytest_node_id,
    quarantine_case,
)
from tests.factories import CaseFactory, ProjectFactory, QuarantineFactory

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def project(db_session):
    return ProjectFactory(slug="web")


@pytest.fixture
def case(project):
    return CaseFactory(project=project, file="tests/test_a.py", classname="tests.test_a")


# --- quarantine_case ------------------------------------------------------------------


def test_quarantine_records_reason_author_and_expiry(project, case):
    expires = NOW + timedelta(days=7)
    entry = quarantine_case(project, case, "  races on the DB ", "ana", expires, now=NOW)
    assert (entry.reason, entry.created_by, entry.created_at) == ("races on the DB", "ana", NOW)
    assert (entry.expires_at, entry.lifted_at) == (expires, None)
    assert active_quarantines(project, NOW) == [entry]


@pytest.mark.parametrize("reason", ["", "   ", None, "\x00"])
def test_a_reason_is_required(project, case, reason):
    with pytest.raises(QuarantineError, match="a reason is required"):
        quarantine_case(project, case, reason, "ana", now=NOW)
    assert active_quarantines(project, NOW) == []


def test_a_reason_has_a_limit(project, case):
    with pytest.raises(QuarantineError, match="too long"):
        quarantine_case(project, case, "x" * (MAX_REASON_CHARS + 1), "ana", now=NOW)
    quarantine_case(project, case, "x" * MAX_REASON_CHARS, "ana", now=NOW)


@pytest.mark.parametrize(
    ("expires_at", "message"),
    [
        (NOW, "in the future"),
        (NOW - timedelta(days=1), "in the future"),
        (datetime(2030, 1, 1), "time zone"),  # naive on purpose
    ],
)
def test_expiry_must_be_a_future_aware_moment(project, case, expires_at, message):
    with pytest.raises(QuarantineError, match=message):
        quarantine_case(project, case, "r", "ana", expires_at, now=NOW)


def test_a_case_is_quarantined_once_at_a_time(project, case):
    quarantine_case(project, case, "r", "ana", NOW + timedelta(days=1), now=NOW)
    with pytest.raises(AlreadyQuarantined):
        quarantine_case(project, case, "again", "bo", now=NOW)
    # Once the first has expired, a new quarantine is fine.
    later = NOW + timedelta(days=2)
    quarantine_case(project, case, "again", "bo", now=later)
    assert [q.reason for q in active_quarantines(project, later)] == ["again"]


def test_another_projects_case_is_refused(project):
    foreign = CaseFactory(project=ProjectFactory())
    with pytest.raises(UnknownCase):
        quarantine_case(project, foreign, "r", "ana", now=NOW)


# --- lift_quarantine ------------------------------------------------------------------


def test_lift_ends_the_quarantine(project, case):
    quarantine_case(project, case, "r", "ana", now=NOW)
    lifted = lift_quarantine(project, case, now=NOW + timedelta(hours=1))
    assert lifted.lifted_at == NOW + timedelta(hours=1)
    assert active_quarantines(project, NOW + timedelta(hours=2)) == []


def test_lifting_an_unquarantined_case_is_refused(project, case):
    with pytest.raises(NotQuarantined):
        lift_quarantine(project, case, now=NOW)


def test_lifting_also_closes_an_expired_quarantine(project, case):
    QuarantineFactory(case=case, created_at=NOW - timedelta(days=9), expires_at=NOW)
    assert len(expired_quarantines(project, NOW)) == 1
    lift_quarantine(project, case, now=NOW)
    assert expired_quarantines(project, NOW) == []


# --- listing --------------------------------------------------------------------------


def test_active_and_expired_lists(project):
    def quarantine(name: str, **fields):
        return QuarantineFactory(case=CaseFactory(project=project, name=name), **fields)

    forever = quarantine("forever", created_at=NOW - timedelta(days=3))
    later = quarantine("later", created_at=NOW - timedelta(days=2), expires_at=NOW + timedelta(1))
    expired = quarantine("expired", expires_at=NOW - timedelta(seconds=1))
    quarantine("lifted", lifted_at=NOW - timedelta(days=1))
    quarantine("lifted_expired", expires_at=NOW - timedelta(days=1), lifted_at=NOW)
    QuarantineFactory(case=CaseFactory(project=ProjectFactory()))  # another project's
    assert active_quarantines(project, NOW) == [forever, later]
    assert expired_quarantines(project, NOW) == [expired]
    assert forever.case.name == "forever"  # the case is loaded with it


def test_an_expiry_at_now_is_expired(project, case):
    entry = QuarantineFactory(case=case, expires_at=NOW)
    assert active_quarantines(project, NOW) == []
    assert expired_quarantines(project, NOW) == [entry]


# --- find_case ------------------------------------------------------------------------


def test_find_case_by_id_or_identity(project, case):
    assert find_case(project, case_id=case.id) is case
    assert find_case(project, file=case.file, classname=case.classname, name=case.name) is case


def test_find_case_without_a_classname_by_its_suite(project):
    from dashboard.models import Case

    fields = {"file": "spec.js", "classname": "", "name": "works"}
    first, second = (
        CaseFactory(project=project, suite=suite, **fields) for suite in ("unit", "e2e")
    )
    assert first.identity == Case.identity_of("spec.js", "", "works", "unit")
    assert find_case(project, suite="unit", **fields) is first
    assert find_case(project, suite="e2e", **fields) is second


@pytest.mark.parametrize("case_id", [0, -1, 999_999, 2**31, 2**63])
def test_find_case_with_an_unknown_id(project, case_id):
    with pytest.raises(UnknownCase):
        find_case(project, case_id=case_id)


def test_find_case_refuses_other_projects_and_unknown_names(project, case):
    other = ProjectFactory()
    with pytest.raises(UnknownCase):
        find_case(other, case_id=case.id)
    with pytest.raises(UnknownCase, match=r"tests/test_a\.py::test_missing"):
        find_case(project, file="tests/test_a.py", name="test_missing")
    with pytest.raises(QuarantineError, match="identify the case"):
        find_case(project, file="tests/test_a.py")


# --- parse_expiry ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),
        (None, None),
        ("2026-11-30", datetime(2026, 12, 1, tzinfo=UTC)),  # the end of that day
        ("2026-11-30T10:00:00", datetime(2026, 11, 30, 10, tzinfo=UTC)),
        ("2026-11-30T10:00:00+02:00", datetime(2026, 11, 30, 8, tzinfo=UTC)),
        ("2026-11-30T10:00:00Z", datetime(2026, 11, 30, 10, tzinfo=UTC)),
    ],
)
def test_parse_expiry(text, expected):
    parsed = parse_expiry(text)
    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["next tuesday", "2026-13-01", "9999-12-31"])
def test_parse_expiry_refuses_what_it_cannot_read(text):
    with pytest.raises(QuarantineError, match="cannot read the expiry"):
        parse_expiry(text)


# --- pytest node ids ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "classname", "name", "node_id"),
    [
        # pytest xunit1: the file, and the dotted module + classes as classname
        ("tests/test_api.py", "tests.test_api.TestX", "test_a", "tests/test_api.py::TestX::test_a"),
        ("tests/test_api.py", "tests.test_api", "test_a", "tests/test_api.py::test_a"),
        (
            "tests/test_api.py",
            "tests.test_api.TestX.TestNested",
            "test_a[1-2]",
            "tests/test_api.py::TestX::TestNested::test_a[1-2]",
        ),
        # a report written from another rootdir: only a suffix of the module shows
        (
            "src/tests/test_api.py",
            "tests.test_api.TestX",
            "test_a",
            "src/tests/test_api.py::TestX::test_a",
        ),
        ("src/MyPkg/test_api.py", "MyPkg.test_api.TestX", "t", "src/MyPkg/test_api.py::TestX::t"),
        # a class named outside pytest's Test* convention (python_classes)
        ("tests/test_api.py", "tests.test_api.checks", "t", "tests/test_api.py::checks::t"),
        # classname unrelated to the file: the class-looking parts are kept
        ("tests/test_api.py", "suite.TestX", "test_a", "tests/test_api.py::TestX::test_a"),
        ("test_top.py", "", "test_a", "test_top.py::test_a"),
        # pytest xunit2 has no file: the module ends before the first capitalised part
        ("", "tests.test_api.TestX", "test_a", "tests/test_api.py::TestX::test_a"),
        ("", "tests.test_api", "test_a", "tests/test_api.py::test_a"),
        ("", "", "test_a", "test_a"),
        # not Python: the classname's parts, as given
        ("src/App.test.js", "App renders", "works", "src/App.test.js::App renders::works"),
        # one node id per line, always
        ("t.py", "t", "test\nwith a break", "t.py::test with a break"),
    ],
)
def test_pytest_node_id(file, classname, name, node_id):
    assert pytest_node_id(file, classname, name) == node_id


def test_display_line_is_one_line(project):
    case = CaseFactory(project=project, classname="a.B", name="test\r\nx")
    assert display_line(case) == "a.B::test x"
