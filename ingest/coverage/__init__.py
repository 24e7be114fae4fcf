"""Coverage report parsers: one module per format, one shared way to count.

Each format module turns bytes (or an lxml root, for the XML formats) into a
``ParsedCoverage``. They share the steps below:

1. read per-file data keyed by the path the report wrote: a ``FileTally`` of
   line hits and branch outcomes where the format lists lines, or plain
   ``Counts`` where it only gives per-file sums;
2. map those paths to repo-relative ones (``ingest.coverage.paths``) and merge
   the entries that turn out to name one file (``regroup``);
3. compare the report's own stated totals with what its lines say: the lines
   win, and a disagreement becomes a warning (``stated_totals_warning``);
4. ``build_coverage`` the result, refusing a report without files.

Branch fields are ``None`` only when the format or its producer does not
record branches; a file in a report that does record them but which has no
branches of its own gets ``0`` valid and ``0`` covered (a rate is undefined
there, which is the dashboard's business, not "0%"):

=================  ===========================================================
cobertura          branches when any line carries ``condition-coverage``
jacoco             always (JaCoCo omits the BRANCH counter of a file without
                   branches: that file has 0 branches)
clover             when any ``<line type="cond">``, or the metrics of a file
                   listing no lines, count one (PHPUnit writes 0 everywhere)
coveragepy-json    when ``meta.branch_coverage`` is true
lcov               when any record has a BRDA, BRF or BRH line
go-coverprofile    never (the profile records statement blocks only)
=================  ===========================================================

What "lines" means: source lines for Cobertura, JaCoCo, LCOV and Clover (a
line listed twice counts once, covered if any entry was hit), statements for
coverage.py (its ``num_statements``) and Go (statements per block, as
``go tool cover`` reports them).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, Self, TypeVar

from lxml import etree

from ingest.errors import EmptyReport, MalformedReport, UnsupportedFormat
from ingest.records import ParsedCoverage, ParsedCoverageFile
from ingest.xmlsafe import local_name

# The most lines or branches a file, or a whole report, may count: a database
# INTEGER. A report stating more is broken or hostile, not a large code base.
MAX_COUNT = 2**31 - 1
_MAX_DIGITS = 20


@dataclass(slots=True)
class Counts:
    """Valid and covered lines and branches, for one file or a whole report."""

    lines_valid: int = 0
    lines_covered: int = 0
    branches_valid: int = 0
    branches_covered: int = 0

    def merge(self, other: Counts) -> None:
        """Add another part of the same file (or report)."""
        self.lines_valid += other.lines_valid
        self.lines_covered += other.lines_covered
        self.branches_valid += other.branches_valid
        self.branches_covered += other.branches_covered

    def counts(self) -> Counts:
        return self

    @property
    def lines(self) -> tuple[int, int]:
        return (self.lines_valid, self.lines_covered)

    @property
    def branches(self) -> tuple[int, int]:
        return (self.branches_valid, self.branches_covered)


@dataclass(slots=True)
class FileTally:
    """Line hits and branch outcomes of one file, as a report lists them.

    A line listed more than once (several classes or records for one file,
    a line that belongs to two functions) keeps its highest hit count;
    branches likewise keep the highest valid and covered count per key.
    ``listed`` counts every entry before that merge, because some producers
    state totals over entries rather than lines.
    """

    line_hits: dict[int, int] = field(default_factory=dict)
    branch_hits: dict[Hashable, tuple[int, int]] = field(default_factory=dict)
    listed: Counts = field(default_factory=Counts)

    def add_line(self, number: int, hits: int) -> None:
        self.line_hits[number] = max(hits, self.line_hits.get(number, hits))
        self.listed.lines_valid += 1
        self.listed.lines_covered += hits > 0

    def add_branches(self, key: Hashable, valid: int, covered: int) -> None:
        old_valid, old_covered = self.branch_hits.get(key, (valid, covered))
        self.branch_hits[key] = (max(valid, old_valid), max(covered, old_covered))
        self.listed.branches_valid += valid
        self.listed.branches_covered += covered

    def merge(self, other: FileTally) -> None:
        """Take in another listing of the same file."""
        for number, hits in other.line_hits.items():
            self.line_hits[number] = max(hits, self.line_hits.get(number, hits))
        for key, (valid, covered) in other.branch_hits.items():
            old_valid, old_covered = self.branch_hits.get(key, (valid, covered))
            self.branch_hits[key] = (max(valid, old_valid), max(covered, old_covered))
        self.listed.merge(other.listed)

    def counts(self) -> Counts:
        return Counts(
            lines_valid=len(self.line_hits),
            lines_covered=sum(1 for hits in self.line_hits.values() if hits > 0),
            branches_valid=sum(valid for valid, _ in self.branch_hits.values()),
            branches_covered=sum(covered for _, covered in self.branch_hits.values()),
        )


class _Mergeable(Protocol):
    def merge(self, other: Self) -> None: ...


T = TypeVar("T", bound=_Mergeable)


def regroup(by_raw_path: dict[str, T], mapping: dict[str, str]) -> dict[str, T]:
    """Key entries by normalised path, merging those that name the same file."""
    merged: dict[str, T] = {}
    for raw, entry in by_raw_path.items():
        path = mapping[raw]
        if not path:
            raise MalformedReport(f"file path {raw!r} does not name a file")
        if path in merged:
            merged[path].merge(entry)
        else:
            merged[path] = entry
    return merged


def total(files: dict[str, FileTally] | dict[str, Counts]) -> Counts:
    """The sum over files, each counted as its merged lines say."""
    summed = Counts()
    for entry in files.values():
        summed.merge(entry.counts())
    return summed


def listed_total(files: dict[str, FileTally]) -> Counts:
    """The sum over every entry listed, duplicates included."""
    summed = Counts()
    for tally in files.values():
        summed.merge(tally.listed)
    return summed


def stated_totals_warning(
    what: str,
    stated: tuple[int, int] | None,
    counted: tuple[int, int],
    listed: tuple[int, int] | None = None,
) -> str | None:
    """A warning when a report's stated (valid, covered) contradicts its lines.

    ``listed`` is the same count taken over raw entries: a producer that
    counts a line once per entry (gcovr, for a line in two functions) agrees
    with its lines, just not line by line, and earns no warning.
    """
    if stated is None or stated in (counted, listed):
        return None
    return (
        f"the report states {stated[1]} of {stated[0]} {what} covered, but its per-line "
        f"data gives {counted[1]} of {counted[0]}; the per-line data is used"
    )


def build_coverage(
    format_name: str,
    files: dict[str, FileTally] | dict[str, Counts],
    *,
    has_branch_data: bool,
    warnings: Iterable[str | None] = (),
) -> ParsedCoverage:
    """The ``ParsedCoverage`` for normalised per-file data, files sorted by path."""
    if not files:
        raise EmptyReport(f"the {format_name} report lists no files")
    _refuse_impossible_counts(total(files), "the report")
    parsed = []
    for path in sorted(files):
        counts = files[path].counts()
        _refuse_impossible_counts(counts, f"file {path!r}")
        parsed.append(
            ParsedCoverageFile(
                path=path,
                lines_valid=counts.lines_valid,
                lines_covered=counts.lines_covered,
                branches_valid=counts.branches_valid if has_branch_data else None,
                branches_covered=counts.branches_covered if has_branch_data else None,
            )
        )
    unique_warnings = list(dict.fromkeys(w for w in warnings if w))
    return ParsedCoverage(format=format_name, files=parsed, warnings=unique_warnings)


def _refuse_impossible_counts(counts: Counts, owner: str) -> None:
    """Refuse counts no source tree has and a database ``INTEGER`` cannot hold."""
    largest = max(counts.lines_valid, counts.branches_valid)
    if largest > MAX_COUNT:
        raise MalformedReport(
            f"{owner} counts {largest:,} lines or branches, more than {MAX_COUNT:,}"
        )


def refuse_blank(data: bytes, format_name: str) -> None:
    """Raise ``EmptyReport`` for a file with nothing but whitespace in it."""
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf"):
        raise EmptyReport(f"the {format_name} report is empty")


def expect_root(root: etree._Element, tag: str, format_label: str) -> None:
    """Refuse an XML document whose root is not the format's."""
    name = local_name(root)
    if name != tag:
        raise UnsupportedFormat(
            f"not a {format_label} report: the root element is <{name}>, not <{tag}>",
            line=root.sourceline,
        )


def count_attribute(element: etree._Element, name: str, *, default: int | None = None) -> int:
    """A non-negative whole-number attribute, or ``MalformedReport`` at its line.

    ``"3.0"`` is accepted for 3: some producers write counts as decimals.
    """
    text = element.get(name)
    if text is None:
        if default is not None:
            return default
        raise MalformedReport(
            f"<{local_name(element)}> has no {name} attribute", line=element.sourceline
        )
    value = parse_count(text)
    if value is None:
        raise MalformedReport(
            f"<{local_name(element)}> {name}={text!r} is not a whole number of 0 or more",
            line=element.sourceline,
        )
    return value


def whole_number(text: str) -> int | None:
    """ASCII digits only (``"²"`` passes ``isdigit``, not ``int``), at most 20 of them.

    Twenty digits hold any 64-bit counter; ``int`` refuses more than 4,300.
    """
    if text.isascii() and text.isdigit() and len(text) <= _MAX_DIGITS:
        return int(text)
    return None


def parse_count(text: str) -> int | None:
    """A non-negative whole number written as ``"3"`` or ``"3.0"``, else None."""
    text = text.strip()
    if text.isascii() and text.isdigit():
        return whole_number(text)
    try:
        number = float(text)
    except ValueError:
        return None
    if number < 0 or not number.is_integer():
        return None
    return int(number)


def stated_pair(
    element: etree._Element, valid_name: str, covered_name: str
) -> tuple[int, int] | None:
    """A (valid, covered) pair of summary attributes, None unless both parse.

    Summary attributes are informational: an odd one is ignored, never fatal.
    """
    valid, covered = element.get(valid_name), element.get(covered_name)
    if valid is None or covered is None:
        return None
    valid_count, covered_count = parse_count(valid), parse_count(covered)
    if valid_count is None or covered_count is None:
        return None
    return (valid_count, covered_count)
