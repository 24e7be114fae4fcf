"""``suitescope review``: the weekly reliability review as Markdown, JSON or HTML, or sent."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from dashboard.analytics.review import InvalidWeek, Review, review_json, weekly_review
from dashboard.cli_support import CliError, project_or_exit
from dashboard.notifiers import ConfigurationError, Message, Notifier, configured_notifiers, deliver
from dashboard.review_render import (
    Links,
    email_subject,
    review_email_html,
    review_markdown,
    review_slack,
)

FORMATS = ("md", "json", "html")

EPILOG = """\
\b
Examples:
  suitescope review --project web                       # last week, Markdown on stdout
  suitescope review --project web --week 2026-W47 --format json --output review.json
  suitescope review --project web --format html --output review.html
  suitescope review --project web --send                # to the chat webhook and/or e-mail

\b
Cron, every Monday at 07:00 (the server's clock), last week's review
(with the settings in the environment cron gives the command):
  0 7 * * 1  cd /srv/suitescope && .venv/bin/suitescope review --project web --send

\b
--send posts a summary to SUITESCOPE_WEBHOOK_URL (a Slack-compatible incoming
webhook) and mails the HTML review through SUITESCOPE_SMTP_HOST (with _PORT,
_USER, _PASSWORD, _FROM, _TO and _STARTTLS), whichever is configured; a failed
delivery is retried once. Links start with SUITESCOPE_BASE_URL.

\b
Exit status: 0 done; 1 a delivery still failed after its retry (the others
were made); 2 bad input (unknown project, bad week, nothing to send to).
"""


@click.command("review", epilog=EPILOG)
@click.option("--project", "slug", required=True, help="The project's slug.")
@click.option(
    "--week",
    metavar="YYYY-Www",
    help="ISO week in the project's time zone, e.g. 2026-W47 (default: the last complete week).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="md",
    show_default=True,
    help="md: Markdown for GitHub or Confluence; json: the API's JSON; html: the e-mail page.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Write to this file instead of stdout (with --send: also write it).",
)
@click.option("--send", is_flag=True, help="Deliver the review to the webhook and/or e-mail.")
@with_appcontext
def review_command(
    slug: str, week: str | None, output_format: str, output: str | None, send: bool
) -> None:
    """Write the weekly reliability review of a project, or send it."""
    project = project_or_exit(slug)
    notifiers = configured_or_exit() if send else []
    # Links are built with url_for, which needs a request; none exists in a command.
    with current_app.test_request_context():
        try:
            review = weekly_review(project, week)
        except InvalidWeek as error:
            raise CliError(str(error)) from None
        links = Links(project.slug)
        if output_format != "json" or send:
            warn_about_local_links()
        if output or not send:
            write(render(review, links, output_format), output)
        message = compose(review, links) if send else None
    if message is not None:
        send_or_exit(notifiers, message, review.week.label)


def configured_or_exit() -> list[Notifier]:
    try:
        return configured_notifiers(current_app.config)
    except ConfigurationError as error:
        raise CliError(str(error)) from None


def warn_about_local_links() -> None:
    if not current_app.config.get("SUITESCOPE_BASE_URL"):
        click.echo(
            "warning: SUITESCOPE_BASE_URL is not set, so links point to http://localhost/",
            err=True,
        )


def render(review: Review, links: Links, output_format: str) -> str:
    if output_format == "json":
        return json.dumps(review_json(review), indent=2, ensure_ascii=False) + "\n"
    if output_format == "html":
        return review_email_html(review, links)
    return review_markdown(review, links)


def write(text: str, output: str | None) -> None:
    with click.open_file(output or "-", "w", encoding="utf-8") as stream:
        stream.write(text)


def compose(review: Review, links: Links) -> Message:
    return Message(
        subject=email_subject(review),
        text=review_markdown(review, links),
        html=review_email_html(review, links),
        chat=review_slack(review, links),
    )


def send_or_exit(notifiers: list[Notifier], message: Message, week: str) -> None:
    failures = deliver(notifiers, message)
    failed = {failure.notifier for failure in failures}
    for notifier in notifiers:
        if notifier.name not in failed:
            click.echo(f"sent the review of {week} to the {notifier.name}")
    for failure in failures:
        click.echo(f"error: {failure.notifier}: {failure.message} (after a retry)", err=True)
    if failures:
        raise click.exceptions.Exit(1)
