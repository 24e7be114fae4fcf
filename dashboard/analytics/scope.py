"""What an analytics question is asked about: a project, a time window, filters."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, and_, select
from sqlalchemy.sql.elements import ColumnElement

from dashboard.filters import Filters
from dashboard.models import Project, Run

# A run in which more than 80% of the executed cases failed is an
# infrastructure failure: shown, never used as flakiness evidence.
INFRASTRUCTURE_FAILURE_SHARE = 0.8
FAILED_OUTCOMES = ("failed", "error")


@dataclass(frozen=True, slots=True)
class Scope:
    project: Project
    since: datetime
    until: datetime
    branch: str | None = None
    job: str | None = None
    window_days: int = 30
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_filters(cls, project: Project, filters: Filters, now: datetime | None = None) -> Scope:
        until = now or datetime.now(UTC)
        return cls(
            project=project,
            since=until - timedelta(days=filters.window),
            until=until,
            branch=filters.branch,
            job=filters.job,
            window_days=filters.window,
        )

    def previous_period(self) -> Scope:
        """The window of the same length just before this one (for "change" figures)."""
        length = self.until - self.since
        return replace(self, since=self.since - length, until=self.since)

    def run_conditions(self) -> list[ColumnElement[bool]]:
        """WHERE conditions selecting this scope's runs (index: project, started_at)."""
        conditions = [
            Run.project_id == self.project.id,
            Run.started_at >= self.since,
            Run.started_at < self.until,
        ]
        if self.branch:
            conditions.append(Run.branch == self.branch)
        if self.job:
            conditions.append(Run.job == self.job)
        return conditions

    def runs(self) -> Select:
        return select(Run).where(*self.run_conditions())


def infrastructure_failure() -> ColumnElement[bool]:
    """SQL: the run failed in more than 80% of its executed cases."""
    executed = Run.tests - Run.skipped
    return and_(executed > 0, (Run.failed + Run.errors) * 5 > executed * 4)


def not_infrastructure_failure() -> ColumnElement[bool]:
    executed = Run.tests - Run.skipped
    return (executed <= 0) | ((Run.failed + Run.errors) * 5 <= executed * 4)
