"""coverage.py JSON reports (``coverage json``, coverage.py 5 and later).

Per file, the ``summary`` gives statements and covered lines, and, when
``meta.branch_coverage`` is true, branches; without it coverage.py measured
no branches and the branch fields are None. The top-level ``totals`` are only
compared with the files' sum.

A ``.coverage`` data file (SQLite, or the JSON-ish "coverage.py <5" file
that starts with ``!coverage.py:``) is not a report: detection refuses it,
and handed here it fails to parse as JSON like any other broken input.
"""

from __future__ import annotations

import json
from typing import Any

from ingest.coverage import (
    Counts,
    build_coverage,
    refuse_blank,
    regroup,
    stated_totals_warning,
    total,
)
from ingest.coverage.paths import normalise_paths
from ingest.errors import MalformedReport, UnsupportedFormat
from ingest.records import ParsedCoverage

FORMAT = "coveragepy-json"

_LINE_FIELDS = ("num_statements", "covered_lines")
_BRANCH_FIELDS = ("num_branches", "covered_branches")


def parse(data: bytes) -> ParsedCoverage:
    """Parse a coverage.py JSON report."""
    refuse_blank(data, FORMAT)
    document = _load_json(data)
    files_entry = document.get("files") if isinstance(document, dict) else None
    if not isinstance(files_entry, dict):
        raise UnsupportedFormat('not a coverage.py JSON report: no "files" object')
    meta = document.get("meta")
    has_branch_data = isinstance(meta, dict) and meta.get("branch_coverage") is True
    by_path = {
        path: _file_counts(path, entry, has_branch_data) for path, entry in files_entry.items()
    }
    files = regroup(by_path, normalise_paths(by_path))
    return build_coverage(
        FORMAT,
        files,
        has_branch_data=has_branch_data,
        warnings=_totals_warnings(document.get("totals"), files, has_branch_data),
    )


def _load_json(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise MalformedReport(f"not UTF-8 text: {error.reason}") from None
    except json.JSONDecodeError as error:
        raise MalformedReport(
            f"malformed JSON: {error.msg}", line=error.lineno, column=error.colno
        ) from None
    except (RecursionError, ValueError) as error:
        raise unreadable_json(error) from None


def unreadable_json(error: RecursionError | ValueError) -> MalformedReport:
    """What ``json.loads`` raises besides ``JSONDecodeError``, as our refusal.

    Arrays or objects nested deeper than Python's recursion limit raise
    ``RecursionError``; an integer of more than 4,300 digits ``ValueError``.
    """
    if isinstance(error, RecursionError):
        return MalformedReport("malformed JSON: arrays or objects nested too deeply")
    return MalformedReport("malformed JSON: a number too long to read (over 4,300 digits)")


def _file_counts(path: str, entry: Any, has_branch_data: bool) -> Counts:
    summary = entry.get("summary") if isinstance(entry, dict) else None
    if not isinstance(summary, dict):
        raise MalformedReport(f"file {path!r} has no summary object")
    lines_valid, lines_covered = _pair(summary, _LINE_FIELDS, f"file {path!r}")
    counts = Counts(lines_valid=lines_valid, lines_covered=lines_covered)
    if has_branch_data:
        counts.branches_valid, counts.branches_covered = _pair(
            summary, _BRANCH_FIELDS, f"file {path!r}"
        )
    return counts


def _pair(summary: dict, names: tuple[str, str], owner: str) -> tuple[int, int]:
    """(valid, covered) from a summary, refusing what cannot be a count."""
    values = []
    for name in names:
        value = summary.get(name)
        # bool is an int in Python, but true is no count.
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise MalformedReport(f"{owner}: summary {name} is {value!r}, not a count")
        values.append(value)
    valid, covered = values
    if covered > valid:
        raise MalformedReport(f"{owner}: summary {names[1]} {covered} exceeds {names[0]} {valid}")
    return valid, covered


def _totals_warnings(
    totals: Any, files: dict[str, Counts], has_branch_data: bool
) -> list[str | None]:
    if not isinstance(totals, dict):
        return []
    counted = total(files)
    warnings = [stated_totals_warning("statements", _stated(totals, _LINE_FIELDS), counted.lines)]
    if has_branch_data:
        warnings.append(
            stated_totals_warning("branches", _stated(totals, _BRANCH_FIELDS), counted.branches)
        )
    return warnings


def _stated(totals: dict, names: tuple[str, str]) -> tuple[int, int] | None:
    try:
        return _pair(totals, names, "totals")
    except MalformedReport:
        return None  # stated totals are informational: an odd one is ignored
