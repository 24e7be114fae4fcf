"""Cobertura XML, as written by coverage.py, istanbul/nyc, gcovr, coverlet,
AltCover, OpenCppCoverage, gocover-cobertura, Swift tools and Cobertura itself.

Per ``<class filename>``: several classes may share one file (partial and
nested classes, Go types), so lines are merged per file, each line counted
once with its highest hit count. A class's own ``<lines>`` are the complete
list; method lines are read only when a class has none (Swift's converters
list lines under methods only; istanbul adds function-start lines to methods
that its class lines leave out, so reading both would overcount).

Branches come from ``condition-coverage="50% (1/2)"`` on a line. A report in
which no line carries one has no branch data, whatever its ``branch-rate``
or ``branches-valid`` attributes say (coverage.py without ``--branch`` writes
``branch-rate="0"``; some converters write totals without per-line data).
"""

from __future__ import annotations

import re

from lxml import etree

from ingest.coverage import (
    FileTally,
    build_coverage,
    count_attribute,
    expect_root,
    listed_total,
    refuse_blank,
    regroup,
    stated_pair,
    stated_totals_warning,
    total,
)
from ingest.coverage.paths import normalise_paths
from ingest.errors import MalformedReport
from ingest.records import ParsedCoverage
from ingest.xmlsafe import parse_xml

FORMAT = "cobertura"

_CONDITION_COVERAGE = re.compile(r"\(\s*([0-9]{1,20})\s*/\s*([0-9]{1,20})\s*\)")


def parse(data: bytes) -> ParsedCoverage:
    """Parse a Cobertura XML document."""
    refuse_blank(data, FORMAT)
    return parse_root(parse_xml(data))


def parse_root(root: etree._Element) -> ParsedCoverage:
    """Read a Cobertura ``<coverage>`` root already parsed by ``parse_xml``."""
    expect_root(root, "coverage", "Cobertura")
    by_filename = _tally_classes(root)
    sources = [source.text for source in root.iter("source") if source.text]
    files = regroup(by_filename, normalise_paths(by_filename, sources))
    has_branch_data = any(tally.branch_hits for tally in files.values())
    return build_coverage(
        FORMAT,
        files,
        has_branch_data=has_branch_data,
        warnings=_totals_warnings(root, files, has_branch_data),
    )


def _tally_classes(root: etree._Element) -> dict[str, FileTally]:
    by_filename: dict[str, FileTally] = {}
    for cls in root.iter("class"):
        filename = cls.get("filename")
        if not filename:
            raise MalformedReport("<class> has no filename attribute", line=cls.sourceline)
        tally = by_filename.setdefault(filename, FileTally())
        for line in _class_lines(cls):
            _read_line(line, tally)
    return by_filename


def _class_lines(cls: etree._Element) -> list[etree._Element]:
    lines = cls.findall("lines/line")
    return lines if lines else cls.findall("methods/method/lines/line")


def _read_line(line: etree._Element, tally: FileTally) -> None:
    number = count_attribute(line, "number")
    tally.add_line(number, count_attribute(line, "hits"))
    condition_coverage = line.get("condition-coverage")
    if condition_coverage is None:
        return
    match = _CONDITION_COVERAGE.search(condition_coverage)
    if match is None:
        raise MalformedReport(
            f"condition-coverage={condition_coverage!r} does not give (covered/valid)",
            line=line.sourceline,
        )
    covered, valid = int(match[1]), int(match[2])
    if covered > valid:
        raise MalformedReport(
            f"condition-coverage={condition_coverage!r} covers more branches than exist",
            line=line.sourceline,
        )
    tally.add_branches(number, valid, covered)


def _totals_warnings(
    root: etree._Element, files: dict[str, FileTally], has_branch_data: bool
) -> list[str | None]:
    counted, listed = total(files), listed_total(files)
    warnings = [
        stated_totals_warning(
            "lines",
            stated_pair(root, "lines-valid", "lines-covered"),
            counted.lines,
            listed.lines,
        )
    ]
    stated_branches = stated_pair(root, "branches-valid", "branches-covered")
    if has_branch_data:
        warnings.append(
            stated_totals_warning("branches", stated_branches, counted.branches, listed.branches)
        )
    elif stated_branches and stated_branches[0] > 0:
        warnings.append(
            f"the report's branches-valid is {stated_branches[0]}, but no line carries "
            "condition-coverage; branch coverage is not recorded"
        )
    return warnings
