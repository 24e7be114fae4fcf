"""Queries about one run, for its page and the API."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from dashboard.extensions import db
from dashboard.models import CoverageReport, Project, Result, Run

FAILURE_LIMIT = 200


@dataclass(slots=True)
class RunDetail:
    run: Run
    failures: list[Result]
    retry_flakes: list[Result]
    coverage: CoverageReport | None


def get_run(project: Project, run_id: int) -> Run | None:
    run = db.session.get(Run, run_id, options=[joinedload(Run.uploads)])
    if run is None or run.project_id != project.id:
        return None
    return run


def run_detail(run: Run) -> RunDetail:
    def results(*conditions):
        query = (
            select(Result)
            .options(joinedload(Result.case))
            .where(Result.run_id == run.id, *conditions)
            .order_by(Result.id)
            .limit(FAILURE_LIMIT)
        )
        return list(db.session.scalars(query))

    return RunDetail(
        run=run,
        failures=results(Result.outcome.in_(("failed", "error"))),
        retry_flakes=results(Result.retry_flake.is_(True)),
        coverage=db.session.scalars(
            select(CoverageReport).where(CoverageReport.run_id == run.id)
        ).first(),
    )
