"""``suitescope prune``: delete history older than a given age, whole weeks at a time."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask.cli import with_appcontext

from dashboard import retention
from dashboard.cli_support import projects_or_exit
from dashboard.extensions import db

# The pages' longest window: pruning inside it leaves holes in what they show.
LONGEST_WINDOW_DAYS = 90

EPILOG = """\
\b
Examples:
  suitescope prune --older-than 180 --dry-run      # what would go, deleting nothing
  suitescope prune --older-than 180 --yes          # every project, no question asked
  suitescope prune --older-than 365 --project web

\b
Runs go whole UTC weeks at a time (the rollups count by week): everything before
the Monday of the week that holds the day --older-than days ago. Their results,
uploads and coverage go with them; tests, their first sighting and quarantines
stay. Batches of runs are deleted in turns with uploads, so the server can keep
running. SQLite keeps the freed pages for new data; `sqlite3 FILE 'VACUUM'`
(with the server stopped) gives them back to the disk.
"""


@click.command("prune", epilog=EPILOG)
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=1),
    required=True,
    metavar="DAYS",
    help="Delete runs older than this many days (rounded back to a Monday, UTC).",
)
@click.option("--project", "slug", help="Only this project (default: every project).")
@click.option("--dry-run", is_flag=True, help="Say what would be deleted, and delete nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def prune_command(days: int, slug: str | None, dry_run: bool, yes: bool) -> None:
    """Delete runs older than DAYS, with their results, uploads and coverage."""
    projects = projects_or_exit(slug)
    project_ids = [project.id for project in projects]
    cutoff = retention.cutoff_for(days, datetime.now(UTC))
    found = retention.count_prunable(db.session, project_ids, cutoff)
    db.session.rollback()  # end the read: pruning takes the write lock batch by batch
    scope = f"project {slug}" if slug else f"{len(projects)} project(s)"
    click.echo(
        f"{scope}: {found.runs} run(s) with {found.results} result(s) "
        f"started before {cutoff:%A %Y-%m-%d} (UTC)"
    )
    if days < LONGEST_WINDOW_DAYS:
        click.echo(
            f"note: the pages show up to {LONGEST_WINDOW_DAYS} days; their longer "
            "windows will have less history",
            err=True,
        )
    if dry_run or not found.runs:
        click.echo("nothing deleted" + (" (dry run)" if dry_run else ""))
        return
    if not yes:
        click.confirm("Delete them?", abort=True)

    def report(done: retention.PruneCounts) -> None:
        click.echo(f"  deleted {done.runs} of {found.runs} run(s), {done.results} result(s)")

    done = retention.prune(db.session, project_ids, cutoff, progress=report)
    click.echo(f"deleted {done.runs} run(s) and {done.results} result(s)")
