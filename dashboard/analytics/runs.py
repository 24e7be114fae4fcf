"""Runs: the runs list, one run's detail, and the comparison of two runs.

Every section is one bounded query (window functions cap the rows per group
in SQL), so a run with 30,000 failures costs the same number of statements as
a run with three, and returns only what the page shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, func, literal, or_, select, union_all
from sqlalchemy.sql.elements import ColumnElement

from dashboard.analytics import coverage
from dashboard.analytics.scope import (
    FAILED_OUTCOMES,
    Scope,
    infrastructure_failure,
    not_infrastructure_failure,
)
from dashboard.extensions import db
from dashboard.filters import Filters, Page
from dashboard.models import Case, CoverageReport, Project, Result, Run, Upload

# Ids are 32-bit integers in the schema; a larger number from a URL names no
# row, and PostgreSQL would reject it as a parameter rather than find nothing.
MAX_ID = 2**31 - 1

FAILURE_GROUP_LIMIT = 50
CASES_PER_GROUP = 20
RETRY_FLAKE_LIMIT = 100
SLOWEST_LIMIT = 10
SECTION_LIMIT = 100
DURATION_CHANGE_LIMIT = 20

# Run statuses, as the runs list filters them (URL parameter ``status``).
PASSED, FAILED, INFRASTRUCTURE, RETRY_FLAKES = "passed", "failed", "infrastructure", "retry-flakes"
RUN_STATUSES = (
    (PASSED, "passed"),
    (FAILED, "failed"),
    (INFRASTRUCTURE, "infrastructure failure"),
    (RETRY_FLAKES, "has retry flakes"),
)


# --- small shared shapes ---------------------------------------------------------------

DESCRIPTIONS = {
    "passed": "passed",
    "failed": "failed",
    "error": "error",
    "skipped": "skipped",
    "retried": "passed after a retry",
}


class OutcomeKind:
    """How an execution ended, in words: for anything with ``outcome`` and
    ``retry_flake`` (a run's results, a test's executions, its latest one)."""

    __slots__ = ()
    outcome: str
    retry_flake: bool

    @property
    def kind(self) -> str:
        """The outcome, with a pass that needed a retry told apart as ``retried``."""
        return "retried" if self.retry_flake and self.outcome == "passed" else self.outcome

    @property
    def description(self) -> str:
        return DESCRIPTIONS[self.kind]


@dataclass(frozen=True, slots=True)
class CaseRef:
    """A test's identity, enough to name it and link to its history."""

    id: int
    file: str
    classname: str
    name: str

    @property
    def display_name(self) -> str:
        return f"{self.classname}::{self.name}" if self.classname else self.name


CASE_COLUMNS = (Case.id, Case.file, Case.classname, Case.name)


def labelled_case_columns() -> list:
    """The case's identity as ``case_id``, ``case_file``, ... (read back by ``case_ref``)."""
    return [column.label(f"case_{column.key}") for column in CASE_COLUMNS]


def case_ref(row: Any) -> CaseRef:
    return CaseRef(
        id=row.case_id, file=row.case_file, classname=row.case_classname, name=row.case_name
    )


def case_order() -> tuple:
    """Stable, readable order of tests: by file, class, name."""
    return (Case.file, Case.classname, Case.name, Case.id)


def run_status(run: Run) -> str:
    """``infrastructure`` (more than 80% failed), ``failed`` or ``passed``."""
    if run.is_infrastructure_failure:
        return INFRASTRUCTURE
    return FAILED if run.failed + run.errors else PASSED


def get_run(project: Project, run_id: int) -> Run | None:
    """The project's run ``run_id``, or ``None`` (also for another project's run)."""
    if not 0 < run_id <= MAX_ID:
        return None
    run = db.session.get(Run, run_id)
    if run is None or run.project_id != project.id:
        return None
    return run


def previous_run(run: Run) -> Run | None:
    """The run of the same branch and job just before ``run`` (index: project, branch, job)."""
    same_branch = Run.branch.is_(None) if run.branch is None else Run.branch == run.branch
    earlier = or_(
        Run.started_at < run.started_at,
        and_(Run.started_at == run.started_at, Run.id < run.id),
    )
    query = (
        select(Run)
        .where(Run.project_id == run.project_id, same_branch, Run.job == run.job, earlier)
        .order_by(Run.started_at.desc(), Run.id.desc())
        .limit(1)
    )
    return db.session.scalar(query)


# --- runs list ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunRow:
    run: Run

    @property
    def status(self) -> str:
        return run_status(self.run)


def status_condition(status: str | None) -> ColumnElement[bool] | None:
    """SQL for one status of the filter; unknown values filter nothing (like Filters)."""
    has_failures = (Run.failed + Run.errors) > 0
    conditions = {
        PASSED: ~has_failures,
        FAILED: and_(has_failures, not_infrastructure_failure()),
        INFRASTRUCTURE: infrastructure_failure(),
        RETRY_FLAKES: Run.retry_flakes > 0,
    }
    return conditions.get(status or "")


def runs_page(scope: Scope, filters: Filters) -> Page[RunRow]:
    """One page of the project's runs, newest first, narrowed by branch, job and status.

    The list spans the whole history rather than the scope's window, so every
    run stays reachable by paging; only the scope's project, branch and job apply.
    """
    conditions = [Run.project_id == scope.project.id]
    if scope.branch:
        conditions.append(Run.branch == scope.branch)
    if scope.job:
        conditions.append(Run.job == scope.job)
    status = status_condition(filters.status)
    if status is not None:
        conditions.append(status)
    total = db.session.scalar(select(func.count()).select_from(Run).where(*conditions)) or 0
    items: list[RunRow] = []
    # A page past the end needs no query (and a huge page number no huge OFFSET).
    if filters.offset < total:
        query = (
            select(Run)
            .where(*conditions)
            .order_by(Run.started_at.desc(), Run.id.desc())
            .offset(filters.offset)
            .limit(filters.per_page)
        )
        items = [RunRow(run) for run in db.session.scalars(query)]
    return Page(items, filters.page, filters.per_page, total)


# --- run detail -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FailureGroup:
    """The failures of one run sharing a fingerprint (one root cause)."""

    fingerprint: str | None
    outcome: str
    failure_type: str | None
    message: str | None
    trace: str | None
    count: int
    cases: list[CaseRef]

    @property
    def more(self) -> int:
        """Cases in the group beyond those listed."""
        return self.count - len(self.cases)


@dataclass(frozen=True, slots=True)
class CaseExecution(OutcomeKind):
    """A case's result in one run (retry flakes, slowest tests, the run's results)."""

    case: CaseRef
    outcome: str
    duration_s: float
    attempts: int
    message: str | None = None  # the failure or skip message, if the report gave one
    retry_flake: bool = False


@dataclass(frozen=True, slots=True)
class RunDetail:
    run: Run
    failure_groups: list[FailureGroup]
    failure_group_total: int
    retry_flakes: list[CaseExecution]
    slowest: list[CaseExecution]
    coverage: CoverageReport | None
    uploads: list[Upload]
    previous_run_id: int | None

    @property
    def status(self) -> str:
        return run_status(self.run)

    @property
    def hidden_failure_groups(self) -> int:
        return self.failure_group_total - len(self.failure_groups)

    @property
    def hidden_retry_flakes(self) -> int:
        return max(self.run.retry_flakes - len(self.retry_flakes), 0)


def run_detail(run: Run) -> RunDetail:
    earlier = previous_run(run)
    groups, group_total = failure_groups(run.id)
    return RunDetail(
        run=run,
        failure_groups=groups,
        failure_group_total=group_total,
        retry_flakes=retry_flakes(run.id),
        slowest=slowest_cases(run.id),
        coverage=db.session.scalar(select(CoverageReport).where(CoverageReport.run_id == run.id)),
        uploads=list(
            db.session.scalars(select(Upload).where(Upload.run_id == run.id).order_by(Upload.id))
        ),
        previous_run_id=earlier.id if earlier is not None else None,
    )


def failure_groups(run_id: int) -> tuple[list[FailureGroup], int]:
    """The run's failures grouped by fingerprint, largest groups first, and the
    number of groups in all. One query: window functions rank the groups and
    the cases inside each, so only the listed rows leave the database."""
    key = func.coalesce(Result.fingerprint, "")
    ranked = (
        select(
            key.label("key"),
            Result.outcome,
            Result.failure_type,
            Result.message,
            Result.trace,
            *labelled_case_columns(),
            func.count().over(partition_by=key).label("group_size"),
            func.row_number().over(partition_by=key, order_by=case_order()).label("position"),
        )
        .join(Case, Case.id == Result.case_id)
        .where(Result.run_id == run_id, Result.outcome.in_(FAILED_OUTCOMES))
        .subquery()
    )
    first = case((ranked.c.position == 1, 1), else_=0)
    grouped = select(
        ranked,
        func.dense_rank()
        .over(order_by=(ranked.c.group_size.desc(), ranked.c.key))
        .label("group_rank"),
        func.sum(first).over().label("group_total"),
    ).subquery()
    query = (
        select(grouped)
        .where(grouped.c.position <= CASES_PER_GROUP, grouped.c.group_rank <= FAILURE_GROUP_LIMIT)
        .order_by(grouped.c.group_rank, grouped.c.position)
    )
    groups: list[FailureGroup] = []
    total = 0
    for row in db.session.execute(query):
        total = int(row.group_total)
        if row.position == 1:
            groups.append(
                FailureGroup(
                    fingerprint=row.key or None,
                    outcome=row.outcome,
                    failure_type=row.failure_type,
                    message=row.message,
                    trace=row.trace,
                    count=row.group_size,
                    cases=[],
                )
            )
        groups[-1].cases.append(case_ref(row))
    return groups, total


def executions(query: Select) -> list[CaseExecution]:
    """The rows of an ``execution_query`` (narrowed, ordered, limited) as executions."""
    return [
        CaseExecution(
            case=case_ref(row),
            outcome=row.outcome,
            duration_s=row.duration_s,
            attempts=row.attempts,
            message=row.message,
            retry_flake=row.retry_flake,
        )
        for row in db.session.execute(query)
    ]


def execution_query(run_id: int) -> Select:
    """SQL: the run's results with their cases, as ``executions`` reads them."""
    return (
        select(
            Result.outcome,
            Result.duration_s,
            Result.attempts,
            Result.message,
            Result.retry_flake,
            *labelled_case_columns(),
        )
        .join(Case, Case.id == Result.case_id)
        .where(Result.run_id == run_id)
    )


def retry_flakes(run_id: int) -> list[CaseExecution]:
    """Cases that failed and then passed on a retry within the run."""
    query = (
        execution_query(run_id)
        .where(Result.retry_flake.is_(True))
        .order_by(*case_order())
        .limit(RETRY_FLAKE_LIMIT)
    )
    return executions(query)


def slowest_cases(run_id: int, limit: int = SLOWEST_LIMIT) -> list[CaseExecution]:
    query = (
        execution_query(run_id)
        .where(Result.outcome != "skipped")
        .order_by(Result.duration_s.desc(), Case.id)
        .limit(limit)
    )
    return executions(query)


# --- comparing two runs ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseChange:
    """One case in both runs (an outcome is ``None`` where the run lacks the case)."""

    case: CaseRef
    base_outcome: str | None
    head_outcome: str | None
    failure_type: str | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class Section:
    """The first cases of a comparison section and how many there are in all."""

    items: list[CaseChange]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.items)


@dataclass(frozen=True, slots=True)
class DurationChange:
    case: CaseRef
    base_s: float
    head_s: float

    @property
    def change_s(self) -> float:
        return self.head_s - self.base_s

    @property
    def change_pct(self) -> float | None:
        """Relative change (0.5 is +50%); ``None`` when the base took no time."""
        return self.change_s / self.base_s if self.base_s > 0 else None


@dataclass(frozen=True, slots=True)
class CoverageChange:
    base: CoverageReport | None
    head: CoverageReport | None
    # Files whose coverage changed (see coverage_movers); None without both reports.
    files: list[coverage.FileDelta] | None

    @property
    def line_delta(self) -> float | None:
        return _rate_delta(self.base, self.head, "line_rate")

    @property
    def branch_delta(self) -> float | None:
        return _rate_delta(self.base, self.head, "branch_rate")


def _rate_delta(base, head, rate: str) -> float | None:
    if base is None or head is None:
        return None
    old, new = getattr(base, rate), getattr(head, rate)
    return None if old is None or new is None else new - old


SECTION_NAMES = ("new_failures", "fixed", "still_failing", "added", "removed")


@dataclass(frozen=True, slots=True)
class RunComparison:
    base: Run
    head: Run
    new_failures: Section
    fixed: Section
    still_failing: Section
    added: Section
    removed: Section
    durations: list[DurationChange]
    coverage: CoverageChange

    @property
    def sections(self) -> dict[str, Section]:
        return {name: getattr(self, name) for name in SECTION_NAMES}

    @property
    def base_status(self) -> str:
        return run_status(self.base)

    @property
    def head_status(self) -> str:
        return run_status(self.head)


def compare_runs(base: Run, head: Run) -> RunComparison:
    """What changed from ``base`` to ``head``.

    New failures failed in head and did not fail in base (passed, skipped or
    absent there); fixed failed in base and passed in head; still failing
    failed in both; added and removed are cases present in only one run.
    """
    pivot = _pivot(base.id, head.id)
    sections = _sections(pivot, head.id)
    return RunComparison(
        base=base,
        head=head,
        **{name: sections.get(name, Section([], 0)) for name in SECTION_NAMES},
        durations=_duration_changes(pivot),
        coverage=_coverage_change(base, head),
    )


def _pivot(base_id: int, head_id: int):
    """One row per case of either run: its outcome and duration in each (NULL: absent)."""
    in_base, in_head = Result.run_id == base_id, Result.run_id == head_id
    return (
        select(
            Result.case_id,
            func.max(case((in_base, Result.outcome))).label("base_outcome"),
            func.max(case((in_head, Result.outcome))).label("head_outcome"),
            func.max(case((in_base, Result.duration_s))).label("base_s"),
            func.max(case((in_head, Result.duration_s))).label("head_s"),
        )
        .where(Result.run_id.in_((base_id, head_id)))
        .group_by(Result.case_id)
        .cte("pivot")
    )


def _section_conditions(pivot) -> dict[str, ColumnElement[bool]]:
    base, head = pivot.c.base_outcome, pivot.c.head_outcome
    base_failed, head_failed = base.in_(FAILED_OUTCOMES), head.in_(FAILED_OUTCOMES)
    return {
        # NOT IN over a NULL is NULL, so "absent from base" is spelled out.
        "new_failures": and_(head_failed, or_(base.is_(None), base.not_in(FAILED_OUTCOMES))),
        "fixed": and_(base_failed, head == "passed"),
        "still_failing": and_(base_failed, head_failed),
        "added": base.is_(None),
        "removed": head.is_(None),
    }


def _sections(pivot, head_id: int) -> dict[str, Section]:
    """Every section's first cases and its total, in one query. A case may sit in
    two sections: a test added already failing is both added and a new failure."""
    labelled = union_all(
        *(
            select(
                pivot.c.case_id,
                pivot.c.base_outcome,
                pivot.c.head_outcome,
                literal(name).label("section"),
            ).where(condition)
            for name, condition in _section_conditions(pivot).items()
        )
    ).subquery()
    ranked = (
        select(
            labelled.c.section,
            labelled.c.base_outcome,
            labelled.c.head_outcome,
            *labelled_case_columns(),
            func.count().over(partition_by=labelled.c.section).label("section_total"),
            func.row_number()
            .over(partition_by=labelled.c.section, order_by=case_order())
            .label("position"),
        )
        .join(Case, Case.id == labelled.c.case_id)
        .subquery()
    )
    # The head's failure, for the sections where the head failed.
    head_result = (
        select(ranked, Result.failure_type, Result.message)
        .outerjoin(Result, and_(Result.run_id == head_id, Result.case_id == ranked.c.case_id))
        .where(ranked.c.position <= SECTION_LIMIT)
        .order_by(ranked.c.section, ranked.c.position)
    )
    sections: dict[str, Section] = {}
    for row in db.session.execute(head_result):
        section = sections.setdefault(row.section, Section([], row.section_total))
        section.items.append(
            CaseChange(
                case=case_ref(row),
                base_outcome=row.base_outcome,
                head_outcome=row.head_outcome,
                failure_type=row.failure_type,
                message=row.message,
            )
        )
    return sections


def _duration_changes(pivot) -> list[DurationChange]:
    """The largest changes in duration among cases executed (not skipped) in both runs."""
    executed = [
        column.is_not(None) & (column != "skipped")
        for column in (pivot.c.base_outcome, pivot.c.head_outcome)
    ]
    query = (
        select(pivot.c.base_s, pivot.c.head_s, *labelled_case_columns())
        .join(Case, Case.id == pivot.c.case_id)
        .where(*executed)
        .order_by(func.abs(pivot.c.head_s - pivot.c.base_s).desc(), Case.id)
        .limit(DURATION_CHANGE_LIMIT)
    )
    return [
        DurationChange(case=case_ref(row), base_s=row.base_s, head_s=row.head_s)
        for row in db.session.execute(query)
    ]


def _coverage_change(base: Run, head: Run) -> CoverageChange:
    reports = coverage.reports_by_run((base.id, head.id))
    old, new = reports.get(base.id), reports.get(head.id)
    if old is None or new is None:
        return CoverageChange(base=old, head=new, files=None)
    return CoverageChange(base=old, head=new, files=coverage_movers(old, new))


def coverage_movers(old: CoverageReport, new: CoverageReport) -> list[coverage.FileDelta]:
    """Files whose coverage changed, the largest line-rate moves first, then the
    largest branch-rate moves; files added or removed come after, by path."""
    changed = [d for d in coverage.compare_reports(old, new) if d.status != "unchanged"]
    return sorted(
        changed,
        key=lambda d: (-abs(d.delta_line_rate or 0.0), -abs(d.delta_branch_rate or 0.0), d.path),
    )


# --- JSON for the API -----------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def case_json(ref: CaseRef) -> dict:
    return {"id": ref.id, "file": ref.file, "classname": ref.classname, "name": ref.name}


def run_json(run: Run) -> dict:
    """A run's summary, as the runs list and the run detail of the API give it."""
    return {
        "id": run.id,
        "build": run.build,
        "job": run.job,
        "branch": run.branch,
        "commit": run.commit_sha,
        "build_url": run.build_url,
        "started_at": _iso(run.started_at),
        "status": run_status(run),
        "infrastructure_failure": run.is_infrastructure_failure,
        "counts": {
            "tests": run.tests,
            "passed": run.passed,
            "failed": run.failed,
            "errors": run.errors,
            "skipped": run.skipped,
            "retry_flakes": run.retry_flakes,
        },
        "wall_seconds": run.wall_seconds,
        "case_seconds": run.case_seconds,
    }


def coverage_json(report: CoverageReport | None) -> dict | None:
    if report is None:
        return None
    return {
        "format": report.format,
        "lines_valid": report.lines_valid,
        "lines_covered": report.lines_covered,
        "line_rate": report.line_rate,
        "branches_valid": report.branches_valid,
        "branches_covered": report.branches_covered,
        "branch_rate": report.branch_rate,
    }


def failure_group_json(group: FailureGroup) -> dict:
    return {
        "fingerprint": group.fingerprint,
        "outcome": group.outcome,
        "failure_type": group.failure_type,
        "message": group.message,
        "trace": group.trace,
        "count": group.count,
        "cases": [case_json(ref) for ref in group.cases],
    }


def execution_json(execution: CaseExecution) -> dict:
    return {
        "case": case_json(execution.case),
        "outcome": execution.outcome,
        "duration_s": execution.duration_s,
        "attempts": execution.attempts,
    }


def upload_json(upload: Upload) -> dict:
    return {
        "filename": upload.filename,
        "kind": upload.kind,
        "format": upload.format,
        "size_bytes": upload.size_bytes,
        "cases": upload.cases,
        "received_at": _iso(upload.received_at),
        "warnings": [str(warning) for warning in upload.warnings or []],
    }


def run_detail_json(detail: RunDetail) -> dict:
    return {
        **run_json(detail.run),
        "previous_run_id": detail.previous_run_id,
        "failure_groups": [failure_group_json(group) for group in detail.failure_groups],
        "failure_group_total": detail.failure_group_total,
        "retry_flakes": [execution_json(e) for e in detail.retry_flakes],
        "slowest": [execution_json(e) for e in detail.slowest],
        "coverage": coverage_json(detail.coverage),
        "uploads": [upload_json(upload) for upload in detail.uploads],
    }
