"""Helpers shared by the command modules."""

from __future__ import annotations

import click
from sqlalchemy import select

from dashboard import projects as project_service
from dashboard.extensions import db
from dashboard.models import Project


class CliError(click.ClickException):
    """A clear message on stderr and exit code 2 (bad input)."""

    exit_code = 2


def project_or_exit(slug: str):
    try:
        return project_service.get_project(slug)
    except project_service.ProjectError as error:
        raise CliError(str(error)) from None


def projects_or_exit(slug: str | None) -> list[Project]:
    """Project SLUG, or every project (by slug) when no slug is given."""
    if slug:
        return [project_or_exit(slug)]
    return list(db.session.scalars(select(Project).order_by(Project.slug)))
