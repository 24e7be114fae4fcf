"""``suitescope ingest``: reports straight into the configured database."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from dashboard.cli_support import CliError, project_or_exit
from dashboard.extensions import db
from ingest.errors import IngestError
from ingest.metadata import parse_metadata
from ingest.pipeline import IncomingFile, UploadOutcome, ingest_upload


def metadata_options(command):
    """The run metadata flags shared by ``ingest`` and ``upload``."""
    options = [
        click.option("--commit", help="Commit SHA the reports belong to."),
        click.option("--branch", help="Branch name."),
        click.option("--build", help="CI build id; uploads with the same build and job merge."),
        click.option("--job", help="Matrix cell / job name (default: default)."),
        click.option("--build-url", help="Link to the CI build."),
        click.option("--started-at", help="ISO 8601 start time (default: from the reports)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def describe(outcome: UploadOutcome) -> str:
    counts = outcome.counts
    lines = [
        f"run {outcome.run_id}: {counts['tests']} tests, {counts['passed']} passed, "
        f"{counts['failed']} failed, {counts['errors']} errors, {counts['skipped']} skipped, "
        f"{counts['retry_flakes']} retry flakes"
        + (" (duplicate: nothing new)" if outcome.duplicate else "")
    ]
    for summary in outcome.files:
        size = (
            f"{summary.cases} cases"
            if summary.kind == "tests"
            else f"{summary.coverage_files} files"
        )
        lines.append(f"  {summary.name}: {summary.format}, {size}")
        lines.extend(f"    warning: {w}" for w in summary.warnings)
    return "\n".join(lines)


@click.command("ingest")
@click.option("--project", "slug", required=True, help="Project slug.")
@metadata_options
@click.option("--json", "as_json", is_flag=True, help="Print the upload API's JSON reply.")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def ingest_command(slug: str, as_json: bool, files: tuple[str, ...], **fields) -> None:
    """Store JUnit XML and coverage FILES for project SLUG, through the same pipeline
    as the upload API (all files or none).

    \b
    Example:
      suitescope ingest --project web --branch main --commit $SHA build/junit.xml build/coverage.xml
    """
    project = project_or_exit(slug)
    incoming = [IncomingFile(name=Path(f).name, data=Path(f).read_bytes()) for f in files]
    try:
        meta = parse_metadata({k: v for k, v in fields.items() if v is not None})
        outcome = ingest_upload(
            db.session,
            project.id,
            meta,
            incoming,
            max_bytes=current_app.config["MAX_CONTENT_LENGTH"],
        )
    except IngestError as error:
        raise CliError(str(error)) from None
    if as_json:
        click.echo(
            json.dumps(outcome.to_json(run_url=f"/p/{slug}/runs/{outcome.run_id}"), indent=2)
        )
    else:
        click.echo(describe(outcome))
