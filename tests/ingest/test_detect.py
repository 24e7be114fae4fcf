"""ingest.detect: the format comes from the content, never the name; refusals say why."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import pytest

import ingest.detect
from ingest.detect import decompress, detect_and_parse
from ingest.errors import (
    SUPPORTED_FORMATS_TEXT,
    EmptyReport,
    ForbiddenXml,
    MalformedReport,
    TooLarge,
    UnsupportedFormat,
)
from ingest.junit import parse_junit_root
from ingest.records import ParsedCoverage, ParsedTestReport
from ingest.xmlsafe import parse_xml

JUNIT = b'<testsuite name="S"><testcase classname="C" name="t" time="0.5"/></testsuite>'
COBERTURA = (
    b'<?xml version="1.0" ?><coverage line-rate="0.5" branch-rate="0" version="7.4">'
    b'<sources><source>/src</source></sources><packages><package name="shop"><classes>'
    b'<class name="cart.py" filename="shop/cart.py"><lines><line number="1" hits="1"/>'
    b'<line number="2" hits="0"/></lines></class></classes></package></packages></coverage>'
)
JACOCO = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<!DOCTYPE report PUBLIC "-//JACOCO//DTD Report 1.1//EN" "report.dtd">'
    b'<report name="shop"><package name="com/acme/shop"><sourcefile name="Cart.java">'
    b'<line nr="3" mi="0" ci="2" mb="0" cb="0"/><line nr="4" mi="1" ci="0" mb="0" cb="0"/>'
    b'<counter type="LINE" missed="1" covered="1"/></sourcefile></package></report>'
)
CLOVER = (
    b'<?xml version="1.0" encoding="UTF-8"?><coverage generated="1" clover="4.4.1">'
    b'<project timestamp="1"><package name="Shop"><file name="Cart.php" path="src/Cart.php">'
    b'<line num="3" type="stmt" count="1"/><line num="4" type="stmt" count="0"/>'
    b'<metrics statements="2" coveredstatements="1"/></file></package></project></coverage>'
)
COVERAGE_PY = (
    b'{"meta": {"version": "7.4.3", "branch_coverage": false}, "files": {"shop/cart.py": '
    b'{"executed_lines": [1], "missing_lines": [2], "excluded_lines": [], "summary": '
    b'{"covered_lines": 1, "num_statements": 2, "missing_lines": 1, "excluded_lines": 0}}}, '
    b'"totals": {"covered_lines": 1, "num_statements": 2, "missing_lines": 1}}'
)
LCOV = b"TN:\nSF:shop/cart.js\nDA:1,1\nDA:2,0\nLF:2\nLH:1\nend_of_record\n"
GO_COVERPROFILE = b"mode: set\ngithub.com/acme/shop/cart.go:3.14,5.2 1 1\n"


def test_junit_is_parsed_as_a_test_report() -> None:
    report = detect_and_parse(JUNIT, "TEST-results.xml")
    assert isinstance(report, ParsedTestReport)
    assert [(c.classname, c.name, c.duration_s) for c in report.cases] == [("C", "t", 0.5)]


@pytest.mark.parametrize(
    ("data", "format_name", "lines"),
    [
        (COBERTURA, "cobertura", (2, 1)),
        (JACOCO, "jacoco", (2, 1)),
        (CLOVER, "clover", (2, 1)),
        (COVERAGE_PY, "coveragepy-json", (2, 1)),
        (LCOV, "lcov", (2, 1)),
        (GO_COVERPROFILE, "go-coverprofile", (1, 1)),
    ],
)
def test_coverage_formats_go_to_their_parser(
    data: bytes, format_name: str, lines: tuple[int, int]
) -> None:
    report = detect_and_parse(data, "upload")
    assert isinstance(report, ParsedCoverage)
    assert report.format == format_name
    assert [(f.lines_valid, f.lines_covered) for f in report.files] == [lines]


@pytest.mark.parametrize(
    ("data", "misleading_name", "expected"),
    [
        (JUNIT, "coverage.json", ParsedTestReport),
        (LCOV, "junit.xml", ParsedCoverage),
        (COVERAGE_PY, "lcov.info", ParsedCoverage),
    ],
)
def test_the_file_name_never_decides(data: bytes, misleading_name: str, expected: type) -> None:
    assert isinstance(detect_and_parse(data, misleading_name), expected)


@pytest.mark.parametrize(
    "prefix", [b"\xef\xbb\xbf", b"\n\r\n\t  ", b"\xef\xbb\xbf\r\n"], ids=["bom", "space", "both"]
)
def test_byte_order_mark_and_leading_white_space_are_skipped(prefix: bytes) -> None:
    assert detect_and_parse(prefix + JUNIT).cases[0].name == "t"
    assert detect_and_parse(prefix + LCOV).format == "lcov"


def test_utf16_xml_with_a_byte_order_mark_is_read() -> None:
    data = ('<?xml version="1.0" encoding="UTF-16"?>' + JUNIT.decode()).encode("utf-16")
    assert data.startswith((b"\xff\xfe", b"\xfe\xff"))
    assert detect_and_parse(data).cases[0].name == "t"


# --- gzip ------------------------------------------------------------------------------------


def test_gzip_is_recognised_by_its_magic_bytes() -> None:
    report = detect_and_parse(gzip.compress(JUNIT, mtime=0), "results.xml")
    assert isinstance(report, ParsedTestReport)


def test_gzip_twice_is_unwrapped_twice_and_three_times_is_refused() -> None:
    twice = gzip.compress(gzip.compress(LCOV, mtime=0), mtime=0)
    assert detect_and_parse(twice).format == "lcov"
    with pytest.raises(UnsupportedFormat, match="gzip nested more than 2 deep"):
        detect_and_parse(gzip.compress(twice, mtime=0))


def test_concatenated_gzip_members_are_one_stream() -> None:
    halves = gzip.compress(JUNIT[:40], mtime=0) + gzip.compress(JUNIT[40:], mtime=0)
    assert decompress(halves, 10_000) == JUNIT


def test_zero_padding_after_gzip_is_ignored() -> None:
    assert decompress(gzip.compress(JUNIT, mtime=0) + b"\0" * 512, 10_000) == JUNIT


def test_a_gzip_bomb_stops_at_the_limit() -> None:
    bomb = gzip.compress(b"\0" * 50_000_000, compresslevel=9, mtime=0)
    assert len(bomb) < 100_000
    with pytest.raises(TooLarge) as caught:
        detect_and_parse(bomb, "bomb.xml.gz", limit_bytes=1_000_000)
    assert (caught.value.status, caught.value.filename) == (413, "bomb.xml.gz")


def test_output_exactly_at_the_limit_is_accepted() -> None:
    assert decompress(gzip.compress(b"x" * 1000, mtime=0), 1000) == b"x" * 1000
    with pytest.raises(TooLarge):
        decompress(gzip.compress(b"x" * 1001, mtime=0), 1000)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (gzip.compress(JUNIT, mtime=0)[:-12], "truncated gzip data"),
        (b"\x1f\x8b\x08\x00" + b"\xff" * 40, "corrupt gzip data"),
        (gzip.compress(JUNIT, mtime=0)[:12] + zlib.compress(b"junk")[2:], "corrupt gzip data"),
    ],
)
def test_broken_gzip_is_malformed(data: bytes, problem: str) -> None:
    with pytest.raises(MalformedReport, match=problem):
        detect_and_parse(data)


# --- Refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("xml", "root", "product"),
    [
        (b'<test-run id="2" testcasecount="1"><test-suite/></test-run>', "test-run", "NUnit 3"),
        (b'<test-results name="x" total="1"/>', "test-results", "NUnit 2"),
        (
            b'<TestRun id="1" xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010"/>',
            "TestRun",
            "Visual Studio TRX",
        ),
        (
            b'<assemblies timestamp="x"><assembly name="a.dll"/></assemblies>',
            "assemblies",
            "xUnit.net",
        ),
        (
            b'<ns2:test-suite xmlns:ns2="urn:model.allure.qatools.yandex.ru" start="1"/>',
            "test-suite",
            "Allure 1",
        ),
        (b"<result><suites/></result>", "result", "Jenkins junitResult.xml"),
        (b"<html><body>502 Bad Gateway</body></html>", "html", "XML"),
    ],
)
def test_other_xml_is_unsupported_naming_its_root(xml: bytes, root: str, product: str) -> None:
    with pytest.raises(UnsupportedFormat) as caught:
        detect_and_parse(xml, "results.xml")
    message = str(caught.value)
    assert caught.value.status == 415
    assert f"<{root}>" in message
    assert product in message
    assert SUPPORTED_FORMATS_TEXT in message
    assert message.startswith("results.xml: ")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b'{"lines": {"a.py": [1, 2]}}', "not a coverage.py report"),
        (b"[1, 2, 3]", "text that is neither"),
        (b"hello, world\n", "text that is neither LCOV nor a Go coverprofile"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data"),
        (b"PK\x03\x04\x14\x00\x00\x00", "zip archive"),
        (b"SQLite format 3\x00\x10\x00", "coverage.py data file"),
        (b"!coverage.py: This is a private format, don't read it directly!{}", "coverage json"),
    ],
)
def test_unknown_content_is_unsupported(data: bytes, words: str) -> None:
    with pytest.raises(UnsupportedFormat, match=words) as caught:
        detect_and_parse(data)
    assert caught.value.status == 415


@pytest.mark.parametrize("data", [b"", b"  \n\t\r\n", b"\xef\xbb\xbf\n"])
def test_an_empty_file_is_malformed(data: bytes) -> None:
    with pytest.raises(MalformedReport, match="the file is empty"):
        detect_and_parse(data, "empty.xml")


def test_malformed_xml_reports_line_and_column() -> None:
    with pytest.raises(MalformedReport) as caught:
        detect_and_parse(b"<testsuite>\n  <testcase name='t'>\n</testsuite>", "bad.xml")
    error = caught.value
    assert (error.status, error.filename, error.line) == (400, "bad.xml", 3)
    assert error.column is not None
    assert str(error).startswith("bad.xml line 3, column ")


def test_malformed_json_reports_line_and_column() -> None:
    with pytest.raises(MalformedReport) as caught:
        detect_and_parse(b'{"meta": {},\n "files": {,}}')
    assert (caught.value.line, caught.value.column) == (2, 12)


def test_entity_declarations_are_forbidden() -> None:
    xxe = b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]><t>&x;</t>'
    with pytest.raises(ForbiddenXml) as caught:
        detect_and_parse(xxe, "x.xml")
    assert caught.value.status == 400


@pytest.mark.parametrize(
    "data",
    [b"<testsuites/>", b"<coverage><packages/></coverage>", b"TN:\n"],
    ids=["junit", "cobertura", "lcov"],
)
def test_reports_without_cases_or_files_are_empty(data: bytes) -> None:
    with pytest.raises(EmptyReport) as caught:
        detect_and_parse(data, "r")
    assert caught.value.status == 422


# --- JUnit files are streamed --------------------------------------------------------------


def test_junit_is_streamed_without_building_a_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = parse_junit_root(parse_xml(JUNIT))

    def no_tree(data: bytes) -> None:
        raise AssertionError("a JUnit file was parsed into a tree")

    monkeypatch.setattr(ingest.detect, "parse_xml", no_tree)
    assert detect_and_parse(JUNIT) == expected


def test_coverage_xml_is_still_parsed() -> None:
    assert detect_and_parse(COBERTURA).format == "cobertura"
    with pytest.raises(ForbiddenXml):
        detect_and_parse(b'<!DOCTYPE t [<!ENTITY x "y">]><testsuite>&x;</testsuite>')
    with pytest.raises(MalformedReport):
        detect_and_parse(b"<testsuite><testcase name='t'></testsuite>")


# --- The shared corpus's coverage files ---------------------------------------------------

CORPUS_COVERAGE = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "coverage"


@pytest.mark.corpus
@pytest.mark.parametrize(
    "directory",
    ["cobertura", "jacoco", "clover", "lcov", "coveragepy-json", "go-coverprofile"],
)
def test_corpus_coverage_files_are_recognised(directory: str) -> None:
    if not CORPUS_COVERAGE.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS_COVERAGE.parent}")
    recognised = 0
    for path in sorted((CORPUS_COVERAGE / directory).iterdir()):
        try:
            report = detect_and_parse(path.read_bytes(), path.name)
        except (MalformedReport, UnsupportedFormat, EmptyReport):
            continue  # the corpus holds broken and look-alike files on purpose
        assert isinstance(report, ParsedCoverage), path.name
        assert report.format == directory, path.name
        recognised += 1
    assert recognised
