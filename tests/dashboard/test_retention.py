"""Pruning old history: whole UTC weeks go, with their results, uploads, coverage and rollups."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from dashboard import retention
from dashboard.cli import prune_command
from dashboard.models import (
    Case,
    CaseDay,
    CaseWeek,
    CoverageFile,
    CoverageReport,
    Quarantine,
    Result,
    Run,
    Upload,
)
from tests.factories import CoverageFileFactory, CoverageReportFactory, ProjectFactory
from tests.ingest.test_rollups import assert_rollups_match, case, upload

# Mondays, UTC: the cut-off and the weeks around it.
CUTOFF = date(2026, 11, 9)
OLD = datetime(2026, 11, 8, 23, 59, tzinfo=UTC)  # the Sunday before: pruned
KEPT = datetime(2026, 11, 9, 0, 0, tzinfo=UTC)  # the Monday itself: kept
AGES = [OLD - timedelta(days=20), OLD, KEPT, KEPT + timedelta(days=3)]


def count(db_session, model, *conditions) -> int:
    return db_session.scalar(select(func.count()).select_from(model).where(*conditions))


@pytest.fixture
def history(db_session):
    """Two projects with a run in each of four moments, around the cut-off."""
    projects = [ProjectFactory(slug="web"), ProjectFactory(slug="api")]
    for project in projects:
        for index, started_at in enumerate(AGES):
            run = upload(
                db_session,
                project,
                f"b{index}",
                [case("test_a", seconds=0.5), case("test_b", "failed"), case("test_c", "skipped")],
                started_at=started_at,
            )
            report = CoverageReportFactory(run=run)
            CoverageFileFactory(report=report, path="src/app.py")
    db_session.commit()
    return projects


def test_the_cutoff_is_the_monday_of_the_week_holding_the_day_that_old():
    friday = datetime(2026, 11, 27, 12, tzinfo=UTC)
    assert retention.cutoff_for(14, friday) == CUTOFF  # 13 November is that week's Friday
    assert retention.cutoff_for(18, friday) == CUTOFF  # the Monday itself
    assert retention.cutoff_for(19, friday) == CUTOFF - timedelta(days=7)


def test_prune_deletes_old_runs_with_everything_of_theirs(db_session, history):
    web, api = history
    before = {model: count(db_session, model) for model in (Upload, CoverageReport, CoverageFile)}
    assert retention.count_prunable(db_session, [web.id], CUTOFF) == retention.PruneCounts(2, 6)

    done = retention.prune(db_session, [web.id], CUTOFF)

    assert done == retention.PruneCounts(runs=2, results=6)
    started = sorted(db_session.scalars(select(Run.started_at).where(Run.project_id == web.id)))
    assert started == AGES[2:]
    assert count(db_session, Run, Run.project_id == api.id) == 4  # another project: untouched
    assert count(db_session, Result) == 6 * 3  # 2 runs of web and 4 of api, 3 results each
    for model, total in before.items():
        assert count(db_session, model) == total - 2, model  # one per pruned run
    assert count(db_session, Case, Case.project_id == web.id) == 3  # tests stay


def test_after_pruning_the_rollups_count_exactly_the_runs_kept(db_session, history):
    web, api = history

    retention.prune(db_session, [web.id], CUTOFF)

    assert count(db_session, CaseWeek, CaseWeek.project_id == web.id, CaseWeek.week < CUTOFF) == 0
    web_cases = select(Case.id).where(Case.project_id == web.id)
    assert count(db_session, CaseDay, CaseDay.case_id.in_(web_cases), CaseDay.day < CUTOFF) == 0
    assert count(db_session, CaseWeek, CaseWeek.project_id == api.id, CaseWeek.week < CUTOFF) > 0
    assert_rollups_match(db_session, web)
    assert_rollups_match(db_session, api)


def test_batches_report_progress_and_change_nothing_else(db_session, history):
    seen = []

    done = retention.prune(
        db_session, [p.id for p in history], CUTOFF, batch=3, progress=seen.append
    )

    assert done == retention.PruneCounts(runs=4, results=12)
    assert seen == [retention.PruneCounts(3, 9), retention.PruneCounts(4, 12)]
    for project in history:
        assert_rollups_match(db_session, project)


def test_a_quarantined_test_keeps_its_quarantine(db_session, history):
    web, _ = history
    test_b = db_session.scalar(select(Case).where(Case.project_id == web.id, Case.name == "test_b"))
    db_session.add(Quarantine(project_id=web.id, case_id=test_b.id, reason="flaky"))
    db_session.commit()

    retention.prune(db_session, [web.id], CUTOFF + timedelta(days=14))  # every run

    assert count(db_session, Run, Run.project_id == web.id) == 0
    assert count(db_session, Quarantine, Quarantine.case_id == test_b.id) == 1


def test_only_a_monday_is_a_cutoff(db_session):
    with pytest.raises(ValueError, match="must be a Monday, not Tuesday 2026-11-10"):
        retention.prune(db_session, [1], CUTOFF + timedelta(days=1))


# --- the command ----------------------------------------------------------------------


@pytest.fixture
def now_is(monkeypatch):
    """``datetime.now`` in the command: a Friday, so that --older-than 14 cuts at CUTOFF."""
    friday = datetime(2026, 11, 27, 12, tzinfo=UTC)

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return friday.astimezone(tz)

    monkeypatch.setattr("dashboard.commands.prune.datetime", Clock)


@pytest.mark.usefixtures("now_is")
def test_the_command_says_what_would_go_and_asks_first(app, db_session, history):
    runner = app.test_cli_runner()

    dry = runner.invoke(prune_command, ["--older-than", "14", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "2 project(s): 4 run(s) with 12 result(s) started before Monday 2026-11-09" in dry.output
    assert "nothing deleted (dry run)" in dry.output
    assert "the pages show up to 90 days" in dry.output

    refused = runner.invoke(prune_command, ["--older-than", "14"], input="n\n")
    assert refused.exit_code == 1
    assert "Delete them? [y/N]" in refused.output
    assert count(db_session, Run) == 8

    done = runner.invoke(prune_command, ["--older-than", "14", "--project", "web"], input="y\n")
    assert done.exit_code == 0, done.output
    assert "deleted 2 of 2 run(s), 6 result(s)" in done.output
    assert done.output.rstrip().endswith("deleted 2 run(s) and 6 result(s)")
    assert count(db_session, Run) == 6


@pytest.mark.usefixtures("now_is")
def test_the_command_refuses_bad_input(app, db_session, history):
    runner = app.test_cli_runner()

    assert runner.invoke(prune_command, ["--older-than", "0"]).exit_code == 2
    assert runner.invoke(prune_command, []).exit_code == 2
    unknown = runner.invoke(prune_command, ["--older-than", "30", "--project", "nope"])
    assert unknown.exit_code == 2
    assert "nope" in unknown.output
    nothing = runner.invoke(prune_command, ["--older-than", "400", "--yes"])
    assert "0 run(s) with 0 result(s)" in nothing.output
    assert "nothing deleted" in nothing.output
    assert count(db_session, Run) == 8
