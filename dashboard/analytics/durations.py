"""Durations: slowest tests, regressions, suite wall time, parallelism estimate.

The definitions of design.md ("Duration", "regression", "Parallelism estimate"),
with the choices it leaves open made here, once:

* A **sample** is one executed result: skipped executions count for nothing.
  Runs that are infrastructure failures (more than 80% of executed cases
  failed) are left out of every figure here: when the environment breaks, tests
  fail at once or hang until a timeout, so their times measure the outage, not
  the tests.
* **Percentiles** interpolate linearly between the closest ranks (NumPy's
  default, PostgreSQL's ``percentile_cont``); the median is the 50th.
* A **regression** compares the last 7 days before ``scope.until`` with the 21
  days before those, whatever the window, within the branch and job filters.
  A baseline median of 0 (the reporter gave no time) has no percentage to grow
  by, so it is never reported.
* The **first slow run** of a regression is the change point of its 28-day
  history: each execution at or above the slow threshold (the smallest duration
  that would itself count as a regression) scores +1 and each one below scores
  -1; the run that starts the suffix with the highest score, earliest on ties,
  is where the slowdown began. A lone spike before the change does not count,
  nor does one fast execution after it.
* The **parallelism estimate** uses the latest run in the scope with timed
  executions, sums durations per test file (the classname when a report gives
  no file) and schedules the files longest first onto N workers; the estimate
  is the busiest worker's total. Setup outside the test cases is not counted.

Every query starts from the runs of the scope (``project_id, started_at`` and
``project_id, branch, job, started_at`` indexes). Exact medians need every
sample, so a cheap SQL aggregate first narrows the cases and only the
candidates' samples are fetched; a rollup can later replace the private query
functions without changing the public ones.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import partial
from itertools import islice

from sqlalchemy import Select, case, exists, func, select
from sqlalchemy.sql.elements import ColumnElement

from dashboard.analytics import catalog, rollups
from dashboard.analytics.scope import Scope, not_infrastructure_failure
from dashboard.extensions import db
from dashboard.models import Case, CaseWeek, Result, Run

RECENT_DAYS = 7
BASELINE_DAYS = 21
MIN_SAMPLES = 5
WORKER_COUNTS = (1, 2, 4, 8)
# The slowest list ranks by mean in SQL and keeps this many times ``limit``
# candidates, whose exact medians then decide the order.
CANDIDATE_FACTOR = 2
# Durations come from reports with at most microsecond precision; comparisons at
# a threshold allow for the float error of computing it (0.4 * 1.25 and so on).
EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class SlowTest:
    case_id: int
    file: str
    classname: str
    name: str
    median_s: float
    p95_s: float
    executions: int
    # The daily medians, worked out only when asked: the page draws them for the
    # rows it shows, the API never does.
    daily_medians: Callable[[], list[float]] = field(repr=False, compare=False)

    @property
    def trend(self) -> list[float]:
        """The median of each day with samples, oldest first."""
        return self.daily_medians()

    @property
    def display_name(self) -> str:
        return _display_name(self.classname, self.name)


@dataclass(frozen=True, slots=True)
class Regression:
    case_id: int
    file: str
    classname: str
    name: str
    baseline_median_s: float
    recent_median_s: float
    change_pct: float
    first_slow_run_id: int

    @property
    def display_name(self) -> str:
        return _display_name(self.classname, self.name)

    @property
    def added_s(self) -> float:
        return self.recent_median_s - self.baseline_median_s


@dataclass(frozen=True, slots=True)
class WallTimePoint:
    run_id: int
    started_at: datetime
    job: str
    seconds: float


@dataclass(frozen=True, slots=True)
class DurationPoint:
    """One execution of one case, for its duration chart."""

    run_id: int
    started_at: datetime
    job: str
    branch: str | None
    outcome: str
    seconds: float


@dataclass(frozen=True, slots=True)
class RegressionPeriods:
    """The two periods a regression compares, both ending before ``until``."""

    baseline_since: datetime
    recent_since: datetime
    until: datetime

    @classmethod
    def of(cls, scope: Scope) -> RegressionPeriods:
        recent_since = scope.until - timedelta(days=RECENT_DAYS)
        return cls(recent_since - timedelta(days=BASELINE_DAYS), recent_since, scope.until)


# --- Pure helpers -------------------------------------------------------------


def percentile(values: Iterable[float], pct: float) -> float:
    """The ``pct``-th percentile (0-100), interpolating linearly between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    if not 0 <= pct <= 100:
        raise ValueError(f"percentile must be between 0 and 100, not {pct}")
    position = (len(ordered) - 1) * pct / 100
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def median(values: Iterable[float]) -> float:
    return percentile(values, 50)


def lpt_makespan(file_seconds: Iterable[float] | Mapping[str, float], workers: int) -> float:
    """Wall time of ``workers`` running the files longest first, each file on the
    worker with the least work so far (Graham's LPT rule): the busiest worker's total."""
    if workers < 1:
        raise ValueError("at least one worker is needed")
    if isinstance(file_seconds, Mapping):
        file_seconds = file_seconds.values()
    loads = [0.0] * workers
    for seconds in sorted(file_seconds, reverse=True):
        heapq.heapreplace(loads, loads[0] + seconds)
    return max(loads)


def slow_threshold(baseline_s: float, regression_pct: float, regression_min_ms: float) -> float:
    """The smallest recent median that counts as a regression from ``baseline_s``."""
    return max(baseline_s * (1 + regression_pct / 100), baseline_s + regression_min_ms / 1000)


def is_regression(
    baseline_s: float, recent_s: float, regression_pct: float, regression_min_ms: float
) -> bool:
    if baseline_s <= 0:
        return False
    threshold = slow_threshold(baseline_s, regression_pct, regression_min_ms)
    return recent_s >= threshold - EPSILON


def change_point(durations: Sequence[float], threshold: float) -> int:
    """Index where a run of slow executions (``>= threshold``) begins: the start of
    the suffix scoring highest with slow +1 and fast -1, earliest on ties.

    Needs at least one slow execution (a regression always has some)."""
    best_score, best_index, score = -math.inf, None, 0
    for index in range(len(durations) - 1, -1, -1):
        slow = durations[index] >= threshold - EPSILON
        score += 1 if slow else -1
        # Going backwards, ">=" lets an earlier start win a tie.
        if slow and score >= best_score:
            best_score, best_index = score, index
    if best_index is None:
        raise ValueError("no execution reaches the threshold")
    return best_index


def _display_name(classname: str, name: str) -> str:
    return f"{classname}::{name}" if classname else name


# --- Public queries -----------------------------------------------------------


def run_count(scope: Scope) -> int:
    """Runs in the scope (all of them: the "no runs" empty state depends on it)."""
    return db.session.scalar(select(func.count(Run.id)).where(*scope.run_conditions())) or 0


def slowest_tests(scope: Scope, limit: int = 50, search: str | None = None) -> list[SlowTest]:
    """The ``limit`` cases with the highest median duration in the scope (of those
    whose name, class or file contains ``search``, if given).

    From the rollups (every run of the scope rolled up), the candidates are
    ranked by their mean over the weeks covering the window (every branch and
    job). Without a branch or job filter, median, p95 and the daily medians are
    then read from bucketed samples: each within 0.25% of the exact figure
    (``dashboard.models.CaseDay``); the numbers of executions are exact. With one,
    they are computed from the candidates' results, exactly.
    """
    searched = _searched_cases(scope, search)
    if _from_rollups(scope):
        return _slowest_from_rollups(scope, limit, searched)
    if rollups.scope_rolled_up(scope):
        # Filtered by branch or job: candidates from the rollups (every branch and
        # job), figures from the results, exact.
        cases = _cases(_ranked_by_mean(scope, limit * CANDIDATE_FACTOR, searched))
    else:
        cases = _highest_mean_cases(scope, limit * CANDIDATE_FACTOR, searched)
    if not cases:
        return []
    samples = _samples_by_case(scope, [c.id for c in cases])
    slow = [_slow_test(c, samples[c.id]) for c in cases if samples[c.id]]
    slow.sort(key=lambda t: (-t.median_s, -t.p95_s, t.case_id))
    return slow[:limit]


def regressions(scope: Scope) -> list[Regression]:
    """Cases whose median of the last 7 days is at least the project's percentage
    and milliseconds above the median of the 21 days before, with at least 5
    samples in each; the most seconds added first."""
    periods = RegressionPeriods.of(scope)
    history_scope = replace(scope, since=periods.baseline_since, until=periods.until)
    if _from_rollups(history_scope):
        cases = _regression_candidates_from_rollups(history_scope, periods)
    elif rollups.scope_rolled_up(history_scope):
        # Filtered by branch or job: the weeks of every branch and job bound those
        # of one just as well (no regression is missed); the results then decide.
        cases = _cases(_loose_candidates(history_scope, periods))
    else:
        cases = _regression_candidates(history_scope, periods)
    if not cases:
        return []
    histories = _histories_by_case(history_scope, periods, [c.id for c in cases])
    thresholds = (scope.project.regression_pct, scope.project.regression_min_ms)
    found = [_regression(c, histories[c.id], *thresholds) for c in cases]
    regressed = [r for r in found if r is not None]
    regressed.sort(key=lambda r: (-r.added_s, -r.change_pct, r.case_id))
    return regressed


def comparable_cases(scope: Scope) -> int:
    """Cases with enough samples in both regression periods to be compared at all."""
    periods = RegressionPeriods.of(scope)
    history_scope = replace(scope, since=periods.baseline_since, until=periods.until)
    if _from_rollups(history_scope):
        return _comparable_from_rollups(history_scope, periods)
    counted = _period_counts(history_scope, periods).subquery()
    return db.session.scalar(select(func.count()).select_from(counted)) or 0


def wall_time(scope: Scope) -> list[WallTimePoint]:
    """The suite's wall time of each run in the scope that reported one, oldest first."""
    query = (
        select(Run.id, Run.started_at, Run.job, Run.wall_seconds)
        .where(*scope.run_conditions(), not_infrastructure_failure(), Run.wall_seconds > 0)
        .order_by(Run.started_at, Run.id)
    )
    return [WallTimePoint(*row) for row in db.session.execute(query)]


def parallelism_run(scope: Scope) -> Run | None:
    """The latest run in the scope with timed executions: the estimate's source."""
    timed = exists().where(Result.run_id == Run.id, Result.outcome != "skipped")
    query = (
        select(Run)
        .where(*scope.run_conditions(), not_infrastructure_failure(), timed)
        .order_by(Run.started_at.desc(), Run.id.desc())
        .limit(1)
    )
    return db.session.scalar(query)


def parallelism_estimate(scope: Scope, run: Run | None = None) -> dict[int, float]:
    """Estimated wall time on 1, 2, 4 and 8 workers (1 = the serial sum), from
    ``run`` or else the scope's latest timed run; empty when there is none."""
    run = run or parallelism_run(scope)
    if run is None:
        return {}
    files = _seconds_by_file(run.id)
    return {workers: lpt_makespan(files, workers) for workers in WORKER_COUNTS}


def case_durations(scope: Scope, case_id: int) -> list[DurationPoint]:
    """Every timed execution of one case in the scope, oldest first."""
    query = (
        select(Run.id, Run.started_at, Run.job, Run.branch, Result.outcome, Result.duration_s)
        .join(Run, Run.id == Result.run_id)
        .where(*_sample_conditions(scope), Result.case_id == case_id)
        .order_by(Run.started_at, Run.id)
    )
    return [DurationPoint(*row) for row in db.session.execute(query)]


# --- Building results ---------------------------------------------------------


def _slow_test(case_row: Case, samples: list[tuple[datetime, float]]) -> SlowTest:
    durations = [seconds for _, seconds in samples]
    return SlowTest(
        case_id=case_row.id,
        file=case_row.file,
        classname=case_row.classname,
        name=case_row.name,
        median_s=median(durations),
        p95_s=percentile(durations, 95),
        executions=len(durations),
        daily_medians=partial(_daily_medians, samples),
    )


def _daily_medians(samples: list[tuple[datetime, float]]) -> list[float]:
    # Days are UTC days: a sparkline's shape does not depend on where midnight falls.
    by_day: dict[date, list[float]] = defaultdict(list)
    for started_at, seconds in samples:
        by_day[started_at.date()].append(seconds)
    return [median(by_day[day]) for day in sorted(by_day)]


def _regression(
    case_row: Case,
    history: list[tuple[int, bool, float]],
    pct: float,
    min_ms: float,
) -> Regression | None:
    baseline = [s for _, recent, s in history if not recent]
    recent = [s for _, recent, s in history if recent]
    if len(baseline) < MIN_SAMPLES or len(recent) < MIN_SAMPLES:
        return None
    baseline_s, recent_s = median(baseline), median(recent)
    if not is_regression(baseline_s, recent_s, pct, min_ms):
        return None
    threshold = slow_threshold(baseline_s, pct, min_ms)
    first_slow = change_point([s for _, _, s in history], threshold)
    return Regression(
        case_id=case_row.id,
        file=case_row.file,
        classname=case_row.classname,
        name=case_row.name,
        baseline_median_s=baseline_s,
        recent_median_s=recent_s,
        change_pct=(recent_s - baseline_s) / baseline_s * 100,
        first_slow_run_id=history[first_slow][0],
    )


# --- SQL ----------------------------------------------------------------------


def _sample_conditions(scope: Scope) -> list[ColumnElement[bool]]:
    """Results that are duration samples; the query must join ``Run``."""
    return [*scope.run_conditions(), not_infrastructure_failure(), Result.outcome != "skipped"]


def _searched_cases(scope: Scope, search: str | None) -> Select | None:
    """SQL: the ids of the project's cases matching ``search`` (None: no search)."""
    if not search:
        return None
    return select(Case.id).where(*catalog.case_conditions(scope.project, search))


def _highest_mean_cases(scope: Scope, limit: int, searched: Select | None = None) -> list[Case]:
    conditions = _sample_conditions(scope)
    if searched is not None:
        conditions.append(Result.case_id.in_(searched))
    ranked = (
        select(Result.case_id, func.avg(Result.duration_s).label("mean"))
        .join(Run, Run.id == Result.run_id)
        .where(*conditions)
        .group_by(Result.case_id)
        .order_by(func.avg(Result.duration_s).desc(), Result.case_id)
        .limit(limit)
        .subquery()
    )
    return list(db.session.scalars(select(Case).join(ranked, ranked.c.case_id == Case.id)))


def _run_times(scope: Scope) -> dict[int, datetime]:
    """Start of each run the scope's samples can come from.

    Samples carry only their run's id: reading a timestamp per sample instead
    costs more than this one small query (SQLite parses every one of them).
    """
    query = select(Run.id, Run.started_at).where(
        *scope.run_conditions(), not_infrastructure_failure()
    )
    return dict(db.session.execute(query).all())


def _samples_by_case(scope: Scope, case_ids: list[int]) -> dict[int, list[tuple[datetime, float]]]:
    """Per case: (run start, seconds) of each sample."""
    started = _run_times(scope)
    samples: dict[int, list[tuple[datetime, float]]] = defaultdict(list)
    for case_id, run_id, seconds in _timed_results(case_ids, started):
        samples[case_id].append((started[run_id], seconds))
    return samples


def _timed_results(case_ids: list[int], runs: Mapping[int, object], raw: bool = False) -> list:
    """(case id, run id, seconds) of the cases' non-skipped results in ``runs``:
    read from the case-history index alone (no visit to the table), between the
    smallest and largest run id, the runs then picked out here; ``raw``: by the
    driver itself (thousands of rows)."""
    if not case_ids or not runs:
        return []
    query = select(Result.case_id, Result.run_id, Result.duration_s).where(
        rollups.among(Result.case_id, case_ids),
        Result.run_id.between(min(runs), max(runs)),
        Result.outcome != "skipped",
    )
    rows = rollups.raw_iter(query) if raw else db.session.execute(query)
    return [row for row in rows if row[1] in runs]


def _period_counts(history_scope: Scope, periods: RegressionPeriods) -> Select:
    """Per case: sample counts of both periods, for cases with enough in each."""
    recent = Run.started_at >= periods.recent_since
    recent_count = func.sum(case((recent, 1), else_=0))
    baseline_count = func.sum(case((recent, 0), else_=1))
    return (
        select(Result.case_id)
        .join(Run, Run.id == Result.run_id)
        .where(*_sample_conditions(history_scope))
        .group_by(Result.case_id)
        .having(recent_count >= MIN_SAMPLES, baseline_count >= MIN_SAMPLES)
    )


def _regression_candidates(history_scope: Scope, periods: RegressionPeriods) -> list[Case]:
    """Cases that could have regressed: a recent median is at most the recent
    maximum and a baseline median at least the baseline minimum, so a case whose
    recent maximum does not clear the threshold over its baseline minimum cannot."""
    project = history_scope.project
    recent = Run.started_at >= periods.recent_since
    fastest_baseline = func.min(case((~recent, Result.duration_s)))
    slowest_recent = func.max(case((recent, Result.duration_s)))
    growth = 1 + project.regression_pct / 100
    candidates = (
        _period_counts(history_scope, periods)
        .having(
            slowest_recent >= fastest_baseline * growth - EPSILON,
            slowest_recent >= fastest_baseline + project.regression_min_ms / 1000 - EPSILON,
        )
        .subquery()
    )
    return list(db.session.scalars(select(Case).join(candidates, candidates.c.case_id == Case.id)))


def _histories_by_case(
    history_scope: Scope, periods: RegressionPeriods, case_ids: list[int]
) -> dict[int, list[tuple[int, bool, float]]]:
    """Per case: (run id, in the recent period, seconds) of each sample, oldest first."""
    order = _run_order(history_scope, periods)
    histories: dict[int, list[tuple[int, bool, float]]] = defaultdict(list)
    for case_id, run_id, seconds in _timed_results(case_ids, order, raw=True):
        histories[case_id].append((run_id, order[run_id][1], seconds))
    for history in histories.values():
        history.sort(key=lambda sample: order[sample[0]][0])
    return histories


def _run_order(history_scope: Scope, periods: RegressionPeriods) -> dict[int, tuple[int, bool]]:
    """Per run the history's samples can come from: its place in start order and
    whether it is recent. The database orders and judges them, so that no
    timestamp is parsed here (SQLite would have a thousand of them parsed)."""
    query = (
        select(Run.id, Run.started_at >= periods.recent_since)
        .where(*history_scope.run_conditions(), not_infrastructure_failure())
        .order_by(Run.started_at, Run.id)
    )
    rows = enumerate(rollups.raw_iter(query))
    return {run_id: (place, bool(recent)) for place, (run_id, recent) in rows}


def _seconds_by_file(run_id: int) -> dict[str, float]:
    """Summed durations per test file of one run (the classname when there is no file)."""
    query = (
        select(Case.file, Case.classname, func.sum(Result.duration_s))
        .join(Case, Case.id == Result.case_id)
        .where(Result.run_id == run_id, Result.outcome != "skipped")
        .group_by(Case.file, Case.classname)
    )
    files: dict[str, float] = defaultdict(float)
    for file, classname, seconds in db.session.execute(query):
        files[file or classname] += seconds or 0.0
    return dict(files)


# --- From the rollups ------------------------------------------------------------
#
# ``case_week`` ranks and filters every case cheaply; ``case_day`` gives the
# bucketed samples of the few candidates. They mix branches and jobs, so a scope
# filtered by either reads the results.


def _from_rollups(scope: Scope) -> bool:
    return not scope.branch and not scope.job and rollups.scope_rolled_up(scope)


def _ranked_by_mean(scope: Scope, limit: int, searched: Select | None = None) -> list[int]:
    """The ``limit`` cases of the highest mean over the weeks covering the window,
    every branch and job (of the ``searched`` ones, if given)."""
    first, last = rollups.covering_weeks(scope.since, scope.until)
    mean = func.sum(CaseWeek.seconds) / func.sum(CaseWeek.timed)
    conditions = [
        CaseWeek.project_id == scope.project.id,
        CaseWeek.week >= first,
        CaseWeek.week <= last,
    ]
    if searched is not None:
        conditions.append(CaseWeek.case_id.in_(searched))
    ranked = (
        select(CaseWeek.case_id)
        .where(*conditions)
        .group_by(CaseWeek.case_id)
        .having(func.sum(CaseWeek.timed) > 0)
        .order_by(mean.desc(), CaseWeek.case_id)
        .limit(limit)
    )
    return list(db.session.scalars(ranked))


def _cases(ids: list[int]) -> list[Case]:
    if not ids:
        return []
    return list(db.session.scalars(select(Case).where(rollups.among(Case.id, ids))))


def _slowest_from_rollups(scope: Scope, limit: int, searched: Select | None) -> list[SlowTest]:
    ids = _ranked_by_mean(scope, limit * CANDIDATE_FACTOR, searched)
    if not ids:
        return []
    samples = rollups.day_samples(scope, ids, [scope.since, scope.until], by_day=True)
    timed = [case_row for case_row in _cases(ids) if samples[case_row.id].intervals[0]]
    windows = [samples[case_row.id] for case_row in timed]
    figures = rollups.percentiles_of_groups([window.intervals[0] for window in windows], (50, 95))
    ranked = [
        (-median_s, -p95_s, case_row.id, case_row, len(window.intervals[0]), window)
        for case_row, window, (median_s, p95_s) in zip(timed, windows, figures, strict=True)
    ]
    ranked.sort(key=lambda item: item[:3])
    shown = ranked[:limit]
    trends = _DailyMedians([window for *_, window in shown])
    return [
        SlowTest(
            case_id=case_id,
            file=case_row.file,
            classname=case_row.classname,
            name=case_row.name,
            median_s=-median_s,
            p95_s=-p95_s,
            executions=executions,
            daily_medians=partial(trends.of, index),
        )
        for index, (median_s, p95_s, case_id, case_row, executions, window) in enumerate(shown)
    ]


class _DailyMedians:
    """The daily medians of the tests shown, worked out for all of them at once
    when the first is asked for (the page draws them; the API never asks):
    one call for 50 tests' days instead of 50."""

    def __init__(self, windows: list[rollups.CaseSamples]) -> None:
        self._windows = windows
        self._trends: list[list[float]] | None = None

    def of(self, index: int) -> list[float]:
        if self._trends is None:
            days = [window.days() for window in self._windows]
            medians = iter(rollups.medians([day for each in days for day in each]))
            self._trends = [list(islice(medians, len(each))) for each in days]
        return self._trends[index]


def _week_figures(history_scope: Scope, periods: RegressionPeriods):
    """Per case, over the weeks covering each period: samples (at least the
    period's), the longest recent sample and the shortest baseline one (bounds)."""
    first, last = rollups.covering_weeks(periods.baseline_since, periods.until)
    recent_first = rollups.covering_weeks(periods.recent_since, periods.until)[0]
    baseline_last = rollups.covering_weeks(periods.baseline_since, periods.recent_since)[1]
    recent, baseline = CaseWeek.week >= recent_first, CaseWeek.week <= baseline_last
    return (
        select(
            CaseWeek.case_id,
            func.coalesce(func.sum(case((recent, CaseWeek.timed))), 0).label("recent_n"),
            func.coalesce(func.sum(case((baseline, CaseWeek.timed))), 0).label("baseline_n"),
            func.max(case((recent, CaseWeek.max_s))).label("slowest_recent"),
            func.min(case((baseline, CaseWeek.min_s))).label("fastest_baseline"),
        )
        .where(
            CaseWeek.project_id == history_scope.project.id,
            CaseWeek.week >= first,
            CaseWeek.week <= last,
        )
        .group_by(CaseWeek.case_id)
    )


def _regression_candidates_from_rollups(
    history_scope: Scope, periods: RegressionPeriods
) -> list[Case]:
    """``_regression_candidates`` narrowed in three steps, each keeping every case
    whose exact medians might regress (``regressions`` then judges the survivors
    on their exact durations):

    1. over the weeks covering each period, as loose as ``_regression_candidates``
       or looser;
    2. the recent median read from bucketed samples (eight days), against a floor
       under the baseline median from the covering weeks' mean and spread
       (Cantelli's inequality: it holds for any distribution);
    3. both medians read from bucketed samples.
    """
    project = history_scope.project
    fastest = dict(db.session.execute(_loose(history_scope, periods)).all())
    if not fastest:
        return []
    outside = _runs_outside_periods(history_scope, periods)[1]
    floors = {
        case_id: _baseline_floor(samples, seconds, squares, fastest[case_id], outside)
        for case_id, samples, seconds, squares in _baseline_sums(history_scope, periods, fastest)
    }
    recent = rollups.day_samples(history_scope, list(floors), [periods.recent_since, periods.until])
    thresholds = (project.regression_pct, project.regression_min_ms)
    enough = [c for c in floors if len(recent[c].intervals[0]) >= MIN_SAMPLES]
    medians = rollups.medians([recent[case_id].intervals[0] for case_id in enough])
    ids = [
        case_id
        for case_id, recent_s in zip(enough, medians, strict=True)
        if _may_regress(floors[case_id], recent_s, *thresholds)
    ]
    if not ids:
        return []
    boundaries = [periods.baseline_since, periods.recent_since, periods.until]
    samples = rollups.day_samples(history_scope, ids, boundaries)
    both = [c for c in ids if min(map(len, samples[c].intervals)) >= MIN_SAMPLES]
    # Both periods' medians in one call: [baselines..., recents...].
    medians = rollups.medians([samples[c].intervals[i] for i in (0, 1) for c in both])
    baselines, recents = medians[: len(both)], medians[len(both) :]
    kept = [
        case_id
        for case_id, baseline_s, recent_s in zip(both, baselines, recents, strict=True)
        if _may_regress(baseline_s, recent_s, *thresholds)
    ]
    if not kept:
        return []
    return list(db.session.scalars(select(Case).where(rollups.among(Case.id, kept))))


def _loose(history_scope: Scope, periods: RegressionPeriods) -> Select:
    """(case id, shortest baseline sample) of the cases ``_regression_candidates``
    would keep, judged over the weeks covering each period and every branch and
    job: as loose or looser, so no regression is missed."""
    project = history_scope.project
    figures = _week_figures(history_scope, periods).subquery()
    growth = 1 + project.regression_pct / 100
    return select(figures.c.case_id, figures.c.fastest_baseline).where(
        figures.c.recent_n >= MIN_SAMPLES,
        figures.c.baseline_n >= MIN_SAMPLES,
        figures.c.slowest_recent >= figures.c.fastest_baseline * growth - EPSILON,
        figures.c.slowest_recent
        >= figures.c.fastest_baseline + project.regression_min_ms / 1000 - EPSILON,
    )


def _loose_candidates(history_scope: Scope, periods: RegressionPeriods) -> list[int]:
    return [row[0] for row in db.session.execute(_loose(history_scope, periods))]


def _baseline_sums(history_scope: Scope, periods: RegressionPeriods, case_ids) -> list[tuple]:
    """(case id, samples, sum, sum of squares) over the weeks covering the baseline,
    for a few cases: each (week, case) one seek of the key."""
    first, last = rollups.covering_weeks(periods.baseline_since, periods.recent_since)
    weeks = [first + timedelta(days=7 * n) for n in range((last - first).days // 7 + 1)]
    rows = []
    for chunk in rollups.chunks(list(case_ids)):
        query = (
            select(
                CaseWeek.case_id,
                func.sum(CaseWeek.timed),
                func.sum(CaseWeek.seconds),
                func.sum(CaseWeek.seconds_sq),
            )
            .where(
                CaseWeek.project_id == history_scope.project.id,
                CaseWeek.week.in_(weeks),
                rollups.among(CaseWeek.case_id, chunk),
            )
            .group_by(CaseWeek.case_id)
        )
        rows.extend(db.session.execute(query).all())
    return rows


def _baseline_floor(
    samples: int, seconds: float, squares: float, fastest: float | None, outside: int
) -> float:
    """A value the baseline median cannot be under, from the weeks covering the
    baseline: ``samples`` of them, their sum and sum of squares, the shortest, and
    at most ``outside`` of them outside the period.

    The median of the period's samples is at least their ``ceil(n / 2)``-th
    smallest, so at least the ``j``-th smallest of the weeks' samples, with
    ``j = ceil((samples - outside) / 2)``. By Cantelli's inequality a fraction
    ``j / samples`` of any samples lies above ``mean - spread * sqrt(samples / j - 1)``.
    """
    floor = fastest if fastest is not None else 0.0
    rank = math.ceil((samples - outside) / 2)
    if rank < 1 or samples < 1:
        return floor
    mean = seconds / samples
    variance = max(squares / samples - mean * mean, 0.0)
    # Sums of squares lose digits: allow for it in the spread.
    spread = math.sqrt(variance + abs(mean) * mean * 1e-9)
    return max(floor, mean - spread * math.sqrt(samples / rank - 1))


# Bucketed medians are within 0.25% of the exact ones; a case is dropped only
# when its estimates miss the threshold by more than twice that.
MEDIAN_MARGIN = 0.006


def _may_regress(baseline_s: float, recent_s: float, pct: float, min_ms: float) -> bool:
    """``is_regression`` for estimated medians, erring towards yes."""
    if baseline_s <= 0:
        # The exact baseline median is 0 too (bucket 0 holds only durations under
        # a microsecond): no regression, unless it holds some above 0.
        return baseline_s < 0 or recent_s > 0
    return recent_s >= slow_threshold(baseline_s, pct, min_ms) * (1 - MEDIAN_MARGIN)


def _comparable_from_rollups(history_scope: Scope, periods: RegressionPeriods) -> int:
    """Cases with at least ``MIN_SAMPLES`` samples in each period: decided from the
    covering weeks' counts (a week's samples outside a period are at most its runs
    there), and counted exactly from the day samples where that leaves a doubt."""
    outside_recent, outside_baseline = _runs_outside_periods(history_scope, periods)
    figures = _week_figures(history_scope, periods).subquery()
    rows = db.session.execute(
        select(figures.c.case_id, figures.c.recent_n, figures.c.baseline_n).where(
            figures.c.recent_n >= MIN_SAMPLES, figures.c.baseline_n >= MIN_SAMPLES
        )
    ).all()
    certain, doubtful = 0, []
    for case_id, recent_n, baseline_n in rows:
        if (
            recent_n - outside_recent >= MIN_SAMPLES
            and baseline_n - outside_baseline >= MIN_SAMPLES
        ):
            certain += 1
        else:
            doubtful.append(case_id)
    if doubtful:
        boundaries = [periods.baseline_since, periods.recent_since, periods.until]
        samples = rollups.day_samples(history_scope, doubtful, boundaries)
        for case_id in doubtful:
            baseline, recent = map(len, samples[case_id].intervals)
            certain += min(baseline, recent) >= MIN_SAMPLES
    return certain


def _runs_outside_periods(history_scope: Scope, periods: RegressionPeriods) -> tuple[int, int]:
    """Runs with results in the weeks covering each period but outside it: a
    bound on any case's samples there (recent, baseline)."""
    first, last = rollups.covering_weeks(periods.baseline_since, periods.until)
    start = rollups.day_start(first)
    end = rollups.day_start(last + timedelta(days=7))
    recent_cover_start = rollups.day_start(
        rollups.covering_weeks(periods.recent_since, periods.until)[0]
    )
    baseline_cover_end = rollups.day_start(
        rollups.covering_weeks(periods.baseline_since, periods.recent_since)[1] + timedelta(days=7)
    )

    def between(low: datetime, high: datetime):
        return func.count().filter(Run.started_at >= low, Run.started_at < high)

    outside_recent, outside_baseline = db.session.execute(
        select(
            between(recent_cover_start, periods.recent_since) + between(periods.until, end),
            between(start, periods.baseline_since)
            + between(periods.recent_since, baseline_cover_end),
        ).where(
            Run.project_id == history_scope.project.id,
            Run.tests > 0,
            Run.started_at >= start,
            Run.started_at < end,
        )
    ).one()
    return outside_recent, outside_baseline
