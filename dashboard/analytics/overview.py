"""The project overview: headline cards against the previous period, and trends."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import func, select

from dashboard.analytics import coverage, flaky
from dashboard.analytics.durations import median
from dashboard.analytics.scope import Scope
from dashboard.extensions import db
from dashboard.models import Project, Run, utc_date_text

TOP_FLAKY = 10
LATEST_RUNS = 10


@dataclass(frozen=True, slots=True)
class Card:
    """One headline figure; ``kind`` says how to show it, ``good`` which way is better."""

    label: str
    value: float | None
    previous: float | None
    kind: str  # "count", "rate" or "seconds"
    good: str  # "up" or "down"

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous


@dataclass(frozen=True, slots=True)
class RunStats:
    runs: int | None  # None only for a period before the project's first run
    green_rate: float | None
    median_wall_seconds: float | None


@dataclass(frozen=True, slots=True)
class DailyHealth:
    day: date
    runs: int
    green_runs: int

    @property
    def green_rate(self) -> float:
        return self.green_runs / self.runs if self.runs else 0.0


@dataclass(frozen=True, slots=True)
class Overview:
    cards: list[Card]
    top_flaky: list[flaky.CaseFlakiness]
    latest_runs: list[Run]


def run_stats(scope: Scope) -> RunStats:
    """Runs in the scope, the share that passed (no failure or error), median wall time."""
    # No start times: parsing one per run (SQLite keeps text) cost more than the rest.
    query = select(Run.failed + Run.errors, Run.wall_seconds).where(
        *scope.run_conditions(), Run.tests > 0
    )
    rows = db.session.execute(query).all()
    if not rows:
        return RunStats(0, None, None)
    green = sum(1 for failures, _ in rows if failures == 0)
    walls = [wall for _, wall in rows if wall]
    return RunStats(len(rows), green / len(rows), median(walls) if walls else None)


def daily_health(scope: Scope) -> list[DailyHealth]:
    """Runs and green runs per day (UTC), oldest first: counted by the database, so
    that the chart costs one row per day, not one per run."""
    day = utc_date_text(Run.started_at)
    green = func.count().filter(Run.failed + Run.errors == 0)
    query = (
        select(day, func.count(), green)
        .where(*scope.run_conditions(), Run.tests > 0)
        .group_by(day)
        .order_by(day)
    )
    return [
        DailyHealth(date.fromisoformat(day), runs, green)
        for day, runs, green in db.session.execute(query)
    ]


def _coverage_rates(scope: Scope) -> tuple[float | None, float | None]:
    # The default branch's coverage as of the end of the scope's window.
    report = coverage.latest_report(replace(scope, branch=scope.project.default_branch, job=None))
    if report is None:
        return None, None
    return report.line_rate, report.branch_rate


def has_runs_before(project: Project, moment: datetime) -> bool:
    """Whether the project has any run before ``moment``: is there an earlier figure?"""
    query = select(Run.id).where(Run.project_id == project.id, Run.started_at < moment).limit(1)
    return db.session.scalar(query) is not None


# The previous period of a project whose history starts within the window: no
# figure at all, where zeros would show "+345 runs" against nothing.
NO_EARLIER_STATS = RunStats(runs=None, green_rate=None, median_wall_seconds=None)


def project_overview(scope: Scope) -> Overview:
    now_stats = run_stats(scope)
    report = flaky.flaky_report(scope)
    flaky_now = [case for case in report if case.status == "flaky"]
    line_now, branch_now = _coverage_rates(scope)
    if has_runs_before(scope.project, scope.since):
        previous = scope.previous_period()
        before_stats, flaky_before = run_stats(previous), flaky.flaky_count(previous)
        line_before, branch_before = _coverage_rates(previous)
    else:
        before_stats, flaky_before = NO_EARLIER_STATS, None
        line_before = branch_before = None
    cards = [
        Card("Runs", now_stats.runs, before_stats.runs, "count", "up"),
        Card("Runs passed", now_stats.green_rate, before_stats.green_rate, "rate", "up"),
        Card("Flaky tests", len(flaky_now), flaky_before, "count", "down"),
        Card(
            "Median suite wall time",
            now_stats.median_wall_seconds,
            before_stats.median_wall_seconds,
            "seconds",
            "down",
        ),
        Card("Line coverage", line_now, line_before, "rate", "up"),
        Card("Branch coverage", branch_now, branch_before, "rate", "up"),
    ]
    latest = db.session.scalars(
        select(Run)
        .where(*scope.run_conditions())
        .order_by(Run.started_at.desc(), Run.id.desc())
        .limit(LATEST_RUNS)
    ).all()
    return Overview(cards=cards, top_flaky=flaky_now[:TOP_FLAKY], latest_runs=list(latest))
