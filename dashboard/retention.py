"""Pruning old history: runs older than a cut-off go, with everything stored for them.

Every CI run adds a row per test, so a busy project stores millions of results
a month. The pages read at most 90 days; this deletes what lies beyond a
chosen age, whole UTC weeks at a time, so that the rollups (counted by UTC day
and week, see ``ingest.store``) lose exactly the weeks whose runs are gone and
need no recount.

Runs are deleted in batches, a transaction each, so that uploads are never
held up for long. The last transaction takes the rollup lock and the write
lock, deletes any run that arrived for the pruned weeks meanwhile (a late
upload of an old build), then the pruned weeks' rollups: after it the rollups
again count exactly the stored results. Cases stay, with their first sighting
and any quarantine; the test catalog shows a test with no run left as having
no latest result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from dashboard.models import Case, CaseDay, CaseWeek, Result, Run, week_of
from ingest.store import lock_rollups
from ingest.transactions import begin_writing

BATCH_RUNS = 200


@dataclass(frozen=True, slots=True)
class PruneCounts:
    runs: int
    results: int


def cutoff_for(older_than_days: int, now: datetime) -> date:
    """The Monday (UTC) before which runs are pruned: the start of the week that
    holds the day ``older_than_days`` ago, so that no run younger than that goes."""
    return week_of((now.astimezone(UTC) - timedelta(days=older_than_days)).date())


def _before(cutoff: date) -> datetime:
    return datetime.combine(cutoff, time.min, tzinfo=UTC)


def _old_runs(project_ids: Sequence[int], cutoff: date):
    return select(Run.id).where(Run.project_id.in_(project_ids), Run.started_at < _before(cutoff))


def count_prunable(session: Session, project_ids: Sequence[int], cutoff: date) -> PruneCounts:
    """How many runs and results ``prune`` would delete now."""
    old = _old_runs(project_ids, cutoff)
    runs = session.scalar(select(func.count()).select_from(old.subquery())) or 0
    results = session.scalar(select(func.count()).where(Result.run_id.in_(old))) or 0
    return PruneCounts(runs, results)


def prune(
    session: Session,
    project_ids: Sequence[int],
    cutoff: date,
    *,
    batch: int = BATCH_RUNS,
    progress: Callable[[PruneCounts], None] | None = None,
) -> PruneCounts:
    """Delete the projects' runs that started before ``cutoff`` (a Monday, UTC),
    their results, uploads and coverage, and the rollups of the weeks before it.

    Commits as it goes; ``progress`` hears the running totals after each batch.
    """
    if cutoff.weekday() != 0:
        raise ValueError(f"the cut-off must be a Monday, not {cutoff:%A %Y-%m-%d}")
    runs = results = 0
    while True:
        begin_writing(session)
        ids = list(session.scalars(_old_runs(project_ids, cutoff).order_by(Run.id).limit(batch)))
        if not ids:
            break
        results += _delete_runs(session, ids)
        runs += len(ids)
        session.commit()
        if progress is not None:
            progress(PruneCounts(runs, results))
    # Still in the last (empty) batch's transaction, now the final one.
    lock_rollups(session, project_ids)
    stragglers = list(session.scalars(_old_runs(project_ids, cutoff)))
    if stragglers:
        results += _delete_runs(session, stragglers)
        runs += len(stragglers)
    _delete_rollups(session, project_ids, cutoff)
    session.commit()
    return PruneCounts(runs, results)


def _delete_runs(session: Session, run_ids: list[int]) -> int:
    """Delete these runs and their results (uploads and coverage go by cascade);
    the number of results deleted."""
    # Results carry no foreign key (see ``Result``): they are deleted by hand.
    deleted = session.execute(delete(Result).where(Result.run_id.in_(run_ids))).rowcount
    session.execute(delete(Run).where(Run.id.in_(run_ids)))
    return deleted


def _delete_rollups(session: Session, project_ids: Sequence[int], cutoff: date) -> None:
    session.execute(
        delete(CaseWeek).where(CaseWeek.project_id.in_(project_ids), CaseWeek.week < cutoff)
    )
    cases = select(Case.id).where(Case.project_id.in_(project_ids))
    session.execute(delete(CaseDay).where(CaseDay.case_id.in_(cases), CaseDay.day < cutoff))
