"""``suitescope rollups``: count stored results into the rollups afresh.

Ingest keeps the rollups in step with every upload. After upgrading to a
schema that introduced them (migration 0003), results stored before are not in
them yet: the pages still answer, from the results, and ``suitescope rollups
rebuild`` makes them fast. It is also the remedy if results were ever changed
by hand.
"""

from __future__ import annotations

import time

import click
from flask.cli import with_appcontext

from dashboard.cli_support import projects_or_exit
from dashboard.extensions import db
from ingest.store import rebuild_rollups


@click.group("rollups", help="Maintain the rollups the pages read.")
def rollups_group() -> None:
    pass


@rollups_group.command("rebuild")
@click.argument("slug", required=False)
@with_appcontext
def rollups_rebuild(slug: str | None) -> None:
    """Recount the rollups of project SLUG (default: every project) from its results,
    one project per transaction."""
    projects = projects_or_exit(slug)
    for project in projects:
        started = time.perf_counter()
        runs = rebuild_rollups(db.session, project.id)
        db.session.commit()
        click.echo(
            f"{project.slug}: {runs} runs rolled up in {time.perf_counter() - started:.1f} s"
        )
