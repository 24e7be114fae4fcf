"""The weekly reliability review: one ISO week of a project, against the week before.

The page, the Markdown export, the JSON API, the CLI and the notifications all
start from ``weekly_review``. Where design.md and issue 5 leave room, these are
the choices:

* **Week**: an ISO week, from Monday 00:00 to the next Monday 00:00 in the
  project's time zone (``Project.timezone``; UTC when it is unknown), queried
  as the UTC instants of those two local midnights, so a week across a
  daylight-saving change lasts 167 or 169 hours. The default is the last
  complete week at ``now``; a week that has not started yet is refused.
* **Horizon**: every "change" compares with the previous ISO week, and that is
  as far back as the review looks (each section queries the two weeks only),
  except duration regressions, whose definition compares the last 7 days of
  the week with the 21 days before.
* **Flaky** means flaky by evidence within the week (``flaky.py``); a
  quarantined test still counts. **Newly flaky**: flaky this week and not the
  week before. **Recovered**: flaky the week before, and this week at least
  ``RECOVERY_MIN_EXECUTIONS`` executions of which none failed or needed a retry
  (infrastructure failures aside): a test that did not run is absent, not
  recovered.
* **Newly failing**: ``failing`` at the end of the week (its last three
  executions on the default branch in some job, within the week, all failed)
  and not failing the week before.
* **Pass rate**: the share of runs with tests that had no failed or errored
  test. **Runs disrupted by flaky tests**: distinct non-infrastructure runs in
  which a test flaky this week failed, over the runs with tests. **CI time lost
  to flaky failures**: those runs' wall time, each run once however many flaky
  tests failed in it, plus the failed attempts of retry flakes (the estimate of
  ``flaky.py``).
* **Suite wall time per job**: median and p95 of the job's run wall times
  (``durations.wall_time``: infrastructure failures and untimed runs aside).
* **Coverage at the week's end**: the latest default-branch coverage report of
  the week (none when the week has none). Coverage movers compare its files
  with the previous week's latest report; low branch coverage ranks its files.
* **Quarantine debt**: quarantines created before the week's end (or now, for
  the current week) and not lifted by then; *expired* when their expiry had
  passed by then. Age in whole days.
* **Owners**: from ``Project.owners`` by the test's file (``dashboard.owners``).
* **Anti-patterns**: ``antipatterns.py`` holds the rules and thresholds,
  ``diagnosis.py`` finds them in the week.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import joinedload

from dashboard.analytics import coverage, diagnosis, durations, flaky, overview, rollups
from dashboard.analytics.diagnosis import (
    AntiPattern,
    Failure,
    short_message,
)
from dashboard.analytics.flaky import CaseFlakiness, Evidence
from dashboard.analytics.scope import FAILED_OUTCOMES, Scope, not_infrastructure_failure
from dashboard.extensions import db
from dashboard.models import Project, Quarantine, Result, Run, utcnow
from dashboard.owners import CaseRef, CaseRefs

TOP_FLAKY = 10
EVIDENCE_SHOWN = 3
RECOVERY_MIN_EXECUTIONS = 3
MOVERS = 5
MIN_YEAR, MAX_YEAR = 1970, 9998
WEEK_PATTERN = re.compile(r"^(\d{4})-W(\d{2})$")


class InvalidWeek(ValueError):
    """A week that cannot be reviewed, with a message for people."""


# --- weeks -----------------------------------------------------------------------------


def project_zone(project: Project) -> ZoneInfo:
    try:
        return ZoneInfo(project.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@dataclass(frozen=True, slots=True)
class Week:
    """An ISO week in a time zone; ``start`` and ``end`` are UTC instants."""

    year: int
    number: int
    zone: ZoneInfo

    @classmethod
    def parse(cls, text: str, zone: ZoneInfo) -> Week:
        match = WEEK_PATTERN.match(text.strip().upper())
        if not match:
            raise InvalidWeek(f"`week` must be an ISO week such as 2026-W47, not {text[:40]!r}")
        year, number = int(match[1]), int(match[2])
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise InvalidWeek(f"`week` must lie between {MIN_YEAR} and {MAX_YEAR}")
        try:
            date.fromisocalendar(year, number, 1)
        except ValueError:
            raise InvalidWeek(f"{year} has no ISO week {number}") from None
        return cls(year, number, zone)

    @classmethod
    def containing(cls, moment: datetime, zone: ZoneInfo) -> Week:
        iso = moment.astimezone(zone).isocalendar()
        return cls(iso.year, iso.week, zone)

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.number, 1)

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.monday, time.min, tzinfo=self.zone).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return self.next().start

    def next(self) -> Week:
        return self._shifted(7)

    def previous(self) -> Week:
        return self._shifted(-7)

    def _shifted(self, days: int) -> Week:
        iso = (self.monday + timedelta(days=days)).isocalendar()
        return Week(iso.year, iso.week, self.zone)

    def __str__(self) -> str:
        return self.label


def resolve_week(text: str | None, zone: ZoneInfo, now: datetime) -> Week:
    """The week asked for, or the last complete one; refuses one that has not started."""
    if text is None or not text.strip():
        return Week.containing(now, zone).previous()
    week = Week.parse(text, zone)
    if week.start > now:
        raise InvalidWeek(f"week {week.label} has not started yet")
    return week


# --- what the review holds -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figure(overview.Card):
    """A headline number: an overview card, with the key the JSON export names it by."""

    key: str


@dataclass(frozen=True, slots=True)
class WallTime:
    job: str
    runs: int
    median_s: float | None
    p95_s: float | None
    previous_median_s: float | None
    previous_p95_s: float | None


@dataclass(frozen=True, slots=True)
class Headline:
    figures: list[Figure]
    wall_time: list[WallTime]

    def figure(self, key: str) -> Figure:
        return next(f for f in self.figures if f.key == key)


@dataclass(frozen=True, slots=True)
class FlakyItem:
    case: CaseRef
    flake_rate: float
    executions: int
    runs_disrupted: int
    ci_seconds_lost: float
    why: str
    quarantined: bool
    first_flake_run_id: int | None
    last_flake_run_id: int | None
    evidence: list[Evidence]


@dataclass(frozen=True, slots=True)
class RecoveredItem:
    case: CaseRef
    executions: int  # this week, none failed or retried
    last_flake_run_id: int | None  # in the previous week
    why_before: str


@dataclass(frozen=True, slots=True)
class FailingItem:
    case: CaseRef
    job: str | None
    first_failure_run_id: int | None  # this week, on the default branch
    latest_failure_run_id: int | None
    message: str | None
    why: str


@dataclass(frozen=True, slots=True)
class RegressionItem:
    case: CaseRef
    baseline_median_s: float
    recent_median_s: float
    change_pct: float
    first_slow_run_id: int


@dataclass(frozen=True, slots=True)
class CoverageMovers:
    from_run_id: int | None
    to_run_id: int | None
    drops: list[coverage.FileDelta] = field(default_factory=list)
    gains: list[coverage.FileDelta] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class QuarantineItem:
    case: CaseRef
    reason: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    age_days: int


@dataclass(frozen=True, slots=True)
class QuarantineDebt:
    active: list[QuarantineItem] = field(default_factory=list)
    expired: list[QuarantineItem] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Review:
    project: Project
    week: Week
    previous_week: Week | None  # None when nothing came before (no earlier run)
    next_week: Week | None  # None unless that week is complete
    complete: bool
    first_week: bool  # runs this week, none before
    runs: int
    generated_at: datetime
    headline: Headline
    new_flaky: list[FlakyItem]
    recovered: list[RecoveredItem]
    new_failing: list[FailingItem]
    top_flaky: list[FlakyItem]
    regressions: list[RegressionItem]
    coverage_movers: CoverageMovers
    quarantine: QuarantineDebt
    anti_patterns: list[AntiPattern]


# --- the review ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Week:
    """What the sections share about one week: its scopes and flakiness report."""

    scope: Scope
    report: dict[int, CaseFlakiness]
    coverage: coverage.CoverageSummary

    def with_status(self, status: str) -> list[CaseFlakiness]:
        """Rows whose evidence says ``status``, costliest first (the report's order)."""
        return [row for row in self.report.values() if row.evidence_status == status]

    def ids_with_status(self, status: str) -> set[int]:
        return {row.case_id for row in self.with_status(status)}


def weekly_review(project: Project, week: str | None = None, now: datetime | None = None) -> Review:
    """The review of ``week`` (``2026-W47``; default: the last complete week at ``now``).

    Raises ``InvalidWeek`` for a malformed week or one that has not started.
    """
    now = now or utcnow()
    chosen = resolve_week(week, project_zone(project), now)
    # A week in progress is judged up to now (quarantines, the regression window).
    this_scope = week_scope(project, chosen, until=min(chosen.end, now))
    has_history = overview.has_runs_before(project, chosen.start)
    runs = durations.run_count(this_scope)
    this = _load_week(this_scope, with_runs=runs > 0)
    before = _load_week(week_scope(project, chosen.previous()), with_runs=has_history)
    refs = CaseRefs(project.owners)
    failures = diagnosis.week_failures(this.scope) if runs else []
    next_week = chosen.next()
    return Review(
        project=project,
        week=chosen,
        previous_week=chosen.previous() if has_history else None,
        next_week=next_week if next_week.end <= now else None,
        complete=chosen.end <= now,
        first_week=runs > 0 and not has_history,
        runs=runs,
        generated_at=now,
        headline=_headline(this, before, has_history),
        new_flaky=_new_flaky(this, before, refs),
        recovered=_recovered(this, before, refs),
        new_failing=_new_failing(this, before, failures, refs),
        top_flaky=[_flaky_item(r, refs) for r in this.with_status("flaky")[:TOP_FLAKY]],
        regressions=_regressions(this.scope, refs) if runs else [],
        coverage_movers=_coverage_movers(this.coverage, before.coverage),
        quarantine=_quarantine_debt(project, this_scope.until, refs),
        anti_patterns=(
            diagnosis.diagnose(this.scope, this.coverage, failures, refs) if runs else []
        ),
    )


def week_scope(project: Project, week: Week, until: datetime | None = None) -> Scope:
    """The week's runs, all branches and jobs (to ``until`` when given)."""
    return Scope(project=project, since=week.start, until=until or week.end, window_days=7)


def _load_week(scope: Scope, *, with_runs: bool) -> _Week:
    """A week's flakiness report and default-branch coverage (nothing without runs)."""
    default_branch = scope.project.default_branch
    if not with_runs:
        return _Week(scope, {}, coverage.CoverageSummary(default_branch, None))
    report = {row.case_id: row for row in flaky.flaky_report(scope)}
    return _Week(scope, report, coverage.coverage_summary(replace(scope, branch=default_branch)))


# --- headline --------------------------------------------------------------------------


# key, label, kind, which way is better
FIGURES = (
    ("runs", "Runs", "count", "up"),
    ("pass_rate", "Runs passed", "rate", "up"),
    ("flaky_run_share", "Runs disrupted by flaky tests", "rate", "down"),
    ("flaky_ci_seconds", "CI time lost to flaky failures", "seconds", "down"),
    ("line_coverage", "Line coverage ({branch})", "rate", "up"),
    ("branch_coverage", "Branch coverage ({branch})", "rate", "up"),
)


@dataclass(frozen=True, slots=True)
class _Numbers:
    """One week's headline numbers, named as in ``FIGURES``."""

    runs: int
    pass_rate: float | None
    flaky_run_share: float | None
    flaky_ci_seconds: float
    line_coverage: float | None
    branch_coverage: float | None


def _numbers(week: _Week) -> _Numbers:
    stats = overview.run_stats(week.scope)
    disrupted, seconds = _flaky_cost(week)
    return _Numbers(
        runs=stats.runs,
        pass_rate=stats.green_rate,
        flaky_run_share=_share(disrupted, stats.runs),
        flaky_ci_seconds=seconds,
        line_coverage=_rate(week.coverage, "line_rate"),
        branch_coverage=_rate(week.coverage, "branch_rate"),
    )


def _headline(this: _Week, before: _Week, has_history: bool) -> Headline:
    now = _numbers(this)
    earlier = _numbers(before) if has_history else None
    figures = [
        Figure(
            key=key,
            label=label.format(branch=this.coverage.branch),
            value=getattr(now, key),
            previous=getattr(earlier, key) if earlier else None,
            kind=kind,
            good=good,
        )
        for key, label, kind, good in FIGURES
    ]
    return Headline(figures, _wall_time(this.scope, before.scope if has_history else None))


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _rate(summary: coverage.CoverageSummary, name: str) -> float | None:
    return getattr(summary.latest, name) if summary.latest is not None else None


def _flaky_cost(week: _Week) -> tuple[int, float]:
    """Runs disrupted by this week's flaky tests, and the CI seconds lost (one query)."""
    flaky_ids = week.ids_with_status("flaky")
    if not flaky_ids:
        return (0, 0.0)
    query = (
        select(
            Result.run_id,
            Result.outcome,
            Result.retry_flake,
            Result.duration_s,
            Result.attempts,
            Run.wall_seconds,
        )
        .join(Run, Run.id == Result.run_id)
        .where(
            *week.scope.run_conditions(),
            not_infrastructure_failure(),
            rollups.among(Result.case_id, flaky_ids),
            or_(Result.outcome.in_(FAILED_OUTCOMES), Result.retry_flake.is_(True)),
        )
    )
    disrupted: dict[int, float] = {}
    retried = 0.0
    for run_id, outcome, retry_flake, duration, attempts, wall in db.session.execute(query):
        if outcome in FAILED_OUTCOMES:
            disrupted[run_id] = wall or 0.0
        elif retry_flake:
            # The stored duration adds up every attempt (see flaky.retried_seconds).
            attempts = max(attempts or 1, 1)
            retried += (duration or 0.0) * (attempts - 1) / attempts
    return (len(disrupted), sum(disrupted.values()) + retried)


def _wall_time(scope: Scope, previous: Scope | None) -> list[WallTime]:
    now_by_job = _seconds_by_job(durations.wall_time(scope))
    before_by_job = _seconds_by_job(durations.wall_time(previous)) if previous else {}
    rows = []
    for job in sorted(now_by_job.keys() | before_by_job.keys()):
        now_values, before_values = now_by_job.get(job, []), before_by_job.get(job, [])
        rows.append(
            WallTime(
                job=job,
                runs=len(now_values),
                median_s=_percentile(now_values, 50),
                p95_s=_percentile(now_values, 95),
                previous_median_s=_percentile(before_values, 50),
                previous_p95_s=_percentile(before_values, 95),
            )
        )
    return rows


def _seconds_by_job(points: Iterable[durations.WallTimePoint]) -> dict[str, list[float]]:
    by_job: dict[str, list[float]] = defaultdict(list)
    for point in points:
        by_job[point.job].append(point.seconds)
    return by_job


def _percentile(values: list[float], pct: float) -> float | None:
    return durations.percentile(values, pct) if values else None


# --- flaky, recovered, failing ---------------------------------------------------------


def _flaky_item(row: CaseFlakiness, refs: CaseRefs) -> FlakyItem:
    # Evidence is newest first; the oldest piece names the first flaky run shown.
    first = row.evidence[-1].run_ids[0] if row.evidence else None
    return FlakyItem(
        case=refs.of(row),
        flake_rate=row.flake_rate,
        executions=row.executions,
        runs_disrupted=row.runs_disrupted,
        ci_seconds_lost=row.ci_seconds_lost,
        why=row.why,
        quarantined=row.quarantine is not None,
        first_flake_run_id=first,
        last_flake_run_id=row.last_flake_run_id,
        evidence=row.evidence[:EVIDENCE_SHOWN],
    )


def _new_flaky(this: _Week, before: _Week, refs: CaseRefs) -> list[FlakyItem]:
    flaky_before = before.ids_with_status("flaky")
    rows = [row for row in this.with_status("flaky") if row.case_id not in flaky_before]
    return [_flaky_item(row, refs) for row in rows]


def _recovered(this: _Week, before: _Week, refs: CaseRefs) -> list[RecoveredItem]:
    candidates = before.ids_with_status("flaky") - this.ids_with_status("flaky")
    if not candidates:
        return []
    counts = _clean_executions(this.scope, candidates)
    items = [
        RecoveredItem(
            case=refs.of(row),
            executions=counts[row.case_id][0],
            last_flake_run_id=row.last_flake_run_id,
            why_before=row.why,
        )
        for row in before.with_status("flaky")
        if row.case_id in candidates
        and counts[row.case_id][0] >= RECOVERY_MIN_EXECUTIONS
        and counts[row.case_id][1] == 0
    ]
    return sorted(items, key=lambda item: (item.case.display_name, item.case.case_id))


def _clean_executions(scope: Scope, case_ids: set[int]) -> dict[int, tuple[int, int]]:
    """Per case: (executions, executions that failed or were retried), outside
    infrastructure failures."""
    troubled = or_(Result.outcome.in_(FAILED_OUTCOMES), Result.retry_flake.is_(True))
    query = (
        select(Result.case_id, func.count(), func.sum(case((troubled, 1), else_=0)))
        .join(Run, Run.id == Result.run_id)
        .where(
            *scope.run_conditions(),
            not_infrastructure_failure(),
            Result.outcome != "skipped",
            rollups.among(Result.case_id, case_ids),
        )
        .group_by(Result.case_id)
    )
    counts: dict[int, tuple[int, int]] = defaultdict(lambda: (0, 0))
    for case_id, executions, bad in db.session.execute(query):
        counts[case_id] = (executions, int(bad or 0))
    return counts


def _new_failing(
    this: _Week, before: _Week, failures: list[Failure], refs: CaseRefs
) -> list[FailingItem]:
    failing_before = before.ids_with_status("failing")
    rows = [row for row in this.with_status("failing") if row.case_id not in failing_before]
    default_branch = this.scope.project.default_branch
    on_default: dict[int, list[Failure]] = defaultdict(list)
    for failure in failures:
        if failure.branch == default_branch:
            on_default[failure.case_id].append(failure)
    items = []
    for row in rows:
        seen = on_default.get(row.case_id, [])
        latest = seen[-1] if seen else None
        items.append(
            FailingItem(
                case=refs.of(row),
                job=latest.job if latest else None,
                first_failure_run_id=seen[0].run_id if seen else None,
                latest_failure_run_id=latest.run_id if latest else None,
                message=short_message(latest.message) if latest else None,
                why=row.why,
            )
        )
    return sorted(items, key=lambda item: (item.case.display_name, item.case.case_id))


# --- durations, coverage, quarantine ---------------------------------------------------


def _regressions(scope: Scope, refs: CaseRefs) -> list[RegressionItem]:
    return [
        RegressionItem(
            case=refs.of(r),
            baseline_median_s=r.baseline_median_s,
            recent_median_s=r.recent_median_s,
            change_pct=r.change_pct,
            first_slow_run_id=r.first_slow_run_id,
        )
        for r in durations.regressions(scope)
    ]


def _coverage_movers(
    now: coverage.CoverageSummary, before: coverage.CoverageSummary
) -> CoverageMovers:
    if now.latest is None or before.latest is None:
        return CoverageMovers(
            before.latest.run_id if before.latest else None,
            now.latest.run_id if now.latest else None,
        )
    reports = coverage.reports_by_run([before.latest.run_id, now.latest.run_id])
    deltas = coverage.compare_reports(reports.get(before.latest.run_id), reports[now.latest.run_id])
    moved = coverage.movers(deltas, MOVERS)
    return CoverageMovers(before.latest.run_id, now.latest.run_id, moved.drops, moved.gains)


def _quarantine_debt(project: Project, as_of: datetime, refs: CaseRefs) -> QuarantineDebt:
    """Quarantines in force or expired-but-unlifted at ``as_of`` (one query)."""
    query = (
        select(Quarantine)
        .options(joinedload(Quarantine.case))
        .where(
            Quarantine.project_id == project.id,
            Quarantine.created_at < as_of,
            or_(Quarantine.lifted_at.is_(None), Quarantine.lifted_at > as_of),
        )
        .order_by(Quarantine.created_at, Quarantine.id)
    )
    debt = QuarantineDebt()
    for quarantine in db.session.scalars(query):
        qcase = quarantine.case
        item = QuarantineItem(
            case=refs(qcase.id, qcase.file, qcase.classname, qcase.name),
            reason=quarantine.reason,
            created_by=quarantine.created_by,
            created_at=quarantine.created_at,
            expires_at=quarantine.expires_at,
            age_days=(as_of - quarantine.created_at).days,
        )
        expired = quarantine.expires_at is not None and quarantine.expires_at <= as_of
        (debt.expired if expired else debt.active).append(item)
    return debt


# --- JSON ------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def case_json(ref: CaseRef) -> dict:
    return {
        "case_id": ref.case_id,
        "file": ref.file,
        "classname": ref.classname,
        "name": ref.name,
        "owners": list(ref.owners),
    }


def week_json(review: Review) -> dict:
    week = review.week
    return {
        "label": week.label,
        "start": _iso(week.start),
        "end": _iso(week.end),
        "first_day": week.monday.isoformat(),
        "last_day": week.sunday.isoformat(),
        "timezone": week.zone.key,
        "complete": review.complete,
        "first_week": review.first_week,
        "runs": review.runs,
    }


def figure_json(figure: Figure) -> dict:
    return {
        "label": figure.label,
        "value": figure.value,
        "previous": figure.previous,
        "change": figure.change,
    }


def headline_json(headline: Headline) -> dict:
    body: dict = {figure.key: figure_json(figure) for figure in headline.figures}
    body["wall_time"] = [
        {
            "job": row.job,
            "runs": row.runs,
            "median_s": row.median_s,
            "p95_s": row.p95_s,
            "previous_median_s": row.previous_median_s,
            "previous_p95_s": row.previous_p95_s,
        }
        for row in headline.wall_time
    ]
    return body


def flaky_item_json(item: FlakyItem) -> dict:
    return {
        **case_json(item.case),
        "flake_rate": item.flake_rate,
        "executions": item.executions,
        "runs_disrupted": item.runs_disrupted,
        "ci_seconds_lost": item.ci_seconds_lost,
        "why": item.why,
        "quarantined": item.quarantined,
        "first_flake_run_id": item.first_flake_run_id,
        "last_flake_run_id": item.last_flake_run_id,
        "evidence": [e.to_json() for e in item.evidence],
    }


def file_delta_json(delta: coverage.FileDelta) -> dict:
    return {
        "path": delta.path,
        "old_branch_rate": delta.old_branch_rate,
        "new_branch_rate": delta.new_branch_rate,
        "delta_branch_rate": delta.delta_branch_rate,
        "old_missing_branches": delta.old_missing_branches,
        "new_missing_branches": delta.new_missing_branches,
    }


def quarantine_item_json(item: QuarantineItem) -> dict:
    return {
        **case_json(item.case),
        "reason": item.reason,
        "created_by": item.created_by,
        "created_at": _iso(item.created_at),
        "expires_at": _iso(item.expires_at),
        "age_days": item.age_days,
    }


def anti_pattern_json(pattern: AntiPattern) -> dict:
    return {
        "kind": pattern.kind,
        "title": pattern.title,
        "remedy": pattern.remedy,
        "summary": pattern.summary,
        "run_ids": pattern.run_ids,
        "tests": [
            {
                **case_json(f.case),
                "run_ids": f.run_ids,
                "failures": f.failures,
                "reasons": f.reasons,
                "message": f.message,
            }
            for f in pattern.cases
        ],
        "suites": [
            {
                "job": s.job,
                "runs": s.runs,
                "run_ids": s.run_ids,
                "wall_seconds": s.wall_seconds,
                "case_seconds": s.case_seconds,
                "outside_seconds": s.outside_seconds,
                "outside_share": s.outside_share,
                "estimate": {str(n): seconds for n, seconds in s.estimate.items()},
                "estimate_run_id": s.estimate_run_id,
            }
            for s in pattern.suites
        ],
        "files": [
            {
                "path": f.path,
                "branch_rate": f.branch_rate,
                "missing_branches": f.missing_branches,
                "branches_valid": f.branches_valid,
            }
            for f in pattern.files
        ],
    }


def review_json(review: Review) -> dict:
    """The whole review as JSON-ready values (the API's body and ``--format json``)."""
    project = review.project
    return {
        "project": {
            "slug": project.slug,
            "name": project.name,
            "timezone": review.week.zone.key,
            "default_branch": project.default_branch,
        },
        "week": week_json(review),
        "previous_week": review.previous_week.label if review.previous_week else None,
        "next_week": review.next_week.label if review.next_week else None,
        "generated_at": _iso(review.generated_at),
        "headline": headline_json(review.headline),
        "new_flaky": [flaky_item_json(item) for item in review.new_flaky],
        "recovered": [
            {
                **case_json(item.case),
                "executions": item.executions,
                "last_flake_run_id": item.last_flake_run_id,
                "why_before": item.why_before,
            }
            for item in review.recovered
        ],
        "new_failing": [
            {
                **case_json(item.case),
                "job": item.job,
                "first_failure_run_id": item.first_failure_run_id,
                "latest_failure_run_id": item.latest_failure_run_id,
                "message": item.message,
                "why": item.why,
            }
            for item in review.new_failing
        ],
        "top_flaky": [flaky_item_json(item) for item in review.top_flaky],
        "regressions": [
            {
                **case_json(item.case),
                "baseline_median_s": item.baseline_median_s,
                "recent_median_s": item.recent_median_s,
                "change_pct": item.change_pct,
                "first_slow_run_id": item.first_slow_run_id,
            }
            for item in review.regressions
        ],
        "coverage_movers": {
            "from_run_id": review.coverage_movers.from_run_id,
            "to_run_id": review.coverage_movers.to_run_id,
            "drops": [file_delta_json(d) for d in review.coverage_movers.drops],
            "gains": [file_delta_json(d) for d in review.coverage_movers.gains],
        },
        "quarantine": {
            "active": [quarantine_item_json(item) for item in review.quarantine.active],
            "expired": [quarantine_item_json(item) for item in review.quarantine.expired],
        },
        "anti_patterns": [anti_pattern_json(pattern) for pattern in review.anti_patterns],
    }
