"""Property-based tests of every parser: any bytes give a result or our own error.

Three kinds of input, for ``detect_and_parse``, ``parse_junit``, each coverage
parser and ``parse_metadata``:

* arbitrary bytes (``st.binary()``);
* near-valid documents, a valid report of each format mutated: truncated,
  bytes inserted, deleted, duplicated or replaced, a number or quoted value
  (an attribute, a JSON string) swapped for a hostile one;
* generated *valid* JUnit reports, whose counts must survive parsing exactly,
  and survive parse → store → API (``POST /api/v1/uploads``, then
  ``GET /api/v1/projects/<slug>/runs/<id>``).

Anything a parser returns must also be storable: no NUL, no lone surrogate,
every text within its column, counts a database ``INTEGER`` holds.

Runs are bounded (``max_examples`` below, no deadline) and random but
reproducible: a failure prints its ``@reproduce_failure`` blob and is saved
in ``.hypothesis/`` to be replayed first next time; ``--hypothesis-seed=N``
replays a whole run. Crashes found (by these strategies or while writing
them) are kept below as ``@example``s, and in ``test_hostile_input.py`` as
explicit tests.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest.coverage import MAX_COUNT, clover, cobertura, coveragepy, gocover, jacoco, lcov
from ingest.coverage.paths import MAX_PATH_CHARS
from ingest.detect import detect_and_parse
from ingest.errors import IngestError
from ingest.junit import parse_junit
from ingest.metadata import FIELDS, parse_metadata
from ingest.records import (
    MAX_FAILURE_TYPE_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_NAME_CHARS,
    MAX_TRACE_CHARS,
    OUTCOMES,
    ParsedCoverage,
    ParsedTestReport,
)
from tests.dashboard.api.test_uploads import SECRET, auth, post_files
from tests.factories import ApiTokenFactory, ProjectFactory

# Bounded runs: the whole file takes well under 30 s on two cores.
FUZZ = settings(max_examples=200, deadline=None, print_blob=True)
THROUGH_THE_API = settings(
    max_examples=40,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

PARSERS: dict[str, Callable[[bytes], object]] = {
    "detect": lambda data: detect_and_parse(data, "report", limit_bytes=1024 * 1024),
    "junit": parse_junit,
    "cobertura": cobertura.parse,
    "jacoco": jacoco.parse,
    "clover": clover.parse,
    "coveragepy": coveragepy.parse,
    "lcov": lcov.parse,
    "gocover": gocover.parse,
}

# --- What a parser may return ----------------------------------------------------------------


def assert_storable_text(text: str, limit: int) -> None:
    assert len(text) <= limit
    assert "\x00" not in text
    text.encode("utf-8")  # no lone surrogate


def assert_storable(result: object) -> None:
    """A result the store can write as it is."""
    if isinstance(result, ParsedTestReport):
        assert result.cases
        for case in result.cases:
            for text in (case.name, case.classname, case.file, case.suite):
                assert_storable_text(text, MAX_NAME_CHARS)
            for text, limit in (
                (case.message, MAX_MESSAGE_CHARS),
                (case.trace, MAX_TRACE_CHARS),
                (case.failure_type, MAX_FAILURE_TYPE_CHARS),
            ):
                if text is not None:
                    assert_storable_text(text, limit)
            assert case.outcome in OUTCOMES
            assert math.isfinite(case.duration_s)
            assert 0 <= case.duration_s <= 7 * 24 * 3600
            assert case.attempts >= 1
        assert result.timestamp is None or result.timestamp.utcoffset() == timedelta(0)
        assert result.wall_seconds is None or math.isfinite(result.wall_seconds)
    else:
        assert isinstance(result, ParsedCoverage)
        assert result.files
        paths = [f.path for f in result.files]
        assert len(set(paths)) == len(paths)
        for file in result.files:
            assert_storable_text(file.path, MAX_PATH_CHARS)
            assert not re.search(r"[\x00-\x1f\x7f]", file.path)
            assert 0 <= file.lines_covered <= MAX_COUNT
            assert 0 <= file.lines_valid <= MAX_COUNT
            for value in (file.branches_valid, file.branches_covered):
                assert value is None or 0 <= value <= MAX_COUNT
    for warning in result.warnings:
        warning.encode("utf-8")


def parse_or_refuse(parser: str, data: bytes) -> None:
    """The property: a storable result, or an ``IngestError`` with a status; nothing else."""
    try:
        result = PARSERS[parser](data)
    except IngestError as error:
        refusal = error
    else:
        assert_storable(result)
        return
    assert refusal.status in (400, 413, 415, 422)
    assert str(refusal)


# --- Any bytes -------------------------------------------------------------------------------


@pytest.mark.parametrize("parser", list(PARSERS))
@FUZZ
@given(data=st.binary(max_size=2000))
@example(data="SF:a.c\nDA:\u00b2,1\nend_of_record\n".encode())  # int("²"): ValueError
@example(data=b"SF:a.c\nDA:" + b"9" * 5000 + b",1\n")  # int() of 5,000 digits: ValueError
@example(data=b"mode: set\na.go:1.1,2.2 " + b"9" * 5000 + b" 1\n")
@example(data=b'{"meta": {}, "files": ' + b"[" * 5000 + b"]" * 5000 + b"}")  # RecursionError
@example(data=b'{"meta": {}, "files": {"a.py": {"summary": {"num_statements": 1' + b"0" * 5000)
@example(data=b'<testsuite timestamp="9999-12-31T23:59:59-05:00"><testcase name="t"/></testsuite>')
@example(data=b"<?xml version='1.0' encoding='utf-16'?><testsuite/>")
@example(  # found by the mutations below: more covered than valid, and past an INTEGER
    data=b'<coverage><project><file path="a.php"><metrics statements="2"'
    b' coveredstatements="2147483648"/></file></project></coverage>'
)
@example(data=b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00")
def test_any_bytes_give_a_result_or_our_error(parser: str, data: bytes) -> None:
    parse_or_refuse(parser, data)


# --- Near-valid documents, mutated ---------------------------------------------------------

SEEDS: dict[str, list[bytes]] = {
    "junit": [
        b'<?xml version="1.0" encoding="utf-8"?>\n<testsuites name="all" time="3.5">\n'
        b'<testsuite name="pytest" tests="3" failures="1" errors="0" skipped="1" time="1.5"'
        b' timestamp="2026-11-20T10:00:00" file="tests/test_a.py">\n'
        b'<testcase classname="tests.test_a" name="test_ok" file="tests/test_a.py" time="0.5"/>\n'
        b'<testcase classname="tests.test_a" name="test_bad" time="0.25">'
        b'<failure message="assert 1 == 2" type="AssertionError">trace &amp; more</failure>'
        b"</testcase>\n"
        b'<testcase classname="tests.test_a" name="test_skip" time="0"><skipped message="no"/>'
        b"</testcase>\n"
        b'<testcase classname="t" name="flaky" time="1,234.5" status="run">'
        b'<flakyFailure message="m" type="E"><stackTrace>st</stackTrace></flakyFailure>'
        b'<rerunFailure message="r"/><system-out>out</system-out></testcase>\n'
        b'<testsuite name="nested" timestamp="Sat, 03 Dec 2022 23:10:07 GMT">'
        b'<testcase name="inner" time="1e3"><error message="boom"/></testcase></testsuite>\n'
        b"</testsuite></testsuites>\n",
        b'<testsuite name="S" timestamp="2026-11-20T10:00:00Z"><properties>'
        b'<property name="go.version" value="1.22"/></properties>'
        b'<testcase classname="C" name="t" time="0.5" status="notrun"/>'
        b'<testcase name="" time="-1"/><error message="suite error"/></testsuite>',
    ],
    "cobertura": [
        b'<?xml version="1.0" ?>\n'
        b'<!DOCTYPE coverage SYSTEM "http://cobertura.sourceforge.net/xml/coverage-04.dtd">\n'
        b'<coverage line-rate="0.75" branch-rate="0.5" lines-covered="3" lines-valid="4"'
        b' branches-covered="1" branches-valid="2" version="7.6.1" timestamp="1">\n'
        b"<sources><source>/home/ci/project</source></sources>\n"
        b'<packages><package name="src"><classes>\n'
        b'<class name="app.py" filename="/home/ci/project/src/app.py"><lines>\n'
        b'<line number="1" hits="1"/>\n'
        b'<line number="2" hits="1" branch="true" condition-coverage="50% (1/2)"/>\n'
        b'<line number="3" hits="3.0" condition-coverage="100% (4/4)"/>\n'
        b'<line number="4" hits="0"/>\n'
        b"</lines></class>\n"
        b'<class name="b" filename="src\\b.py"><methods><method name="m"><lines>'
        b'<line number="9" hits="2"/></lines></method></methods><lines/></class>\n'
        b"</classes></package></packages></coverage>\n",
    ],
    "jacoco": [
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b'<!DOCTYPE report PUBLIC "-//JACOCO//DTD Report 1.1//EN" "report.dtd">'
        b'<report name="shop"><group name="g"><package name="com/acme/shop">'
        b'<sourcefile name="Cart.java"><line nr="3" mi="0" ci="2" mb="1" cb="1"/>'
        b'<line nr="4" mi="1" ci="0" mb="0" cb="0"/><counter type="LINE" missed="1" covered="1"/>'
        b'</sourcefile><sourcefile name="Gcovr.java"><line nr="1"/>'
        b'<counter type="LINE" missed="2" covered="3"/><counter type="BRANCH" missed="1"'
        b' covered="1"/></sourcefile></package></group>'
        b'<counter type="LINE" missed="3" covered="4"/></report>',
    ],
    "clover": [
        b'<?xml version="1.0" encoding="UTF-8"?><coverage generated="1" clover="4.4.1">'
        b'<project timestamp="1"><package name="Shop"><file name="Cart.php" path="src/Cart.php">'
        b'<line num="3" type="stmt" count="1"/><line num="4" type="stmt" count="0"/>'
        b'<line num="5" type="cond" truecount="1" falsecount="0"/>'
        b'<metrics statements="2" coveredstatements="1"/></file></package>'
        b'<file name="b.php"><metrics statements="4" coveredstatements="2" conditionals="2"'
        b' coveredconditionals="1"/></file>'
        b'<metrics statements="6" coveredstatements="3" conditionals="2"'
        b' coveredconditionals="1"/></project></coverage>',
    ],
    "coveragepy": [
        b'{"meta": {"version": "7.4.3", "branch_coverage": true}, "files": {"shop/cart.py": '
        b'{"executed_lines": [1], "summary": {"covered_lines": 1, "num_statements": 2, '
        b'"num_branches": 2, "covered_branches": 1}}, "/abs/shop/b.py": {"summary": '
        b'{"covered_lines": 0, "num_statements": 0, "num_branches": 0, "covered_branches": 0}}},'
        b' "totals": {"covered_lines": 1, "num_statements": 2, "num_branches": 2,'
        b' "covered_branches": 1}}',
    ],
    "lcov": [
        b"TN:\nSF:shop/cart.js\nFN:1,f\nDA:1,1\nDA:2,0,abc\nBRDA:2,0,0,1\nBRDA:2,0,1,-\n"
        b"LF:2\nLH:1\nBRF:2\nBRH:1\nend_of_record\nSF:/abs/shop/b.js\nDA:1,-1\nend_of_record\n",
    ],
    "gocover": [
        b"mode: atomic\ngithub.com/acme/shop/cart.go:3.14,5.2 1 1\n"
        b"github.com/acme/shop/cart.go:6.1,9.2 3 0\nmode: set\n"
        b"example.org/m/pkg/x.go:1.1,2.2 2 5\n",
    ],
}
# Small seeds too: with few values to choose from, a swap lands on each more often.
SMALL_SEEDS = {
    "junit": b'<testsuite timestamp="2026-11-20T10:00:00"><testcase name="t" time="1"/>'
    b"</testsuite>",
    "cobertura": b'<coverage><packages><package><classes><class filename="a.py"><lines>'
    b'<line number="1" hits="1" condition-coverage="50% (1/2)"/></lines></class></classes>'
    b"</package></packages></coverage>",
    "jacoco": b'<report><package name="p"><sourcefile name="A.java">'
    b'<counter type="LINE" missed="1" covered="1"/></sourcefile></package></report>',
    "clover": b'<coverage><project><file path="a.php">'
    b'<metrics statements="2" coveredstatements="1"/></file></project></coverage>',
    "coveragepy": b'{"files": {"a.py": {"summary": {"num_statements": 2, "covered_lines": 1}}}, '
    b'"meta": {}}',
    "lcov": b"SF:a.c\nDA:1,1\nBRDA:1,0,0,1\nLF:1\nend_of_record\n",
    "gocover": b"mode: set\na.go:1.1,2.2 1 1\n",
}
for name, seed in SMALL_SEEDS.items():
    SEEDS[name].append(seed)
SEEDS["detect"] = [seed for seeds in SEEDS.values() for seed in seeds]

# What a number in a report may be swapped for: the edges of a database INTEGER
# and of a 64-bit counter, digits int() refuses, digits that are not ASCII ...
NUMBERS = st.one_of(
    st.sampled_from(
        [
            b"0",
            b"1",
            b"2147483647",
            b"2147483648",
            b"99999999999",
            b"18446744073709551615",
            b"184467440737095516150",
            b"9" * 5000,
            "\u00b2".encode(),
            "\u0663".encode(),
            b"-1",
            b"1e309",
            b"nan",
            b"3.0",
            b"1_000",
            b"",
        ]
    ),
    st.integers(0, 2**66).map(lambda n: str(n).encode()),
)
# ... and a quoted value (an attribute, a JSON string) for a number, a time,
# a coverage ratio, or anything else.
STRINGS = st.one_of(
    NUMBERS,
    st.sampled_from(
        [
            b"9999-12-31T23:59:59-05:00",
            b"0001-01-01T00:00:00+05:00",
            b"Fri, 31 Dec 9999 23:59:59 -2359",
            b"2026-02-30T10:00:00",
            b"50% (3/2)",
            b"50% (1/99999999999)",
            b"(1/184467440737095516150)",
            "(\u00b2/3)".encode(),
        ]
    ),
    st.sampled_from(
        [
            b"&#0;",
            b"&#13;",
            b"&lol;",
            b"&amp;#38;",
            b"\x00",
            b"\xff",
            b"\xed\xa0\x80",
            b"\\u0000",
            b"\\ud800",
            b"../../etc/passwd",
            b"C:\\a\\..\\..\\b",
            b"<",
            b"'",
            b'\\"',
        ]
    ),
    st.text(max_size=20).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.binary(max_size=10),
)
TOKEN = re.compile(rb'"[^"\n]{0,200}"|[0-9]+(?:\.[0-9]+)?')


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed with one to four mutations, most of them a value swapped for a hostile one.

    Structural damage (a cut, bytes inserted, deleted or repeated) mostly ends in
    a syntax error; swapped values keep the document readable and reach the code
    that interprets it.
    """
    data = bytearray(draw(st.sampled_from(seeds)))
    structural = draw(st.booleans())
    for _ in range(draw(st.integers(1, 4))):
        kind = "token"
        if structural:
            kind = draw(st.sampled_from(["token", "truncate", "insert", "delete", "dup"]))
        start = draw(st.integers(0, len(data)))
        end = draw(st.integers(start, min(len(data), start + 64)))
        if kind == "truncate":
            del data[start:]
        elif kind == "insert":
            data[start:start] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[start:end]
        elif kind == "dup":
            data[start:start] = data[start:end] * draw(st.integers(1, 3))
        else:
            tokens = list(TOKEN.finditer(data))
            if not tokens:
                continue
            token = draw(st.sampled_from(tokens))
            quoted = token.group().startswith(b'"')
            value = b'"' + draw(STRINGS) + b'"' if quoted else draw(NUMBERS)
            data[token.start() : token.end()] = value
    return bytes(data)


@pytest.mark.parametrize("parser", list(PARSERS))
@FUZZ
@given(data=st.data())
def test_mutated_reports_give_a_result_or_our_error(parser: str, data: st.DataObject) -> None:
    document = data.draw(mutated(SEEDS[parser]), label="document")
    parse_or_refuse(parser, document)
    if parser != "detect":
        parse_or_refuse("detect", document)


@pytest.mark.parametrize("parser", list(PARSERS))
def test_the_seeds_are_valid(parser: str) -> None:
    for seed in SEEDS[parser]:
        assert_storable(PARSERS[parser](seed))


# --- Upload metadata -------------------------------------------------------------------------

OFFSETS = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
TIMES = st.one_of(
    st.datetimes(
        min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=OFFSETS
    ).map(datetime.isoformat),
    st.datetimes().map(datetime.isoformat),
    st.text(max_size=40),
)
FIELD_VALUES = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["https://ci.example.org/1", "javascript:alert(1)", "http://", "a b"]),
)


@FUZZ
@given(
    fields=st.dictionaries(st.sampled_from(FIELDS), FIELD_VALUES, max_size=6),
    started_at=st.none() | TIMES,
)
@example(fields={}, started_at="9999-12-31T23:59:59-05:00")  # OverflowError in astimezone
@example(fields={}, started_at="0001-01-01T00:00:00+05:00")
def test_any_metadata_gives_fields_or_our_error(fields: dict, started_at: str | None) -> None:
    if started_at is not None:
        fields = {**fields, "started_at": started_at}
    try:
        meta = parse_metadata(fields)
    except IngestError as error:
        refusal = error
    else:
        refusal = None
    if refusal is not None:
        assert refusal.status == 422
        return
    for name, limit in (("commit", 64), ("branch", 255), ("build", 255), ("job", 255)):
        value = getattr(meta, name)
        if value is not None:
            assert_storable_text(value, limit)
            assert not re.search(r"[\x00-\x1f\x7f]", value)
    assert meta.job
    assert meta.build_url is None or meta.build_url.startswith(("http://", "https://"))
    assert meta.started_at is None or meta.started_at.utcoffset() == timedelta(0)


# --- Valid JUnit reports keep their counts ---------------------------------------------------

# Any character XML 1.0 allows, but control characters (kept apart: XML
# normalises them in attribute values unless escaped, which ``xml_text`` does).
TEXT = st.lists(
    st.one_of(
        st.characters(blacklist_categories=("Cs", "Cc", "Cn")),
        st.sampled_from(["&", "<", ">", '"', "'", "\t", "\n", "#38;", "&#38;", " "]),
    ),
    max_size=16,
).map("".join)
OUTCOME_ELEMENTS = {
    "passed": "",
    "failed": '<failure message="{m}" type="AssertionError">{m}</failure>',
    "error": '<error message="{m}">{m}</error>',
    "skipped": '<skipped message="{m}"/>',
    "flaky": '<flakyFailure message="{m}"/>',  # retried into a pass
    "rerun-failed": '<failure message="{m}"/><rerunFailure message="{m}"/>',
}
STORED_OUTCOME = {"flaky": "passed", "rerun-failed": "failed"}


def xml_text(text: str) -> str:
    """Text for an attribute value or element content, exactly as given."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\t", "&#9;")
        .replace("\n", "&#10;")
    )


@dataclass(frozen=True)
class GeneratedCase:
    name: str
    classname: str
    outcome: str
    message: str
    time: float | None


@dataclass(frozen=True)
class GeneratedReport:
    suites: list[list[GeneratedCase]]
    wrapped: bool  # a <testsuites> root, or one bare <testsuite>

    @property
    def cases(self) -> list[GeneratedCase]:
        return [case for suite in self.suites for case in suite]

    def xml(self) -> bytes:
        suites = []
        for number, cases in enumerate(self.suites):
            body = "".join(
                f'<testcase classname="{xml_text(case.classname)}" name="{xml_text(case.name)}"'
                + (f' time="{case.time!r}"' if case.time is not None else "")
                + ">"
                + OUTCOME_ELEMENTS[case.outcome].format(m=xml_text(case.message))
                + "</testcase>\n"
                for case in cases
            )
            suites.append(
                f'<testsuite name="suite {number}" tests="{len(cases)}">\n{body}</testsuite>'
            )
        document = "\n".join(suites)
        if self.wrapped:
            document = f"<testsuites>\n{document}\n</testsuites>"
        return ('<?xml version="1.0" encoding="UTF-8"?>\n' + document).encode()

    def counts(self) -> dict[str, int]:
        outcomes = Counter(STORED_OUTCOME.get(case.outcome, case.outcome) for case in self.cases)
        return {
            "tests": len(self.cases),
            "passed": outcomes["passed"],
            "failed": outcomes["failed"],
            "errors": outcomes["error"],
            "skipped": outcomes["skipped"],
            "retry_flakes": sum(case.outcome == "flaky" for case in self.cases),
        }

    def names(self, *outcomes: str) -> set[str]:
        return {case.name for case in self.cases if case.outcome in outcomes}


@st.composite
def junit_reports(draw: st.DrawFn, max_cases: int = 20) -> GeneratedReport:
    """A valid report; every case's name starts with a unique number, so none merge."""
    numbers = itertools.count()
    wrapped = draw(st.booleans())
    suite_sizes = draw(
        st.lists(st.integers(1, 6), min_size=1, max_size=4 if wrapped else 1).filter(
            lambda sizes: sum(sizes) <= max_cases
        )
    )
    suites = [
        [
            GeneratedCase(
                name=f"t{next(numbers)} {draw(TEXT)}",
                classname=draw(TEXT),
                outcome=draw(st.sampled_from(list(OUTCOME_ELEMENTS))),
                message=draw(TEXT),
                time=draw(st.none() | st.floats(0, 3600, allow_nan=False)),
            )
            for _ in range(size)
        ]
        for size in suite_sizes
    ]
    return GeneratedReport(suites=suites, wrapped=wrapped)


def parsed_counts(report: ParsedTestReport) -> dict[str, int]:
    outcomes = Counter(case.outcome for case in report.cases)
    return {
        "tests": len(report.cases),
        "passed": outcomes["passed"],
        "failed": outcomes["failed"],
        "errors": outcomes["error"],
        "skipped": outcomes["skipped"],
        "retry_flakes": sum(case.retry_flake for case in report.cases),
    }


@FUZZ
@given(report=junit_reports())
def test_valid_reports_keep_their_counts_and_names(report: GeneratedReport) -> None:
    data = report.xml()
    for parse in (detect_and_parse, parse_junit):  # the tree and the streaming reader
        parsed = parse(data)
        assert parsed_counts(parsed) == report.counts()
        assert {case.name for case in parsed.cases} == {case.name for case in report.cases}
        assert {c.classname for c in parsed.cases} == {c.classname for c in report.cases}
        assert not parsed.warnings
        assert_storable(parsed)


@pytest.fixture
def token(db_session):
    token = ApiTokenFactory(project=ProjectFactory(slug="props"), secret=SECRET)
    db_session.commit()
    return token


BUILDS = itertools.count()


@THROUGH_THE_API
@given(report=junit_reports())
def test_valid_reports_keep_their_counts_through_store_and_api(client, token, report) -> None:
    response = post_files(client, ("junit.xml", report.xml()), build=f"p{next(BUILDS)}")
    assert response.status_code == 201, response.get_json()
    reply = response.get_json()
    assert reply["counts"] == report.counts()
    assert reply["files"][0]["cases"] == len(report.cases)

    detail = client.get(f"/api/v1/projects/props/runs/{reply['run_id']}", headers=auth())
    assert detail.status_code == 200
    run = detail.get_json()
    assert run["counts"] == report.counts()
    assert [upload["cases"] for upload in run["uploads"]] == [len(report.cases)]
    groups = run["failure_groups"]
    assert (
        sum(group["count"] for group in groups) == run["counts"]["failed"] + run["counts"]["errors"]
    )
    failing = {case["name"] for group in groups for case in group["cases"]}
    assert failing == report.names("failed", "error", "rerun-failed")
    assert {e["case"]["name"] for e in run["retry_flakes"]} == report.names("flaky")
