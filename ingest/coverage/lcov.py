"""LCOV tracefiles (geninfo, istanbul/nyc, gcovr, coverage.py, coverlet, c8, grcov ...).

Records run from ``SF:path`` to ``end_of_record``; several records for one
file (one per test, or one per test binary) are merged line by line.
``DA:line,hits[,checksum]`` gives the lines; ``BRDA:line,block,branch,taken``
the branches, where ``taken`` is ``-`` when the branch's block never ran
(not covered). ``LF``/``LH`` and ``BRF``/``BRH`` are the record's stated
totals, only checked against its ``DA`` and ``BRDA`` lines.

A report records branches when any record has a BRDA, BRF or BRH line
(istanbul writes ``BRF:0`` for a file without branches, geninfo writes
nothing); without any, the producer measured none and branches are None.
Other record types (TN, FN, FNDA, FNF, FNH, FNL, FNA, VER, MCDC ...) carry
nothing we store and are skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ingest.coverage import FileTally, build_coverage, refuse_blank, regroup, whole_number
from ingest.coverage.paths import normalise_paths
from ingest.errors import MalformedReport
from ingest.records import ParsedCoverage

FORMAT = "lcov"


@dataclass(slots=True)
class _Record:
    """One SF ... end_of_record block while it is being read."""

    path: str
    tally: FileTally = field(default_factory=FileTally)
    stated_lines: list[int | None] = field(default_factory=lambda: [None, None])
    stated_branches: list[int | None] = field(default_factory=lambda: [None, None])


@dataclass(slots=True)
class _Reader:
    """One pass over a tracefile: merged tallies per SF path, and what disagreed."""

    by_path: dict[str, FileTally] = field(default_factory=dict)
    record: _Record | None = None
    has_branch_data: bool = False
    contradicted_lines: list[str] = field(default_factory=list)
    contradicted_branches: list[str] = field(default_factory=list)

    def read(self, number: int, line: str) -> None:
        """Take in the tracefile's line ``number``."""
        line = line.strip()
        if not line or line.startswith("#"):
            return
        if line == "end_of_record":
            self.close_record()
            return
        key, colon, value = line.partition(":")
        if not colon:
            raise MalformedReport(f"not an LCOV line: {line[:80]!r}", line=number)
        if key == "SF":
            self.close_record()
            self.record = _Record(path=value)
        elif key in _HANDLERS:
            if self.record is None:
                raise MalformedReport(f"{key} outside a record (no SF line before it)", line=number)
            _HANDLERS[key](self, self.record, value, number)

    def close_record(self) -> None:
        record, self.record = self.record, None
        if record is None:
            return
        counts, listed = record.tally.counts(), record.tally.listed
        if _contradicts(record.stated_lines, counts.lines, listed.lines):
            self.contradicted_lines.append(record.path)
        if _contradicts(record.stated_branches, counts.branches, listed.branches):
            self.contradicted_branches.append(record.path)
        if record.path in self.by_path:
            self.by_path[record.path].merge(record.tally)
        else:
            self.by_path[record.path] = record.tally

    def warnings(self) -> list[str]:
        return [
            _contradiction_warning(what, paths)
            for what, paths in (
                ("LF/LH", self.contradicted_lines),
                ("BRF/BRH", self.contradicted_branches),
            )
            if paths
        ]


def parse(data: bytes) -> ParsedCoverage:
    """Parse an LCOV tracefile."""
    refuse_blank(data, FORMAT)
    reader = _Reader()
    for number, line in enumerate(data.decode("utf-8-sig", errors="replace").splitlines(), 1):
        reader.read(number, line)
    reader.close_record()  # a last record without end_of_record still counts
    files = regroup(reader.by_path, normalise_paths(reader.by_path))
    return build_coverage(
        FORMAT, files, has_branch_data=reader.has_branch_data, warnings=reader.warnings()
    )


def _read_da(reader: _Reader, record: _Record, value: str, number: int) -> None:
    fields = value.split(",")
    if len(fields) < 2:
        raise MalformedReport(f"DA needs a line and a hit count: {value!r}", line=number)
    line_number = _whole(fields[0], "DA line number", number)
    # gcov has written negative counts for overflowed counters; they are no hits.
    hits = _signed(fields[1], "DA hit count", number)
    record.tally.add_line(line_number, hits)


def _read_brda(reader: _Reader, record: _Record, value: str, number: int) -> None:
    fields = value.split(",")
    if len(fields) < 4:
        raise MalformedReport(f"BRDA needs line, block, branch and taken: {value!r}", line=number)
    line_number = _whole(fields[0], "BRDA line number", number)
    taken_text = fields[3].strip()
    taken = 0 if taken_text == "-" else _signed(taken_text, "BRDA taken count", number)
    # The key keeps block and branch as written: gcovr and lcov 2 mark
    # exception branches with an "e" prefix.
    key = (line_number, fields[1].strip(), fields[2].strip())
    record.tally.add_branches(key, 1, 1 if taken > 0 else 0)
    reader.has_branch_data = True


_Handler = Callable[["_Reader", _Record, str, int], None]


def _stated_setter(target: str, index: int, branches: bool) -> _Handler:
    """A handler storing one of LF, LH, BRF, BRH in the record."""

    def read(reader: _Reader, record: _Record, value: str, number: int) -> None:
        getattr(record, target)[index] = _whole(value, "stated total", number)
        if branches:
            reader.has_branch_data = True

    return read


_HANDLERS: dict[str, _Handler] = {
    "DA": _read_da,
    "BRDA": _read_brda,
    "LF": _stated_setter("stated_lines", 0, branches=False),
    "LH": _stated_setter("stated_lines", 1, branches=False),
    "BRF": _stated_setter("stated_branches", 0, branches=True),
    "BRH": _stated_setter("stated_branches", 1, branches=True),
}


def _whole(text: str, what: str, number: int) -> int:
    value = whole_number(text.strip())
    if value is None:
        raise MalformedReport(f"{what} {text.strip()[:40]!r} is not a whole number", line=number)
    return value


def _signed(text: str, what: str, number: int) -> int:
    try:
        return int(text)
    except ValueError:
        raise MalformedReport(f"{what} {text.strip()!r} is not a number", line=number) from None


def _contradicts(
    stated: list[int | None], counted: tuple[int, int], listed: tuple[int, int]
) -> bool:
    """Whether a record's stated (found, hit) pair, where given, disagrees.

    Agreeing with the entries as listed is no contradiction: coverlet and
    gcovr list a line once per method on it, and count it so in LF/LH.
    """

    def disagrees(actual: tuple[int, int]) -> bool:
        return any(
            value is not None and value != part for value, part in zip(stated, actual, strict=True)
        )

    return disagrees(counted) and disagrees(listed)


def _contradiction_warning(what: str, paths: list[str]) -> str:
    return (
        f"{len(paths)} record(s) state {what} totals that contradict their own lines "
        f"(first: {paths[0]}); the lines are used"
    )
