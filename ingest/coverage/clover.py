"""Clover XML (OpenClover, PHPUnit, gcovr ``--clover``, Groovy/Grails plugins).

Files are the ``<file>`` elements of ``<project>``, with or without a
``<package>`` around them; the path is the ``path`` attribute when present
(the full path), else ``name``. ``<testproject>``, the coverage of the test
sources themselves, is left out, as Clover's own project totals leave it out.

Lines are the distinct line numbers of ``<line type="stmt" count>`` entries,
a line covered when any statement on it ran (gcovr lists a line once per
function instance; Clover's ``statements`` metric counts those entries, and
a report whose metrics agree with its entries earns no warning). Branches
are two per ``<line type="cond" truecount falsecount>``, one for each
outcome, covered when taken. A file without any ``<line>`` falls back to its
``<metrics statements coveredstatements conditionals coveredconditionals>``.

PHPUnit writes ``conditionals="0"`` everywhere because it records no
branches, so a report has branch data only when some line is a ``cond`` or
some file's metrics count conditionals.
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
    stated_pair,
    stated_totals_warning,
    total,
)
from ingest.coverage.paths import normalise_paths
from ingest.errors import MalformedReport, UnsupportedFormat
from ingest.records import ParsedCoverage
from ingest.xmlsafe import parse_xml

FORMAT = "clover"


def parse(data: bytes) -> ParsedCoverage:
    """Parse a Clover XML document."""
    refuse_blank(data, FORMAT)
    return parse_root(parse_xml(data))


def parse_root(root: etree._Element) -> ParsedCoverage:
    """Read a Clover ``<coverage>`` root already parsed by ``parse_xml``."""
    expect_root(root, "coverage", "Clover")
    project = root.find("project")
    if project is None:
        raise UnsupportedFormat("not a Clover report: <coverage> has no <project>")
    by_path: dict[str, Counts] = {}
    listed = Counts()
    has_branch_data = False
    for element in project.iter("file"):
        path = element.get("path") or element.get("name")
        if not path:
            raise MalformedReport("<file> has neither path nor name", line=element.sourceline)
        counts, listed_counts, file_has_branches = _file_counts(element)
        by_path.setdefault(path, Counts()).merge(counts)
        listed.merge(listed_counts)
        has_branch_data = has_branch_data or file_has_branches
    files = regroup(by_path, normalise_paths(by_path))
    return build_coverage(
        FORMAT,
        files,
        has_branch_data=has_branch_data,
        warnings=_totals_warnings(project, files, listed, has_branch_data),
    )


def _file_counts(element: etree._Element) -> tuple[Counts, Counts, bool]:
    """The file's counts, its entries as listed, and whether it records branches."""
    lines = element.findall("line")
    if lines:
        tally = _tally_lines(lines)
        return tally.counts(), tally.listed, bool(tally.branch_hits)
    metrics = _metrics(element.find("metrics"))
    return metrics, metrics, metrics.branches_valid > 0


def _tally_lines(lines: list[etree._Element]) -> FileTally:
    tally = FileTally()
    for line in lines:
        kind = line.get("type")
        if kind == "stmt":
            tally.add_line(count_attribute(line, "num"), count_attribute(line, "count"))
        elif kind == "cond":
            taken = (count_attribute(line, "truecount") > 0) + (
                count_attribute(line, "falsecount") > 0
            )
            tally.add_branches(count_attribute(line, "num"), 2, taken)
    return tally


def _metrics(metrics: etree._Element | None) -> Counts:
    if metrics is None:
        return Counts()
    counts = Counts(
        lines_valid=count_attribute(metrics, "statements", default=0),
        lines_covered=count_attribute(metrics, "coveredstatements", default=0),
        branches_valid=count_attribute(metrics, "conditionals", default=0),
        branches_covered=count_attribute(metrics, "coveredconditionals", default=0),
    )
    for (valid, covered), valid_name, covered_name in (
        (counts.lines, "statements", "coveredstatements"),
        (counts.branches, "conditionals", "coveredconditionals"),
    ):
        if covered > valid:
            raise MalformedReport(
                f"<metrics> {covered_name}={covered} exceeds {valid_name}={valid}",
                line=metrics.sourceline,
            )
    return counts


def _totals_warnings(
    project: etree._Element, files: dict[str, Counts], listed: Counts, has_branch_data: bool
) -> list[str | None]:
    metrics = project.find("metrics")
    if metrics is None:
        return []
    counted = total(files)
    warnings = [
        stated_totals_warning(
            "statements",
            stated_pair(metrics, "statements", "coveredstatements"),
            counted.lines,
            listed.lines,
        )
    ]
    stated_branches = stated_pair(metrics, "conditionals", "coveredconditionals")
    if has_branch_data:
        warnings.append(stated_totals_warning("conditionals", stated_branches, counted.branches))
    elif stated_branches and stated_branches[0] > 0:
        warnings.append(
            f"the project's metrics count {stated_branches[0]} conditionals, but no file "
            "lists one; branch coverage is not recorded"
        )
    return warnings
