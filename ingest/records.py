"""The normalised records every parser produces and ``ingest.store`` writes.

Plain dataclasses: no database, no Flask. A parser returns exactly one of
``ParsedTestReport`` or ``ParsedCoverage`` for one file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Outcome = Literal["passed", "failed", "error", "skipped"]
OUTCOMES: tuple[Outcome, ...] = ("passed", "failed", "error", "skipped")

# Bounds on what one result keeps; longer text is cut with a marker.
MAX_NAME_CHARS = 1000
MAX_MESSAGE_CHARS = 2000
MAX_TRACE_CHARS = 20000
MAX_FAILURE_TYPE_CHARS = 200


@dataclass(slots=True)
class ParsedCase:
    """One test case's result in one report, after normalisation.

    ``file`` and ``classname`` are ``""`` when the dialect does not say.
    ``attempts`` counts executions inside the run (retries included);
    ``retry_flake`` is set when an attempt failed and a later one passed.
    """

    name: str
    classname: str = ""
    file: str = ""
    suite: str = ""
    outcome: Outcome = "passed"
    duration_s: float = 0.0
    attempts: int = 1
    retry_flake: bool = False
    failure_type: str | None = None
    message: str | None = None
    trace: str | None = None


@dataclass(slots=True)
class ParsedTestReport:
    """A JUnit-style test report.

    ``dialect`` is the producer we recognised (``"pytest"``, ``"surefire"``,
    ``"generic"`` ...), informational only. ``timestamp`` is the earliest
    suite timestamp (timezone-aware, UTC) when the report gives one.
    ``wall_seconds`` is the report's own total time when it states one,
    else the sum of its top-level suites' times.
    """

    cases: list[ParsedCase]
    format: str = "junit"
    dialect: str = "generic"
    timestamp: datetime | None = None
    wall_seconds: float | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ParsedCoverageFile:
    """Coverage of one source file. Branch fields are ``None`` without branch data."""

    path: str
    lines_valid: int
    lines_covered: int
    branches_valid: int | None = None
    branches_covered: int | None = None


@dataclass(slots=True)
class ParsedCoverage:
    """A coverage report: per-file counts, paths repo-relative and normalised."""

    format: str
    files: list[ParsedCoverageFile]
    warnings: list[str] = field(default_factory=list)

    @property
    def has_branch_data(self) -> bool:
        return any(f.branches_valid is not None for f in self.files)


ParsedReport = ParsedTestReport | ParsedCoverage
