"""``suitescope upload``: send test and coverage reports from CI to a Suitescope server.

A plain HTTP client of ``POST /api/v1/uploads``: it needs neither a database nor
an app context, so it is a bare ``click.command`` that runs anywhere the
``suitescope`` package is installed. The work is done by ``ingest.upload_client``.
"""

from __future__ import annotations

import os

import click

from dashboard.cli_support import CliError
from dashboard.commands.ingest import metadata_options
from ingest import upload_client
from ingest.errors import IngestError
from ingest.metadata import parse_metadata
from ingest.upload_client import UploadFailed, UploadInputError

EXAMPLES = """\
Paths may be files or globs (quote them so that `**` reaches every directory
whatever the shell). Commit, branch, build, job and build URL are read from
GitHub Actions, GitLab CI, CircleCI, Buildkite and Jenkins; a flag wins over
the environment. Uploads of one build with the same --job merge as shards.

\b
GitHub Actions (a matrix shares one job id, so name each cell with --job):
  - name: Upload test results
    if: ${{ !cancelled() }}
    env:
      SUITESCOPE_URL: https://suitescope.example.com
      SUITESCOPE_TOKEN: ${{ secrets.SUITESCOPE_TOKEN }}
    run: suitescope upload --job "tests-py${{ matrix.python }}" 'reports/**/*.xml'

\b
GitLab CI (SUITESCOPE_URL and SUITESCOPE_TOKEN as masked CI/CD variables):
  test:
    script:
      - pytest --junitxml=reports/junit.xml --cov --cov-report=xml:reports/coverage.xml
    after_script:
      - suitescope upload 'reports/*.xml'

Exit status: 0 stored, 1 the server refused or could not be reached
(after 3 retries), 2 bad input (no file matched, missing --url or --token).
"""


@click.command("upload", epilog=EXAMPLES)
@click.option(
    "--url",
    envvar="SUITESCOPE_URL",
    show_envvar=True,
    required=True,
    help="The Suitescope server, e.g. https://suitescope.example.com.",
)
@click.option(
    "--token",
    envvar="SUITESCOPE_TOKEN",
    show_envvar=True,
    required=True,
    help="The project's API token (suitescope tokens create SLUG).",
)
@metadata_options
@click.argument("paths", nargs=-1, required=True, metavar="PATHS_OR_GLOBS...")
def upload_command(url: str, token: str, paths: tuple[str, ...], **flags: str | None) -> None:
    """Upload JUnit XML and coverage reports to a Suitescope server."""
    metadata = upload_client.resolve_metadata(flags, os.environ)
    try:
        # The server's own rules, so bad metadata is refused here, before any upload.
        parse_metadata(metadata)
        files = upload_client.expand_paths(paths)
        log(describe_metadata(metadata))
        reply = upload_client.upload(url, token, metadata, files, progress=log)
    except (IngestError, UploadInputError) as error:
        raise CliError(str(error)) from None
    except UploadFailed as error:
        status = f" ({error.status})" if error.status else ""
        raise click.ClickException(f"upload failed{status}: {error.message}") from None
    report(reply)


def log(line: str) -> None:
    """Progress and warnings go to stderr, keeping stdout for the result."""
    click.echo(line, err=True)


def describe_metadata(metadata: dict[str, str]) -> str:
    """One line saying what the run will be recorded as, for the CI log."""
    if not metadata:
        return "no CI detected and no --build given: this upload becomes a run of its own"
    return "run metadata: " + ", ".join(f"{key} {value}" for key, value in metadata.items())


def report(reply: dict) -> None:
    """The run URL, then the counts (stdout); per-file notes and warnings (stderr)."""
    click.echo(reply.get("run_url", ""))
    click.echo(counts_line(reply.get("counts") or {}, duplicate=bool(reply.get("duplicate"))))
    coverage = reply.get("coverage")
    if coverage:
        click.echo(coverage_line(coverage))
    for summary in reply.get("files") or []:
        log(file_line(summary))
        for warning in summary.get("warnings") or []:
            log(f"warning: {summary.get('name', '')}: {warning}")


def counts_line(counts: dict, *, duplicate: bool = False) -> str:
    """``120 tests: 110 passed, 5 failed, 1 errors, 4 skipped, 2 retry flakes``."""
    parts = ", ".join(
        f"{counts.get(key, 0)} {label}"
        for key, label in (
            ("passed", "passed"),
            ("failed", "failed"),
            ("errors", "errors"),
            ("skipped", "skipped"),
            ("retry_flakes", "retry flakes"),
        )
    )
    line = f"{counts.get('tests', 0)} tests: {parts}"
    return f"{line} (already stored: nothing new)" if duplicate else line


def coverage_line(coverage: dict) -> str:
    """``coverage: 83.2% lines, 71.0% branches`` (``branches n/a`` when not measured)."""
    lines, branches = percent(coverage.get("line_rate")), percent(coverage.get("branch_rate"))
    return f"coverage: {lines} lines, {branches} branches"


def percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.1f}%"


def file_line(summary: dict) -> str:
    """``reports/junit.xml: junit, 120 cases`` or ``...: cobertura, 42 coverage files``."""
    if summary.get("cases") is not None:
        amount = f"{summary['cases']} cases"
    elif summary.get("coverage_files") is not None:
        amount = f"{summary['coverage_files']} coverage files"
    else:
        amount = "stored"
    return f"{summary.get('name', '')}: {summary.get('format', '?')}, {amount}"
