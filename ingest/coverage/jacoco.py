"""JaCoCo XML (JaCoCo itself, its Ant and Maven tasks, and gcovr ``--jacoco``).

Files are ``<sourcefile name>`` elements inside ``<package name>``, found at
any depth so that ``<group>`` (multi-module reports) needs no special case;
the path is ``package/name`` (JaCoCo knows no source directory).

Per file, ``<line nr mi ci mb cb>`` are the lines when they carry
instruction counts: a line is covered when any of its instructions ran, and
its branches are ``mb + cb``. gcovr writes ``<line nr>`` without them, so
there the file's LINE and BRANCH counters are used.

JaCoCo always records branches, and omits the BRANCH counter of a file that
has none: such a file has 0 branches, never "no branch data".
"""

from __future__ import annotations

from lxml import etree

from ingest.coverage import (
    Counts,
    FileTally,
    build_coverage,
    count_attribute,
    expect_root,
    refuse_blank,
    regroup,
    stated_totals_warning,
    total,
)
from ingest.coverage.paths import normalise_paths
from ingest.errors import MalformedReport
from ingest.records import ParsedCoverage
from ingest.xmlsafe import parse_xml

FORMAT = "jacoco"


def parse(data: bytes) -> ParsedCoverage:
    """Parse a JaCoCo XML document."""
    refuse_blank(data, FORMAT)
    return parse_root(parse_xml(data))


def parse_root(root: etree._Element) -> ParsedCoverage:
    """Read a JaCoCo ``<report>`` root already parsed by ``parse_xml``."""
    expect_root(root, "report", "JaCoCo")
    by_path: dict[str, Counts] = {}
    for package in root.iter("package"):
        for sourcefile in package.iterfind("sourcefile"):
            path = _sourcefile_path(package, sourcefile)
            counts = _sourcefile_counts(sourcefile)
            if path in by_path:
                by_path[path].merge(counts)
            else:
                by_path[path] = counts
    files = regroup(by_path, normalise_paths(by_path))
    return build_coverage(
        FORMAT, files, has_branch_data=True, warnings=_totals_warnings(root, files)
    )


def _sourcefile_path(package: etree._Element, sourcefile: etree._Element) -> str:
    name = sourcefile.get("name")
    if not name:
        raise MalformedReport("<sourcefile> has no name attribute", line=sourcefile.sourceline)
    directory = package.get("name", "")
    return f"{directory}/{name}" if directory else name


def _sourcefile_counts(sourcefile: etree._Element) -> Counts:
    lines = sourcefile.findall("line")
    if any(line.get("ci") is not None for line in lines):
        return _tally_lines(lines).counts()
    return _counters(sourcefile)


def _tally_lines(lines: list[etree._Element]) -> FileTally:
    tally = FileTally()
    for line in lines:
        number = count_attribute(line, "nr")
        tally.add_line(number, count_attribute(line, "ci", default=0))
        missed_branches = count_attribute(line, "mb", default=0)
        covered_branches = count_attribute(line, "cb", default=0)
        if missed_branches or covered_branches:
            tally.add_branches(number, missed_branches + covered_branches, covered_branches)
    return tally


def _counters(element: etree._Element) -> Counts:
    """The LINE and BRANCH ``<counter>`` children of ``element`` (absent: 0)."""
    counts = Counts()
    for counter in element.iterfind("counter"):
        kind = counter.get("type")
        if kind not in ("LINE", "BRANCH"):
            continue
        missed = count_attribute(counter, "missed")
        covered = count_attribute(counter, "covered")
        if kind == "LINE":
            counts.lines_valid, counts.lines_covered = missed + covered, covered
        else:
            counts.branches_valid, counts.branches_covered = missed + covered, covered
    return counts


def _totals_warnings(root: etree._Element, files: dict[str, Counts]) -> list[str | None]:
    if root.find("counter") is None:
        return []
    stated, counted = _counters(root), total(files)
    return [
        stated_totals_warning("lines", stated.lines, counted.lines),
        stated_totals_warning("branches", stated.branches, counted.branches),
    ]
