"""Reading the rollups: which runs they cover, which cases ran everywhere, samples.

``ingest.store`` keeps ``case_week`` and ``case_day`` in step with the results
(see ``dashboard.models``, "rollups"). A question may be answered from them only
when every run it covers is rolled up (``Run.is_rolled_up``); otherwise the
analytics read the results, as they always did. Both ways give the same answers
(the tests of ``tests/dashboard/analytics/test_rollup_paths.py`` compare them),
except where a docstring says a figure is estimated.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple

import numpy as np
from sqlalchemy import (
    Integer,
    Select,
    String,
    and_,
    any_,
    bindparam,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY
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


RAW_BATCH = 500


def raw_iter(statement: Executable) -> Iterator[tuple]:
    """The rows of a statement of plain values (numbers, strings), fetched by the
    driver itself: for the few queries that return thousands of rows, SQLAlchemy's
    row objects cost more than the database does. Runs on the session's
    connection, so inside its transaction; parameters are rendered inline (numbers,
    dates and the statement's own constants only).

    A few hundred rows at a time: each is garbage soon after it is read, so
    thousands of them never reach the collector's older generations, whose full
    collections cost a request tens of milliseconds; and psycopg hands out a
    batch for half the CPU of the same rows one by one (19,500 rows: 6.0
    against 13.4 ms).

    On PostgreSQL the rows come in the binary format: no number is written out as
    text by the server and parsed back here (9,000 suspect results: 13 -> 9 ms)."""
    connection = db.session.connection()
    sql = str(statement.compile(connection, compile_kwargs={"literal_binds": True}))
    driver = connection.connection.driver_connection
    postgres = connection.dialect.name == "postgresql"
    cursor = driver.cursor(binary=True) if postgres else driver.cursor()
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(RAW_BATCH):
            yield from rows
    finally:
        cursor.close()


def chunks(ids: Sequence[int], size: int = CHUNK) -> Iterable[list[int]]:
    ids = list(ids)
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def on_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def among(column: ColumnElement[int], ids: Iterable[int]) -> ColumnElement[bool]:
    """SQL: ``column`` is one of ``ids``.

    PostgreSQL gets the ids as one array (``= ANY``), not an ``IN`` list of a
    parameter each: for 240 case ids that saved 3 ms a query, in binding and
    planning, and a page asks several such questions. SQLite has no arrays."""
    ids = list(ids)
    if on_postgresql():
        return column == any_(bindparam(None, ids, type_=ARRAY(Integer)))
    return column.in_(ids)


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
                among(CaseWeek.case_id, chunk),
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


# Joins the days of a case that the database reads in one row, each day starting
# with its ISO date when they are asked for one by one: no bucket character is
# a space, a digit or a hyphen.
DAY_SEPARATOR = " "
ISO_DAY = len("2000-01-01")


@dataclass(slots=True)
class CaseSamples:
    """One case's duration samples, as bucket characters, in each interval asked for."""

    intervals: list[str]  # per interval: every sample in it
    # When asked for by day: the samples of each day read, after its ISO date,
    # in no order (``days`` sorts them, for the few cases that need it).
    tagged: list[str] = field(default_factory=list)

    def days(self) -> list[str]:
        """The samples of each day that has some, oldest first (intervals merged)."""
        by_day: dict[str, str] = {}
        for day in self.tagged:
            if len(day) > ISO_DAY:
                by_day[day[:ISO_DAY]] = by_day.get(day[:ISO_DAY], "") + day[ISO_DAY:]
        return [by_day[day] for day in sorted(by_day)]


def day_samples(
    scope: Scope, case_ids: Sequence[int], boundaries: Sequence[datetime], by_day: bool = False
) -> dict[int, CaseSamples]:
    """Per case, its duration samples in each interval ``[boundaries[i],
    boundaries[i + 1])``, from ``case_day``, as bucket characters; ``by_day`` keeps
    each day's apart too (``CaseSamples.days``).

    The database joins the days whose every run lies in one interval, one row per
    case; a day an interval boundary cuts is read sample by sample, its runs told
    apart by their tags. So the rows read here follow the cases and the cut days,
    not the days of the window nor the runs. The rollups mix branches and jobs, so
    ``scope`` may not filter either; the caller checks that every run of the
    intervals is rolled up.
    """
    if scope.branch or scope.job:
        raise ValueError("day samples cover every branch and job")
    days = days_between(boundaries[0], boundaries[-1])
    cut = {day for day in days if not _inside(day, boundaries)}
    tags = _tags_of_cut_days(scope, cut, boundaries)
    whole = {day: _interval_of(day_start(day), boundaries) for day in days if day not in cut}
    for day, where in tags.items():
        # A day a boundary cuts but whose runs all lie in one interval (today,
        # when a window ends now) is read like the others.
        if len(set(where.values())) == 1 and None not in where.values():
            whole[day] = next(iter(where.values()))
    cut_days = sorted(day for day in cut if day not in whole and tags[day])
    count = len(boundaries) - 1
    found = {case_id: CaseSamples([""] * count) for case_id in case_ids}
    for chunk in chunks(list(case_ids)):
        if whole:
            for case_id, *joined in raw_iter(_joined_days(chunk, whole, count, by_day)):
                _add_joined(found[case_id], joined, by_day)
        if cut_days:
            for case_id, raw_day, runs, buckets in raw_iter(_cut_days(chunk, cut_days)):
                day = as_date(raw_day)
                _add_cut(found[case_id], day, tags[day], runs, buckets)
    return found


def _joined_days(case_ids: list[int], whole: dict[date, int], count: int, by_day: bool) -> Select:
    """Per case, for each interval: the samples of its whole days, joined by the
    database (tagged with their days and apart if ``by_day``)."""
    postgres = on_postgresql()
    samples: ColumnElement[str] = CaseDay.buckets
    if by_day:
        # SQLite keeps dates as ISO text; PostgreSQL's text form follows ``DateStyle``.
        iso = func.to_char(CaseDay.day, "YYYY-MM-DD") if postgres else cast(CaseDay.day, String())
        samples = iso.concat(CaseDay.buckets)
    join = func.string_agg if postgres else func.group_concat
    separator = DAY_SEPARATOR if by_day else ""
    spans = _spans(whole)
    joined = [
        join(case((or_(*spans[index]), samples)), separator) if spans.get(index) else literal("")
        for index in range(count)
    ]
    return (
        select(CaseDay.case_id, *joined)
        .where(among(CaseDay.case_id, case_ids), CaseDay.day.between(min(whole), max(whole)))
        .group_by(CaseDay.case_id)
    )


def _spans(whole: dict[date, int]) -> dict[int, list[ColumnElement[bool]]]:
    """Per interval, its whole days as ranges of consecutive days (one, mostly):
    ranges beat lists of days in SQLite by half."""
    spans: dict[int, list[ColumnElement[bool]]] = {}
    days = sorted(whole)
    start = 0
    for end in range(1, len(days) + 1):
        if (
            end == len(days)
            or whole[days[end]] != whole[days[start]]
            or days[end] - days[end - 1] != timedelta(days=1)
        ):
            span = CaseDay.day.between(days[start], days[end - 1])
            spans.setdefault(whole[days[start]], []).append(span)
            start = end
    return spans


def _add_joined(samples: CaseSamples, joined: list[str | None], by_day: bool) -> None:
    for index, days in enumerate(joined):
        if not days:
            continue
        if not by_day:
            samples.intervals[index] += days
            continue
        tagged = days.split(DAY_SEPARATOR)
        samples.intervals[index] += "".join(day[ISO_DAY:] for day in tagged)
        samples.tagged.extend(tagged)


def _cut_days(case_ids: list[int], days: list[date]) -> Select:
    return select(CaseDay.case_id, CaseDay.day, CaseDay.runs, CaseDay.buckets).where(
        among(CaseDay.case_id, case_ids), CaseDay.day.in_(days)
    )


def _add_cut(
    samples: CaseSamples, day: date, where: dict[str, int | None], runs: str, buckets: str
) -> None:
    """A cut day's samples, each to the interval of its run (or none)."""
    parts: list[list[str]] = [[] for _ in samples.intervals]
    for tag, bucket in zip(runs, buckets, strict=True):
        interval = where.get(tag)
        if interval is not None:
            parts[interval].append(bucket)
    for index, part in enumerate(parts):
        if part:
            samples.intervals[index] += "".join(part)
            samples.tagged.append(day.isoformat() + "".join(part))


def as_date(value: date | str) -> date:
    """A date column read by the driver itself (SQLite keeps the ISO text)."""
    return value if isinstance(value, date) else date.fromisoformat(value)


def bucket_codes(buckets: str) -> np.ndarray:
    """Bucket numbers of the samples, unordered. Bucket characters are in the Basic
    Multilingual Plane: one UTF-16 unit each, read as an array without a copy."""
    return np.frombuffer(buckets.encode("utf-16-le"), dtype=np.uint16)


# Groups are padded to the longest one for the row sort below, unless that
# would hold more than this many times the samples (one long group among short
# ones): then one sort of all samples, keyed by group.
PADDING_LIMIT = 4
PADDING = 0xFFFF  # no bucket's character: it sorts after them all


def percentiles_of_groups(groups: Sequence[str], pcts: Sequence[float]) -> list[list[float]]:
    """The ``pcts``-th percentiles of each group of bucketed samples (none empty),
    interpolating like ``durations.percentile`` between the closest ranks, each at
    its bucket's value.

    A durations page asks for the percentiles of about 450 groups and the daily
    medians of 50 tests, so numpy's overhead per call matters (17.5 ms a call
    per group, 11 ms with one call per list), and then the sort: the groups,
    padded to one length, are the rows of a table of 16-bit bucket numbers,
    which numpy sorts row by row with a radix sort (675,000 samples: 3.6 ms,
    against 20-40 ms for one sort of them all keyed by group)."""
    if not groups:
        return []
    lengths = np.fromiter(map(len, groups), dtype=np.int64, count=len(groups))
    if not lengths.all():
        raise ValueError("percentile of no values")
    codes, starts = _sorted_within_groups(bucket_codes("".join(groups)), lengths)
    lasts = lengths - 1
    ranked = []
    for pct in pcts:
        # The same float arithmetic as ``durations.percentile``: ``last * pct / 100``.
        positions = lasts * pct / 100
        lower = positions.astype(np.int64)
        upper = np.minimum(lower + 1, lasts)
        ranked.append(
            (
                positions.tolist(),
                lower.tolist(),
                codes[starts + lower].tolist(),
                codes[starts + upper].tolist(),
            )
        )
    value, zero = CaseDay.bucket_value, CaseDay.ZERO_CODE
    figures: list[list[float]] = [[] for _ in groups]
    for positions, lower, lows, highs in ranked:
        for index, group_figures in enumerate(figures):
            low, high = value(lows[index] - zero), value(highs[index] - zero)
            group_figures.append(low + (high - low) * (positions[index] - lower[index]))
    return figures


def _sorted_within_groups(codes: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The bucket numbers of consecutive groups of ``lengths``, each group sorted;
    and where each group starts in the array returned."""
    count, width = len(lengths), int(lengths.max())
    if count * width <= PADDING_LIMIT * len(codes):
        table = np.full((count, width), PADDING, dtype=np.uint16)
        table[np.arange(width) < lengths[:, None]] = codes  # row by row, in order
        table.sort(axis=1, kind="stable")  # stable: numpy's radix sort for 16 bits
        return table.ravel(), np.arange(count, dtype=np.int64) * width
    keys = np.repeat(np.arange(count, dtype=np.int64) << 16, lengths)
    keys |= codes
    keys.sort()
    return keys & 0xFFFF, np.cumsum(lengths) - lengths


def medians(groups: Sequence[str]) -> list[float]:
    """The median of each group of bucketed samples (none empty): a case's days,
    or its samples in a period."""
    return [figures[0] for figures in percentiles_of_groups(groups, (50,))]


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
) -> dict[date, dict[str, int | None]]:
    """For each day an interval boundary cuts: the tag of each of its runs, and
    the interval it lies in (None: none)."""
    if not days:
        return {}
    during = [
        and_(Run.started_at >= day_start(day), Run.started_at < day_start(day + timedelta(days=1)))
        for day in days
    ]
    query = select(Run.id, Run.started_at).where(Run.project_id == scope.project.id, or_(*during))
    tags: dict[date, dict[str, int | None]] = {day: {} for day in days}
    for run_id, started_at in db.session.execute(query):
        tags[utc_day(started_at)][CaseDay.run_tag(run_id)] = _interval_of(started_at, boundaries)
    return tags
