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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise

from sqlalchemy import Select, func, select, text
from sqlalchemy.sql.elements import ColumnElement

from dashboard.analytics import rollups
from dashboard.analytics.scope import (
    FAILED_OUTCOMES,
    Scope,
    infrastructure_failure,
    not_infrastructure_failure,
)
from dashboard.extensions import db
from dashboard.models import SUSPECT_CONDITION, Case, Project, Quarantine, Result, Run
from dashboard.quarantine import active_condition

REPORT_STATUSES = ("flaky", "failing", "quarantined")
STATUSES = (*REPORT_STATUSES, "new", "healthy")
FAILING_STREAK = 3
# The evidence kept per case (newest first); the counts always cover everything.
EVIDENCE_LIMIT = 20
# Up to this many candidates their ids are listed, so the database can use the
# (case_id, run_id) index; beyond, the candidate subquery is cheaper than the list.
MAX_LISTED_CASES = 2000
# Up to this many cases, their suspect results are read case by case (a test's
# page), not run by run.
FEW_CASES = 20
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

    def to_json(self) -> dict:
        """As the flaky API and the review's JSON both give it."""
        return {
            "kind": self.kind,
            "run_ids": self.run_ids,
            "commit": self.commit,
            "branch": self.branch,
            "job": self.job,
            "started_at": self.started_at.isoformat(),
            "detail": self.detail,
        }


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

    The candidates are the cases with a failure or a retry flake in a
    non-infrastructure run of the scope, or an active quarantine. A first query
    reads the scope's runs. When they are not all rolled up, a second one loads
    the candidates and a third reads all their executions in the scope. When
    they are, the suspect results of the scope's runs name the candidates
    (``_report_from_rollups``): a handful of queries, whatever the number of
    cases, no row of an ordinary pass read, and only the cases reported loaded."""
    if status is not None and status not in REPORT_STATUSES:
        raise ValueError(f"status must be one of {', '.join(REPORT_STATUSES)}; got {status!r}")
    runs = rollups.scope_runs(scope)
    if _all_rolled_up(runs):
        rows = _report_from_rollups(scope, runs)
    else:
        rows = _report_from_results(scope)
    rows = [r for r in rows if r.status in REPORT_STATUSES]
    if status:
        rows = [r for r in rows if r.status == status]
    rows.sort(key=lambda r: r.display_name)
    rows.sort(key=lambda r: r.cost_key, reverse=True)
    return rows


def _all_rolled_up(runs: list[rollups.ScopeRun]) -> bool:
    # Without runs, only quarantines can be reported: the results path finds them.
    return bool(runs) and all(run.rolled_up for run in runs)


def _report_from_results(scope: Scope) -> list[CaseFlakiness]:
    cases = _load_cases(scope, Case.id.in_(_candidate_ids(scope)))
    if not cases:
        return []
    ids = [c.id for c, _ in cases]
    executions = _load_executions(scope, _case_ids_condition(scope, ids))
    return [assess(case, executions.get(case.id, []), scope, q) for case, q in cases]


def flaky_count(scope: Scope) -> int:
    """How many cases ``flaky_report`` shows as ``flaky``: its rules, without the
    evidence, cost or case rows they do not need (the overview's card for the
    previous period, where only the number is shown)."""
    runs = rollups.scope_runs(scope)
    if not _all_rolled_up(runs):
        return sum(1 for row in _report_from_results(scope) if row.status == "flaky")
    judged = _judge_candidates(scope, runs)
    count = sum(
        1
        for case_id, figures in judged.figures.items()
        if figures.flaky and case_id not in judged.quarantined
    )
    absent = [case_id for case_id in judged.absent() if case_id not in judged.quarantined]
    if absent:
        executions = _load_executions(scope, rollups.among(Result.case_id, absent))
        count += sum(
            1
            for case, quarantine in _load_cases_by_id(scope, absent)
            if assess(case, executions.get(case.id, []), scope, quarantine).status == "flaky"
        )
    return count


class UnknownCaseError(LookupError):
    """The scope's project has no case with that id."""


def case_flakiness(scope: Scope, case_id: int) -> CaseFlakiness:
    """The same figures for one case, whatever its status (two queries when the
    scope is not rolled up, a few more when it is)."""
    cases, rolled_up = _load_cases_checked(scope, Case.id == case_id)
    if not cases:
        raise UnknownCaseError(f"project {scope.project.slug!r} has no case {case_id}")
    case, quarantine = cases[0]
    if rolled_up and rollups.present_everywhere(scope, [case_id]):
        context = _RunsContext(scope, rollups.scope_runs(scope))
        suspects = _load_suspects(context, [case_id]).get(case_id, _Suspects())
        infra = _infrastructure_failures(context, [case_id]).get(case_id, 0)
        figures = _figures(context, suspects, scope.project)
        return _assess_present(case, figures, context, infra, scope, quarantine)
    executions = _load_executions(scope, Result.case_id == case_id)
    return assess(case, executions.get(case_id, []), scope, quarantine)


# --- the same rules, read from suspect results -----------------------------------------
#
# A case with a non-skipped result in every run of the scope (most cases of a
# stable suite) needs no other row than its suspect ones: every run is one of its
# executions, and a run is a failure of it exactly when a suspect result says so.
# Its flips, same-commit pairs and failing streaks follow from the positions of
# its failures among the runs, which the scope's runs (one small query) give.
# ``_assess_present`` returns what ``assess`` returns for the same executions;
# ``tests/dashboard/analytics/test_rollup_paths.py`` holds the two side by side.


@dataclass(slots=True)
class _Suspects:
    """A case's suspect results in the scope's ordinary (non-infrastructure) runs."""

    fails: dict[int, str] = field(default_factory=dict)  # run id -> failed | error
    retries: dict[int, tuple[str, int, float]] = field(default_factory=dict)  # -> outcome,
    # attempts, seconds


class _RunsContext:
    """The scope's runs with results, as every present case shares them."""

    def __init__(self, scope: Scope, runs: list[rollups.ScopeRun]) -> None:
        project = scope.project
        self.runs = [run for run in runs if run.tests > 0]
        self.by_id = {run.id: run for run in self.runs}
        self.order = {run.id: index for index, run in enumerate(self.runs)}
        self.ordinary = [run for run in self.runs if not run.infrastructure]
        self.infrastructure_ids = [run.id for run in self.runs if run.infrastructure]
        self.series: dict[tuple[str | None, str], list[rollups.ScopeRun]] = defaultdict(list)
        self.position: dict[int, int] = {}
        commits: dict[tuple[str, str], list[rollups.ScopeRun]] = defaultdict(list)
        for run in self.ordinary:
            series = self.series[(run.branch, run.job)]
            self.position[run.id] = len(series)
            series.append(run)
            if run.commit:
                commits[(run.job, run.commit)].append(run)
        # Only a commit run more than once can be failed and passed on.
        self.commits = {key: group for key, group in commits.items() if len(group) > 1}
        self.commit_rank = {key: rank for rank, key in enumerate(self.commits)}
        self.last_on_default: dict[str, list[int]] = {}
        for (branch, job), series_runs in self.series.items():
            if branch == project.default_branch:
                self.last_on_default[job] = [run.id for run in series_runs[-FAILING_STREAK:]]

    def execution(self, run_id: int, suspects: _Suspects) -> Execution:
        run = self.by_id[run_id]
        outcome, attempts, seconds = suspects.retries.get(run_id, ("passed", 1, 0.0))
        return Execution(
            run_id=run.id,
            started_at=run.started_at,
            branch=run.branch,
            job=run.job,
            commit=run.commit,
            outcome=suspects.fails.get(run_id, outcome),
            retry_flake=run_id in suspects.retries,
            attempts=attempts,
            duration_s=seconds,
            wall_seconds=run.wall_seconds,
            infrastructure=run.infrastructure,
        )


@dataclass(slots=True)
class _Figures:
    """What the rules find in one present case's suspect results."""

    suspects: _Suspects
    retries: list[int]  # run ids, in time order
    pairs: list[list[rollups.ScopeRun]]
    series: list[Series]  # every series of the scope, executions left empty
    flagged: list[tuple[Series, list[rollups.ScopeRun]]]  # with their flipped runs
    failing: tuple[str, str] | None

    @property
    def flaky(self) -> bool:
        return bool(self.retries or self.pairs or self.flagged)

    @property
    def reportable(self) -> bool:
        return self.flaky or self.failing is not None


def _figures(context: _RunsContext, suspects: _Suspects, project: Project) -> _Figures:
    fails = suspects.fails
    retries = sorted(suspects.retries, key=context.order.__getitem__)
    keys = {(context.by_id[r].job, context.by_id[r].commit) for r in fails}
    pairs = [
        context.commits[key]
        for key in sorted(keys & context.commits.keys(), key=context.commit_rank.__getitem__)
        if any(run.id not in fails for run in context.commits[key])
    ]
    positions: dict[tuple[str | None, str], list[int]] = defaultdict(list)
    for run_id in fails:
        run = context.by_id[run_id]
        positions[(run.branch, run.job)].append(context.position[run_id])
    series, flagged = [], []
    for (branch, job), runs in context.series.items():
        flips = _flipped_positions(sorted(positions.get((branch, job), ())), len(runs))
        rate = len(flips) / (len(runs) - 1) if len(runs) > 1 else None
        enough = len(runs) >= project.min_executions
        is_flagged = enough and bool(rate) and rate >= project.flip_rate_threshold
        one = Series(branch, job, [], rate if enough else None, is_flagged)
        series.append(one)
        if is_flagged:
            flagged.append((one, [runs[p] for p in flips]))
    failing = None
    if not (retries or pairs or flagged):
        for job, last in sorted(context.last_on_default.items()):
            if len(last) == FAILING_STREAK and all(run_id in fails for run_id in last):
                failing = (project.default_branch, job)
                break
    return _Figures(suspects, retries, pairs, series, flagged, failing)


_NOTHING = _Figures(_Suspects(), [], [], [], [], None)


def _may_report(context: _RunsContext, suspects: _Suspects | None, project: Project) -> bool:
    """A cheap test that lets most candidates go (a single failure, say): ``False``
    only when ``_figures`` would find nothing to report."""
    if suspects is None:
        return False
    if suspects.retries:
        return True
    per_series: dict[tuple[str | None, str], int] = defaultdict(int)
    for run_id in suspects.fails:
        run = context.by_id[run_id]
        if (run.job, run.commit) in context.commits:
            return True  # perhaps a same-commit pair
        per_series[(run.branch, run.job)] += 1
    for key, fails in per_series.items():
        size = len(context.series[key])
        # Each failure flips at most twice.
        enough = size >= project.min_executions and size > 1
        if enough and 2 * fails / (size - 1) >= project.flip_rate_threshold:
            return True
        if key[0] == project.default_branch and fails >= FAILING_STREAK:
            return True
    return False


def _flipped_positions(fail_positions: list[int], size: int) -> list[int]:
    """Positions whose outcome differs from the one before, given the (sorted)
    positions of the failures among ``size`` executions."""
    flipped = []
    for index, position in enumerate(fail_positions):
        starts = index == 0 or fail_positions[index - 1] != position - 1
        ends = index == len(fail_positions) - 1 or fail_positions[index + 1] != position + 1
        if starts and position > 0:
            flipped.append(position)
        if ends and position < size - 1:
            flipped.append(position + 1)
    return flipped


def _assess_present(
    case: CaseRow,
    figures: _Figures,
    context: _RunsContext,
    infrastructure_failures: int,
    scope: Scope,
    quarantine: QuarantineInfo | None,
) -> CaseFlakiness:
    """``assess`` for a case present in every run of the scope, from its figures.

    Only the evidence that can make the newest ``EVIDENCE_LIMIT`` is built: a
    flaky test may have hundreds of retries."""
    suspects = figures.suspects
    order = context.order.__getitem__
    pairs = [[context.execution(run.id, suspects) for run in group] for group in figures.pairs]
    flagged = [one for one, _ in figures.flagged]
    flaky = figures.flaky
    chosen = set(figures.retries)
    for group in figures.pairs:
        chosen.update(run.id for run in group if run.id in suspects.fails)
    flagged_series = {(one.branch, one.job) for one, _ in figures.flagged}
    if flagged_series:
        # The failures of those series: a walk over the failures, not the series' runs.
        by_id = context.by_id
        chosen.update(
            run_id
            for run_id in suspects.fails
            if (by_id[run_id].branch, by_id[run_id].job) in flagged_series
        )
    flaky_runs = sorted(chosen, key=order)
    disrupted = sorted(suspects.fails, key=order) if flaky else []
    executions = len(context.runs)
    low, high = wilson_interval(len(flaky_runs), executions)
    rates = [one.rate for one in figures.series if one.rate is not None]
    # Summed in the order of ``_seconds_lost``, so that the floats come out the same.
    retried = sum(_retried(suspects.retries[run_id]) for run_id in figures.retries) if flaky else 0
    lost = sum(context.by_id[run_id].wall_seconds for run_id in disrupted) + retried
    newest = figures.retries[-EVIDENCE_LIMIT:]
    evidence = [retry_evidence(context.execution(run_id, suspects)) for run_id in newest]
    evidence += [same_commit_evidence(group) for group in pairs[-EVIDENCE_LIMIT:]]
    evidence += [
        _flip_evidence(one, flipped, context, suspects) for one, flipped in figures.flagged
    ]
    evidence.sort(key=lambda ev: (ev.started_at, ev.run_id), reverse=True)
    evidence_status = _evidence_status(flaky, figures.failing, case, scope)
    result = CaseFlakiness(
        case_id=case.id,
        file=case.file,
        classname=case.classname,
        name=case.name,
        status="quarantined" if quarantine else evidence_status,
        executions=executions,
        failures=len(suspects.fails) + infrastructure_failures,
        flaky_executions=len(flaky_runs),
        flake_rate=len(flaky_runs) / executions if executions else 0.0,
        flake_rate_low=low,
        flake_rate_high=high,
        flip_rate=max(rates) if rates else None,
        retry_flakes=len(figures.retries),
        same_commit_flakes=len(pairs),
        runs_disrupted=len(disrupted),
        ci_seconds_lost=lost,
        last_flake_run_id=flaky_runs[-1] if flaky_runs else None,
        evidence=evidence[:EVIDENCE_LIMIT],
        quarantine=quarantine,
        evidence_status=evidence_status,
    )
    # The sentence counts the retries; their run ids stand in for them.
    result.why = _why(result, figures.retries, pairs, flagged, figures.failing)
    return result


def _retried(retry: tuple[str, int, float]) -> float:
    """``retried_seconds`` of a suspect retry flake."""
    _, attempts, seconds = retry
    attempts = max(attempts, 1)
    return seconds * (attempts - 1) / attempts


def _flip_evidence(
    series: Series, flipped: list[rollups.ScopeRun], context: _RunsContext, suspects: _Suspects
) -> Evidence:
    """``flip_evidence`` from the flipped runs alone."""
    size = len(context.series[(series.branch, series.job)])
    detail = (
        f"flip rate {series.rate:.2f}: {len(flipped)} flip(s) over {size} executions "
        f"on {series.branch or 'no branch'}/{series.job}"
    )
    latest = context.execution(flipped[-1].id, suspects)
    return Evidence(
        kind="flip",
        run_ids=[run.id for run in flipped],
        commit=None,
        branch=latest.branch,
        job=latest.job,
        started_at=latest.started_at,
        detail=detail,
    )


@dataclass(slots=True)
class _Judged:
    """What a rolled-up scope's suspect results say of its candidates."""

    context: _RunsContext
    quarantined: set[int]
    present: set[int]  # candidates with an execution in every run
    figures: dict[int, _Figures]  # present candidates that may be reported
    wanted: list[int]  # the candidates that need their case row

    def absent(self) -> list[int]:
        return [case_id for case_id in self.wanted if case_id not in self.present]


def _judge_candidates(scope: Scope, runs: list[rollups.ScopeRun]) -> _Judged:
    """A candidate present in every run is judged from its suspect results, and let
    go early when ``_may_report`` shows it cannot be reported (most have a single
    failure); any other is wanted, to be judged from its executions."""
    context = _RunsContext(scope, runs)
    suspects = _load_suspects(context)
    quarantined = set(db.session.scalars(_quarantined_case_ids(scope)))
    candidates = sorted(suspects.keys() | quarantined)
    present = rollups.present_everywhere(scope, candidates)
    figures = {
        case_id: _figures(context, suspects.get(case_id, _Suspects()), scope.project)
        for case_id in candidates
        if case_id in present
        and (case_id in quarantined or _may_report(context, suspects.get(case_id), scope.project))
    }
    wanted = [
        case_id
        for case_id in candidates
        if case_id not in present
        or case_id in quarantined
        or figures.get(case_id, _NOTHING).reportable
    ]
    return _Judged(context, quarantined, present, figures, wanted)


def _report_from_rollups(scope: Scope, runs: list[rollups.ScopeRun]) -> list[CaseFlakiness]:
    """``flaky_report``'s rows for a rolled-up scope: only the cases reported loaded."""
    judged = _judge_candidates(scope, runs)
    if not judged.wanted:
        return []
    context, present = judged.context, judged.present
    cases = _load_cases_by_id(scope, judged.wanted)
    infrastructure = _infrastructure_failures(context, [c.id for c, _ in cases if c.id in present])
    absent = judged.absent()
    executions = _load_executions(scope, rollups.among(Result.case_id, absent)) if absent else {}
    rows = []
    for case, quarantine in cases:
        if case.id in present:
            infra = infrastructure.get(case.id, 0)
            figures = judged.figures[case.id]
            rows.append(_assess_present(case, figures, context, infra, scope, quarantine))
        else:
            rows.append(assess(case, executions.get(case.id, []), scope, quarantine))
    return rows


def _load_cases_by_id(
    scope: Scope, case_ids: list[int]
) -> list[tuple[CaseRow, QuarantineInfo | None]]:
    return [
        row
        for chunk in rollups.chunks(case_ids)
        for row in _load_cases(scope, rollups.among(Case.id, chunk))
    ]


def _load_suspects(context: _RunsContext, case_ids: list[int] | None = None) -> dict:
    """Per case, its failures and retry flakes in the scope's ordinary runs: for
    every case, the covering partial index answers alone, run by run; for a few
    cases, each case's own results in the case-history index, between the first
    and last run (a test's page needs no seek per run of the window)."""
    found: dict[int, _Suspects] = defaultdict(_Suspects)
    for case_id, run_id, outcome, retry_flake, attempts, seconds in _suspect_rows(
        context, case_ids
    ):
        suspects = found[case_id]
        if outcome == "failed" or outcome == "error":
            suspects.fails[run_id] = outcome
        if retry_flake:
            suspects.retries[run_id] = (outcome, attempts or 1, seconds or 0.0)
    return found


def _suspect_rows(context: _RunsContext, case_ids: list[int] | None) -> Iterator[tuple]:
    columns = (
        Result.case_id, Result.run_id, Result.outcome, Result.retry_flake, Result.attempts,
        Result.duration_s,
    )  # fmt: skip
    ordinary = [run.id for run in context.ordinary]
    if case_ids is not None and len(case_ids) <= FEW_CASES:
        if not ordinary:
            return
        # Spelt out, not the partial index's own words: SQLite would take that index
        # and seek every run of the window.
        suspect = Result.outcome.in_(FAILED_OUTCOMES) | Result.retry_flake.is_(True)
        query = select(*columns).where(
            rollups.among(Result.case_id, case_ids),
            Result.run_id.between(min(ordinary), max(ordinary)),
            suspect,
        )
        wanted = set(ordinary)
        yield from (row for row in rollups.raw_iter(query) if row[1] in wanted)
        return
    for chunk in rollups.chunks(ordinary):
        query = select(*columns).where(rollups.among(Result.run_id, chunk), _suspect_condition())
        if case_ids is not None:
            query = query.where(rollups.among(Result.case_id, case_ids))
        yield from rollups.raw_iter(query)


def _infrastructure_failures(context: _RunsContext, case_ids: list[int]) -> dict[int, int]:
    """Failures of these cases in the scope's infrastructure-failure runs."""
    if not case_ids or not context.infrastructure_ids:
        return {}
    counts: dict[int, int] = defaultdict(int)
    for chunk in rollups.chunks(case_ids):
        # Each (case, run) one seek of the case-history index. The outcome is
        # counted, not filtered on: a filter would let PostgreSQL pick the suspect
        # index by run, and read every failure of those runs (twice as slow).
        query = (
            select(Result.case_id, func.count().filter(Result.outcome.in_(FAILED_OUTCOMES)))
            .where(
                rollups.among(Result.case_id, chunk),
                rollups.among(Result.run_id, context.infrastructure_ids),
            )
            .group_by(Result.case_id)
        )
        for case_id, count in db.session.execute(query):
            counts[case_id] += count
    return counts


def _suspect_condition() -> ColumnElement[bool]:
    """The partial index's own condition, word for word: SQLite uses a partial index
    only when the query repeats its condition, and SQLAlchemy would spell the
    boolean test ``IS 1`` where the index says ``IS TRUE``."""
    return text(f"({SUSPECT_CONDITION})")


# --- SQL -------------------------------------------------------------------------------


def _suspect_case_ids(scope: Scope) -> Select:
    """Cases with a failure or a retry flake in a non-infrastructure run of the scope."""
    return (
        select(Result.case_id)
        .join(Run, Run.id == Result.run_id)
        .where(
            *scope.run_conditions(),
            not_infrastructure_failure(),
            _suspect_condition(),
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
        return rollups.among(Result.case_id, case_ids)
    return Result.case_id.in_(_candidate_ids(scope))


def _load_cases(scope: Scope, condition) -> list[tuple[CaseRow, QuarantineInfo | None]]:
    """The cases matching ``condition``, each with its active quarantine (latest wins)."""
    return _load_cases_checked(scope, condition)[0]


def _load_cases_checked(
    scope: Scope, condition
) -> tuple[list[tuple[CaseRow, QuarantineInfo | None]], bool]:
    """``_load_cases``, and in the same query whether every run of the scope is rolled
    up (``False`` when no case matches: then nothing is left to read anyway)."""
    unrolled = (
        select(func.count())
        .select_from(Run)
        .where(*scope.run_conditions(), ~rollups.rolled_up())
        .scalar_subquery()
    )
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
            unrolled,
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
    rolled_up = False
    for row in db.session.execute(query):
        case = CaseRow(row[0], row[1], row[2], row[3], row[4])
        quarantine = QuarantineInfo(*row[5:10]) if row[5] is not None else None
        cases[case.id] = (case, quarantine)
        rolled_up = row[10] == 0
    return list(cases.values()), rolled_up


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
