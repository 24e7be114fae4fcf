"""Helpers shared by the command modules."""

from __future__ import annotations

import click

from dashboard import projects as project_service


class CliError(click.ClickException):
    """A clear message on stderr and exit code 2 (bad input)."""

    exit_code = 2


def project_or_exit(slug: str):
    try:
        return project_service.get_project(slug)
    except project_service.ProjectError as error:
        raise CliError(str(error)) from None
