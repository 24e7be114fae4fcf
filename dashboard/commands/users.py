"""``suitescope users``: the people who may sign in, and which of them are admins."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click
from flask.cli import with_appcontext

from dashboard import access
from dashboard.cli_support import CliError
from dashboard.models import User


@click.group("users", help="The people who sign in: create, list, delete, set-password.")
def users_group() -> None:
    pass


def password_option(command: Callable) -> Callable:
    return click.option(
        "--password-stdin",
        is_flag=True,
        help="Read the password from standard input instead of prompting (for scripts).",
    )(command)


def read_password(from_stdin: bool) -> str:
    """From stdin (its first line), or typed twice with hidden input."""
    if from_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def user_or_exit(username: str) -> User:
    try:
        return access.get_user(username)
    except access.UserError as error:
        raise CliError(str(error)) from None


@users_group.command("create")
@click.argument("username")
@click.option("--admin", is_flag=True, help="May change settings and manage tokens.")
@password_option
@with_appcontext
def users_create(username: str, admin: bool, password_stdin: bool) -> None:
    """Create the user USERNAME."""
    try:
        # Refuse a taken name before asking for a password that would be wasted.
        access.check_username_free(username)
        user = access.create_user(username, read_password(password_stdin), is_admin=admin)
    except access.UserError as error:
        raise CliError(str(error)) from None
    role = "admin" if user.is_admin else "user"
    click.echo(f"created {role} {user.username}")


@users_group.command("list")
@with_appcontext
def users_list() -> None:
    """List every user (name, role, created)."""
    users = access.list_users()
    if not users:
        click.echo("no users yet; create one with: suitescope users create NAME --admin")
        return
    for user in users:
        role = "admin" if user.is_admin else "user"
        click.echo(f"{user.username}\t{role}\tcreated {user.created_at:%Y-%m-%d}")


@users_group.command("delete")
@click.argument("username")
@with_appcontext
def users_delete(username: str) -> None:
    """Delete the user USERNAME.

    Their sessions stop working at once.
    """
    access.delete_user(user_or_exit(username))
    click.echo(f"deleted user {username}")


@users_group.command("set-password")
@click.argument("username")
@password_option
@with_appcontext
def users_set_password(username: str, password_stdin: bool) -> None:
    """Give USERNAME a new password."""
    user = user_or_exit(username)
    try:
        access.set_password(user, read_password(password_stdin))
    except access.UserError as error:
        raise CliError(str(error)) from None
    click.echo(f"password of {username} changed")
