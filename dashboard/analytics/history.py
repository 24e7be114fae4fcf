"""One test's history: its last executions, its failures by cause, its flakiness."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from dashboard.analytics.flaky import CaseFlakiness, case_flakiness
from dashboard.analytics.runs import MAX_ID, CaseRef, OutcomeKind, case_json
from dashboard.analytics.scope import FAILED_OUTCOMES, Scope, infrastructure_failure
from dashboard.extensions import db
from dashboard.filters import Filters
from dashboard.models import Case, Project, Result, Run

HISTORY_LIMIT = 100
FAILURE_GROUP_LIMIT = 20

# One letter per kind of execution, so the status strip never relies on colour.
LETTERS = {"passed": "P", "failed": "F", "error": "E", "skipped": "S", "retried": "R"}


@dataclass(frozen=True, slots=True)
class Execution(OutcomeKind):
    """The case in one run."""

    run_id: int
    build: str
    started_at: datetime
    branch: str | None
    job: str
    commit_sha: str | None
    outcome: str
    attempts: int
    retry_flake: bool
    duration_s: float
    infrastructure_failure: bool

    @property
    def letter(self) -> str:
        return LETTERS[self.kind]


@dataclass(frozen=True, slots=True)
class CaseFailureGroup:
    """This case's failures sharing a fingerprint, with the latest one's message."""

    fingerprint: str | None
    failure_type: str | None
    message: str | None
    trace: str | None
    count: int
    first_seen_at: datetime
    last_seen_at: datetime
    last_run_id: int


@dataclass(frozen=True, slots=True)
class CaseHistory:
    case: Case
    executions: list[Execution]  # oldest first, newest last (the strip reads left to right)
    failure_groups: list[CaseFailureGroup]
    flakiness: CaseFlakiness

    @property
    def ref(self) -> CaseRef:
        return CaseRef(self.case.id, self.case.file, self.case.classname, self.case.name)

    @property
    def kind_counts(self) -> Counter:
        return Counter(execution.kind for execution in self.executions)


def get_case(project: Project, case_id: int) -> Case | None:
    """The project's case ``case_id``, or ``None`` (also for another project's case)."""
    if not 0 < case_id <= MAX_ID:
        return None
    found = db.session.get(Case, case_id)
    if found is None or found.project_id != project.id:
        return None
    return found


def case_history(project: Project, case_id: int, limit: int = HISTORY_LIMIT) -> CaseHistory | None:
    """The case's last ``limit`` executions, failure groups and flakiness; ``None``
    when the project has no such case."""
    found = get_case(project, case_id)
    if found is None:
        return None
    return CaseHistory(
        case=found,
        executions=executions(found.id, limit),
        failure_groups=case_failure_groups(found.id),
        flakiness=flakiness(project, found.id),
    )


def executions(case_id: int, limit: int = HISTORY_LIMIT) -> list[Execution]:
    """The latest ``limit`` executions, returned oldest first."""
    query = (
        select(
            Run.id,
            Run.build,
            Run.started_at,
            Run.branch,
            Run.job,
            Run.commit_sha,
            Result.outcome,
            Result.attempts,
            Result.retry_flake,
            Result.duration_s,
            infrastructure_failure().label("infrastructure"),
        )
        .join(Run, Run.id == Result.run_id)
        .where(Result.case_id == case_id)
        .order_by(Run.started_at.desc(), Run.id.desc())
        .limit(limit)
    )
    rows = [
        Execution(
            run_id=row.id,
            build=row.build,
            started_at=row.started_at,
            branch=row.branch,
            job=row.job,
            commit_sha=row.commit_sha,
            outcome=row.outcome,
            attempts=row.attempts,
            retry_flake=bool(row.retry_flake),
            duration_s=row.duration_s,
            infrastructure_failure=bool(row.infrastructure),
        )
        for row in db.session.execute(query)
    ]
    rows.reverse()
    return rows


def case_failure_groups(case_id: int) -> list[CaseFailureGroup]:
    """Every failure of the case over its whole history, grouped by fingerprint,
    most frequent first; one query, the latest failure of each group kept."""
    key = func.coalesce(Result.fingerprint, "")
    ranked = (
        select(
            key.label("key"),
            Result.failure_type,
            Result.message,
            Result.trace,
            Run.id.label("run_id"),
            Run.started_at,
            func.count().over(partition_by=key).label("group_size"),
            func.min(Run.started_at).over(partition_by=key).label("first_seen_at"),
            func.row_number()
            .over(partition_by=key, order_by=(Run.started_at.desc(), Run.id.desc()))
            .label("position"),
        )
        .join(Run, Run.id == Result.run_id)
        .where(Result.case_id == case_id, Result.outcome.in_(FAILED_OUTCOMES))
        .subquery()
    )
    query = (
        select(ranked)
        .where(ranked.c.position == 1)
        .order_by(ranked.c.group_size.desc(), ranked.c.started_at.desc(), ranked.c.key)
        .limit(FAILURE_GROUP_LIMIT)
    )
    return [
        CaseFailureGroup(
            fingerprint=row.key or None,
            failure_type=row.failure_type,
            message=row.message,
            trace=row.trace,
            count=row.group_size,
            first_seen_at=row.first_seen_at,
            last_seen_at=row.started_at,
            last_run_id=row.run_id,
        )
        for row in db.session.execute(query)
    ]


def flakiness(project: Project, case_id: int) -> CaseFlakiness:
    """The flaky-tests analysis of this case over the default 30-day window."""
    return case_flakiness(Scope.from_filters(project, Filters()), case_id)


# --- JSON for the API -----------------------------------------------------------------


def execution_json(execution: Execution) -> dict:
    return {
        "run_id": execution.run_id,
        "build": execution.build,
        "started_at": execution.started_at.isoformat(),
        "branch": execution.branch,
        "job": execution.job,
        "commit": execution.commit_sha,
        "outcome": execution.outcome,
        "attempts": execution.attempts,
        "retry_flake": execution.retry_flake,
        "duration_s": execution.duration_s,
        "infrastructure_failure": execution.infrastructure_failure,
    }


def failure_group_json(group: CaseFailureGroup) -> dict:
    return {
        "fingerprint": group.fingerprint,
        "failure_type": group.failure_type,
        "message": group.message,
        "count": group.count,
        "first_seen_at": group.first_seen_at.isoformat(),
        "last_seen_at": group.last_seen_at.isoformat(),
        "last_run_id": group.last_run_id,
    }


def history_json(history: CaseHistory) -> dict:
    return {
        "case": case_json(history.ref),
        "executions": [execution_json(e) for e in history.executions],
        "failure_groups": [failure_group_json(g) for g in history.failure_groups],
    }
