"""ingest.junit: one fixture per producer (snapshots), both parse paths, and each rule.

Every report built here goes through both drivers (``parse_junit`` streams the
bytes, ``parse_junit_root`` replays a parsed tree) and must come out the same.
"""

from __future__ import annotations

import gc
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.errors import EmptyReport, ForbiddenXml, MalformedReport, UnsupportedFormat
from ingest.junit import parse_junit, parse_junit_root
from ingest.records import (
    MAX_FAILURE_TYPE_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_NAME_CHARS,
    MAX_TRACE_CHARS,
    ParsedCase,
    ParsedTestReport,
)
from ingest.xmlsafe import parse_xml
from tests.snapshot import assert_matches_snapshot

JUNIT_DATA = Path(__file__).parents[1] / "data" / "junit"
FIXTURES = sorted(JUNIT_DATA.glob("*.xml"))


def parse_both(data: bytes) -> ParsedTestReport:
    """Parse through both drivers and insist they agree."""
    streamed = parse_junit(data)
    assert parse_junit_root(parse_xml(data)) == streamed
    return streamed


def parse(xml: str) -> ParsedTestReport:
    return parse_both(xml.encode())


def cases_of(xml: str) -> dict[str, ParsedCase]:
    return {case.name: case for case in parse(xml).cases}


def suite(*cases: str, attrs: str = 'name="S"') -> str:
    return f"<testsuites><testsuite {attrs}>{''.join(cases)}</testsuite></testsuites>"


def warning_about(report: ParsedTestReport, words: str) -> str:
    found = [w for w in report.warnings if words in w]
    assert found, f"no warning about {words!r} in {report.warnings}"
    return found[0]


# --- Fixtures: one per producer ------------------------------------------------------------


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_fixture_matches_its_snapshot(request: pytest.FixtureRequest, path: Path) -> None:
    assert_matches_snapshot(request, f"junit__{path.stem}", parse_junit(path.read_bytes()))


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_streaming_and_tree_paths_agree_on_every_fixture(path: Path) -> None:
    data = path.read_bytes()
    assert parse_junit(data) == parse_junit_root(parse_xml(data))


DIALECTS = {
    "android": "android",
    "ant": "ant",
    "bazel": "bazel",
    "catch2": "catch2",
    "codeception": "codeception",
    "ctest": "ctest",
    "cucumber": "cucumber",
    "cypress": "cypress",
    "dotnet_junitxml": "dotnet",
    "edge_bom_crlf": "generic",
    "failsafe": "surefire",
    "go_junit_report": "go",
    "googletest": "googletest",
    "gotestsum": "go",
    "gradle": "gradle",
    "jest": "jest",
    "karma": "karma",
    "minitest": "minitest",
    "mocha": "mocha",
    "nextest": "nextest",
    "phpunit": "phpunit",
    "playwright": "playwright",
    "pytest_rerun": "pytest",
    "pytest_xunit1": "pytest",
    "pytest_xunit2": "pytest",
    "robot": "robot",
    "rspec": "rspec",
    "surefire": "surefire",
    "testng": "testng",
    "vitest": "vitest",
    "xctest": "xctest",
}


def test_every_fixture_has_an_expected_dialect() -> None:
    assert sorted(DIALECTS) == [path.stem for path in FIXTURES]


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_dialect_is_recognised(path: Path) -> None:
    assert parse_junit(path.read_bytes()).dialect == DIALECTS[path.stem]


# --- Structure -----------------------------------------------------------------------------


def test_bare_testsuite_root() -> None:
    report = parse('<testsuite name="Only"><testcase classname="C" name="t" time="1"/></testsuite>')
    assert [(c.suite, c.classname, c.name) for c in report.cases] == [("Only", "C", "t")]


def test_suites_nest_to_any_depth_and_cases_name_their_innermost_suite() -> None:
    xml = (
        '<testsuites><testsuite name="a"><testcase name="in-a"/>'
        '<testsuite name="b"><testsuite name="c"><testsuite name="d"><testcase name="in-d"/>'
        '</testsuite></testsuite><testcase name="in-b"/></testsuite></testsuite></testsuites>'
    )
    assert {name: case.suite for name, case in cases_of(xml).items()} == {
        "in-a": "a",
        "in-d": "d",
        "in-b": "b",
    }


def test_missing_time_classname_and_suite_name_are_tolerated() -> None:
    case = parse("<testsuites><testsuite><testcase name='bare'/></testsuite></testsuites>").cases[0]
    assert (case.classname, case.suite, case.file, case.duration_s) == ("", "", "", 0.0)


def test_a_case_directly_under_testsuites_has_no_suite() -> None:
    assert parse('<testsuites><testcase name="t"/></testsuites>').cases[0].suite == ""


def test_cases_outside_a_suite_element_are_not_read() -> None:
    xml = suite('<testcase name="kept"/><group><testcase name="hidden"/></group>')
    report = parse(xml)
    assert [c.name for c in report.cases] == ["kept"]
    assert "unknown element <group> ignored" in warning_about(report, "<group>")


def test_bom_crlf_cdata_output_and_properties_are_read() -> None:
    report = parse_both((JUNIT_DATA / "edge_bom_crlf.xml").read_bytes())
    failing = report.cases[1]
    assert (failing.outcome, failing.message) == ("failed", "expected C:\\ but got D:\\")
    assert failing.trace is not None
    assert "\r" not in failing.trace
    assert report.warnings == []


def test_classname_falls_back_to_the_class_attribute() -> None:
    assert parse(suite('<testcase class="Cest" name="t"/>')).cases[0].classname == "Cest"


def test_codeception_examples_stay_distinct_cases() -> None:
    xml = suite(
        '<testcase class="PayCest" name="pay" feature="pay | &quot;visa&quot;"/>',
        '<testcase class="PayCest" name="pay" feature="pay | &quot;amex&quot;">'
        "<failure/></testcase>",
    )
    assert {n: c.outcome for n, c in cases_of(xml).items()} == {
        'pay | "visa"': "passed",
        'pay | "amex"': "failed",
    }


# --- Files ---------------------------------------------------------------------------------


def test_file_comes_from_the_case_else_the_enclosing_suite() -> None:
    xml = (
        '<testsuites><testsuite name="outer" file="tests/OuterTest.php">'
        '<testcase name="own" file="tests/Own.php"/><testcase name="inherits"/>'
        '<testsuite name="inner"><testcase name="nested"/></testsuite>'
        "</testsuite></testsuites>"
    )
    assert {n: c.file for n, c in cases_of(xml).items()} == {
        "own": "tests/Own.php",
        "inherits": "tests/OuterTest.php",
        "nested": "tests/OuterTest.php",
    }


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("./spec/cart_spec.rb", "spec/cart_spec.rb"),
        ("././spec/cart_spec.rb", "spec/cart_spec.rb"),
        ("src\\Shop\\CartTest.cs", "src/Shop/CartTest.cs"),
        ("test/cart_test.exs:12", "test/cart_test.exs"),
        ("C:\\a\\Shop.Tests.dll", "C:/a/Shop.Tests.dll"),
    ],
)
def test_file_paths_are_normalised(written: str, stored: str) -> None:
    assert parse(suite(f'<testcase name="t" file="{written}"/>')).cases[0].file == stored


def test_flat_top_level_suites_follow_the_last_file_named_like_mocha_writes_them() -> None:
    xml = (
        '<testsuites><testsuite name="Root Suite" file="e2e/a.cy.ts"/>'
        '<testsuite name="a"><testcase name="first"/></testsuite>'
        '<testsuite name="Root Suite" file="e2e/b.cy.ts"/>'
        '<testsuite name="b"><testcase name="second"/></testsuite></testsuites>'
    )
    assert {n: c.file for n, c in cases_of(xml).items()} == {
        "first": "e2e/a.cy.ts",
        "second": "e2e/b.cy.ts",
    }


# --- Outcomes and details ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "outcome"),
    [
        ("", "passed"),
        ("<system-out>ok</system-out><properties/>", "passed"),
        ("<failure/>", "failed"),
        ("<error/>", "error"),
        ("<skipped/>", "skipped"),
        ("<skipped></skipped>", "skipped"),
        ('<skipped type="pytest.skip" message="slow">t.py:3: slow</skipped>', "skipped"),
        ("<skipped/><failure/>", "failed"),
        ("<failure/><error/><skipped/>", "error"),
    ],
)
def test_outcome_follows_the_result_elements(body: str, outcome: str) -> None:
    assert parse(suite(f'<testcase name="t">{body}</testcase>')).cases[0].outcome == outcome


@pytest.mark.parametrize(
    ("status", "outcome"),
    [("run", "passed"), ("notrun", "skipped"), ("disabled", "skipped"), ("errored", "error")],
)
def test_status_attribute_decides_only_without_result_elements(status: str, outcome: str) -> None:
    cases = cases_of(
        suite(
            f'<testcase name="alone" status="{status}"/>',
            f'<testcase name="with-failure" status="{status}"><failure/></testcase>',
        )
    )
    assert (cases["alone"].outcome, cases["with-failure"].outcome) == (outcome, "failed")


def test_message_type_and_trace_come_from_the_result_element() -> None:
    case = parse(
        suite(
            '<testcase name="t"><failure message="boom" type="AssertionError">'
            "Traceback (most recent call last):\n  File x\nAssertionError: boom"
            "</failure></testcase>"
        )
    ).cases[0]
    assert (case.failure_type, case.message) == ("AssertionError", "boom")
    assert case.trace == "Traceback (most recent call last):\n  File x\nAssertionError: boom"


def test_message_falls_back_to_the_first_line_of_the_text() -> None:
    case = parse(
        suite(
            '<testcase name="t"><failure type="">\n\n  Error: nope\n  at x.js:1'
            "</failure></testcase>"
        )
    ).cases[0]
    assert (case.message, case.failure_type) == ("Error: nope", None)


def test_a_result_without_message_or_text_has_no_details() -> None:
    case = parse(suite('<testcase name="t"><failure/></testcase>')).cases[0]
    assert (case.message, case.trace, case.failure_type) == (None, None, None)


def test_several_failures_make_one_failed_result_with_messages_joined() -> None:
    case = parse(
        suite(
            '<testcase name="t"><failure message="first" type="A">one</failure>'
            '<failure message="second" type="B">two</failure>'
            '<failure message="first">three</failure></testcase>'
        )
    ).cases[0]
    assert (case.outcome, case.attempts) == ("failed", 1)
    assert case.message == "first\nsecond"
    assert case.trace == "one\n\ntwo\n\nthree"
    assert case.failure_type == "A"


def test_long_message_trace_and_type_are_cut_with_a_visible_marker() -> None:
    message = "m" * (MAX_MESSAGE_CHARS * 2)
    trace = "HEAD" + "t" * (MAX_TRACE_CHARS * 2) + "TAIL"
    failure_type = "T" * (MAX_FAILURE_TYPE_CHARS + 50)
    failure = f'<failure message="{message}" type="{failure_type}">{trace}</failure>'
    case = parse(suite(f'<testcase name="t">{failure}</testcase>')).cases[0]
    for value, limit in (
        (case.message, MAX_MESSAGE_CHARS),
        (case.failure_type, MAX_FAILURE_TYPE_CHARS),
        (case.trace, MAX_TRACE_CHARS),
    ):
        assert value is not None
        assert len(value) <= limit
        assert "characters cut" in value
    # Traces keep their end: that is where Python puts the error.
    assert case.trace.startswith("HEAD")
    assert case.trace.endswith("TAIL")


def test_times_and_counts_written_oddly() -> None:
    report = parse(
        suite(
            '<testcase name="negative" time="-345345"/>',
            '<testcase name="thousands" time="1,234.5"/>',
            '<testcase name="garbage" time="soon"/>',
            '<testcase name="exponent" time="1E-07"/>',
            '<testcase name="nanoseconds" time="999638317"/>',
            attrs='name="S" tests="9"',
        )
    )
    durations = {case.name: case.duration_s for case in report.cases}
    assert durations == {
        "negative": 0.0,
        "thousands": 1234.5,
        "garbage": 0.0,
        "exponent": 1e-07,
        "nanoseconds": 0.0,
    }
    assert "'-345345'" in warning_about(report, "negative time read as 0")
    assert "'soon'" in warning_about(report, "unreadable time read as 0")
    assert warning_about(report, "implausible time")
    assert "tests=9" in warning_about(report, "stated counts disagree")


# --- Retries and repeated cases ------------------------------------------------------------


def test_surefire_flaky_failures_make_a_passed_retry_flake() -> None:
    case = parse(
        suite(
            '<testcase name="t"><flakyFailure message="timeout" type="TimeoutException">'
            "<stackTrace>TimeoutException\n\tat X.java:1</stackTrace></flakyFailure>"
            '<flakyError message="reset"/></testcase>'
        )
    ).cases[0]
    assert (case.outcome, case.attempts, case.retry_flake) == ("passed", 3, True)
    assert (case.message, case.failure_type) == ("timeout\nreset", "TimeoutException")
    assert case.trace == "TimeoutException\n\tat X.java:1"


def test_rerun_failures_count_attempts_of_a_case_that_never_passed() -> None:
    case = parse(
        suite(
            '<testcase name="t"><error message="final"/>'
            '<rerunFailure message="again"/><rerunError message="and again"/></testcase>'
        )
    ).cases[0]
    assert (case.outcome, case.attempts, case.retry_flake, case.message) == (
        "error",
        3,
        False,
        "final",
    )


def test_pytest_reruns_before_a_pass_make_a_retry_flake() -> None:
    cases = cases_of(
        suite(
            '<testcase name="flaky"><rerun message="reset">trace</rerun></testcase>',
            '<testcase name="broken"><rerun/><rerun/><failure message="still"/></testcase>',
        )
    )
    flaky, broken = cases["flaky"], cases["broken"]
    assert (flaky.outcome, flaky.attempts, flaky.retry_flake, flaky.message) == (
        "passed",
        2,
        True,
        "reset",
    )
    assert (broken.outcome, broken.attempts, broken.retry_flake) == ("failed", 3, False)


def test_a_case_reported_twice_with_a_fail_then_a_pass_is_one_retry_flake() -> None:
    report = parse(
        suite(
            '<testcase classname="C" name="t" time="0.3"><failure message="reset"/></testcase>',
            '<testcase classname="C" name="other" time="1"/>',
            '<testcase classname="C" name="t" time="0.1"/>',
        )
    )
    case = report.cases[0]
    assert [c.name for c in report.cases] == ["t", "other"]
    assert (case.outcome, case.attempts, case.retry_flake, case.message) == (
        "passed",
        2,
        True,
        "reset",
    )
    assert case.duration_s == pytest.approx(0.4)
    assert "'C.t'" in warning_about(report, "reported more than once")


@pytest.mark.parametrize(
    ("bodies", "outcome"),
    [
        (["<skipped/>", "<skipped/>"], "skipped"),
        (["", ""], "passed"),
        (["<skipped/>", ""], "passed"),
        (["<failure/>", "<error/>", "<failure/>"], "error"),
        (["<failure/>", "<skipped/>"], "failed"),
    ],
)
def test_repeated_cases_without_a_pass_and_a_fail_keep_the_worst_outcome(
    bodies: list[str], outcome: str
) -> None:
    report = parse(suite(*(f'<testcase classname="C" name="t">{b}</testcase>' for b in bodies)))
    (case,) = report.cases
    assert (case.outcome, case.attempts, case.retry_flake) == (outcome, len(bodies), False)


def test_a_merged_case_keeps_the_details_of_its_outcome() -> None:
    case = parse(
        suite(
            '<testcase classname="C" name="t"><failure message="first failure"/></testcase>',
            '<testcase classname="C" name="t"><error message="the error"/></testcase>',
        )
    ).cases[0]
    assert (case.outcome, case.message) == ("error", "the error")


def test_merging_counts_retries_inside_each_report() -> None:
    case = parse(
        suite(
            '<testcase classname="C" name="t"><failure/><rerunFailure/></testcase>',
            '<testcase classname="C" name="t"><flakyFailure/></testcase>',
        )
    ).cases[0]
    assert (case.outcome, case.attempts, case.retry_flake) == ("passed", 4, True)


def test_same_name_in_another_class_or_file_is_another_case() -> None:
    report = parse(
        suite(
            '<testcase classname="A" name="t"/>',
            '<testcase classname="B" name="t"/>',
            '<testcase classname="A" name="t" file="other.py"/>',
        )
    )
    assert len(report.cases) == 3


def test_anonymous_classes_are_told_apart_by_their_suite() -> None:
    xml = (
        '<testsuites><testsuite name="TestA"><testcase name="A"><failure/></testcase></testsuite>'
        '<testsuite name="TestB"><testcase name="A"/></testsuite></testsuites>'
    )
    report = parse(xml)
    assert [(c.suite, c.outcome, c.retry_flake) for c in report.cases] == [
        ("TestA", "failed", False),
        ("TestB", "passed", False),
    ]


def test_cases_without_a_name_are_named_by_position_not_merged() -> None:
    report = parse(suite("<testcase/>", '<testcase time="1"><failure/></testcase>'))
    assert [(c.name, c.outcome, c.attempts) for c in report.cases] == [
        ("(unnamed test 1)", "passed", 1),
        ("(unnamed test 2)", "failed", 1),
    ]
    assert "#1 (and 1 more)" in warning_about(report, "without a name")


# --- Names ---------------------------------------------------------------------------------


def test_names_are_kept_as_written() -> None:
    name = "test_ünïcode[param with spaces-1.5-None] \u203a nested &amp; quoted &quot;x&quot;"
    expected = 'test_ünïcode[param with spaces-1.5-None] \u203a nested & quoted "x"'
    assert parse(suite(f'<testcase classname="a&amp;b" name="{name}"/>')).cases[0].name == expected


def test_long_identities_keep_a_prefix_and_a_hash_of_the_whole() -> None:
    long_a, long_b = "x" * 1500 + "a", "x" * 1500 + "b"
    report = parse(
        suite(
            f'<testcase classname="{long_a}" name="{long_a}" file="{long_a}"/>',
            f'<testcase classname="C" name="{long_b}"/>',
        )
    )
    first, second = report.cases
    for value in (first.name, first.classname, first.file, second.name):
        assert len(value) == MAX_NAME_CHARS
    assert first.name != second.name
    assert first.name.startswith("x" * 900)
    assert first.name.endswith("…#" + hashlib.sha256(long_a.encode()).hexdigest()[:16])
    assert first.classname == first.name


def test_carriage_returns_are_cleaned_from_names_and_messages() -> None:
    case = parse(
        suite(
            '<testcase name="a&#13;b">'
            '<failure message="one&#13;&#10;two">x&#13;y</failure></testcase>'
        )
    ).cases[0]
    assert (case.name, case.message, case.trace) == ("ab", "one\ntwo", "x\ny")


@pytest.mark.parametrize("reference", ["&#0;", "&#1;", "&#x1b;", "&#x1F;"])
def test_control_character_references_are_refused_by_the_parser(reference: str) -> None:
    with pytest.raises(MalformedReport) as caught:
        parse_junit(suite(f'<testcase name="a{reference}b"/>').encode())
    assert caught.value.line == 1
    assert caught.value.column is not None


# --- Timestamps and wall time --------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2024-03-05T14:22:31", datetime(2024, 3, 5, 14, 22, 31, tzinfo=UTC)),
        ("2024-03-05T14:22:31.5+02:00", datetime(2024, 3, 5, 12, 22, 31, 500000, tzinfo=UTC)),
        ("2024-03-05T14:22:31 UTC", datetime(2024, 3, 5, 14, 22, 31, tzinfo=UTC)),
        ("2024-03-05T 14:22:31Z", datetime(2024, 3, 5, 14, 22, 31, tzinfo=UTC)),
        ("2024-03-05 14:22:31Z", datetime(2024, 3, 5, 14, 22, 31, tzinfo=UTC)),
        ("2024-03-05T14:22:31.123456789Z", datetime(2024, 3, 5, 14, 22, 31, 123456, tzinfo=UTC)),
        ("Tue, 05 Mar 2024 14:22:31 GMT", datetime(2024, 3, 5, 14, 22, 31, tzinfo=UTC)),
    ],
)
def test_timestamps_are_read_tolerantly_as_utc(written: str, expected: datetime) -> None:
    report = parse(suite('<testcase name="t"/>', attrs=f'name="S" timestamp="{written}"'))
    assert report.timestamp == expected
    assert report.warnings == []


def test_the_earliest_suite_timestamp_wins() -> None:
    xml = (
        '<testsuites><testsuite name="late" timestamp="2024-03-05T15:00:00Z"><testcase name="a"/>'
        '</testsuite><testsuite name="early" timestamp="2024-03-05T16:00:00+02:00">'
        '<testcase name="b"/></testsuite></testsuites>'
    )
    assert parse(xml).timestamp == datetime(2024, 3, 5, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("written", "warning"),
    [
        ("yesterday", "unreadable timestamp ignored"),
        ("1970-01-01T00:00:00", "placeholder timestamp ignored"),
        ("0001-01-01T00:00:00Z", "placeholder timestamp ignored"),
    ],
)
def test_unusable_timestamps_are_ignored_with_a_warning(written: str, warning: str) -> None:
    report = parse(suite('<testcase name="t"/>', attrs=f'name="S" timestamp="{written}"'))
    assert report.timestamp is None
    assert repr(written) in warning_about(report, warning)


def timed(prefix: str, *seconds: float) -> str:
    """Test cases taking ``seconds``, named ``prefix0``, ``prefix1`` ..."""
    return "".join(f'<testcase name="{prefix}{i}" time="{s}"/>' for i, s in enumerate(seconds))


@pytest.mark.parametrize(
    ("xml", "wall"),
    [
        # The report's own total wins.
        (f'<testsuites time="9"><testsuite time="4">{timed("a", 1)}</testsuite></testsuites>', 9.0),
        # Else the top-level suites' times add up...
        (
            f'<testsuites><testsuite time="4">{timed("a", 1)}</testsuite>'
            f'<testsuite time="5">{timed("b", 1)}</testsuite></testsuites>',
            9.0,
        ),
        # ... a suite without a time counting its cases.
        (
            f'<testsuites><testsuite time="4">{timed("a", 1)}</testsuite>'
            f"<testsuite>{timed('b', 2, 3)}</testsuite></testsuites>",
            9.0,
        ),
        (f"<testsuite>{timed('a', 2, 3)}</testsuite>", 5.0),
        (f'<testsuite time="7"><testsuite time="1">{timed("a", 1)}</testsuite></testsuite>', 7.0),
        (
            f'<testsuites time="oops"><testsuite time="3">{timed("a", 1)}</testsuite></testsuites>',
            3.0,
        ),
    ],
)
def test_wall_seconds(xml: str, wall: float) -> None:
    assert parse(xml).wall_seconds == wall


# --- Warnings ------------------------------------------------------------------------------


def test_unknown_elements_are_ignored_with_a_warning() -> None:
    report = parse(
        suite('<testcase name="t"><attachment>x.png</attachment><failure/></testcase>', "<weird/>")
    )
    assert report.cases[0].outcome == "failed"
    assert "'t'" in warning_about(report, "unknown element <attachment> ignored")
    assert "suite 'S'" in warning_about(report, "unknown element <weird> ignored")


def test_warnings_group_by_kind_and_are_capped() -> None:
    cases = [f'<testcase name="t{i}"><odd{i}/></testcase>' for i in range(30)]
    cases += ['<testcase name="x" time="-1"/>', '<testcase name="y" time="-2"/>']
    report = parse(suite(*cases))
    assert len(report.warnings) == 21
    assert report.warnings[-1] == "and 11 more kinds of warning"
    grouped = parse(suite(*cases[30:]))
    assert grouped.warnings == ["negative time read as 0: testcase 'x': '-1' (and 1 more)"]


# --- Refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "xml",
    [
        "<testsuites/>",
        '<testsuites><testsuite name="empty" tests="0"/></testsuites>',
        "<testsuite><properties/><system-out>nothing ran</system-out></testsuite>",
    ],
)
def test_a_report_without_cases_is_empty(xml: str) -> None:
    for read in (
        lambda: parse_junit(xml.encode()),
        lambda: parse_junit_root(parse_xml(xml.encode())),
    ):
        with pytest.raises(EmptyReport) as caught:
            read()
        assert caught.value.status == 422


def test_an_empty_report_says_what_its_suite_reported() -> None:
    xml = '<testsuite name="pkg.LoadTest"><error message="NoClassDefFoundError: Db"/></testsuite>'
    with pytest.raises(
        EmptyReport, match=r"suite 'pkg\.LoadTest' reports an <error>: NoClassDefFoundError"
    ):
        parse_junit(xml.encode())


@pytest.mark.parametrize(
    ("xml", "root"),
    [
        ('<test-run id="0"><test-suite/></test-run>', "test-run"),
        ('<assemblies><assembly name="a.dll"/></assemblies>', "assemblies"),
        ("<report><testsuite><testcase name='t'/></testsuite></report>", "report"),
        ('<t:testsuites xmlns:t="urn:x"><t:testsuite/></t:testsuites>', "testsuites"),
    ],
)
def test_other_roots_are_not_junit(xml: str, root: str) -> None:
    for read in (
        lambda: parse_junit(xml.encode()),
        lambda: parse_junit_root(parse_xml(xml.encode())),
    ):
        with pytest.raises(
            UnsupportedFormat, match=f"<{root}> is not JUnit XML; we read JUnit XML"
        ) as caught:
            read()
        assert caught.value.status == 415


def test_malformed_xml_is_refused_with_its_position() -> None:
    with pytest.raises(MalformedReport) as caught:
        parse_junit(b'<testsuites>\n<testsuite name="S">\n<testcase name="t">\n</testsuites>')
    assert (caught.value.status, caught.value.line) == (400, 4)
    assert caught.value.column is not None


def test_entity_declarations_are_refused_before_parsing() -> None:
    xml = b'<!DOCTYPE t [<!ENTITY x "y">]><testsuite><testcase name="&x;"/></testsuite>'
    with pytest.raises(ForbiddenXml):
        parse_junit(xml)


def test_parsing_leaves_the_garbage_collector_as_it_found_it() -> None:
    assert gc.isenabled()
    parse_junit(suite('<testcase name="t"/>').encode())
    with pytest.raises(MalformedReport):
        parse_junit(b"<testsuite><testcase></testsuite>")
    assert gc.isenabled()
