"""The testing chapter's anti-patterns, found in one week of a project's reports.

``antipatterns.py`` holds the rules and thresholds (pure functions); this module
runs the week's queries and assembles the findings, each with the tests, runs,
suites or files behind it and the chapter's remedy. Every failure considered
comes from the week's non-infrastructure runs: when the machine itself failed,
its messages say nothing about the tests.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import func, select

from dashboard.analytics import antipatterns, coverage, durations, rollups
from dashboard.analytics.scope import FAILED_OUTCOMES, Scope, not_infrastructure_failure
from dashboard.extensions import db
from dashboard.models import Case, Result, Run
from dashboard.owners import CaseRef, CaseRefs

LOW_COVERAGE_FILES = 10
RUNS_LISTED = 10  # runs named per finding; the counts cover them all
MESSAGE_CHARS = 300


@dataclass(frozen=True, slots=True)
class CaseFinding:
    """A test behind an anti-pattern: the runs that show it and why."""

    case: CaseRef
    run_ids: list[int]  # oldest first, at most RUNS_LISTED (the latest)
    failures: int
    reasons: list[str]
    message: str | None


@dataclass(frozen=True, slots=True)
class SuiteFinding:
    """A job (suite) behind an anti-pattern: medians of its week and the runs that show it."""

    job: str
    runs: int
    run_ids: list[int]  # newest first, at most RUNS_LISTED
    wall_seconds: float
    case_seconds: float
    outside_seconds: float
    outside_share: float
    estimate: dict[int, float] = field(default_factory=dict)  # workers -> seconds
    estimate_run_id: int | None = None


@dataclass(frozen=True, slots=True)
class FileFinding:
    path: str
    branch_rate: float
    missing_branches: int
    branches_valid: int


@dataclass(frozen=True, slots=True)
class AntiPattern:
    kind: str
    title: str
    remedy: str
    summary: str
    cases: list[CaseFinding] = field(default_factory=list)
    suites: list[SuiteFinding] = field(default_factory=list)
    files: list[FileFinding] = field(default_factory=list)
    coverage_run_id: int | None = None

    @property
    def run_ids(self) -> list[int]:
        """Every run named by the finding."""
        ids = {run for item in [*self.cases, *self.suites] for run in item.run_ids}
        if self.coverage_run_id is not None:
            ids.add(self.coverage_run_id)
        return sorted(ids)


# The chapter's remedy for each anti-pattern (../shared/docs/testing-chapter.md).
ANTI_PATTERNS: dict[str, tuple[str, str]] = {
    "live_external_calls": (
        "Live external calls",
        "Mock the service: replace its client with unittest.mock (or a recorded response) "
        "so the suite never depends on a remote host, its latency or its rate limits.",
    ),
    "shared_database_state": (
        "Shared database state",
        "Give each pytest-xdist worker its own database and run every test inside a "
        "transaction that is rolled back at its end.",
    ),
    "setup_teardown_bloat": (
        "Setup and teardown bloat",
        "Build the schema once with a session-scoped fixture and isolate each test with a "
        "function-scoped transaction, instead of dropping and recreating it.",
    ),
    "serial_suite": (
        "Serial suites",
        "Run the suite in parallel with pytest-xdist (pytest -n auto); the estimate shows "
        "the wall time 2, 4 and 8 workers would reach.",
    ),
    "low_branch_coverage": (
        "Low branch coverage",
        "Test the error handlers and edge cases, not only the happy path: start with the "
        "files that leave the most branches uncovered.",
    ),
}


# --- the week's failures ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed execution of the week (outside infrastructure failures)."""

    case_id: int
    run_id: int
    started_at: datetime
    branch: str | None
    job: str
    failure_type: str | None
    message: str | None
    file: str
    classname: str
    name: str
    wall_seconds: float
    case_seconds: float

    @property
    def text(self) -> str:
        return antipatterns.failure_text(self.failure_type, self.message)


def week_failures(scope: Scope) -> list[Failure]:
    """Every failed or errored result in the week's non-infrastructure runs, oldest first.

    One query: the partial index on failures finds them without reading the passes.
    """
    query = (
        select(
            Result.case_id,
            Result.run_id,
            Run.started_at,
            Run.branch,
            Run.job,
            Result.failure_type,
            Result.message,
            Case.file,
            Case.classname,
            Case.name,
            Run.wall_seconds,
            Run.case_seconds,
        )
        .join(Run, Run.id == Result.run_id)
        .join(Case, Case.id == Result.case_id)
        .where(
            *scope.run_conditions(),
            not_infrastructure_failure(),
            Result.outcome.in_(FAILED_OUTCOMES),
        )
        .order_by(Run.started_at, Run.id, Result.case_id)
    )
    return [Failure(*row) for row in db.session.execute(query)]


def short_message(message: str | None) -> str | None:
    if not message:
        return None
    line = " ".join(message.split())
    return line if len(line) <= MESSAGE_CHARS else line[: MESSAGE_CHARS - 1] + "…"


# --- finding them ----------------------------------------------------------------------


def _anti_pattern(kind: str, summary: str, **found) -> AntiPattern:
    title, remedy = ANTI_PATTERNS[kind]
    return AntiPattern(kind=kind, title=title, remedy=remedy, summary=summary, **found)


def diagnose(
    scope: Scope,
    summary: coverage.CoverageSummary,
    failures: list[Failure],
    refs: CaseRefs,
) -> list[AntiPattern]:
    """The chapter's anti-patterns the week of ``scope`` shows; none when it shows none.

    ``summary`` is the default branch's coverage of the week and ``failures``
    come from ``week_failures(scope)`` (both shared with other sections).
    """
    suites = antipatterns.suite_timings(_run_timings(scope))
    found = [
        _live_external_calls(failures, refs),
        _shared_database_state(scope, failures, refs),
        _setup_bloat(suites),
        _serial_suites(suites),
        _low_branch_coverage(scope, summary),
    ]
    return [pattern for pattern in found if pattern is not None]


def _case_findings(
    matched: dict[int, list[tuple[Failure, list[str]]]], refs: CaseRefs
) -> list[CaseFinding]:
    """One finding per test from its matching failures (oldest first), most failures first."""
    findings = []
    for hits in matched.values():
        latest = hits[-1][0]
        reasons = sorted({reason for _, why in hits for reason in why})
        run_ids = list(dict.fromkeys(failure.run_id for failure, _ in hits))
        findings.append(
            CaseFinding(
                case=refs.of(latest),
                run_ids=run_ids[-RUNS_LISTED:],
                failures=len(hits),
                reasons=reasons,
                message=short_message(latest.text),
            )
        )
    findings.sort(key=lambda f: (-f.failures, f.case.display_name, f.case.case_id))
    return findings


def _classified(failures: list[Failure], classify) -> dict[int, list[tuple[Failure, list[str]]]]:
    matched: dict[int, list[tuple[Failure, list[str]]]] = defaultdict(list)
    for failure in failures:
        reasons = classify(failure.text)
        if reasons:
            matched[failure.case_id].append((failure, reasons))
    return matched


def _live_external_calls(failures: list[Failure], refs: CaseRefs) -> AntiPattern | None:
    matched = _classified(failures, antipatterns.network_reasons)
    if not matched:
        return None
    cases = _case_findings(matched, refs)
    summary = (
        f"{_count(len(cases), 'test')} failed with network errors "
        f"({', '.join(_all_reasons(cases))}) in {_count(_failure_runs(matched), 'run')}."
    )
    return _anti_pattern("live_external_calls", summary, cases=cases)


def _shared_database_state(
    scope: Scope, failures: list[Failure], refs: CaseRefs
) -> AntiPattern | None:
    matched = _classified(failures, antipatterns.database_reasons)
    for case_id, hits in _parallel_only(scope, failures).items():
        matched[case_id] = sorted(
            [*matched.get(case_id, []), *hits], key=lambda hit: (hit[0].started_at, hit[0].run_id)
        )
    if not matched:
        return None
    cases = _case_findings(matched, refs)
    summary = (
        f"{_count(len(cases), 'test')} failed in ways that shared database state causes "
        f"({', '.join(_all_reasons(cases))}) in {_count(_failure_runs(matched), 'run')}."
    )
    return _anti_pattern("shared_database_state", summary, cases=cases)


PARALLEL_ONLY = "fails only in parallel runs"


def _parallel_only(scope: Scope, failures: list[Failure]) -> dict[int, list]:
    """Tests that failed in parallel runs only, and passed in serial ones (one query)."""
    by_case: dict[int, list[Failure]] = defaultdict(list)
    for failure in failures:
        if failure.wall_seconds > 0:
            by_case[failure.case_id].append(failure)
    candidates = {}
    for case_id, seen in by_case.items():
        parallel = [f for f in seen if _is_parallel(f.wall_seconds, f.case_seconds)]
        if len(parallel) >= antipatterns.PARALLEL_ONLY_MIN_FAILURES and len(parallel) == len(seen):
            candidates[case_id] = parallel
    if not candidates:
        return {}
    passes = _serial_passes(scope, set(candidates))
    return {
        case_id: [(failure, [PARALLEL_ONLY]) for failure in parallel]
        for case_id, parallel in candidates.items()
        if antipatterns.fails_only_in_parallel(len(parallel), 0, passes.get(case_id, 0))
    }


def _is_parallel(wall_seconds: float, case_seconds: float) -> bool:
    return wall_seconds > 0 and case_seconds >= wall_seconds * antipatterns.PARALLEL_RATIO


def _serial_passes(scope: Scope, case_ids: set[int]) -> dict[int, int]:
    """Per case: passing executions in timed serial runs of the scope."""
    serial = (Run.wall_seconds > 0) & (
        Run.case_seconds < Run.wall_seconds * antipatterns.PARALLEL_RATIO
    )
    query = (
        select(Result.case_id, func.count())
        .join(Run, Run.id == Result.run_id)
        .where(
            *scope.run_conditions(),
            not_infrastructure_failure(),
            serial,
            Result.outcome == "passed",
            rollups.among(Result.case_id, case_ids),
        )
        .group_by(Result.case_id)
    )
    return dict(db.session.execute(query).all())


def _run_timings(scope: Scope) -> list[antipatterns.RunTiming]:
    """The week's timed non-infrastructure runs (wall and case time both reported)."""
    query = (
        select(Run.id, Run.job, Run.started_at, Run.wall_seconds, Run.case_seconds)
        .where(
            *scope.run_conditions(),
            not_infrastructure_failure(),
            Run.wall_seconds > 0,
            Run.case_seconds > 0,
        )
        .order_by(Run.started_at, Run.id)
    )
    return [antipatterns.RunTiming(*row) for row in db.session.execute(query)]


def _suite_finding(
    suite: antipatterns.SuiteTiming, shown: list[antipatterns.RunTiming]
) -> SuiteFinding:
    """The suite's medians, naming the runs that show the problem (else its latest runs)."""
    return SuiteFinding(
        job=suite.job,
        runs=len(suite.runs),
        run_ids=[run.run_id for run in (shown or suite.runs)[:RUNS_LISTED]],
        wall_seconds=suite.wall_seconds,
        case_seconds=suite.case_seconds,
        outside_seconds=suite.outside_seconds,
        outside_share=suite.outside_share,
    )


def _setup_bloat(suites: list[antipatterns.SuiteTiming]) -> AntiPattern | None:
    bloated = [
        _suite_finding(suite, [run for run in suite.runs if run.is_bloated])
        for suite in suites
        if suite.is_bloated
    ]
    if not bloated:
        return None
    jobs = ", ".join(f"{s.job} ({s.outside_share:.0%})" for s in bloated)
    summary = (
        f"{_count(len(bloated), 'suite')} spent a large share of their wall time outside "
        f"their test cases: {jobs} (median run of the week)."
    )
    return _anti_pattern("setup_teardown_bloat", summary, suites=bloated)


def _serial_suites(suites: list[antipatterns.SuiteTiming]) -> AntiPattern | None:
    serial = [
        (suite, [run for run in suite.runs if run.is_serial]) for suite in suites if suite.is_serial
    ]
    if not serial:
        return None
    estimates = _estimates([(shown or suite.runs)[0].run_id for suite, shown in serial])
    findings = []
    for suite, shown in serial:
        run_id = (shown or suite.runs)[0].run_id
        found = _suite_finding(suite, shown)
        findings.append(replace(found, estimate=estimates.get(run_id, {}), estimate_run_id=run_id))
    jobs = ", ".join(f"{s.job} ({s.wall_seconds / 60:.1f} min)" for s in findings)
    summary = (
        f"{_count(len(findings), 'suite')} ran one test at a time for more than "
        f"{antipatterns.SERIAL_MIN_SECONDS / 60:.0f} minutes: {jobs} (median run of the week)."
    )
    return _anti_pattern("serial_suite", summary, suites=findings)


def _estimates(run_ids: list[int]) -> dict[int, dict[int, float]]:
    """The parallelism estimate of each run, from its time per test file (one query)."""
    query = (
        select(Result.run_id, Case.file, Case.classname, func.sum(Result.duration_s))
        .join(Case, Case.id == Result.case_id)
        .where(rollups.among(Result.run_id, run_ids), Result.outcome != "skipped")
        .group_by(Result.run_id, Case.file, Case.classname)
    )
    files: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for run_id, file, classname, seconds in db.session.execute(query):
        files[run_id][file or classname] += seconds or 0.0
    return {
        run_id: {n: durations.lpt_makespan(by_file, n) for n in durations.WORKER_COUNTS}
        for run_id, by_file in files.items()
    }


def _low_branch_coverage(scope: Scope, summary: coverage.CoverageSummary) -> AntiPattern | None:
    if summary.latest is None:
        return None
    threshold = scope.project.branch_coverage_threshold
    files_scope = replace(scope, branch=summary.branch)
    under = coverage.rank_by_uncovered_branches(
        coverage.file_table(files_scope, summary), threshold
    )
    if not under:
        return None
    files = [
        FileFinding(f.path, f.branch_rate, f.missing_branches or 0, f.branches_valid or 0)
        for f in under[:LOW_COVERAGE_FILES]
    ]
    text = (
        f"{_count(len(under), 'file')} of {summary.branch} are under the project's "
        f"branch-coverage threshold of {threshold:.0%}, leaving "
        f"{_count(sum(f.missing_branches or 0 for f in under), 'branch', 'branches')} uncovered."
    )
    return _anti_pattern(
        "low_branch_coverage", text, files=files, coverage_run_id=summary.latest.run_id
    )


def _all_reasons(cases: list[CaseFinding]) -> list[str]:
    return sorted({reason for finding in cases for reason in finding.reasons})


def _failure_runs(matched: dict[int, list[tuple[Failure, list[str]]]]) -> int:
    return len({failure.run_id for hits in matched.values() for failure, _ in hits})


def _count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else (plural or singular + 's')}"
