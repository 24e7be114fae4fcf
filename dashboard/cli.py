"""The ``suitescope`` command: Flask's CLI plus Suitescope's own groups.

``suitescope run``, ``db upgrade`` and ``shell`` come from Flask and
Flask-Migrate; ``projects`` and ``tokens`` are registered here.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext

from dashboard import projects as project_service
from dashboard.cli_support import CliError, project_or_exit
from dashboard.commands.demo import demo_command
from dashboard.commands.ingest import ingest_command
from dashboard.commands.prune import prune_command
from dashboard.commands.review import review_command
from dashboard.commands.rollups import rollups_group
from dashboard.commands.upload import upload_command
from dashboard.commands.users import users_group


@click.group("projects", help="Create and list projects.")
def projects_group() -> None:
    pass


@projects_group.command("create")
@click.argument("slug")
@click.option("--name", help="Display name (defaults to the slug).")
@click.option("--default-branch", default="main", show_default=True)
@with_appcontext
def projects_create(slug: str, name: str | None, default_branch: str) -> None:
    """Create the project SLUG."""
    try:
        project = project_service.create_project(slug, name, default_branch)
    except project_service.ProjectError as error:
        raise CliError(str(error)) from None
    click.echo(f"created project {project.slug} ({project.name}), default branch {default_branch}")


@projects_group.command("list")
@with_appcontext
def projects_list() -> None:
    """List every project."""
    rows = project_service.list_projects()
    if not rows:
        click.echo("no projects yet; create one with: suitescope projects create SLUG")
        return
    for project in rows:
        click.echo(f"{project.slug}\t{project.name}\t{project.default_branch}")


@click.group("tokens", help="Create, list and revoke a project's API tokens.")
def tokens_group() -> None:
    pass


@tokens_group.command("create")
@click.argument("slug")
@click.option("--name", default="", help="What the token is for (e.g. 'github-actions').")
@click.option("--quiet", is_flag=True, help="Print only the token, alone on one line.")
@with_appcontext
def tokens_create(slug: str, name: str, quiet: bool) -> None:
    """Create a token for project SLUG; it is shown once and only its hash is kept."""
    issued = project_service.create_token(project_or_exit(slug), name)
    if quiet:
        click.echo(issued.secret)
        return
    click.echo(f"token {issued.token.id} for {slug} (shown once, keep it secret):")
    click.echo(issued.secret)


@tokens_group.command("list")
@click.argument("slug")
@with_appcontext
def tokens_list(slug: str) -> None:
    """List project SLUG's tokens (never their secrets)."""
    for token in project_service.list_tokens(project_or_exit(slug)):
        state = "revoked" if token.revoked_at else "active"
        last_used = token.last_used_at.isoformat() if token.last_used_at else "never"
        click.echo(f"{token.id}\t{token.prefix}…\t{token.name}\t{state}\tlast used {last_used}")


@tokens_group.command("revoke")
@click.argument("slug")
@click.argument("token_id", type=int)
@with_appcontext
def tokens_revoke(slug: str, token_id: int) -> None:
    """Revoke token TOKEN_ID of project SLUG."""
    try:
        token = project_service.revoke_token(project_or_exit(slug), token_id)
    except project_service.ProjectError as error:
        raise CliError(str(error)) from None
    click.echo(f"revoked token {token.id} ({token.prefix}…)")


def register_commands(app: Flask) -> None:
    app.cli.add_command(projects_group)
    app.cli.add_command(tokens_group)
    app.cli.add_command(ingest_command)
    app.cli.add_command(users_group)
    app.cli.add_command(demo_command)
    app.cli.add_command(review_command)
    app.cli.add_command(rollups_group)
    app.cli.add_command(prune_command)


def _create_app_from_env() -> Flask:
    from dashboard import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app_from_env, add_version_option=False)
def cli() -> None:
    """Suitescope: test-suite analytics. Set DATABASE_URL to choose the database."""


# A plain HTTP client: on the top-level group Flask never builds the app for it,
# so a CI runner needs no database or configuration.
cli.add_command(upload_command)


def main() -> None:
    cli(prog_name="suitescope")
