"""Go coverprofiles (``go test -coverprofile``).

A ``mode: set|count|atomic`` header, then one block per line:
``file.go:startLine.startCol,endLine.endCol numStmts count``. Profiles of
several test binaries are often concatenated, each with its own ``mode:``
line, so the same block may appear more than once: it keeps its highest
count, as ``go tool cover`` merges it.

"Lines" are statements: valid is the sum of ``numStmts`` over a file's
distinct blocks, covered the sum over blocks that ran. That is the
percentage ``go tool cover -func`` reports; the profile has no line data.
It has no branch data either, so branches are None.

File names are import paths (``github.com/org/repo/pkg/file.go``), made
repo-relative by ``paths.go_repo_paths``.
"""

from __future__ import annotations

import re

from ingest.coverage import Counts, build_coverage, refuse_blank, regroup
from ingest.coverage.paths import go_repo_paths
from ingest.errors import MalformedReport
from ingest.records import ParsedCoverage

FORMAT = "go-coverprofile"

_MODES = frozenset({"set", "count", "atomic"})
# At most 20 ASCII digits a count: any 64-bit counter, and never more than int() reads.
_BLOCK = re.compile(
    r"^(?P<path>.+):(?P<range>\d+\.\d+,\d+\.\d+) (?P<stmts>[0-9]{1,20}) (?P<count>[0-9]{1,20})$"
)

# (numStmts, highest count) per block range, per file as written.
_Blocks = dict[str, tuple[int, int]]


class _BlockSet:
    """A file's distinct blocks; mergeable like the other per-file tallies."""

    __slots__ = ("blocks",)

    def __init__(self) -> None:
        self.blocks: _Blocks = {}

    def add(self, block_range: str, statements: int, count: int) -> None:
        known = self.blocks.get(block_range)
        if known is not None:
            statements, count = max(statements, known[0]), max(count, known[1])
        self.blocks[block_range] = (statements, count)

    def merge(self, other: _BlockSet) -> None:
        for block_range, (statements, count) in other.blocks.items():
            self.add(block_range, statements, count)

    def counts(self) -> Counts:
        return Counts(
            lines_valid=sum(statements for statements, _ in self.blocks.values()),
            lines_covered=sum(statements for statements, count in self.blocks.values() if count),
        )


def parse(data: bytes) -> ParsedCoverage:
    """Parse a Go coverprofile."""
    refuse_blank(data, FORMAT)
    by_path: dict[str, _BlockSet] = {}
    seen_mode = False
    for number, raw_line in enumerate(data.decode("utf-8-sig", errors="replace").splitlines(), 1):
        line = raw_line.strip()
        if not line:
            continue
        if line.startswith("mode:"):
            _check_mode(line, number)
            seen_mode = True
            continue
        if not seen_mode:
            raise MalformedReport("a Go coverprofile starts with a mode: line", line=number)
        match = _BLOCK.match(line)
        if match is None:
            raise MalformedReport(f"not a coverprofile block: {line[:80]!r}", line=number)
        by_path.setdefault(match["path"], _BlockSet()).add(
            match["range"], int(match["stmts"]), int(match["count"])
        )
    files = {path: blocks.counts() for path, blocks in _merged(by_path).items()}
    return build_coverage(FORMAT, files, has_branch_data=False)


def _check_mode(line: str, number: int) -> None:
    mode = line.removeprefix("mode:").strip()
    if mode not in _MODES:
        raise MalformedReport(f"unknown coverprofile mode {mode!r}", line=number)


def _merged(by_path: dict[str, _BlockSet]) -> dict[str, _BlockSet]:
    # Two import paths may name one file (a module and its /v2 path), so
    # blocks merge after the paths are normalised, not before.
    return regroup(by_path, go_repo_paths(by_path))
