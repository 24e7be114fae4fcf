"""Reading the rollups: which runs they cover, which cases ran everywhere, samples.

``ingest.store`` keeps ``case_week`` and ``case_day`` in step with the results
(see ``dashboard.models``, "rollups"). A question may be answered from them only
when every run it covers is rolled up (``Run.is_rolled_up``); otherwise the
analytics read the results, as they always did. Both ways give the same answers
(the tests of ``tests/dashboard/analytics/test_rollup_paths.py`` compare them),
except where a docstring says a figure is estimated.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple

from sqlalchemy import String, and_, case, func, literal, or_, select, type_coerce
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ColumnElement

from dashboard.analytics.scope import Scope, infrastructure_failure
from dashboard.extensions import db
from dashboard.models import CaseDay, CaseWeek, Run, utc_day, week_of

# Ids go into ``IN`` lists in chunks of this size (SQLite allows 32,766 parameters).
CHUNK = 5000


class ScopeRun(NamedTuple):
    """What the rules read of one run of the scope (a tuple: thousands are made)."""

    id: int
    started: datetime | str  # as the driver gives it: read ``started_at``
    branch: str | None
    job: str
    commit: str | None
    wall_seconds: float
    tests: int
    infrastructure: bool
    rolled_up: bool

    @property
    def started_at(self) -> datetime:
        """The start, parsed only when asked: most runs are only counted."""
        return as_utc(self.started)


def as_utc(value: datetime | str) -> datetime:
    """A timestamp as ``UtcDateTime`` reads it, from the driver's value (SQLite
    keeps naive UTC text, PostgreSQL gives an aware datetime)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def rolled_up() -> ColumnElement[bool]:
    """SQL: the run's results are in the rollups as they are now (``Run.is_rolled_up``)."""
    verdict = infrastructure_failure()
    return and_(
        Run.rollup_started_at.is_not(None),
        Run.rollup_infra.is_not(None),
        Run.rollup_started_at == Run.started_at,
        Run.rollup_infra == verdict,
    )


def scope_runs(scope: Scope) -> list[ScopeRun]:
    """Every run of the scope, oldest first (start, then id): one query."""
    query = (
        select(
            Run.id,
            type_coerce(Run.started_at, String()),
            Run.branch,
            Run.job,
            Run.commit_sha,
            Run.wall_seconds,
            Run.tests,
            infrastructure_failure(),
            rolled_up(),
        )
        .where(*scope.run_conditions())
        .order_by(Run.started_at, Run.id)
    )
    return [
        ScopeRun(id, started, branch, job, commit, wall or 0.0, tests or 0, bool(infra), bool(up))
        for id, started, branch, job, commit, wall, tests, infra, up in db.session.execute(query)
    ]


def raw_iter(statement: Executable) -> Iterator[tuple]:
    """The rows of a statement of plain values (numbers, strings), fetched by the
    driver itself: for the few queries that return thousands of rows, SQLAlchemy's
    row objects cost more than the database does. Runs on the session's
    connection, so inside its transaction; parameters are rendered inline (numbers,
    dates and the statement's own constants only).

    One row at a time: each is garbage as soon as it is read, so thousands of them
    never reach the collector's older generations, whose full collections cost a
    request tens of milliseconds."""
    connection = db.session.connection()
    sql = str(statement.compile(connection, compile_kwargs={"literal_binds": True}))
    cursor = connection.connection.driver_connection.cursor()
    try:
        cursor.execute(sql)
        yield from cursor
    finally:
        cursor.close()


def chunks(ids: Sequence[int], size: int = CHUNK) -> Iterable[list[int]]:
    ids = list(ids)
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


# --- weeks ----------------------------------------------------------------------------


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def covering_weeks(since: datetime, until: datetime) -> tuple[date, date]:
    """The first and last week (Mondays) holding a moment of [since, until)."""
    last = until - timedelta(microseconds=1)
    return week_of(utc_day(since)), week_of(utc_day(max(last, since)))


def present_everywhere(scope: Scope, case_ids: Iterable[int]) -> set[int]:
    """The cases among ``case_ids`` with a non-skipped result in every run that has
    results in the weeks covering the scope's window (so in every run of the scope).

    For those, a run of the scope is an execution, and its outcome is a failure
    exactly when a suspect result says so: the flakiness rules need no other row
    of them. Empty when a run of those weeks is not rolled up. Two queries.
    """
    ids = list(case_ids)
    if not ids:
        return set()
    first, last = covering_weeks(scope.since, scope.until)
    start, end = day_start(first), day_start(last + timedelta(days=7))
    runs, rolled = db.session.execute(
        select(func.count(), func.count().filter(rolled_up())).where(
            Run.project_id == scope.project.id,
            Run.started_at >= start,
            Run.started_at < end,
            Run.tests > 0,
        )
    ).one()
    if runs != rolled:
        return set()
    weeks = [first + timedelta(days=7 * n) for n in range((last - first).days // 7 + 1)]
    present: set[int] = set()
    for chunk in chunks(ids):
        query = (
            select(CaseWeek.case_id)
            # The weeks listed, not a range: then each (week, case) is one seek of the key.
            .where(
                CaseWeek.project_id == scope.project.id,
                CaseWeek.week.in_(weeks),
                CaseWeek.case_id.in_(chunk),
            )
            .group_by(CaseWeek.case_id)
            .having(func.sum(CaseWeek.executions) == runs)
        )
        present.update(row[0] for row in raw_iter(query))
    return present


# --- day samples ----------------------------------------------------------------------


def scope_rolled_up(scope: Scope) -> bool:
    """Every run of the scope is rolled up (one query)."""
    unrolled = db.session.scalar(
        select(func.count()).select_from(Run).where(*scope.run_conditions(), ~rolled_up())
    )
    return unrolled == 0


def days_between(since: datetime, until: datetime) -> list[date]:
    """The UTC days holding a moment of [since, until)."""
    first, last = utc_day(since), utc_day(max(until - timedelta(microseconds=1), since))
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@dataclass(slots=True)
class DaySamples:
    """One case's samples on one day, split between the intervals asked for."""

    day: date
    buckets: list[str]  # per interval: one bucket character per sample


def day_samples(
    scope: Scope, case_ids: Sequence[int], boundaries: Sequence[datetime]
) -> dict[int, list[DaySamples]]:
    """Per case and day (oldest first), its duration samples in each interval
    ``[boundaries[i], boundaries[i + 1])``, from ``case_day``, as bucket characters.

    A day wholly inside an interval is sliced in C; a day an interval boundary
    cuts is read sample by sample, its runs told apart by their tags. The rollups
    mix branches and jobs, so ``scope`` may not filter either; the caller checks
    that every run of the intervals is rolled up.
    """
    if scope.branch or scope.job:
        raise ValueError("day samples cover every branch and job")
    days = days_between(boundaries[0], boundaries[-1])
    cut = {day for day in days if not _inside(day, boundaries)}
    tags = _tags_of_cut_days(scope, cut, boundaries)
    whole = {day: _interval_of(day_start(day), boundaries) for day in days if day not in cut}
    intervals = len(boundaries) - 1
    found: dict[int, list[DaySamples]] = {case_id: [] for case_id in case_ids}
    cut_days = sorted(cut)
    for chunk in chunks(list(case_ids)):
        runs = (
            case((CaseDay.day.in_(cut_days), CaseDay.runs), else_="") if cut_days else literal("")
        )
        query = (
            select(CaseDay.day, CaseDay.case_id, CaseDay.buckets, runs)
            .where(CaseDay.case_id.in_(chunk), CaseDay.day >= days[0], CaseDay.day <= days[-1])
            .order_by(CaseDay.case_id, CaseDay.day)
        )
        for raw_day, case_id, buckets, run_tags in raw_iter(query):
            day = as_date(raw_day)
            split = [""] * intervals
            if day in whole:
                split[whole[day]] = buckets
            else:
                where = tags.get(day, {})
                parts: list[list[str]] = [[] for _ in range(intervals)]
                for tag, bucket in zip(run_tags, buckets, strict=True):
                    interval = where.get(tag)
                    if interval is not None:
                        parts[interval].append(bucket)
                split = ["".join(part) for part in parts]
            found[case_id].append(DaySamples(day, split))
    return found


def as_date(value: date | str) -> date:
    """A date column read by the driver itself (SQLite keeps the ISO text)."""
    return value if isinstance(value, date) else date.fromisoformat(value)


def sorted_buckets(buckets: str) -> list[int]:
    """Bucket numbers of the samples, in order. Bucket characters are in the Basic
    Multilingual Plane, one UTF-16 unit each; sorting the numbers beats sorting
    the characters by half."""
    codes = array("H", buckets.encode("utf-16-le"))
    return sorted(codes)


def percentile_of_sorted(ordered: list[int], pct: float) -> float:
    """The ``pct``-th percentile of sorted bucket codes, interpolating like
    ``durations.percentile`` between the closest ranks, each at its bucket's value."""
    if not ordered:
        raise ValueError("percentile of no values")
    position = (len(ordered) - 1) * pct / 100
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    low = CaseDay.bucket_value(ordered[lower] - CaseDay.ZERO_CODE)
    high = CaseDay.bucket_value(ordered[upper] - CaseDay.ZERO_CODE)
    return low + (high - low) * (position - lower)


def percentile_of_buckets(buckets: str, pct: float) -> float:
    return percentile_of_sorted(sorted_buckets(buckets), pct)


def _inside(day: date, boundaries: Sequence[datetime]) -> bool:
    """The whole day lies inside one interval."""
    start, end = day_start(day), day_start(day + timedelta(days=1))
    if start < boundaries[0] or end > boundaries[-1]:
        return False
    return not any(start < boundary < end for boundary in boundaries)


def _interval_of(moment: datetime, boundaries: Sequence[datetime]) -> int | None:
    for index in range(len(boundaries) - 1):
        if boundaries[index] <= moment < boundaries[index + 1]:
            return index
    return None


def _tags_of_cut_days(
    scope: Scope, days: set[date], boundaries: Sequence[datetime]
) -> dict[date, dict[str, int]]:
    """For each day an interval boundary cuts: the tag of each of its runs that
    lies in an interval, and which."""
    if not days:
        return {}
    during = [
        and_(Run.started_at >= day_start(day), Run.started_at < day_start(day + timedelta(days=1)))
        for day in days
    ]
    query = select(Run.id, Run.started_at).where(Run.project_id == scope.project.id, or_(*during))
    tags: dict[date, dict[str, int]] = {day: {} for day in days}
    for run_id, started_at in db.session.execute(query):
        interval = _interval_of(started_at, boundaries)
        if interval is not None:
            tags[utc_day(started_at)][CaseDay.run_tag(run_id)] = interval
    return tags
