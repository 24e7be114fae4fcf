"""Flaky tests: design.md's definitions of flakiness, status, flake rate and cost.

An *execution* is one case's result in one run of the scope (window, branch,
job); skipped results are not executions. *Fail* means failed or error. Each
case's executions are walked in time order (run start, then run id).

Where design.md leaves room, these are the choices:

* **Infrastructure-failure runs** (more than 80% of executed cases failed)
  still count in ``executions`` and ``failures`` (they are shown), but give no
  evidence of any kind: their results are dropped from the flip series and from
  same-commit pairs, **and a retry flake inside one is not a retry flake** --
  when the machine itself was failing, a test that failed and then passed says
  nothing about the test. They do not count towards ``failing`` either (three
  broken CI runs in a row must not mark every test as failing), nor towards cost.
* **Flaky executions** (the numerator of the flake rate) are the union of
  (a) retry-flake executions, (b) failing executions that belong to a
  same-commit pair (same job, same commit, both outcomes), and (c) failing
  executions of a (branch, job) series whose flip rate is flagged (at least
  ``min_executions`` executions and a flip rate at or above the threshold).
  Each execution counts once. The denominator is every execution in the window.
* **Cost** is counted only for cases that are flaky by evidence (quarantined
  ones included). ``runs_disrupted`` is the number of non-infrastructure runs in
  which the case's final outcome was a failure; ``ci_seconds_lost`` is the
  ``wall_seconds`` of those runs plus the time of the failed attempts of its
  retry flakes, estimated as ``duration_s * (attempts - 1) / attempts`` (the
  stored duration adds up all attempts).
* **Failing**: on the project's default branch, for some job, the last three
  executions (outside infrastructure failures, within the scope) all failed,
  and the case is not flaky.
* **New**: the case's ``first_seen_at`` lies in the window.
* **Quarantined** is judged at the end of the window (``scope.until``, which is
  "now" on the pages): not lifted, and no expiry or an expiry after that moment.
  It takes precedence in ``status``; ``evidence_status`` keeps what the evidence
  alone says, and every evidence figure is still computed.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise

from sqlalchemy import Select, or_, select
from sqlalchemy.sql.elements import ColumnElement

from dashboard.analytics.scope import (
    FAILED_OUTCOMES,
    Scope,
    infrastructure_failure,
    not_infrastructure_failure,
)
from dashboard.extensions import db
from dashboard.models import Case, Project, Quarantine, Result, Run
from dashboard.quarantine import active_condition

REPORT_STATUSES = ("flaky", "failing", "quarantined")
STATUSES = (*REPORT_STATUSES, "new", "healthy")
FAILING_STREAK = 3
# The evidence kept per case (newest first); the counts always cover everything.
EVIDENCE_LIMIT = 20
# Up to this many candidates their ids are listed, so the database can use the
# (case_id, run_id) index; beyond, the candidate subquery is cheaper than the list.
MAX_LISTED_CASES = 2000
SHORT_SHA = 7


# --- results ---------------------------------------------------------------------------


@dataclass(slots=True)
class Evidence:
    """One piece of evidence that a case is flaky, with the runs that show it."""

    kind: str  # "retry_flake" | "same_commit" | "flip"
    run_ids: list[int]  # oldest first
    commit: str | None
    branch: str | None
    job: str | None
    started_at: datetime  # of the latest run in run_ids
    detail: str

    @property
    def run_id(self) -> int:
        """The most recent run of this evidence."""
        return self.run_ids[-1]


@dataclass(frozen=True, slots=True)
class QuarantineInfo:
    id: int
    reason: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None


@dataclass(slots=True)
class CaseFlakiness:
    case_id: int
    file: str
    classname: str
    name: str
    status: str
    executions: int
    failures: int
    flaky_executions: int
    flake_rate: float
    flake_rate_low: float
    flake_rate_high: float
    flip_rate: float | None
    retry_flakes: int
    same_commit_flakes: int
    runs_disrupted: int
    ci_seconds_lost: float
    last_flake_run_id: int | None
    evidence: list[Evidence] = field(default_factory=list)
    quarantine: QuarantineInfo | None = None
    why: str = ""
    evidence_status: str = "healthy"  # the status before quarantine takes precedence

    @property
    def display_name(self) -> str:
        return f"{self.classname}::{self.name}" if self.classname else self.name

    @property
    def cost_key(self) -> tuple[float, int, float]:
        return (self.ci_seconds_lost, self.runs_disrupted, self.flake_rate)


# --- pure helpers ----------------------------------------------------------------------


def is_fail(outcome: str) -> bool:
    return outcome in FAILED_OUTCOMES


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% for z = 1.96).

    With no trials nothing is known: (0, 1)."""
    if trials <= 0:
        return (0.0, 1.0)
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must lie in 0..{trials}, got {successes}")
    p = successes / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    margin = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denominator
    # Exact ends at 0 and 1: rounding must not make 0/n look possible to be negative.
    low = 0.0 if successes == 0 else max(0.0, centre - margin)
    high = 1.0 if successes == trials else min(1.0, centre + margin)
    return (low, high)


def pass_fail(outcomes: Iterable[str]) -> list[bool]:
    """Outcomes as fail flags, skips removed (they count for nothing)."""
    return [is_fail(o) for o in outcomes if o != "skipped"]


def count_flips(outcomes: Sequence[str]) -> int:
    fails = pass_fail(outcomes)
    return sum(1 for a, b in pairwise(fails) if a != b)


def flip_rate(outcomes: Sequence[str]) -> float | None:
    """Share of consecutive pairs (skips removed) whose outcome differs, pass<->fail.

    ``None`` with fewer than two executions: there is no pair to judge."""
    pairs = len(pass_fail(outcomes)) - 1
    if pairs < 1:
        return None
    return count_flips(outcomes) / pairs


def short_sha(commit: str | None) -> str:
    return (commit or "no commit")[:SHORT_SHA]


# --- executions and the rules over them ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Execution:
    """One (non-skipped) result of a case, with what the rules need of its run."""

    run_id: int
    started_at: datetime
    branch: str | None
    job: str
    commit: str | None
    outcome: str
    retry_flake: bool
    attempts: int
    duration_s: float
    wall_seconds: float
    infrastructure: bool

    @property
    def failed(self) -> bool:
        return is_fail(self.outcome)

    @property
    def series(self) -> tuple[str | None, str]:
        return (self.branch, self.job)


@dataclass(frozen=True, slots=True)
class Series:
    """One (branch, job) series of a case, infrastructure failures removed."""

    branch: str | None
    job: str
    executions: list[Execution]
    rate: float | None
    flagged: bool


def series_of(evidence: list[Execution], project: Project) -> list[Series]:
    grouped: dict[tuple[str | None, str], list[Execution]] = defaultdict(list)
    for execution in evidence:
        grouped[execution.series].append(execution)
    result = []
    for (branch, job), runs in grouped.items():
        rate = flip_rate([e.outcome for e in runs])
        enough = len(runs) >= project.min_executions
        # A rate of 0 is never flagged, even with a threshold of 0: no flip, no flake.
        flagged = enough and bool(rate) and rate >= project.flip_rate_threshold
        result.append(Series(branch, job, runs, rate if enough else None, flagged))
    return result


def same_commit_groups(evidence: list[Execution]) -> list[list[Execution]]:
    """Executions of one job on one commit, both passed and failed (across runs)."""
    grouped: dict[tuple[str, str], list[Execution]] = defaultdict(list)
    for execution in evidence:
        if execution.commit:
            grouped[(execution.job, execution.commit)].append(execution)
    return [
        runs
        for runs in grouped.values()
        if any(e.failed for e in runs) and any(not e.failed for e in runs)
    ]


def failing_series(evidence: list[Execution], project: Project) -> tuple[str, str] | None:
    """The (branch, job) whose last three executions all failed, on the default branch."""
    by_job: dict[str, list[Execution]] = defaultdict(list)
    for execution in evidence:
        if execution.branch == project.default_branch:
            by_job[execution.job].append(execution)
    for job, runs in sorted(by_job.items()):
        last = runs[-FAILING_STREAK:]
        if len(last) == FAILING_STREAK and all(e.failed for e in last):
            return (project.default_branch, job)
    return None


def retried_seconds(execution: Execution) -> float:
    """Estimated time of a retry flake's failed attempts (durations add up over attempts)."""
    attempts = max(execution.attempts, 1)
    return execution.duration_s * (attempts - 1) / attempts


# --- evidence and the sentence that names it -------------------------------------------


def _evidence_from(
    latest: Execution, kind: str, runs: list[Execution], detail: str, *, with_commit: bool = True
) -> Evidence:
    return Evidence(
        kind=kind,
        run_ids=[e.run_id for e in runs],
        commit=latest.commit if with_commit else None,
        branch=latest.branch,
        job=latest.job,
        started_at=latest.started_at,
        detail=detail,
    )


def retry_evidence(execution: Execution) -> Evidence:
    failed = max(execution.attempts - 1, 1)
    detail = f"passed on attempt {execution.attempts} after {failed} failed attempt(s)"
    return _evidence_from(execution, "retry_flake", [execution], detail)


def same_commit_evidence(runs: list[Execution]) -> Evidence:
    failed = sum(1 for e in runs if e.failed)
    latest = runs[-1]
    detail = (
        f"failed in {failed} and passed in {len(runs) - failed} run(s) "
        f"of commit {short_sha(latest.commit)} (job {latest.job})"
    )
    return _evidence_from(latest, "same_commit", runs, detail)


def flip_evidence(series: Series) -> Evidence:
    runs = series.executions
    flipped = [b for a, b in pairwise(runs) if a.failed != b.failed]
    detail = (
        f"flip rate {series.rate:.2f}: {len(flipped)} flip(s) over {len(runs)} executions "
        f"on {series.branch or 'no branch'}/{series.job}"
    )
    # A series spans many commits: no single one names it.
    return _evidence_from(flipped[-1], "flip", flipped, detail, with_commit=False)


def why_flaky(retries: list[Execution], pairs: list[list[Execution]], flagged: list[Series]) -> str:
    """The evidence in one sentence, e.g. "retried into a pass in 3 runs; flip rate
    0.35 on main/py3.11"."""
    parts = []
    if retries:
        parts.append(f"retried into a pass in {_runs(len(retries))}")
    if pairs:
        latest = max(pairs, key=lambda runs: (runs[-1].started_at, runs[-1].run_id))[-1]
        sha = short_sha(latest.commit)
        if len(pairs) == 1:
            parts.append(f"failed and passed on commit {sha} (job {latest.job})")
        else:
            parts.append(
                f"failed and passed on the same commit {len(pairs)} times "
                f"(latest {sha}, job {latest.job})"
            )
    if flagged:
        top = max(flagged, key=lambda s: s.rate or 0.0)
        parts.append(f"flip rate {top.rate:.2f} on {top.branch or 'no branch'}/{top.job}")
    return "; ".join(parts)


def _runs(count: int) -> str:
    return f"{count} run" if count == 1 else f"{count} runs"


# --- one case, from its executions -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseRow:
    """What the rules need of a case beyond its executions."""

    id: int
    file: str
    classname: str
    name: str
    first_seen_at: datetime


def assess(
    case: CaseRow,
    executions: list[Execution],
    scope: Scope,
    quarantine: QuarantineInfo | None = None,
) -> CaseFlakiness:
    """Apply every rule to one case's executions (time order, skips already removed)."""
    project = scope.project
    evidence_runs = [e for e in executions if not e.infrastructure]
    retries = [e for e in evidence_runs if e.retry_flake]
    pairs = same_commit_groups(evidence_runs)
    series = series_of(evidence_runs, project)
    flagged = [s for s in series if s.flagged]
    rates = [s.rate for s in series if s.rate is not None]

    flaky = bool(retries or pairs or flagged)
    failing = None if flaky else failing_series(evidence_runs, project)
    flaky_runs = _flaky_executions(retries, pairs, flagged)
    disrupted = [e for e in evidence_runs if e.failed] if flaky else []
    low, high = wilson_interval(len(flaky_runs), len(executions))

    evidence_status = _evidence_status(flaky, failing, case, scope)
    result = CaseFlakiness(
        case_id=case.id,
        file=case.file,
        classname=case.classname,
        name=case.name,
        status="quarantined" if quarantine else evidence_status,
        executions=len(executions),
        failures=sum(1 for e in executions if e.failed),
        flaky_executions=len(flaky_runs),
        flake_rate=len(flaky_runs) / len(executions) if executions else 0.0,
        flake_rate_low=low,
        flake_rate_high=high,
        flip_rate=max(rates) if rates else None,
        retry_flakes=len(retries),
        same_commit_flakes=len(pairs),
        runs_disrupted=len(disrupted),
        ci_seconds_lost=_seconds_lost(disrupted, retries if flaky else []),
        last_flake_run_id=flaky_runs[-1].run_id if flaky_runs else None,
        evidence=_evidence(retries, pairs, flagged),
        quarantine=quarantine,
        evidence_status=evidence_status,
    )
    result.why = _why(result, retries, pairs, flagged, failing)
    return result


def _flaky_executions(
    retries: list[Execution], pairs: list[list[Execution]], flagged: list[Series]
) -> list[Execution]:
    """Retry flakes, plus failures in a same-commit pair or a flagged series; each once."""
    chosen = {e.run_id: e for e in retries}
    for runs in [*pairs, *(s.executions for s in flagged)]:
        chosen.update((e.run_id, e) for e in runs if e.failed)
    return sorted(chosen.values(), key=lambda e: (e.started_at, e.run_id))


def _seconds_lost(disrupted: list[Execution], retries: list[Execution]) -> float:
    return sum(e.wall_seconds for e in disrupted) + sum(retried_seconds(e) for e in retries)


def _evidence(
    retries: list[Execution], pairs: list[list[Execution]], flagged: list[Series]
) -> list[Evidence]:
    items = [retry_evidence(e) for e in retries]
    items += [same_commit_evidence(runs) for runs in pairs]
    items += [flip_evidence(s) for s in flagged]
    items.sort(key=lambda ev: (ev.started_at, ev.run_id), reverse=True)
    return items[:EVIDENCE_LIMIT]


def _evidence_status(
    flaky: bool, failing: tuple[str, str] | None, case: CaseRow, scope: Scope
) -> str:
    if flaky:
        return "flaky"
    if failing:
        return "failing"
    if scope.since <= case.first_seen_at < scope.until:
        return "new"
    return "healthy"


def _why(
    result: CaseFlakiness,
    retries: list[Execution],
    pairs: list[list[Execution]],
    flagged: list[Series],
    failing: tuple[str, str] | None,
) -> str:
    if result.evidence_status == "flaky":
        return why_flaky(retries, pairs, flagged)
    if failing:
        branch, job = failing
        return f"failed its last {FAILING_STREAK} executions on {branch}/{job}"
    if result.quarantine:
        return "quarantined; no flaky evidence in this window"
    if result.evidence_status == "new":
        return "first seen in this window"
    return "no flaky evidence in this window"


# --- public queries --------------------------------------------------------------------


def flaky_report(scope: Scope, *, status: str | None = None) -> list[CaseFlakiness]:
    """Every case that is flaky, failing or quarantined in the scope, costliest first.

    At most two queries whatever the number of cases: the candidates (a failure or
    a retry flake in a non-infrastructure run of the scope, or an active
    quarantine), then all their executions in the scope."""
    if status is not None and status not in REPORT_STATUSES:
        raise ValueError(f"status must be one of {', '.join(REPORT_STATUSES)}; got {status!r}")
    cases = _load_cases(scope, Case.id.in_(_candidate_ids(scope)))
    if not cases:
        return []
    executions = _load_executions(scope, _case_ids_condition(scope, [c.id for c, _ in cases]))
    rows = [assess(case, executions.get(case.id, []), scope, q) for case, q in cases]
    rows = [r for r in rows if r.status in REPORT_STATUSES]
    if status:
        rows = [r for r in rows if r.status == status]
    rows.sort(key=lambda r: r.display_name)
    rows.sort(key=lambda r: r.cost_key, reverse=True)
    return rows


class UnknownCaseError(LookupError):
    """The scope's project has no case with that id."""


def case_flakiness(scope: Scope, case_id: int) -> CaseFlakiness:
    """The same figures for one case, whatever its status (two queries)."""
    cases = _load_cases(scope, Case.id == case_id)
    if not cases:
        raise UnknownCaseError(f"project {scope.project.slug!r} has no case {case_id}")
    case, quarantine = cases[0]
    executions = _load_executions(scope, Result.case_id == case_id)
    return assess(case, executions.get(case_id, []), scope, quarantine)


# --- SQL -------------------------------------------------------------------------------


def _suspect_case_ids(scope: Scope) -> Select:
    """Cases with a failure or a retry flake in a non-infrastructure run of the scope."""
    return (
        select(Result.case_id)
        .join(Run, Run.id == Result.run_id)
        .where(
            *scope.run_conditions(),
            not_infrastructure_failure(),
            or_(Result.outcome.in_(FAILED_OUTCOMES), Result.retry_flake.is_(True)),
        )
    )


def _quarantined_case_ids(scope: Scope) -> Select:
    return select(Quarantine.case_id).where(
        Quarantine.project_id == scope.project.id, active_condition(scope.until)
    )


def _candidate_ids(scope: Scope) -> Select:
    return _suspect_case_ids(scope).union(_quarantined_case_ids(scope))


def _case_ids_condition(scope: Scope, case_ids: list[int]) -> ColumnElement[bool]:
    if len(case_ids) <= MAX_LISTED_CASES:
        return Result.case_id.in_(case_ids)
    return Result.case_id.in_(_candidate_ids(scope))


def _load_cases(scope: Scope, condition) -> list[tuple[CaseRow, QuarantineInfo | None]]:
    """The cases matching ``condition``, each with its active quarantine (latest wins)."""
    query = (
        select(
            Case.id,
            Case.file,
            Case.classname,
            Case.name,
            Case.first_seen_at,
            Quarantine.id,
            Quarantine.reason,
            Quarantine.created_by,
            Quarantine.created_at,
            Quarantine.expires_at,
        )
        .outerjoin(
            Quarantine,
            (Quarantine.case_id == Case.id)
            & (Quarantine.project_id == Case.project_id)
            & active_condition(scope.until),
        )
        .where(Case.project_id == scope.project.id, condition)
        .order_by(Case.id, Quarantine.created_at, Quarantine.id)
    )
    cases: dict[int, tuple[CaseRow, QuarantineInfo | None]] = {}
    for row in db.session.execute(query):
        case = CaseRow(row[0], row[1], row[2], row[3], row[4])
        quarantine = QuarantineInfo(*row[5:]) if row[5] is not None else None
        cases[case.id] = (case, quarantine)
    return list(cases.values())


def _load_executions(scope: Scope, condition) -> dict[int, list[Execution]]:
    """Non-skipped results of the scope's runs matching ``condition``, per case, in time order."""
    query = (
        select(
            Result.case_id,
            Run.id,
            Run.started_at,
            Run.branch,
            Run.job,
            Run.commit_sha,
            Result.outcome,
            Result.retry_flake,
            Result.attempts,
            Result.duration_s,
            Run.wall_seconds,
            infrastructure_failure().label("infrastructure"),
        )
        .join(Run, Run.id == Result.run_id)
        .where(*scope.run_conditions(), Result.outcome != "skipped", condition)
        .order_by(Run.started_at, Run.id)
    )
    executions: dict[int, list[Execution]] = defaultdict(list)
    for row in db.session.execute(query):
        executions[row[0]].append(
            Execution(
                run_id=row[1],
                started_at=row[2],
                branch=row[3],
                job=row[4],
                commit=row[5],
                outcome=row[6],
                retry_flake=bool(row[7]),
                attempts=row[8] or 1,
                duration_s=row[9] or 0.0,
                wall_seconds=row[10] or 0.0,
                infrastructure=bool(row[11]),
            )
        )
    return executions
