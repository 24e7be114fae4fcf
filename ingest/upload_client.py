"""The client half of the upload API, used by ``suitescope upload`` in CI.

Four steps, each a plain function: read what the CI tells us about the run
(``ci_metadata``), find the report files (``expand_paths``), compress them
(``gzip_file``) and POST them to ``/api/v1/uploads`` with retries (``upload``).
Nothing here imports Flask or click, and nothing touches a database: a CI
runner only needs ``requests``.

Which CI variables mean what (each CI's own reference, checked):

- GitHub Actions: ``GITHUB_SHA`` (for ``pull_request`` events, the test merge
  commit GitHub built: that is the code the tests ran against);
  ``GITHUB_HEAD_REF`` (the PR's source branch, set only for PR events) else
  ``GITHUB_REF_NAME`` (which reads ``123/merge`` for a PR);
  ``GITHUB_RUN_ID`` + ``GITHUB_RUN_ATTEMPT``; ``GITHUB_JOB`` (the job's id,
  the same for every cell of a matrix: pass ``--job`` there).
- GitLab CI: ``CI_COMMIT_SHA``, ``CI_MERGE_REQUEST_SOURCE_BRANCH_NAME`` else
  ``CI_COMMIT_REF_NAME``, ``CI_PIPELINE_ID``, ``CI_JOB_NAME``, ``CI_JOB_URL``
  else ``CI_PIPELINE_URL``.
- CircleCI: ``CIRCLE_SHA1``, ``CIRCLE_BRANCH``, ``CIRCLE_WORKFLOW_ID`` else
  ``CIRCLE_BUILD_NUM``, ``CIRCLE_JOB``, ``CIRCLE_BUILD_URL``.
- Buildkite: ``BUILDKITE_COMMIT`` (may be the symbolic ``HEAD``, which names
  no commit), ``BUILDKITE_BRANCH``, ``BUILDKITE_BUILD_ID``, ``BUILDKITE_LABEL``
  else ``BUILDKITE_STEP_KEY``, ``BUILDKITE_BUILD_URL``.
- Jenkins: ``GIT_COMMIT``, ``CHANGE_BRANCH`` (a PR's source branch) else
  ``BRANCH_NAME`` else ``GIT_BRANCH`` without its ``origin/``, ``BUILD_TAG``
  (``jenkins-JOB-NUMBER``) else ``BUILD_NUMBER``, ``STAGE_NAME`` else
  ``JOB_NAME``, ``BUILD_URL``.
"""

from __future__ import annotations

import glob
import gzip
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import requests

UPLOAD_PATH = "/api/v1/uploads"
GZIP_MAGIC = b"\x1f\x8b"

# Connect fast, but give the server time to parse a large report before replying.
TIMEOUT = (10, 300)
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF = 2.0
# A Retry-After larger than this would stall the CI job; we wait this long at most.
MAX_RETRY_AFTER = 60.0
USER_AGENT = "suitescope-upload"
TOO_MANY_REQUESTS = 429

Environ = Mapping[str, str]
Progress = Callable[[str], None]


class UploadInputError(ValueError):
    """Bad local input (no file matched, unreadable file, bad URL): not worth retrying."""


class UploadFailed(Exception):
    """The server refused the upload, or could not be reached; ``status`` is None then."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# --- CI metadata ---------------------------------------------------------------


def ci_metadata(environ: Environ) -> dict[str, str]:
    """Commit, branch, build, job and build URL of the CI run described by ``environ``.

    Only the fields the CI provides are returned; outside a known CI, nothing.
    """
    for is_this_ci, read in _PROVIDERS:
        if is_this_ci(environ):
            return {key: value for key, value in read(environ).items() if value}
    return {}


def resolve_metadata(overrides: Mapping[str, str | None], environ: Environ) -> dict[str, str]:
    """The CI's metadata with every explicitly given value (a flag) taking precedence."""
    given = {key: value for key, value in overrides.items() if value}
    return {**ci_metadata(environ), **given}


def _first(environ: Environ, *names: str) -> str | None:
    """The first of ``names`` set to a non-empty value."""
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            return value
    return None


def _github(environ: Environ) -> dict[str, str | None]:
    run_id = environ.get("GITHUB_RUN_ID")
    attempt = environ.get("GITHUB_RUN_ATTEMPT")
    # A re-run keeps GITHUB_RUN_ID. Runs with the same (build, job) merge as shards
    # on the server, so without the attempt a re-run's results would be folded into
    # the first attempt's run; as its own build, a fail-then-pass on one commit is
    # counted honestly and shows up as a same-commit flake.
    build = f"{run_id}-{attempt}" if run_id and attempt else run_id
    server, repository = environ.get("GITHUB_SERVER_URL"), environ.get("GITHUB_REPOSITORY")
    build_url = None
    if server and repository and run_id:
        build_url = f"{server.rstrip('/')}/{repository}/actions/runs/{run_id}"
    return {
        "commit": _first(environ, "GITHUB_SHA"),
        # GITHUB_REF_NAME is "<pr number>/merge" for pull requests.
        "branch": _first(environ, "GITHUB_HEAD_REF", "GITHUB_REF_NAME"),
        "build": build,
        "job": _first(environ, "GITHUB_JOB"),
        "build_url": build_url,
    }


def _gitlab_job_name(environ: Environ) -> str | None:
    """CI_JOB_NAME without the " 2/4" GitLab appends to each ``parallel: N`` shard.

    Shards of one job should merge into one run, so they must share a job name.
    """
    name = _first(environ, "CI_JOB_NAME")
    index, total = environ.get("CI_NODE_INDEX"), environ.get("CI_NODE_TOTAL")
    suffix = f" {index}/{total}"
    if name and index and name.endswith(suffix):
        return name.removesuffix(suffix)
    return name


def _gitlab(environ: Environ) -> dict[str, str | None]:
    return {
        "commit": _first(environ, "CI_COMMIT_SHA"),
        "branch": _first(environ, "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "CI_COMMIT_REF_NAME"),
        "build": _first(environ, "CI_PIPELINE_ID"),
        "job": _gitlab_job_name(environ),
        "build_url": _first(environ, "CI_JOB_URL", "CI_PIPELINE_URL"),
    }


def _circleci(environ: Environ) -> dict[str, str | None]:
    return {
        "commit": _first(environ, "CIRCLE_SHA1"),
        "branch": _first(environ, "CIRCLE_BRANCH"),
        # The workflow groups a pipeline's jobs; CIRCLE_BUILD_NUM is one job only.
        "build": _first(environ, "CIRCLE_WORKFLOW_ID", "CIRCLE_BUILD_NUM"),
        "job": _first(environ, "CIRCLE_JOB"),
        "build_url": _first(environ, "CIRCLE_BUILD_URL"),
    }


def _buildkite(environ: Environ) -> dict[str, str | None]:
    commit = _first(environ, "BUILDKITE_COMMIT")
    return {
        # Buildkite documents that a build may carry the symbolic name HEAD instead.
        "commit": None if commit == "HEAD" else commit,
        "branch": _first(environ, "BUILDKITE_BRANCH"),
        "build": _first(environ, "BUILDKITE_BUILD_ID"),
        "job": _first(environ, "BUILDKITE_LABEL", "BUILDKITE_STEP_KEY"),
        "build_url": _first(environ, "BUILDKITE_BUILD_URL"),
    }


def _jenkins(environ: Environ) -> dict[str, str | None]:
    git_branch = _first(environ, "GIT_BRANCH")
    if git_branch:
        git_branch = git_branch.removeprefix("origin/")
    return {
        "commit": _first(environ, "GIT_COMMIT"),
        # Multibranch PR builds have BRANCH_NAME "PR-24"; CHANGE_BRANCH is the real one.
        "branch": _first(environ, "CHANGE_BRANCH", "BRANCH_NAME") or git_branch,
        # BUILD_NUMBER restarts for every Jenkins job; BUILD_TAG includes the job name.
        "build": _first(environ, "BUILD_TAG", "BUILD_NUMBER"),
        "job": _first(environ, "STAGE_NAME", "JOB_NAME"),
        "build_url": _first(environ, "BUILD_URL"),
    }


def _flag(name: str) -> Callable[[Environ], bool]:
    return lambda environ: environ.get(name, "").lower() == "true"


_PROVIDERS: tuple[tuple[Callable[[Environ], bool], Callable[[Environ], dict]], ...] = (
    (_flag("GITHUB_ACTIONS"), _github),
    (_flag("GITLAB_CI"), _gitlab),
    (_flag("CIRCLECI"), _circleci),
    (_flag("BUILDKITE"), _buildkite),
    # Jenkins sets no "I am Jenkins" flag; these two are always there.
    (lambda environ: bool(_first(environ, "JENKINS_URL", "JENKINS_HOME")), _jenkins),
)


# --- files -----------------------------------------------------------------------


def expand_paths(patterns: Iterable[str]) -> list[Path]:
    """Every file named or matched by ``patterns`` (``**`` included), sorted, once each.

    A pattern that matches no file is an error naming it: a CI step that
    silently uploads nothing hides a broken test command.
    """
    found: dict[Path, Path] = {}
    for pattern in patterns:
        matches = _files_matching(pattern)
        if not matches:
            raise UploadInputError(f"no file matches {pattern!r}")
        for path in matches:
            found.setdefault(path.resolve(), path)
    return sorted(found.values())


def _files_matching(pattern: str) -> list[Path]:
    expanded = os.path.expanduser(pattern)
    # An existing file is taken literally, so "junit[py3.12].xml" is not a glob.
    if Path(expanded).is_file():
        return [Path(expanded)]
    return [Path(name) for name in glob.glob(expanded, recursive=True) if Path(name).is_file()]


def gzip_file(path: Path) -> bytes:
    """The file's bytes gzip-compressed, or as they are if they already are gzip."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise UploadInputError(f"cannot read {path}: {error.strerror or error}") from None
    if data.startswith(GZIP_MAGIC):
        return data
    # mtime=0: the same report always gives the same bytes, so a re-sent file is
    # recognised by its hash as already stored.
    return gzip.compress(data, compresslevel=6, mtime=0)


def human_size(size: int) -> str:
    """``1234567`` → ``"1.2 MB"``."""
    value = float(size)
    for unit in ("B", "KB", "MB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


# --- HTTP --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry; ``sleep`` is injectable so tests are instant."""

    retries: int = DEFAULT_RETRIES
    backoff: float = DEFAULT_BACKOFF
    sleep: Callable[[float], None] | None = None  # None: time.sleep, looked up when used

    def delay(self, retry: int, server_wait: float | None) -> float:
        """Seconds before retry number ``retry`` (0-based): the server's wish, else doubling."""
        return server_wait if server_wait is not None else self.backoff * 2**retry

    def pause(self, seconds: float) -> None:
        (self.sleep or time.sleep)(seconds)


@dataclass(frozen=True, slots=True)
class UploadRequest:
    """One upload, ready to be sent (and sent again: the files are bytes, not streams)."""

    endpoint: str
    token: str
    metadata: Mapping[str, str]
    files: list[tuple[str, bytes]]

    def send(self, session: requests.Session) -> requests.Response:
        return session.post(
            self.endpoint,
            headers={"Authorization": f"Bearer {self.token}", "User-Agent": USER_AGENT},
            data={key: value for key, value in self.metadata.items() if value},
            files=[("file", (name, data, "application/gzip")) for name, data in self.files],
            timeout=TIMEOUT,
            # requests would turn a redirected POST into a GET and drop the files.
            allow_redirects=False,
        )


@dataclass(slots=True)
class _Outcome:
    """What one POST came to: the server's reply, or a failure and whether to retry it."""

    reply: dict | None = None
    failure: UploadFailed | None = None
    retryable: bool = False
    server_wait: float | None = None  # the reply's Retry-After, in seconds


def upload_endpoint(url: str) -> str:
    """The uploads endpoint under the server's base URL."""
    if not url.startswith(("http://", "https://")):
        raise UploadInputError(f"--url must start with http:// or https://, not {url!r}")
    return url.rstrip("/") + UPLOAD_PATH


def upload(
    url: str,
    token: str,
    metadata: Mapping[str, str],
    paths: Iterable[Path],
    *,
    session: requests.Session | None = None,
    retries: int = DEFAULT_RETRIES,
    backoff: float = DEFAULT_BACKOFF,
    progress: Progress | None = None,
    sleep: Callable[[float], None] | None = None,
) -> dict:
    """POST the files and metadata to the server and return its JSON reply.

    Server errors (5xx), rate limiting (429), timeouts and connection failures
    are retried ``retries`` times, waiting ``backoff`` seconds, then twice and
    four times as long, or what the server's ``Retry-After`` asks (at most
    ``MAX_RETRY_AFTER``). Retrying is safe: the server stores a file sent twice
    to the same run only once. Any other 4xx is never retried, since the same
    request would be refused again.

    Raises ``UploadFailed`` with the server's message and status, and
    ``UploadInputError`` for a bad URL or an unreadable file.
    """
    say = progress or (lambda _line: None)
    request = UploadRequest(
        endpoint=upload_endpoint(url),
        token=token,
        metadata=metadata,
        files=[(str(path), gzip_file(path)) for path in paths],
    )
    size = human_size(sum(len(data) for _name, data in request.files))
    count = _plural(len(request.files), "file")
    say(f"uploading {count} ({size} gzipped) to {request.endpoint}")
    policy = RetryPolicy(retries=retries, backoff=backoff, sleep=sleep)
    if session is not None:
        return send_with_retries(session, request, policy, say)
    with requests.Session() as own_session:
        return send_with_retries(own_session, request, policy, say)


def send_with_retries(
    session: requests.Session, request: UploadRequest, policy: RetryPolicy, say: Progress
) -> dict:
    """Send ``request`` until it succeeds, fails for good, or the retries run out."""
    retry = 0
    while True:
        outcome = _send_once(session, request)
        if outcome.failure is None:
            return outcome.reply or {}
        if not outcome.retryable:
            raise outcome.failure
        if retry >= policy.retries:
            raise _gave_up(outcome.failure, retry)
        delay = policy.delay(retry, outcome.server_wait)
        retry += 1
        say(f"retrying in {delay:g}s after {_reason(outcome.failure)} ({retry}/{policy.retries})")
        policy.pause(delay)


def _send_once(session: requests.Session, request: UploadRequest) -> _Outcome:
    try:
        response = request.send(session)
    except (requests.ConnectionError, requests.Timeout) as error:
        message = f"could not reach {request.endpoint}: {_connection_reason(error)}"
        return _Outcome(failure=UploadFailed(message), retryable=True)
    return _judge(response)


def _judge(response: requests.Response) -> _Outcome:
    status = response.status_code
    if status in (200, 201):
        try:
            return _Outcome(reply=response.json())
        except ValueError:
            message = f"the server answered {status} but not with JSON; is --url right?"
            return _Outcome(failure=UploadFailed(message, status))
    if 300 <= status < 400:
        location = response.headers.get("Location", "another address")
        message = f"the server redirected to {location}; pass that address as --url"
        return _Outcome(failure=UploadFailed(message, status))
    failure = UploadFailed(server_message(response), status)
    # 429: the server's rate limit (many shards of a build at once); it says when.
    if status >= 500 or status == TOO_MANY_REQUESTS:
        return _Outcome(failure=failure, retryable=True, server_wait=retry_after(response))
    return _Outcome(failure=failure)


def server_message(response: requests.Response) -> str:
    """The ``error.message`` of the server's JSON reply, else the reply's text."""
    try:
        error = response.json()["error"]
        message = str(error["message"])
    except (ValueError, KeyError, TypeError):
        text = response.text.strip()
        return text[:500] if text else f"{response.status_code} {response.reason or ''}".strip()
    filename = error.get("filename")
    if filename and filename not in message:
        message = f"{filename}: {message}"
    return message


def retry_after(response: requests.Response) -> float | None:
    """The reply's ``Retry-After`` in seconds (a number or an HTTP date), capped."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _gave_up(failure: UploadFailed, retries: int) -> UploadFailed:
    if not retries:
        return failure
    return UploadFailed(f"{failure.message} (gave up after {retries} retries)", failure.status)


def _reason(failure: UploadFailed) -> str:
    return str(failure.status) if failure.status else "a connection error"


def _connection_reason(error: requests.RequestException) -> str:
    # requests nests urllib3's long repr; its innermost reason reads best.
    reason = error.args[0] if error.args else error
    return str(getattr(reason, "reason", reason))


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
