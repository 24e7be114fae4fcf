"""``suitescope demo``: a realistic history, sent through the real ingest pipeline."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from dashboard import demo
from dashboard import projects as project_service
from dashboard.cli_support import CliError
from dashboard.extensions import db
from dashboard.models import CoverageReport, Project, Result, Run
from ingest.errors import IngestError
from ingest.pipeline import ingest_upload

DEMO_NAME = "Demo project"


@click.command("demo")
@click.option("--project", "slug", default="demo", show_default=True, help="Project slug.")
@click.option(
    "--days",
    default=demo.DEFAULT_DAYS,
    show_default=True,
    type=click.IntRange(1, 365),
    help="Days of history, ending now.",
)
@click.option(
    "--if-empty",
    is_flag=True,
    help="Do nothing if the database has any project or SUITESCOPE_DEMO is off.",
)
@click.option(
    "--seed",
    default=demo.DEFAULT_SEED,
    show_default=True,
    type=int,
    help="Random seed; the same seed gives the same history.",
)
@with_appcontext
def demo_command(slug: str, days: int, if_empty: bool, seed: int) -> None:
    """Load a demo history through the upload pipeline into a demo project
    (created if missing): pytest, jest and doctest reports with Cobertura and
    LCOV coverage, on main and a few feature branches, with flaky and failing
    tests planted. Progress goes to stderr, the summary to stdout.

    \b
    Example:
      suitescope demo --days 14
    """
    if if_empty:
        reason = reason_to_skip()
        if reason:
            click.echo(f"demo: nothing to do, {reason}", err=True)
            return
    started = time.perf_counter()
    project = demo_project(slug)
    plan = demo.plan_history(days, seed, datetime.now(UTC))
    for day in demo.iter_history(plan):
        ingest_day(project, day)
        click.echo(f"day {day.index + 1}/{days} ({day.date}): {day.runs} runs", err=True)
    click.echo(summary(project, time.perf_counter() - started))


def reason_to_skip() -> str | None:
    """Why ``--if-empty`` leaves the database alone, or None to go ahead."""
    if not current_app.config.get("SUITESCOPE_DEMO", False):
        return "SUITESCOPE_DEMO is off"
    if db.session.scalar(select(Project.id).limit(1)) is not None:
        return "the database already has a project"
    return None


def demo_project(slug: str) -> Project:
    """The empty demo project SLUG, created if missing and marked as demo data.

    An existing project is used only if it is an empty demo project: a real
    project must never receive invented results, and a second history with
    the same build numbers would merge into the first.
    """
    try:
        project = project_service.get_project(slug)
    except project_service.ProjectError:
        try:
            project = project_service.create_project(slug, DEMO_NAME, demo.MAIN)
        except project_service.ProjectError as error:
            raise CliError(str(error)) from None
        project.is_demo = True
        db.session.commit()
        return project
    if not project.is_demo:
        raise CliError(f"project {slug!r} holds real data; choose another --project for the demo")
    runs = db.session.scalar(select(func.count(Run.id)).where(Run.project_id == project.id))
    if runs:
        raise CliError(
            f"project {slug!r} already has {runs} runs; choose another --project for the demo"
        )
    return project


def ingest_day(project: Project, day: demo.DemoDay) -> None:
    max_bytes = current_app.config["MAX_CONTENT_LENGTH"]
    for upload in day.uploads:
        try:
            ingest_upload(db.session, project.id, upload.meta, upload.files, max_bytes=max_bytes)
        except IngestError as error:
            # The generator and the parsers disagree: a bug on one side, never user input.
            raise CliError(
                f"the pipeline refused demo upload {upload.meta.build}/{upload.meta.job}: {error}"
            ) from None


def summary(project: Project, seconds: float) -> str:
    runs = db.session.scalar(select(func.count(Run.id)).where(Run.project_id == project.id))
    # Explicit ON clauses: results carry no foreign keys to join by (see models.Result).
    results = db.session.scalar(
        select(func.count(Result.id))
        .join(Run, Run.id == Result.run_id)
        .where(Run.project_id == project.id)
    )
    coverage = db.session.scalar(
        select(func.count(CoverageReport.id))
        .join(Run, Run.id == CoverageReport.run_id)
        .where(Run.project_id == project.id)
    )
    return (
        f"demo project {project.slug!r}: {runs} runs, {results} results, "
        f"{coverage} coverage reports in {seconds:.1f} s"
    )
