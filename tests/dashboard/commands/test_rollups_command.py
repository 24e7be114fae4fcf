"""``suitescope rollups rebuild`` counts stored results into the rollups."""

from __future__ import annotations

from sqlalchemy import select

from dashboard.models import CaseWeek, Run
from ingest import store
from tests.factories import ProjectFactory, ResultFactory, RunFactory


def stored_run(project) -> Run:
    run = RunFactory(project=project)
    ResultFactory(run=run, duration_s=0.5)
    ResultFactory(run=run, failing=True)
    return run


def test_rebuild_rolls_every_project_up(runner, db_session):
    first, second = ProjectFactory(slug="alpha"), ProjectFactory(slug="beta")
    runs = [stored_run(first), stored_run(first), stored_run(second)]
    db_session.commit()
    result = runner.invoke(args=["rollups", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "alpha: 2 runs rolled up" in result.output
    assert "beta: 1 runs rolled up" in result.output
    for run in runs:
        db_session.refresh(run)
        assert run.is_rolled_up
    weeks = db_session.scalars(select(CaseWeek).where(CaseWeek.project_id == first.id)).all()
    assert sum(week.executions for week in weeks) == 4


def test_rebuild_of_one_project_starts_it_afresh(runner, db_session):
    project = ProjectFactory(slug="alpha")
    run = stored_run(project)
    db_session.flush()
    store.refresh_rollups(db_session, [run.id])
    db_session.commit()
    result = runner.invoke(args=["rollups", "rebuild", "alpha"])
    assert result.exit_code == 0, result.output
    weeks = db_session.scalars(select(CaseWeek).where(CaseWeek.project_id == project.id)).all()
    assert sum(week.executions for week in weeks) == 2  # counted once, not twice


def test_an_unknown_project_is_refused(runner, db_session):
    result = runner.invoke(args=["rollups", "rebuild", "nope"])
    assert result.exit_code == 2
    assert "no project" in result.output
