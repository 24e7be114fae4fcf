"""Conformance over the shared corpus of real JUnit files (``../shared/corpus/junit``).

``MANIFEST.tsv`` says, for each file, how many ``<testcase>`` elements it holds
(or that it is malformed). Every file goes through ``detect_and_parse``, the
entry point uploads use, and must parse, or be refused, as the manifest says.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.detect import detect_and_parse
from ingest.errors import EmptyReport, ForbiddenXml, MalformedReport, UnsupportedFormat
from ingest.records import ParsedCase, ParsedTestReport
from ingest.xmlsafe import parse_xml

pytestmark = pytest.mark.corpus

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
if not (CORPUS / "MANIFEST.tsv").is_file():
    pytest.skip(
        f"shared corpus not found at {CORPUS}: conformance runs in CI, "
        "where ../shared is laid beside the clone",
        allow_module_level=True,
    )

RETRY_ELEMENTS = {"flakyFailure", "flakyError", "rerunFailure", "rerunError", "rerun"}


def junit_rows() -> list[dict[str, str]]:
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as manifest:
        rows = csv.DictReader(manifest, delimiter="\t")
        return [row for row in rows if row["local_path"].startswith("junit/")]


ROWS = junit_rows()


def read(local_path: str) -> ParsedTestReport:
    path = CORPUS / local_path
    report = detect_and_parse(path.read_bytes(), path.name)
    assert isinstance(report, ParsedTestReport)
    return report


def identity(case: ParsedCase) -> tuple[str, ...]:
    """What makes two cases one: class and file, or the suite when there is no class."""
    if case.classname:
        return (case.file, case.classname, case.name)
    return (case.file, "", case.name, case.suite)


def retry_elements(data: bytes) -> int:
    """Retry attempts written inside test cases, counted independently of the parser."""
    root = parse_xml(data)
    return sum(1 for case in root.iter("testcase") for child in case if child.tag in RETRY_ELEMENTS)


def by_name(report: ParsedTestReport) -> dict[str, ParsedCase]:
    return {case.name: case for case in report.cases}


def test_the_manifest_lists_every_junit_file() -> None:
    listed = {row["local_path"] for row in ROWS}
    on_disk = {
        str(path.relative_to(CORPUS)) for path in (CORPUS / "junit").rglob("*") if path.is_file()
    }
    assert listed == on_disk


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row["local_path"])
def test_corpus_file_parses_as_the_manifest_says(row: dict[str, str]) -> None:
    path = CORPUS / row["local_path"]
    data = path.read_bytes()
    expected = row["cases"]
    if row["local_path"].startswith("junit/non-junit/"):
        refusal: type[Exception] = UnsupportedFormat
    elif expected == "malformed":
        # The XXE probe is malformed too, but it is its entity declaration we refuse.
        refusal = ForbiddenXml if b"<!ENTITY" in data else MalformedReport
    elif expected == "0":
        refusal = EmptyReport
    else:
        assert_cases_accounted_for(read(row["local_path"]), data, int(expected))
        return
    with pytest.raises(refusal) as caught:
        detect_and_parse(data, path.name)
    assert type(caught.value) is refusal
    assert caught.value.filename == path.name


def assert_cases_accounted_for(report: ParsedTestReport, data: bytes, testcases: int) -> None:
    """Every ``<testcase>`` is one attempt of one case; repeats merge, nothing is lost.

    A case's attempts are its reports plus the retries written inside them, so
    the attempts of all cases add up to the manifest's count plus those retries.
    """
    identities = [identity(case) for case in report.cases]
    assert len(set(identities)) == len(identities), "a repeated case was not merged"
    assert sum(case.attempts for case in report.cases) == testcases + retry_elements(data)
    assert len(report.cases) <= testcases
    for case in report.cases:
        assert case.name or case.classname, "a case with neither name nor class"
        assert case.duration_s >= 0


# --- Spot checks on files whose shape matters ----------------------------------------------


def test_surefire_flaky_failure_is_a_passed_retry_flake() -> None:
    (case,) = read("junit/maven-surefire/mikepenz__surefire-report.xml").cases
    assert (case.outcome, case.retry_flake, case.attempts) == ("passed", True, 2)
    assert case.failure_type == "java.lang.AssertionError"
    assert case.message is not None
    assert case.message.startswith("Expected: <false>")


@pytest.mark.parametrize(
    ("local_path", "outcome", "attempts"),
    [
        ("junit/maven-surefire/jenkins__TEST-io.olamy.AlwaysFailTest.xml", "failed", 4),
        ("junit/maven-surefire/ctrf__test-surefire-retry.xml", "failed", 3),
        ("junit/maven-surefire/allure2__TEST-test.RetryTest.xml", "error", 3),
    ],
)
def test_rerun_failures_count_attempts_of_a_failed_case(
    local_path: str, outcome: str, attempts: int
) -> None:
    (case,) = read(local_path).cases
    assert (case.outcome, case.attempts, case.retry_flake) == (outcome, attempts, False)


def test_flaky_failures_among_plain_passes() -> None:
    cases = by_name(read("junit/edge-cases/mikepenz__mixed_flaky_and_passed.xml"))
    assert (cases["testFlaky"].retry_flake, cases["testFlaky"].attempts) == (True, 2)
    assert not cases["testPassed"].retry_flake


def test_gotestsum_rerun_of_a_failed_test_is_a_retry_flake() -> None:
    cases = by_name(read("junit/gotestsum/mikepenz__report.xml"))
    rerun = cases["TestWebSocketReconnectRace"]
    assert (rerun.outcome, rerun.attempts, rerun.retry_flake) == ("passed", 2, True)


def test_repeated_cases_merge_by_class_and_file() -> None:
    report = read("junit/edge-cases/mikepenz__flaky_with_classname_file.xml")
    merged = [case for case in report.cases if case.classname == "test_foo.TestFoo"]
    assert [(c.outcome, c.attempts, c.retry_flake) for c in merged] == [("passed", 3, True)]
    assert merged[0].file == "/home/runner/work/foo/bar/test_foo.py"
    assert len(report.cases) == 3


def test_repeats_that_never_pass_keep_the_worst_outcome() -> None:
    (case,) = read("junit/edge-cases/mikepenz__flaky_all_failures.xml").cases
    assert (case.outcome, case.attempts, case.retry_flake, case.message) == (
        "error",
        3,
        False,
        "third error",
    )


def test_several_results_in_one_case_take_the_worst() -> None:
    cases = by_name(read("junit/edge-cases/enricomi__junit.multiresult.xml"))
    assert {name: case.outcome for name, case in cases.items()} == {
        "test that errors": "error",
        "test that fails": "failed",
        "test that is skipped": "skipped",
        "test that succeeds": "passed",
    }


def test_status_disabled_without_a_result_element_is_skipped() -> None:
    report = read("junit/tst/enricomi__disabled.xml")
    assert sum(case.outcome == "skipped" for case in report.cases) == 5


def test_negative_time_is_zero_with_a_warning() -> None:
    report = read("junit/edge-cases/jenkins__junit-report-bad-duration.xml")
    (case,) = report.cases
    assert (case.attempts, case.duration_s) == (2, 100.0)
    assert any(w.startswith("negative time read as 0") for w in report.warnings)


def test_various_timestamp_formats_give_the_earliest_in_utc() -> None:
    report = read("junit/edge-cases/jenkins__junit-report-testsuite-various-timestamps.xml")
    assert report.timestamp == datetime(2024, 1, 3, tzinfo=UTC)
    assert not any("timestamp" in w for w in report.warnings)


def test_testng_utc_suffix_timestamp() -> None:
    report = read("junit/testng/dorny__TEST-org.apache.pulsar.AddMissingPatchVersionTest.xml")
    assert report.timestamp == datetime(2021, 3, 7, 10, 36, 56, tzinfo=UTC)


def test_cypress_suites_take_the_spec_file_of_their_root_suite() -> None:
    files = {case.file for case in read("junit/cypress/captain__cypress.xml").cases}
    assert files == {"cypress/e2e/todo-one.cy.js", "cypress/e2e/todo-two.cy.js"}


def test_codeception_data_provider_examples_are_distinct_cases() -> None:
    report = read("junit/codeception/testomatio__codecept.xml")
    examples = [c for c in report.cases if c.name.startswith("runHtmlCheckReport | ")]
    assert len(examples) == 13
    assert all(case.attempts == 1 for case in examples)


def test_xml_entities_in_names_and_messages_are_decoded() -> None:
    cases = by_name(read("junit/edge-cases/enricomi__with-xml-entities.xml"))
    ampersand = cases["Test with & in the test name"]
    assert (ampersand.outcome, ampersand.message) == ("error", "A message with &")
    assert 'Test with "quotes" in the test name' in cases


def test_a_class_that_failed_to_load_is_named_in_the_empty_report_refusal() -> None:
    with pytest.raises(EmptyReport, match=r"reports an <error>: gda/device/detector/DAServer"):
        read("junit/edge-cases/jenkins__junit-report-6700.xml")


def test_nanosecond_times_are_not_taken_for_seconds() -> None:
    report = read("junit/container-structure-test/mikepenz__test.xml")
    assert max(case.duration_s for case in report.cases) == 0.0
    assert any("implausible time" in w for w in report.warnings)
