"""Conformance: every real coverage report in the shared corpus.

Each MANIFEST row under ``coverage/`` either parses into sane, normalised
per-file data whose totals match what the report itself states, or, when
the row's notes call it empty, malformed or not a report, is refused with
our own ``IngestError``. Where a real report's stated totals and its lines
disagree, ``DIFFERS_FROM_STATED`` says why and whether we warn.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.coverage import clover, cobertura, coveragepy, gocover, jacoco, lcov, parse_count
from ingest.errors import EmptyReport, IngestError, MalformedReport, UnsupportedFormat
from ingest.records import ParsedCoverage, ParsedCoverageFile
from ingest.xmlsafe import parse_xml

pytestmark = pytest.mark.corpus

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus"
if not (CORPUS / "MANIFEST.tsv").exists():
    pytest.skip(
        f"shared corpus not found at {CORPUS}: conformance runs in CI, "
        "where ../shared is laid beside the clone",
        allow_module_level=True,
    )

PARSERS: dict[str, Callable[[bytes], ParsedCoverage]] = {
    "cobertura": cobertura.parse,
    "jacoco": jacoco.parse,
    "clover": clover.parse,
    "coveragepy-json": coveragepy.parse,
    "lcov": lcov.parse,
    "go-coverprofile": gocover.parse,
}

# Refusals the MANIFEST notes do not spell out.
NOT_THIS_FORMAT = {
    "coverage/jacoco/reportgenerator__JaCoCo_Ant.xml": (
        UnsupportedFormat,
        "an Ant build file that runs the JaCoCo task (root <project>), not a report",
    ),
}

# Real reports whose stated totals disagree with their lines: which totals,
# whether that earns a warning, and why.
DIFFERS_FROM_STATED: dict[str, tuple[frozenset[str], bool, str]] = {
    "coverage/cobertura/gcovr__gcc-14__cobertura.xml": (
        frozenset({"lines"}),
        False,
        "gcovr lists and counts a line once per function instance (30); 24 distinct lines",
    ),
    "coverage/cobertura/reportgenerator__Cobertura.xml": (
        frozenset({"lines"}),
        True,
        "root says 108/75 while its classes (and their line-rates) give 97/70",
    ),
    "coverage/cobertura/reportgenerator__Cobertura_Istanbul.xml": (
        frozenset({"branches"}),
        True,
        "states 2949 branches but no line carries condition-coverage",
    ),
    "coverage/cobertura/reportgenerator__Cobertura_Swift.xml": (
        frozenset({"branches"}),
        True,
        'branches-valid="1.0" is a rate, and no line carries condition-coverage',
    ),
    "coverage/clover/codeclimate__example_without_package.xml": (
        frozenset({"lines"}),
        True,
        "an edited sample: project metrics of the full report, lines of four files",
    ),
    "coverage/clover/coveralls__clover-phpcsutils.xml": (
        frozenset({"lines"}),
        True,
        "a cut-down sample: project metrics of 2420 statements, two files kept",
    ),
    "coverage/clover/gcovr__clover.xml": (
        frozenset({"lines"}),
        False,
        "gcovr lists and counts a statement once per function instance (30); 24 lines",
    ),
    "coverage/lcov/gcovr__virtual-classes__reference__gcc-14__coverage.lcov": (
        frozenset({"lines"}),
        True,
        "LF:30 counts function instances; only 24 DA lines are listed",
    ),
    "coverage/lcov/reportgenerator__CSharp__Reports__lcov.info": (
        frozenset({"lines"}),
        False,
        "coverlet repeats a DA line once per method on it and counts LF/LH so",
    ),
}


def coverage_rows() -> list[dict[str, str]]:
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as manifest:
        rows = csv.DictReader(manifest, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [row for row in rows if row["local_path"].startswith("coverage/")]


ROWS = coverage_rows()


def expected_refusal(row: dict[str, str]) -> type[IngestError] | None:
    """The error a row's notes (or our own table) call for, None when it should parse."""
    if row["local_path"] in NOT_THIS_FORMAT:
        return NOT_THIS_FORMAT[row["local_path"]][0]
    notes = row["notes"].lower()
    if "0-byte" in notes or "empty-file" in notes:
        return EmptyReport
    if "malformed" in notes:
        return MalformedReport
    if "not a report" in notes:
        return IngestError
    return None


def test_the_manifest_lists_every_coverage_file_and_every_format() -> None:
    listed = {row["local_path"] for row in ROWS}
    on_disk = {path.relative_to(CORPUS).as_posix() for path in (CORPUS / "coverage").glob("*/*")}
    assert listed == on_disk
    assert {Path(path).parts[1] for path in listed} == set(PARSERS)


def test_the_tables_name_only_manifest_rows() -> None:
    listed = {row["local_path"] for row in ROWS}
    assert set(NOT_THIS_FORMAT) <= listed
    assert set(DIFFERS_FROM_STATED) <= listed


@pytest.mark.parametrize("row", ROWS, ids=[row["local_path"] for row in ROWS])
def test_corpus_report(row: dict[str, str]) -> None:
    format_name = Path(row["local_path"]).parts[1]
    data = (CORPUS / row["local_path"]).read_bytes()
    refusal = expected_refusal(row)
    if refusal is not None:
        with pytest.raises(refusal):
            PARSERS[format_name](data)
        return
    parsed = PARSERS[format_name](data)
    assert parsed.format == format_name
    assert parsed.files
    for parsed_file in parsed.files:
        assert_sane(parsed_file)
    assert_branch_data_presence(format_name, data, parsed)
    assert_stated_totals(row["local_path"], format_name, data, parsed)


def assert_sane(parsed_file: ParsedCoverageFile) -> None:
    path = parsed_file.path
    assert path
    assert "\\" not in path, path
    assert not path.startswith(("/", "./", "../")), path
    assert not re.match(r"^[A-Za-z]:", path), path
    assert not {"", ".", ".."} & set(path.split("/")), path
    assert 0 <= parsed_file.lines_covered <= parsed_file.lines_valid, path
    assert (parsed_file.branches_valid is None) == (parsed_file.branches_covered is None), path
    if parsed_file.branches_valid is not None:
        assert 0 <= parsed_file.branches_covered <= parsed_file.branches_valid, path


def assert_branch_data_presence(format_name: str, data: bytes, parsed: ParsedCoverage) -> None:
    """Branch fields are None in every file exactly when the report records no branches."""
    records_branches = {
        "cobertura": lambda: b"condition-coverage=" in data,
        "jacoco": lambda: True,
        "clover": lambda: b'type="cond"' in data,
        "coveragepy-json": lambda: json.loads(data)["meta"]["branch_coverage"] is True,
        "lcov": lambda: re.search(rb"^(BRDA|BRF|BRH):", data, re.MULTILINE) is not None,
        "go-coverprofile": lambda: False,
    }[format_name]()
    for parsed_file in parsed.files:
        assert (parsed_file.branches_valid is not None) == records_branches, parsed_file.path


def assert_stated_totals(
    local_path: str, format_name: str, data: bytes, parsed: ParsedCoverage
) -> None:
    differing, warns, _reason = DIFFERS_FROM_STATED.get(local_path, (frozenset(), False, ""))
    assert bool(parsed.warnings) == warns, parsed.warnings
    stated_lines, stated_branches = STATED_TOTALS[format_name](data)
    lines = (
        sum(f.lines_valid for f in parsed.files),
        sum(f.lines_covered for f in parsed.files),
    )
    if stated_lines is not None:
        assert (lines == stated_lines) == ("lines" not in differing), (lines, stated_lines)
    if not parsed.has_branch_data:
        branches_stated_anyway = stated_branches is not None and stated_branches[0] > 0
        assert branches_stated_anyway == ("branches" in differing), stated_branches
        return
    branches = (
        sum(f.branches_valid for f in parsed.files),
        sum(f.branches_covered for f in parsed.files),
    )
    if stated_branches is not None:
        assert (branches == stated_branches) == ("branches" not in differing), (
            branches,
            stated_branches,
        )


Pair = tuple[int, int] | None


def _attribute_pair(element, valid: str, covered: str) -> Pair:
    if element is None or element.get(valid) is None or element.get(covered) is None:
        return None
    return (parse_count(element.get(valid)), parse_count(element.get(covered)))


def _cobertura_totals(data: bytes) -> tuple[Pair, Pair]:
    root = parse_xml(data)
    return (
        _attribute_pair(root, "lines-valid", "lines-covered"),
        _attribute_pair(root, "branches-valid", "branches-covered"),
    )


def _jacoco_totals(data: bytes) -> tuple[Pair, Pair]:
    counters = {
        counter.get("type"): (
            int(counter.get("missed")) + int(counter.get("covered")),
            int(counter.get("covered")),
        )
        for counter in parse_xml(data).iterfind("counter")
    }
    return counters.get("LINE"), counters.get("BRANCH", (0, 0) if counters else None)


def _clover_totals(data: bytes) -> tuple[Pair, Pair]:
    metrics = parse_xml(data).find("project/metrics")
    return (
        _attribute_pair(metrics, "statements", "coveredstatements"),
        _attribute_pair(metrics, "conditionals", "coveredconditionals"),
    )


def _coveragepy_totals(data: bytes) -> tuple[Pair, Pair]:
    totals = json.loads(data).get("totals", {})
    lines = (totals["num_statements"], totals["covered_lines"]) if totals else None
    branches = (
        (totals["num_branches"], totals["covered_branches"]) if "num_branches" in totals else None
    )
    return lines, branches


def _lcov_totals(data: bytes) -> tuple[Pair, Pair]:
    def summed(found: bytes, hit: bytes) -> Pair:
        found_values = re.findall(rb"^" + found + rb":(\d+)", data, re.MULTILINE)
        hit_values = re.findall(rb"^" + hit + rb":(\d+)", data, re.MULTILINE)
        if not found_values:
            return None
        return (sum(map(int, found_values)), sum(map(int, hit_values)))

    return summed(b"LF", b"LH"), summed(b"BRF", b"BRH")


STATED_TOTALS: dict[str, Callable[[bytes], tuple[Pair, Pair]]] = {
    "cobertura": _cobertura_totals,
    "jacoco": _jacoco_totals,
    "clover": _clover_totals,
    "coveragepy-json": _coveragepy_totals,
    "lcov": _lcov_totals,
    "go-coverprofile": lambda data: (None, None),  # a profile states no totals
}
